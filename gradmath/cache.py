"""A cache of command results on disk, so a repeated query need not re-derive anything.

The command line stores what a deterministic command printed (stdout, stderr, in order)
under a key made of the command, its normalised arguments, the versions of gradmath,
Python, SymPy, mpmath, NumPy and SciPy, and a hash of gradmath's own source files,
so a changed source or library never serves a stale result.

* Where: ``$GRADMATH_CACHE_DIR``, else ``$XDG_CACHE_HOME/gradmath``, else
  ``~/.cache/gradmath``. Deleting the folder is always safe.
* Off: ``GRADMATH_NO_CACHE=1`` (or the command line's ``--no-cache``).
* Format: one JSON file per entry (never pickle), written to a temporary file and
  moved into place with :func:`os.replace`, so concurrent writers leave a whole
  entry; an entry that is corrupt, partial, too large or made for another key is
  ignored and rewritten.
* Bounds: an entry is at most :data:`MAX_ENTRY_BYTES`; when the folder passes
  :data:`MAX_TOTAL_BYTES`, the least recently used entries go.

Nothing read from the cache is executed or parsed as anything but JSON strings.

Code whose result depends on more than its arguments (a search that ran out of its time
limit and fell back to an estimate, say) calls :func:`uncacheable`, and the command line
then does not store what the command printed.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     cache = ResultCache(folder)
...     key = result_key("window", {"digits": 50})
...     cache.get(key) is None, cache.put(key, {"output": [[1, "hello\\n"]]}), cache.get(key)["output"]
(True, True, [[1, 'hello\\n']])
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["ResultCache", "default_cache", "cache_folder", "cache_disabled", "result_key", "source_hash",
           "hash_sources", "uncacheable", "start_recording", "uncacheable_reason", "MAX_ENTRY_BYTES", "MAX_TOTAL_BYTES", "MAX_ARGUMENTS_CHARS"]

#: Environment variable naming the cache folder.
ENV_FOLDER = "GRADMATH_CACHE_DIR"
#: Environment variable that turns the cache off when set to anything but ``""`` or ``"0"``.
ENV_OFF = "GRADMATH_NO_CACHE"
#: The largest entry written or read (bytes); larger results are simply not cached.
MAX_ENTRY_BYTES = 4 * 2**20
#: The folder's size beyond which the least recently used entries are removed (bytes).
MAX_TOTAL_BYTES = 64 * 2**20
#: Arguments longer than this (as canonical JSON) are not cached.
MAX_ARGUMENTS_CHARS = 16_384
#: Bumped whenever the entry layout changes.
FORMAT = 1
#: Libraries whose versions are part of every key (gradmath's own source is hashed instead).
LIBRARIES = ("sympy", "mpmath", "numpy", "scipy")
#: Temporary files older than this (seconds) are debris of an interrupted write.
_STALE_TEMP_SECONDS = 3600


#: Why the result now being computed must not be stored (empty: it may be); see :func:`uncacheable`.
_UNCACHEABLE: list[str] = []


def uncacheable(reason: str) -> None:
    """Say that the result now being computed depends on more than its arguments (a time limit
    ran out, say), so it is not stored. Cheap, and harmless outside the command line."""
    if not _UNCACHEABLE:
        _UNCACHEABLE.append(str(reason))


def start_recording() -> None:
    """Forget earlier :func:`uncacheable` calls (the command line calls this before each command)."""
    _UNCACHEABLE.clear()


def uncacheable_reason() -> str | None:
    """The first reason given to :func:`uncacheable` since :func:`start_recording`, or ``None``."""
    return _UNCACHEABLE[0] if _UNCACHEABLE else None


def cache_disabled() -> bool:
    """Whether ``GRADMATH_NO_CACHE`` turns the cache off."""
    return os.environ.get(ENV_OFF, "").strip() not in ("", "0")


def cache_folder() -> Path:
    """The cache folder: ``$GRADMATH_CACHE_DIR``, ``$XDG_CACHE_HOME/gradmath`` or ``~/.cache/gradmath``."""
    explicit = os.environ.get(ENV_FOLDER, "")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "gradmath"


def default_cache() -> ResultCache | None:
    """The user's result cache, or ``None`` when it is turned off."""
    return None if cache_disabled() else ResultCache(cache_folder() / "results")


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """SHA-256 over the paths and contents of gradmath's ``.py`` files (a few milliseconds)."""
    return hash_sources(Path(__file__).resolve().parent)


