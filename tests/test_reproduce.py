"""`gradmath reproduce`: a manifest, and byte-identical reruns."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from gradmath.cli import main
from gradmath.errors import InvalidParameterError
from gradmath.reproduce import reproduce


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rerun_is_byte_identical(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    reproduce(first, steps=["gamma", "derivations"])
    reproduce(second, steps=["gamma", "derivations"])
    assert _digest(first) == _digest(second)
    # the derivations' index table says how its layers are numbered (the chain's: a_0 is the input)
    index = (first / "derivations" / "README.md").read_text()
    assert "| file | depth L | layer l (1 = first neuron after the input a_0, L = output) |" in index


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


# --- the output folder: one-line errors, no writing through links, manifests merged -------------------------

def _cli(capsys, *argv):
    code = main(["reproduce", *argv, "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("out, match", [
    ("", "out='' is empty; name an output folder"),
    ("   ", "is empty; name an output folder"),
])
def test_empty_out_is_refused(capsys, out, match):
    code, stdout, err = _cli(capsys, "--out", out, "--steps", "gamma")
    assert code == 2 and stdout == "" and err.count("\n") == 1 and match in err
    with pytest.raises(InvalidParameterError, match=match):
        reproduce(out, steps=["gamma"])


def test_out_that_is_a_file_or_under_a_file(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    code, stdout, err = _cli(capsys, "--out", str(a_file), "--steps", "gamma")
    assert code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err
    code, stdout, err = _cli(capsys, "--out", str(a_file / "sub"), "--steps", "gamma")
    assert code == 2 and err.count("\n") == 1 and "cannot create the folder: Not a directory" in err
    assert a_file.read_text() == "keep me"


def test_read_only_out(tmp_path, capsys):
    """A folder without write permission: one line of error, except for root, whom it does not stop."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, stdout, err = _cli(capsys, "--out", str(folder), "--steps", "gamma")
    finally:
        folder.chmod(0o755)
    if os.geteuid() == 0:          # root writes anyway: then the files are there and complete
        assert code == 0, err
        assert json.loads((folder / "manifest.json").read_text())["steps"] == ["gamma"]
    else:
        assert code == 2 and err.count("\n") == 1 and "Permission denied" in err


def test_a_failed_write_is_one_line_and_leaves_no_temporary_file(tmp_path, capsys, monkeypatch):
    """The same path for everyone, root included: the OS refuses the write (here a stand-in for EACCES)."""
    real_replace = os.replace

    def refuse(src, dst, **kwargs):
        if str(dst).endswith("gamma.md"):
            raise PermissionError(13, "Permission denied")
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", refuse)
    code, stdout, err = _cli(capsys, "--out", str(tmp_path), "--steps", "gamma")
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "cannot write" in err and "gamma.md: Permission denied" in err
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_a_planted_folder_link_is_refused_not_followed(tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "examples").symlink_to(elsewhere, target_is_directory=True)
    code, stdout, err = _cli(capsys, "--out", str(out), "--steps", "examples")
    assert code == 2 and err.count("\n") == 1
    assert "examples is a symbolic link or not a folder" in err
    assert list(elsewhere.iterdir()) == []
    assert (out / "examples").is_symlink()


def test_a_planted_file_link_is_replaced_not_followed(tmp_path):
    target = tmp_path / "target"
    target.write_text("not yours")
    out = tmp_path / "out"
    out.mkdir()
    (out / "gamma.md").symlink_to(target)
    (out / "manifest.json").symlink_to(target)
    with pytest.warns(UserWarning, match="was not written by gradmath reproduce"):
        reproduce(out, steps=["gamma"])
    assert target.read_text() == "not yours"
    assert not (out / "gamma.md").is_symlink() and (out / "gamma.md").read_text().startswith("|")
    assert not (out / "manifest.json").is_symlink()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"]["gamma.md"] == hashlib.sha256((out / "gamma.md").read_bytes()).hexdigest()


def test_steps_keep_the_other_steps_in_the_manifest(tmp_path):
    reproduce(tmp_path, steps=["gamma"])
    first = json.loads((tmp_path / "manifest.json").read_text())
    reproduce(tmp_path, steps=["examples"])
    merged = json.loads((tmp_path / "manifest.json").read_text())
    assert merged["steps"] == ["gamma", "examples"]
    assert {k: merged["files"][k] for k in first["files"]} == first["files"]
    assert any(name.startswith("examples/") for name in merged["files"])
    assert merged["files"] == _digest_without_manifest(tmp_path)
    # an entry whose file changed since is dropped (it can no longer be vouched for); the rest stays
    (tmp_path / "gamma.md").write_text("edited by hand\n")
    reproduce(tmp_path, steps=["examples"])
    again = json.loads((tmp_path / "manifest.json").read_text())
    assert "gamma.md" not in again["files"] and "gamma.json" in again["files"]
    # rerunning the step restores it, and the folder is then the same as after the first two runs
    reproduce(tmp_path, steps=["gamma"])
    assert json.loads((tmp_path / "manifest.json").read_text())["files"] == merged["files"]


@pytest.mark.parametrize("planted", [
    {"generator": "gradmath reproduce", "steps": ["gamma"], "files": {"../../etc/passwd": "0" * 64}},
    {"generator": "gradmath reproduce", "steps": ["nope"], "files": {}},
    {"generator": "something else", "steps": [], "files": {}},
    [1, 2, 3],
])
def test_a_manifest_not_written_by_reproduce_is_replaced(tmp_path, planted):
    (tmp_path / "manifest.json").write_text(json.dumps(planted))
    with pytest.warns(UserWarning, match="was not written by gradmath reproduce"):
        reproduce(tmp_path, steps=["gamma"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["steps"] == ["gamma"] and set(manifest["files"]) == {"gamma.json", "gamma.md"}


def _digest_without_manifest(folder):
    return {k: v for k, v in _digest(folder).items() if k != "manifest.json"}


def test_an_unwritable_out_is_refused_before_any_step_runs(tmp_path, capsys, monkeypatch):
    """The write test comes first, so a long step is not run for nothing (root included: the OS refusal is
    stood in for here, since permission bits do not stop root)."""
    import gradmath.reports.gamma_table as gamma_step

    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if ".gradmath-write-test" in str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    ran = []
    monkeypatch.setattr(os, "open", refuse)
    monkeypatch.setattr(gamma_step, "write_artifacts", lambda out, progress=None: ran.append(out) or [])
    code, stdout, err = _cli(capsys, "--out", str(tmp_path), "--steps", "gamma")
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "cannot write there: Permission denied" in err and ran == []


def test_steps_that_name_no_step_are_refused(tmp_path, capsys):
    code, stdout, err = _cli(capsys, "--out", str(tmp_path), "--steps", " , ")
    assert code == 2 and err.count("\n") == 1 and "names no step; choose from gamma, derivations" in err
    assert list(tmp_path.iterdir()) == []
