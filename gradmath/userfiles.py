"""Opening files a user named: regular files only, within a stated size, with one clear line per refusal.

Every path a user gives gradmath (a data set, a network file) comes through
:func:`check_user_path`, :func:`open_user_file` or :func:`read_user_file`. They
refuse, before reading a byte,

* a missing path ("no such file"), a directory ("is a directory, not a file"),
* a FIFO, a character or block device or a socket: reading one can block
  forever (a named pipe with no writer) or never end (``/dev/zero``); such a
  path is never opened, and a file swapped for one between the check and the
  open is caught by a second check on the opened descriptor,
* a file the operating system will not let us read (``PermissionError``),
* a file larger than ``max_bytes`` (default :data:`MAX_FILE_BYTES`, 1 GiB).

Streams that expand what they read (gzip, zip members) are read through
:func:`read_at_most`, which stops one byte past its cap instead of exhausting
memory.

Examples
--------
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     p = pathlib.Path(d) / "small.bin"
...     _ = p.write_bytes(b"12345")
...     read_user_file(p)
b'12345'
>>> with tempfile.TemporaryDirectory() as d:
...     read_user_file(d)
Traceback (most recent call last):
...
gradmath.errors.DataError: /...: is a directory, not a file
>>> with tempfile.TemporaryDirectory() as d:
...     p = pathlib.Path(d) / "big.bin"
...     _ = p.write_bytes(bytes(2 * 2**20))
...     read_user_file(p, max_bytes=2**20)
Traceback (most recent call last):
...
gradmath.errors.DataError: /.../big.bin: the file holds 2,097,152 bytes, which exceeds the limit of 1 MiB; pass max_bytes= (in bytes) to raise it
"""

from __future__ import annotations

import gzip
import io
import os
import stat
from typing import BinaryIO

import numpy as np

from gradmath.errors import DataError, GradmathError

__all__ = ["MAX_FILE_BYTES", "check_user_path", "open_user_file", "read_user_file", "read_at_most",
           "read_exactly", "gunzip_if_gzipped", "format_size", "limit_exceeded"]

#: Default largest file (and largest decompressed content) gradmath reads: 1 GiB.
MAX_FILE_BYTES = 2**30

_CHUNK = 2**20  # bytes per read: large reads through zipfile and gzip are several times slower

_SPECIAL = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def format_size(n: int) -> str:
    """``n`` bytes as people read it: ``'512 bytes'``, ``'1 MiB'``, ``'1.5 GiB'``.

    >>> format_size(512), format_size(2**20), format_size(3 * 2**29)
    ('512 bytes', '1 MiB', '1.5 GiB')
    """
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.4g} {unit}"
    return f"{n} bytes"


def limit_exceeded(name, what: str, max_bytes: int, *, keyword: str = "max_bytes",
                   error: type[GradmathError] = DataError, remedy: str | None = None) -> GradmathError:
    """The one-line error for ``what`` (e.g. "the file holds 2 GiB") exceeding ``max_bytes``.

    The limit is always given in MiB, followed by how to raise it (``remedy``, by default the keyword):

    >>> print(limit_exceeded("a.npz", "member 'x' declares 3 GiB", 2**30))
    a.npz: member 'x' declares 3 GiB, which exceeds the limit of 1024 MiB; pass max_bytes= (in bytes) to raise it
    """
    mib = f"{max_bytes / 2**20:.6g}"
    remedy = remedy or f"pass {keyword}= (in bytes) to raise it"
    return error(f"{name}: {what}, which exceeds the limit of {mib} MiB; {remedy}")


