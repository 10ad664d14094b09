"""Reading ``.npz`` archives without pickle, within a memory budget, with one clear message per kind of damage.

Both network files (:mod:`gradmath.formats`) and data files (:mod:`gradmath.data`)
come through :func:`read_npz`. It does not hand the archive to ``np.load``,
which allocates whatever shape a member's header declares and decompresses
whatever a member holds. Instead, before allocating, it checks

* the file itself with :func:`gradmath.userfiles.open_user_file` (a regular
  file of at most ``max_bytes``, never a FIFO, device or directory),
* the table of members (at most :data:`MAX_NPZ_MEMBERS` members in at most
  :data:`MAX_CENTRAL_DIRECTORY_BYTES`), before ``zipfile`` parses it,
* every member's name (``NAME.npy``; an archive holds nothing else),
* every member's declared uncompressed size and its ``.npy`` header's
  shape × itemsize against what is left of ``max_bytes`` (default 1 GiB for
  all arrays together),

and then reads exactly the declared bytes, so a member that decompresses to
more than its header says (a zip bomb) is refused after at most one byte more.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     bad = pathlib.Path(d) / "notes.npz"
...     _ = bad.write_text("not an archive")
...     read_npz(bad)
Traceback (most recent call last):
...
gradmath.errors.FormatError: .../notes.npz: not an .npz archive (gradmath never loads pickled data)
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "big.npz"
...     np.savez_compressed(path, x=np.zeros((1024, 1024)))
...     read_npz(path, max_bytes=2**20)
Traceback (most recent call last):
...
gradmath.errors.FormatError: .../big.npz: member 'x.npy' declares 8 MiB uncompressed, which exceeds the limit of 1 MiB; pass max_bytes= (in bytes) to raise it
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from gradmath.errors import FormatError, GradmathError
from gradmath.userfiles import MAX_FILE_BYTES, format_size, limit_exceeded, open_user_file, read_exactly

__all__ = ["read_npz", "MAX_NPZ_MEMBERS", "MAX_CENTRAL_DIRECTORY_BYTES"]

#: Most members an archive may hold (the classic zip limit; a network of depth L has about 2L).
MAX_NPZ_MEMBERS = 65535

#: Largest central directory (the archive's table of members), parsed before any member: 8 MiB
#: holds 65,535 members with names of 80 characters; a larger one would cost memory per entry.
MAX_CENTRAL_DIRECTORY_BYTES = 8 * 2**20

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def read_npz(path, *, max_bytes: int = MAX_FILE_BYTES,
             access_error: type[GradmathError] = FormatError) -> dict[str, np.ndarray]:
    """Every array of the archive at ``path``, read without pickle, ``max_bytes`` in all at most.

    Parameters
    ----------
    path : str or path
        An ``.npz`` archive (``np.savez`` or ``np.savez_compressed``).
    max_bytes : int
        Limit on the file's size and on the arrays' bytes together (default
        :data:`gradmath.userfiles.MAX_FILE_BYTES`, 1 GiB), checked before
        anything is allocated.
    access_error : GradmathError subclass
        What a path that cannot be opened raises (missing, not a regular file,
        unreadable, over the size limit); :mod:`gradmath.data` passes ``DataError``.

    Raises
    ------
    FormatError
        If the file is missing, not a regular file, over the limit, not an
        archive, truncated or corrupt, holds a member other than ``NAME.npy``,
        or holds object arrays (which only pickle could load).
    """
    path = Path(path)
    with open_user_file(path, max_bytes=max_bytes, error=access_error) as stream:
        head = stream.peek(6)[:6]
        if head.startswith(b"\x93NUMPY"):
            raise FormatError(f"{path}: a single .npy array, not an .npz archive of named arrays")
        if not head.startswith(_ZIP_MAGIC):
            raise FormatError(f"{path}: not an .npz archive (gradmath never loads pickled data)")
        try:
            _check_central_directory(path, stream)
            with zipfile.ZipFile(stream) as archive:
                return _read_members(path, archive, max_bytes)
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            raise FormatError(f"{path}: truncated or corrupt .npz archive ({err})") from None
        except (RuntimeError, NotImplementedError) as err:  # encrypted, or an unknown compression method
            raise FormatError(f"{path}: unreadable .npz archive ({err})") from None
        except OSError as err:
            raise FormatError(f"{path}: cannot be read ({err.strerror or err})") from None


def _check_central_directory(path: Path, stream) -> None:
    """Refuse a table of members over the limits before ``zipfile`` builds an object per entry.

    Uses ``zipfile``'s reader of the end-of-archive record (it handles zip64);
    where a Python lacks it, the member count is still checked afterwards.
    """
    end_record = getattr(zipfile, "_EndRecData", None)
    if end_record is None:
        return
    record = end_record(stream)
    stream.seek(0)
    if record is None:
        return  # not an archive: ZipFile says so
    entries, size = record[zipfile._ECD_ENTRIES_TOTAL], record[zipfile._ECD_SIZE]
    if entries > MAX_NPZ_MEMBERS:
        raise FormatError(f"{path}: declares {entries} members, over the limit of {MAX_NPZ_MEMBERS} arrays "
                          f"in one archive")
    if size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise limit_exceeded(path, f"the table of members takes {format_size(size)}",
                             MAX_CENTRAL_DIRECTORY_BYTES, error=FormatError,
                             remedy="gradmath.npz.MAX_CENTRAL_DIRECTORY_BYTES sets it")


def _read_members(path: Path, archive: zipfile.ZipFile, max_bytes: int) -> dict[str, np.ndarray]:
    infos = archive.infolist()
    if len(infos) > MAX_NPZ_MEMBERS:
        raise FormatError(f"{path}: {len(infos)} members exceed the limit of {MAX_NPZ_MEMBERS} arrays in one archive")
    left = max_bytes
    arrays = {}
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or info.is_dir():
            raise FormatError(f"{path}: member {name!r} is not a .npy array (an .npz archive holds only "
                              f"NAME.npy members, as np.savez writes them)")
        if info.file_size > left:
            raise limit_exceeded(path, f"member {name!r} declares {format_size(info.file_size)} uncompressed",
                                 max_bytes, error=FormatError)
        with archive.open(info) as member:
            array = _read_npy(path, name, member, left, max_bytes)
        left -= max(array.nbytes, array.size)
        arrays[name[:-4]] = array
    return arrays


def _read_npy(path: Path, name: str, member, left: int, max_bytes: int) -> np.ndarray:
    """One ``.npy`` member: header checked against the budget ``left``, then exactly its bytes."""
    where = f"{path}: member {name!r}"
    try:
        version = npy_format.read_magic(member)
        if version == (1, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_2_0(member)
        else:
            raise FormatError(f"{where} uses .npy format version {version[0]}.{version[1]}; "
                              f"save plain numeric arrays (versions 1.0 and 2.0)")
    except ValueError as err:
        if isinstance(err, FormatError):
            raise
        raise FormatError(f"{where} is not a .npy array ({err})") from None
    if dtype.hasobject:
        raise FormatError(f"{where} holds object arrays, which only pickle could load; save plain numeric arrays")
    if any(d < 0 for d in shape):
        raise FormatError(f"{where}: negative dimension in shape {shape}")
    count = math.prod(shape)  # Python ints: no overflow
    nbytes = count * dtype.itemsize
    if max(nbytes, count) > left:
        raise limit_exceeded(path, f"member {name!r} declares shape {_shape_text(shape)} of {dtype}, "
                             f"{format_size(nbytes)}", max_bytes, error=FormatError)
    buffer = read_exactly(member, nbytes)
    if len(buffer) < nbytes:
        raise FormatError(f"{where} is truncated: shape {_shape_text(shape)} of {dtype} needs {nbytes} bytes, "
                          f"found {len(buffer)}")
    if member.read(1):
        raise FormatError(f"{where} holds more bytes than its shape {_shape_text(shape)} of {dtype} declares")
    if dtype.itemsize == 0:
        return np.empty(shape, dtype=dtype)
    flat = buffer.view(dtype)
    return flat.reshape(shape[::-1]).T if fortran_order else flat.reshape(shape)


def _shape_text(shape: tuple) -> str:
    """A shape for a one-line message (long shapes shortened)."""
    if len(shape) <= 6:
        return str(tuple(shape))
    return f"({', '.join(map(str, shape[:4]))}, …{len(shape) - 4} more)"
