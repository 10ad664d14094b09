"""Deterministic writers for text, JSON, CSV and PNG artifacts, that never write through a link.

Every file is written to a temporary file in its own folder and moved into place
with :func:`os.replace`, so a reader never sees half a file and a symbolic link
at the file's name is replaced, not followed. Inside :func:`output_folder`
(which :func:`gradmath.reproduce.reproduce` uses) the folders below the output
folder are opened one at a time without following links (``O_NOFOLLOW``
relative to the folder above): a link planted there (``out/examples -> /etc``)
is refused with :class:`~gradmath.errors.InvalidParameterError`, never followed.
The output folder itself is the one the caller named, link or not.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import errno
import io
import json
import os
import secrets
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from gradmath.errors import InvalidParameterError

__all__ = ["write_text", "write_json", "write_csv", "save_figure", "write_bytes", "read_bytes", "output_folder",
           "check_output_folder"]

#: The folder that writes are confined to (set by :func:`output_folder`), or None.
_ROOT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("gradmath_output_root", default=None)

_DIR_FD = os.open in os.supports_dir_fd and os.mkdir in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def check_output_folder(out) -> Path:
    """Return ``out`` as a :class:`Path` after creating it; refuse ``""``, a file, or a folder under a file.

    >>> check_output_folder("")
    Traceback (most recent call last):
    ...
    gradmath.errors.InvalidParameterError: out='' is empty; name an output folder, e.g. docs/generated
    """
    if isinstance(out, (str, bytes)) and not str(out).strip():
        raise InvalidParameterError(f"out={out!r} is empty; name an output folder, e.g. docs/generated")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidParameterError(f"out='{out}' is a file, not a folder; name a folder (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidParameterError(f"out='{out}': cannot create the folder: {_reason(err)}") from None
    probe = out / f".gradmath-write-test.{secrets.token_hex(6)}"   # before any long work, not after it
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
        os.close(fd)
        probe.unlink()
    except OSError as err:
        raise InvalidParameterError(f"out='{out}': cannot write there: {_reason(err)}") from None
    return out


@contextlib.contextmanager
def output_folder(out) -> Iterator[Path]:
    """Confine the writers to ``out``: folders below it are never followed through a link.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, output_folder(d) as out:
    ...     write_text(out / "a" / "b.md", "hello").read_text()
    'hello\\n'
    """
    out = check_output_folder(out)
    token = _ROOT.set(out)
    try:
        yield out
    finally:
        _ROOT.reset(token)


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and :func:`os.replace` (see the module's notes)."""
    path = Path(path)
    root, parts = _split(path)
    try:
        if not _DIR_FD:
            return _write_by_path(root, parts, path, data)
        folder = _open_folder(root, parts, create=True)
        try:
            temporary = f".{path.name}.{secrets.token_hex(6)}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666,
                         dir_fd=folder)
            try:
                with os.fdopen(fd, "wb") as stream:
                    stream.write(data)
                os.replace(temporary, path.name, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=folder)
                raise
        finally:
            os.close(folder)
    except OSError as err:
        raise InvalidParameterError(f"cannot write {path}: {_reason(err)}") from None
    return path


def read_bytes(path: Path, *, limit: int) -> bytes | None:
    """The bytes of ``path`` (at most ``limit``), read without following links; None if it is missing,
    a link, not a plain file, or larger than ``limit``."""
    path = Path(path)
    root, parts = _split(path)
    try:
        if not _DIR_FD:
            if any(p.is_symlink() for p in _prefixes(root, parts + (path.name,))) or not path.is_file():
                return None
            data = path.read_bytes()
            return data if len(data) <= limit else None
        folder = _open_folder(root, parts, create=False)
        try:
            fd = os.open(path.name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0), dir_fd=folder)
        finally:
            os.close(folder)
        with os.fdopen(fd, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                return None
            data = stream.read(limit + 1)
        return data if len(data) <= limit else None
    except (OSError, InvalidParameterError):
        return None


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` with a final newline and Unix line ends."""
    return write_bytes(path, (text.rstrip("\n") + "\n").encode("utf-8"))


def write_json(path: Path, payload: Any) -> Path:
    """Write ``payload`` as indented JSON (keys in insertion order)."""
    return write_text(path, json.dumps(payload, indent=2, default=str, ensure_ascii=False))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV file with ``header`` then ``rows`` (floats as ``repr``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return write_text(path, buffer.getvalue())


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure as PNG without metadata that changes between runs."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return write_bytes(path, buffer.getvalue())


def _split(path: Path) -> tuple[Path, tuple[str, ...]]:
    """(the folder to start from, the names of the folders below it that lead to ``path``)."""
    root = _ROOT.get()
    if root is None:
        return path.parent, ()
    try:
        parts = path.parent.relative_to(root).parts
    except ValueError:
        raise InvalidParameterError(f"{path} is outside the output folder {root}") from None
    if any(p in ("..", ".", "") for p in parts) or path.name in ("..", ".", ""):
        raise InvalidParameterError(f"{path}: '..' is not allowed below the output folder {root}")
    return root, parts


def _open_folder(root: Path, parts: tuple[str, ...], *, create: bool) -> int:
    """A descriptor of ``root/parts…``, each part opened with O_NOFOLLOW relative to the one above."""
    if create and not parts:
        root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for i, part in enumerate(parts):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                below = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    where = root.joinpath(*parts[:i + 1])
                    raise InvalidParameterError(
                        f"{where} is a symbolic link or not a folder; files are written only into real folders "
                        f"under {root} (remove it and run again)") from None
                raise
            os.close(fd)
            fd = below
    except BaseException:
        os.close(fd)
        raise
    return fd


def _prefixes(root: Path, parts: tuple[str, ...]) -> list[Path]:
    return [root.joinpath(*parts[:i + 1]) for i in range(len(parts))]


def _write_by_path(root: Path, parts: tuple[str, ...], path: Path, data: bytes) -> Path:
    """The same without descriptors relative to a folder (platforms without ``dir_fd``): checked by lstat."""
    root.mkdir(parents=True, exist_ok=True)
    for folder in _prefixes(root, parts):
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise InvalidParameterError(f"{folder} is a symbolic link or not a folder; files are written only "
                                        f"into real folders under {root} (remove it and run again)")
        folder.mkdir(exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "xb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return path


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__
