"""The IDX file format of MNIST and Fashion-MNIST, read within a stated memory budget.

An IDX file is four magic bytes (0, 0, a type code, a dimension count ``ndim``),
``ndim`` big-endian 32-bit dimensions, then the array in C order. The header
declares the payload's exact size, so :func:`read_idx` checks it against the
budget before allocating, decompresses a gzipped file only that far, and
refuses anything left over: a file that expands past its header (a gzip bomb)
costs at most one MiB more than the array it declares.

Limits: at most :data:`MAX_IDX_DIMENSIONS` dimensions; the payload (and, with
``float64_copy=True``, the float64 copy a data set makes of it) at most
``max_bytes`` (default 1 GiB); the file itself at most ``max_bytes``.
"""

from __future__ import annotations

import math
import zlib
from gzip import BadGzipFile
from pathlib import Path

import numpy as np

from gradmath.errors import DataError, FormatError
from gradmath.userfiles import (MAX_FILE_BYTES, format_size, gunzip_if_gzipped, limit_exceeded, open_user_file,
                                read_exactly)
from gradmath.validation import check_int

__all__ = ["read_idx", "MAX_IDX_DIMENSIONS", "IDX_TYPES"]

#: Most dimensions an IDX file may declare (MNIST uses 1 and 3; the format allows 255, NumPy 64).
MAX_IDX_DIMENSIONS = 16

#: IDX type codes (third magic byte) → big-endian NumPy dtypes.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_TRAILING_PROBE = 2**20  # bytes read past the payload to report what follows it


def read_idx(path, *, max_bytes: int = MAX_FILE_BYTES, float64_copy: bool = False) -> np.ndarray:
    """Read one IDX file (gzipped or raw) into an array of its declared dtype and shape.

    Parameters
    ----------
    path : str or path
        A regular file (never a FIFO, device or directory).
    max_bytes : int
        Memory budget in bytes (default 1 GiB) for the file and its payload,
        checked against the header's dimensions before allocating.
    float64_copy : bool
        Also refuse when a float64 copy of the array would pass ``max_bytes``
        (what :func:`gradmath.data.load_dataset` makes of it).

    Raises
    ------
    FormatError
        Not an IDX file, too many dimensions, truncated, bytes after the
        payload, a corrupt gzip stream.
    DataError
        A path that is not a readable regular file, a size over the limit.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "labels-idx1-ubyte")
    ...     _ = open(p, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    ...     read_idx(p).tolist()
    [7, 2, 1]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "labels-idx1-ubyte")
    ...     _ = open(p, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 4, 7, 2, 1]))
    ...     read_idx(p)
    Traceback (most recent call last):
    ...
    gradmath.errors.FormatError: .../labels-idx1-ubyte: truncated IDX payload: shape (4,) needs 4 bytes, found 3
    >>> with tempfile.TemporaryDirectory() as d:       # the header alone says this is too large
    ...     p = os.path.join(d, "images-idx3-ubyte")
    ...     _ = open(p, "wb").write(bytes([0, 0, 8, 3, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0]))
    ...     read_idx(p, max_bytes=2**20)
    Traceback (most recent call last):
    ...
    gradmath.errors.DataError: .../images-idx3-ubyte: shape (65536, 256, 256) of uint8 declares 4 GiB, which exceeds the limit of 1 MiB; pass max_bytes= (in bytes) to raise it
    """
    path = Path(path)
    max_bytes = check_int("max_bytes", max_bytes, min_value=1)
    with open_user_file(path, max_bytes=max_bytes) as raw:
        try:
            return _read_stream(path, gunzip_if_gzipped(raw), max_bytes, 8 if float64_copy else 0)
        except (EOFError, BadGzipFile, zlib.error) as err:
            raise FormatError(f"{path}: corrupt or truncated gzip stream ({err})") from None
        except OSError as err:
            raise DataError(f"{path}: cannot be read ({err.strerror or err})") from None


def _read_stream(path: Path, stream, max_bytes: int, copy_itemsize: int) -> np.ndarray:
    magic = read_exactly(stream, 4).tobytes()
    if not magic:
        raise FormatError(f"{path}: the file is empty, not an IDX file (expected 0000 then a type code and a "
                          f"dimension count, e.g. 00000803)")
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES or magic[3] == 0:
        raise FormatError(f"{path}: not an IDX file (magic number {magic.hex()}, expected 0000 then a type code "
                          f"and a dimension count, e.g. 00000803)")
    dtype, ndim = np.dtype(IDX_TYPES[magic[2]]), magic[3]
    if ndim > MAX_IDX_DIMENSIONS:
        raise FormatError(f"{path}: the IDX header declares {ndim} dimensions, more than the limit of "
                          f"{MAX_IDX_DIMENSIONS} (MNIST files have 1 or 3)")
    dims = read_exactly(stream, 4 * ndim).tobytes()
    if len(dims) < 4 * ndim:
        raise FormatError(f"{path}: truncated IDX header ({4 + len(dims)} bytes, {4 + 4 * ndim} needed "
                          f"for {ndim} dimensions)")
    shape = tuple(int.from_bytes(dims[4 * i:4 * i + 4], "big") for i in range(ndim))
    count = math.prod(shape)  # Python ints: no overflow
    needed = count * dtype.itemsize
    if max(needed, count * copy_itemsize) > max_bytes:
        what = f"shape {_shape_text(shape)} of {dtype.newbyteorder('=')} declares {format_size(needed)}"
        if count * copy_itemsize > needed:
            what += f" ({format_size(count * copy_itemsize)} as float64)"
        raise limit_exceeded(path, what, max_bytes)
    payload = read_exactly(stream, needed)
    if len(payload) < needed:
        raise FormatError(f"{path}: truncated IDX payload: shape {_shape_text(shape)} needs {needed} bytes, "
                          f"found {len(payload)}")
    extra = len(stream.read(_TRAILING_PROBE))
    if extra:
        more = "at least " if extra == _TRAILING_PROBE else ""
        raise FormatError(f"{path}: {more}{extra} bytes after the IDX payload of shape {_shape_text(shape)}")
    array = payload.view(dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _shape_text(shape: tuple) -> str:
    """A shape for a one-line message (long shapes shortened)."""
    return str(shape) if len(shape) <= 6 else f"({', '.join(map(str, shape[:4]))}, …{len(shape) - 4} more)"
