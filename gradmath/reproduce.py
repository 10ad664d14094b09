"""The main job: regenerate every derived artifact into one folder.

Steps run in the order of :data:`STEPS`; each is a report module's
``write_artifacts(out, progress)``. A ``manifest.json`` lists the package
versions, the seed and the SHA-256 of every file, and holds no timestamp, so
running it twice gives byte-identical folders. Running some steps keeps the
other steps' entries of an existing manifest, each one whose file is still there
with the same SHA-256 (:func:`merge_manifest`).

Files are written only inside ``out``: through a temporary file and
:func:`os.replace`, never through a symbolic link planted below ``out`` (one
there is refused; see :mod:`gradmath.reports.files`). ``out`` may not be
``""`` or a file; a folder that cannot be written is one line of error.

>>> from pathlib import Path; import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     result = reproduce(Path(d), steps=("gamma",))
...     sorted(p.name for p in result.files)
['gamma.json', 'gamma.md', 'manifest.json']
"""

from __future__ import annotations

import hashlib
import importlib
import json
import platform
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gradmath.errors import InvalidParameterError, UnknownNameError
from gradmath.reports import SEED
from gradmath.reports.files import output_folder, read_bytes, write_json

__all__ = ["STEPS", "ReproduceResult", "reproduce", "resolve_steps", "merge_manifest", "DEFAULT_OUT",
           "MAX_MANIFEST_BYTES"]

#: Largest ``manifest.json`` read back to merge with (the one written lists some 80 files in ~10 kB).
MAX_MANIFEST_BYTES = 1 << 20

DEFAULT_OUT = Path("docs/generated")

#: (name, report module) in the order they run; each module writes into its own subfolder.
STEPS: tuple[tuple[str, str], ...] = (
    ("gamma", "gradmath.reports.gamma_table"),
    ("derivations", "gradmath.reports.derivations"),
    ("window", "gradmath.reports.window"),
    ("verification", "gradmath.reports.verification"),
    ("speeds", "gradmath.reports.speeds"),
    ("meanfield", "gradmath.reports.meanfield"),
    ("sweeps", "gradmath.reports.sweeps"),
    ("examples", "gradmath.reports.examples"),
)

_PACKAGES = ("numpy", "scipy", "sympy", "mpmath", "matplotlib", "scikit-learn")


@dataclass(frozen=True)
class ReproduceResult:
    """What :func:`reproduce` wrote: the folder, the files (manifest last) and the steps run."""

    out: Path
    files: tuple[Path, ...]
    steps: tuple[str, ...]

    def to_json(self) -> dict:
        return {"out": str(self.out), "steps": list(self.steps),
                "files": [str(p.relative_to(self.out)) for p in self.files]}


def reproduce(out: Path = DEFAULT_OUT, *, steps: Sequence[str] | None = None,
              progress: Callable[[str], None] | None = None) -> ReproduceResult:
    """Run the ``steps`` (default: all of :data:`STEPS`) and write the artifacts under ``out``.

    ``progress`` is called with each step's name before it runs and may be
    handed down to the step for finer messages.
    """
    import importlib.metadata  # here, not at the top: ``gradmath --help`` imports this module

    chosen = resolve_steps(steps)
    files: list[Path] = []
    with output_folder(out) as out:
        for name, module in STEPS:
            if name not in chosen:
                continue
            if progress is not None:
                progress(name)
            step = importlib.import_module(module)
            files += [Path(p) for p in step.write_artifacts(out, progress)]
        written = {p.relative_to(out).as_posix(): _sha256(p) for p in sorted(set(files))}
        steps_run = [name for name, _ in STEPS if name in chosen]
        if set(steps_run) != {name for name, _ in STEPS}:
            steps_run, written = merge_manifest(out, steps_run, written)
        manifest = {
            "generator": "gradmath reproduce",
            "gradmath": importlib.metadata.version("gradmath") if _installed("gradmath") else "source",
            "python": platform.python_version(),
            "packages": {name: _version(name) for name in _PACKAGES},
            "seed": SEED,
            "steps": steps_run,
            "files": written,
        }
        files.append(write_json(out / "manifest.json", manifest))
    return ReproduceResult(out=out, files=tuple(sorted(set(files))), steps=tuple(name for name, _ in STEPS
                                                                                if name in chosen))


def merge_manifest(out: Path, steps: Sequence[str], files: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The steps and files of this run together with those of ``out/manifest.json`` from earlier runs.

    An earlier entry is kept only where its file is still a plain file under
    ``out`` (no link followed) with the listed SHA-256, and this run did not
    write it; the steps are listed in the order of :data:`STEPS`. A manifest
    that is missing, larger than :data:`MAX_MANIFEST_BYTES`, or not one that
    ``gradmath reproduce`` wrote is left out, with a warning when it exists.
    """
    out = Path(out)
    raw = read_bytes(out / "manifest.json", limit=MAX_MANIFEST_BYTES)
    old = _parse_manifest(raw) if raw is not None else None
    if old is None:
        if raw is not None or (out / "manifest.json").is_symlink():
            warnings.warn(f"{out / 'manifest.json'} was not written by gradmath reproduce; "
                          "it is replaced and lists only this run", stacklevel=2)
        return list(steps), dict(files)
    old_steps, old_files = old
    merged = dict(files)
    for name, digest in old_files.items():
        if name in merged:
            continue
        data = read_bytes(out / name, limit=1 << 30)
        if data is not None and hashlib.sha256(data).hexdigest() == digest:
            merged[name] = digest
    all_steps = set(steps) | set(old_steps)
    return [name for name, _ in STEPS if name in all_steps], dict(sorted(merged.items()))


_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def _parse_manifest(raw: bytes) -> tuple[list[str], dict[str, str]] | None:
    """(steps, files) of a manifest written by ``gradmath reproduce``, or None."""
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or payload.get("generator") != "gradmath reproduce":
        return None
    steps, files = payload.get("steps"), payload.get("files")
    known = {name for name, _ in STEPS}
    if not (isinstance(steps, list) and all(isinstance(s, str) and s in known for s in steps)
            and isinstance(files, dict)):
        return None
    for name, digest in files.items():
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest) and _SAFE_NAME.fullmatch(name)
                and ".." not in name.split("/") and name != "manifest.json"):
            return None
    return steps, files


def resolve_steps(steps: Sequence[str] | None) -> list[str]:
    """The step names to run (all for ``None``); unknown names raise :class:`UnknownNameError`."""
    from gradmath.validation import suggest  # NumPy; not needed by ``gradmath reproduce --help``

    known = [name for name, _ in STEPS]
    chosen = known if steps is None else list(steps)
    for name in chosen:
        if name not in known:
            raise UnknownNameError(f"step={name!r} is not one of {', '.join(known)}{suggest(name, known)}")
    return chosen


def _installed(name: str) -> bool:
    import importlib.metadata

    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _version(name: str) -> str | None:
    return importlib.metadata.version(name) if _installed(name) else None


def _sha256(path: Path) -> str:
    """SHA-256 of a file this run wrote (read back without following links)."""
    data = read_bytes(path, limit=1 << 30)
    if data is None:
        raise InvalidParameterError(f"{path} changed while gradmath reproduce was writing it; run again")
    return hashlib.sha256(data).hexdigest()