def _kind(mode: int) -> str | None:
    """``None`` for a regular file, otherwise what the path is instead."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    for test, name in _SPECIAL:
        if test(mode):
            return name
    return "not a regular file"


def _refusal(path, kind: str, error: type[GradmathError]) -> GradmathError:
    if kind == "a directory":
        return error(f"{path}: is a directory, not a file")
    return error(f"{path}: is {kind}, not a regular file; gradmath reads data and networks from regular files only")


def _os_error(path, err: OSError, error: type[GradmathError], folder_ok: bool = False) -> GradmathError:
    if isinstance(err, FileNotFoundError):
        return error(f"{path}: no such file{' or folder' if folder_ok else ''}")
    if isinstance(err, PermissionError):
        return error(f"{path}: permission denied (check the permissions of the file and of the folders above it)")
    if isinstance(err, NotADirectoryError):
        return error(f"{path}: no such file (a part of the path is a file, not a folder)")
    return error(f"{path}: cannot be read ({err.strerror or err})")


def check_user_path(path, *, error: type[GradmathError] = DataError, folder_ok: bool = False,
                    max_bytes: int | None = MAX_FILE_BYTES) -> os.stat_result:
    """Check that ``path`` is a readable regular file (or folder, with ``folder_ok``) and return its status.

    Nothing is opened. A regular file larger than ``max_bytes`` is refused
    (``None``: no size limit here, e.g. when a later reader applies its own).

    Raises
    ------
    error (default DataError)
        A missing path, a directory (unless ``folder_ok``), a FIFO, device or
        socket, a path the system refuses to look at, a file over the limit.
    """
    try:
        status = os.stat(path)
    except OSError as err:
        raise _os_error(path, err, error, folder_ok) from None
    except ValueError as err:  # an embedded NUL byte
        raise error(f"{path!r}: not a usable path ({err})") from None
    kind = _kind(status.st_mode)
    if kind is not None and not (folder_ok and kind == "a directory"):
        raise _refusal(path, kind, error)
    if kind is None and max_bytes is not None and status.st_size > max_bytes:
        raise limit_exceeded(path, f"the file holds {status.st_size:,} bytes", max_bytes, error=error)
    return status


def open_user_file(path, *, max_bytes: int = MAX_FILE_BYTES,
                   error: type[GradmathError] = DataError) -> BinaryIO:
    """Open the regular file ``path`` for binary reading, after :func:`check_user_path`.

    The open itself never blocks (``O_NONBLOCK``), and the opened descriptor is
    checked again, so a path replaced by a FIFO or device after the check is
    still refused. The caller closes the stream (use ``with``). ``max_bytes``
    limits the file's size on disk; content read from it that expands (gzip)
    needs its own cap, see :func:`read_at_most`.
    """
    check_user_path(path, error=error, max_bytes=max_bytes)
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    flags = os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise _os_error(path, err, error) from None
    try:
        status = os.fstat(fd)
        kind = _kind(status.st_mode)
        if kind is not None:
            raise _refusal(path, kind, error)
        if status.st_size > max_bytes:
            raise limit_exceeded(path, f"the file holds {status.st_size:,} bytes", max_bytes, error=error)
        if nonblocking:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_at_most(stream, max_bytes: int, *, name, what: str = "the content",
                 error: type[GradmathError] = DataError, keyword: str = "max_bytes") -> bytes:
    """Read ``stream`` to its end, refusing (without reading further) once it passes ``max_bytes``.

    At most ``max_bytes + 1`` bytes are ever held, whatever the stream would
    expand to (a gzip bomb stops here).

    >>> import io
    >>> read_at_most(io.BytesIO(b"abc"), 3, name="x")
    b'abc'
    >>> read_at_most(io.BytesIO(bytes(2**20 + 1)), 2**20, name="x.gz", what="the gzip stream")
    Traceback (most recent call last):
    ...
    gradmath.errors.DataError: x.gz: the gzip stream holds more than 1 MiB, which exceeds the limit of 1 MiB; pass max_bytes= (in bytes) to raise it
    """
    out = io.BytesIO()
    while out.tell() <= max_bytes:  # chunks: never one allocation of the whole limit
        chunk = stream.read(min(_CHUNK, max_bytes + 1 - out.tell()))
        if not chunk:
            return out.getvalue()
        out.write(chunk)
    raise limit_exceeded(name, f"{what} holds more than {format_size(max_bytes)}", max_bytes,
                         keyword=keyword, error=error)


def read_exactly(stream, n: int) -> np.ndarray:
    """The next ``n`` bytes of ``stream`` as a uint8 array allocated once (shorter only where the stream ends).

    The caller checks ``n`` against its budget first; nothing past ``n`` is read.

    >>> import io
    >>> read_exactly(io.BytesIO(b"abcdef"), 4).tobytes(), len(read_exactly(io.BytesIO(b"ab"), 4))
    (b'abcd', 2)
    """
    buffer = np.empty(n, dtype=np.uint8)
    got = 0
    with memoryview(buffer) as view:
        while got < n:
            k = stream.readinto(view[got:got + _CHUNK])
            if not k:
                break
            got += k
    return buffer if got == n else buffer[:got].copy()


def gunzip_if_gzipped(stream):
    """``stream`` itself, or a streaming gzip reader over it when it starts with gzip's magic bytes.

    ``stream`` must support ``peek`` (as :func:`open_user_file`'s streams do).
    Nothing is decompressed here; read through :func:`read_at_most` or a
    reader that knows how many bytes to expect.
    """
    return gzip.GzipFile(fileobj=stream, mode="rb") if stream.peek(2)[:2] == b"\x1f\x8b" else stream


def read_user_file(path, *, max_bytes: int = MAX_FILE_BYTES, error: type[GradmathError] = DataError) -> bytes:
    """The whole content of the regular file ``path`` (at most ``max_bytes``), after the checks above."""
    with open_user_file(path, max_bytes=max_bytes, error=error) as stream:
        try:
            return read_at_most(stream, max_bytes, name=path, what="the file", error=error)
        except OSError as err:
            raise _os_error(path, err, error) from None
