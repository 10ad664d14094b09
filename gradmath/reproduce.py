"""The main job: regenerate every derived artifact into one folder.

Steps run in the order of :data:`STEPS`; each is a report module's
``write_artifacts(out, progress)``. A ``manifest.json`` lists the package
versions, the seed and the SHA-256 of every file, and holds no timestamp, so
running it twice gives byte-identical folders.

>>> from pathlib import Path; import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     result = reproduce(Path(d), steps=("gamma",))
...     sorted(p.name for p in result.files)
['gamma.json', 'gamma.md', 'manifest.json']
"""

from __future__ import annotations

import hashlib
import importlib
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gradmath.errors import UnknownNameError
from gradmath.reports import SEED
from gradmath.reports.files import write_json

__all__ = ["STEPS", "ReproduceResult", "reproduce", "resolve_steps", "DEFAULT_OUT"]

DEFAULT_OUT = Path("docs/generated")

#: (name, report module) in the order they run; each module writes into its own subfolder.
STEPS: tuple[tuple[str, str], ...] = (
    ("gamma", "gradmath.reports.gamma_table"),
    ("derivations", "gradmath.reports.derivations"),
    ("window", "gradmath.reports.window"),
    ("verification", "gradmath.reports.verification"),
    ("speeds", "gradmath.reports.speeds"),
    ("meanfield", "gradmath.reports.meanfield"),
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
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for name, module in STEPS:
        if name not in chosen:
            continue
        if progress is not None:
            progress(name)
        step = importlib.import_module(module)
        files += [Path(p) for p in step.write_artifacts(out, progress)]
    manifest = {
        "generator": "gradmath reproduce",
        "gradmath": importlib.metadata.version("gradmath") if _installed("gradmath") else "source",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "seed": SEED,
        "steps": [name for name, _ in STEPS if name in chosen],
        "files": {str(p.relative_to(out)): _sha256(p) for p in sorted(set(files))},
    }
    files.append(write_json(out / "manifest.json", manifest))
    return ReproduceResult(out=out, files=tuple(sorted(set(files))), steps=tuple(manifest["steps"]))


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
    return hashlib.sha256(path.read_bytes()).hexdigest()
