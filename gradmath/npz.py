"""Reading ``.npz`` archives without pickle, with one clear message per kind of damage.

Both network files (:mod:`gradmath.formats`) and data files (:mod:`gradmath.data`)
come through :func:`read_npz`.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     bad = pathlib.Path(d) / "notes.npz"
...     _ = bad.write_text("not an archive")
...     read_npz(bad)
Traceback (most recent call last):
...
gradmath.errors.FormatError: .../notes.npz: not an .npz archive (gradmath never loads pickled data)
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from gradmath.errors import FormatError

__all__ = ["read_npz"]


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive at ``path``, loaded with ``allow_pickle=False``.

    Raises
    ------
    FormatError
        If the file is not an archive, is truncated or corrupt, or holds object
        arrays (which only pickle could load).
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise FormatError(f"{path}: a single .npy array, not an .npz archive of named arrays")
        with archive:
            return {name: archive[name] for name in archive.files}
    except FormatError:
        raise
    except FileNotFoundError as err:
        raise FormatError(f"{path}: no such file") from err
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as err:
        raise FormatError(f"{path}: truncated or corrupt .npz archive ({err})") from err
    except OSError as err:
        raise FormatError(f"{path}: cannot be read ({err.strerror or err})") from err
    except ValueError as err:
        if "Object arrays" in str(err):
            raise FormatError(f"{path}: holds object arrays, which only pickle could load; "
                              "save plain numeric arrays") from err
        if "pickled" in str(err):
            raise FormatError(f"{path}: not an .npz archive (gradmath never loads pickled data)") from err
        raise FormatError(f"{path}: unreadable .npz archive ({err})") from err
