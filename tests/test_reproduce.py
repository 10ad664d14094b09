"""`gradmath reproduce`: a manifest, and byte-identical reruns."""

from __future__ import annotations

import hashlib
import json

from gradmath.cli import main
from gradmath.reproduce import reproduce


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rerun_is_byte_identical(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    reproduce(first, steps=["gamma", "derivations"])
    reproduce(second, steps=["gamma", "derivations"])
    assert _digest(first) == _digest(second)


def test_manifest_lists_every_file_with_its_hash(tmp_path):
    result = reproduce(tmp_path, steps=["gamma"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["steps"] == ["gamma"]
    assert set(manifest["packages"]) >= {"numpy", "scipy", "sympy", "mpmath"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest
    assert {p.name for p in result.files} == {"gamma.json", "gamma.md", "manifest.json"}


def test_cli_reproduce_json(tmp_path, capsys):
    assert main(["reproduce", "--out", str(tmp_path), "--steps", "gamma", "--json", "--quiet"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["steps"] == ["gamma"] and "manifest.json" in payload["files"]