def hash_sources(root: Path) -> str:
    """SHA-256 over the relative paths and contents of every ``.py`` file under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _versions() -> dict[str, Any]:
    from gradmath import __version__

    return {"gradmath": __version__, "python": sys.version.split()[0],
            **{name: _library_version(name) for name in LIBRARIES}}


def _library_version(name: str) -> list | None:
    """``[version, file, mtime_ns, size]`` of an installed library, found without importing it.

    The version is read from the ``NAME-VERSION.dist-info`` folder beside the package
    (:mod:`importlib.metadata` costs more to import than the whole lookup), and the file
    facts of its ``__init__.py`` make a reinstall of the same version a new key.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return None
    origin = Path(spec.origin)
    info = origin.stat()
    found = sorted(origin.parent.parent.glob(f"{name}-*.dist-info"))
    if len(found) == 1:
        version = found[0].name[len(name) + 1:-len(".dist-info")]
    else:
        import importlib.metadata

        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = None
    return [version, str(origin), info.st_mtime_ns, info.st_size]


def _normalise(value: Any) -> Any:
    """A JSON-safe, type-faithful form of one argument value (floats by ``repr``); ``TypeError`` if none."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    raise TypeError(f"argument of type {type(value).__name__} has no cache key")


def result_key(command: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
    """The full key of one command's result, or ``None`` if its arguments cannot be keyed.

    ``arguments`` hold plain values (``None``, bool, int, float, str and lists of them);
    anything else (a file path, say) makes the result uncacheable.
    """
    try:
        normalised = {str(k): _normalise(v) for k, v in sorted(arguments.items())}
    except TypeError:
        return None
    if len(json.dumps(normalised, ensure_ascii=False)) > MAX_ARGUMENTS_CHARS:
        return None
    return {"format": FORMAT, "command": command, "arguments": normalised,
            "versions": _versions(), "source": source_hash()}


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


class ResultCache:
    """JSON entries in one folder, one file per key; every failure is a miss, never an error."""

    def __init__(self, folder: str | os.PathLike, *, max_entry_bytes: int = MAX_ENTRY_BYTES,
                 max_total_bytes: int = MAX_TOTAL_BYTES):
        self.folder = Path(folder)
        self.max_entry_bytes = max_entry_bytes
        self.max_total_bytes = max_total_bytes

    def __repr__(self) -> str:
        return f"ResultCache({str(self.folder)!r})"

    def path(self, key: dict[str, Any]) -> Path:
        """The file that holds ``key``'s entry (named by a hash: no argument text reaches the path)."""
        return self.folder / f"{_digest(key)}.json"

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The value stored for ``key``, or ``None`` (missing, unreadable, corrupt, too large, another key)."""
        path = self.path(key)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > self.max_entry_bytes:
                return None
            with os.fdopen(fd, "rb", closefd=False) as file:
                raw = file.read(self.max_entry_bytes + 1)
            entry = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            return None
        finally:
            os.close(fd)
        if not (isinstance(entry, dict) and entry.get("key") == key and isinstance(entry.get("value"), dict)):
            return None
        try:
            os.utime(path)  # least recently *used* goes first when pruning
        except OSError:
            pass
        return entry["value"]

    def put(self, key: dict[str, Any], value: dict[str, Any]) -> bool:
        """Store ``value`` (JSON-serialisable) for ``key`` atomically; ``False`` if it was not stored."""
        try:
            data = json.dumps({"key": key, "value": value}, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError):
            return False
        if len(data) > self.max_entry_bytes:
            return False
        temp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temp, self.path(key))
            temp = None
        except OSError:
            return False
        finally:
            if temp is not None:
                try:
                    os.unlink(temp)
                except OSError:
                    pass
        self.prune()
        return True

    def prune(self) -> None:
        """Remove the least recently used entries while the folder is over :attr:`max_total_bytes`,
        down to three quarters of it, and temporary files left by interrupted writes."""
        now = time.time()
        entries, total = [], 0
        try:
            with os.scandir(self.folder) as listing:
                for item in listing:
                    if not item.name.endswith(".json") or not item.is_file(follow_symlinks=False):
                        continue
                    info = item.stat(follow_symlinks=False)
                    if item.name.startswith(".tmp-"):
                        if now - info.st_mtime > _STALE_TEMP_SECONDS:
                            _unlink(item.path)
                        continue
                    entries.append((info.st_mtime, info.st_size, item.path))
                    total += info.st_size
        except OSError:
            return
        if total <= self.max_total_bytes:
            return
        for _, size, path in sorted(entries):
            if total <= self.max_total_bytes * 3 // 4:
                break
            if _unlink(path):
                total -= size

    def clear(self) -> int:
        """Remove every entry; return how many were removed."""
        removed = 0
        try:
            with os.scandir(self.folder) as listing:
                for item in listing:
                    if item.name.endswith(".json") and item.is_file(follow_symlinks=False):
                        removed += _unlink(item.path)
        except OSError:
            pass
        return removed


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:
        return False
