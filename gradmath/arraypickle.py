"""A restricted unpickler for pickles of NumPy arrays and tuples (Nielsen's ``mnist.pkl.gz``), within limits.

A pickle can run code while it loads, so such a file is never given to
``pickle.load``. :func:`load_array_pickle` reads it with an unpickler whose only
globals are the few NumPy functions that rebuild plain arrays and dtypes; a
pickle naming any other callable (``os.system``, ``builtins.eval``, …) is
refused before that callable is looked up, so it never runs.

Limits, each refused in one line:

* the file and its decompressed content at most ``max_bytes`` each (default
  :data:`gradmath.userfiles.MAX_FILE_BYTES`, 1 GiB); decompression stops one
  byte past the limit, so a gzip bomb costs no more than the limit;
* every array the pickle asks NumPy to allocate (``_reconstruct``'s shape ×
  itemsize) at most ``max_bytes``, checked before the allocation;
* tuples nested at most :data:`MAX_PICKLE_DEPTH` deep and at most
  :data:`MAX_PICKLE_NODES` distinct tuples and arrays. The check walks the
  result iteratively and visits each object once, so tuples that share
  references (``t = (t, t)`` sixty times: 61 objects, 2**60 paths, 224 bytes
  gzipped) cost what they hold.

>>> import io, pickle, tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "pair.pkl"
...     _ = path.write_bytes(pickle.dumps((np.eye(2), np.arange(2))))
...     x, y = load_array_pickle(path)
>>> x.tolist(), y.tolist()
([[1.0, 0.0], [0.0, 1.0]], [0, 1])
"""

from __future__ import annotations

import gzip
import io
import math
import numbers
import pickle
import zlib
from pathlib import Path

import numpy as np

from gradmath.errors import DataError, FormatError
from gradmath.userfiles import (MAX_FILE_BYTES, format_size, gunzip_if_gzipped, limit_exceeded, open_user_file,
                                read_at_most)
from gradmath.validation import check_int

__all__ = ["load_array_pickle", "MAX_PICKLE_DEPTH", "MAX_PICKLE_NODES"]

#: Deepest nesting of tuples a data pickle may hold (``mnist.pkl.gz``: arrays 2 deep).
MAX_PICKLE_DEPTH = 8

#: Most distinct tuples and arrays a data pickle may hold (``mnist.pkl.gz``: 10).
MAX_PICKLE_NODES = 1000

_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]


class _NdarrayName:
    """What the name ``numpy.ndarray`` means inside the pickle: an argument of ``_reconstruct``, never called."""

    def __call__(self, *args, **kwargs):
        raise FormatError("the pickle calls numpy.ndarray directly; NumPy's own pickles never do")


_NDARRAY = _NdarrayName()


def _latin1_bytes(text, encoding="latin1"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise FormatError("the pickle calls _codecs.encode on something other than latin-1 text")
    return text.encode("latin1")


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler whose only globals rebuild NumPy arrays and dtypes, each array within ``max_bytes``."""

    def __init__(self, file, max_bytes: int):
        super().__init__(file, encoding="latin1")
        self.max_bytes = max_bytes
        allowed = {("_codecs", "encode"): _latin1_bytes,  # how protocol 2 stores bytes from Python 3
                   ("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): np.dtype}
        for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            allowed[(module, "_reconstruct")] = self._reconstruct
            allowed[(module, "ndarray")] = _NDARRAY
            allowed[(module, "dtype")] = np.dtype
        for module in ("numpy.core.numeric", "numpy._core.numeric"):
            allowed[(module, "_frombuffer")] = _FROMBUFFER  # a view of bytes already read: no new memory
        self._allowed = allowed

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise FormatError(f"the pickle refers to {module}.{name}; only NumPy arrays and tuples "
                              f"are accepted (a pickle can run code)") from None

    def persistent_load(self, pid):
        raise FormatError("the pickle uses persistent ids; only NumPy arrays and tuples are accepted")

    def _reconstruct(self, subtype, shape, code):
        """NumPy's ``_reconstruct`` once the declared shape × itemsize is known to fit the budget."""
        if subtype is not _NDARRAY:
            raise FormatError("the pickle rebuilds something other than a plain numpy.ndarray")
        shape = (shape,) if isinstance(shape, numbers.Integral) else shape
        if not (isinstance(shape, tuple) and all(isinstance(d, numbers.Integral) and not isinstance(d, bool)
                                                 and d >= 0 for d in shape)):
            raise FormatError(f"the pickle declares an array of shape {shape!r}")
        try:
            itemsize = np.dtype(code).itemsize
        except TypeError as err:
            raise FormatError(f"the pickle declares an array of unknown dtype ({err})") from None
        nbytes = math.prod(int(d) for d in shape) * max(itemsize, 1)
        if nbytes > self.max_bytes:
            raise limit_exceeded("the pickle", f"an array declared of {len(shape)} dimensions needs "
                                 f"{format_size(nbytes)}", self.max_bytes)
        return _RECONSTRUCT(np.ndarray, shape, code)


def _check_arrays_only(obj) -> None:
    """Refuse anything but tuples and numeric arrays, walking iteratively, each distinct object once."""
    seen = {id(obj)}
    stack = [(obj, "pickle", 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, np.ndarray):
            if item.dtype.kind not in "biuf":
                raise FormatError(f"{where} is an array of dtype {item.dtype}; only numeric arrays are accepted")
        elif not isinstance(item, tuple):
            raise FormatError(f"{where} holds an object of type {type(item).__name__}; "
                              "only NumPy arrays and tuples are accepted")
        elif item and depth >= MAX_PICKLE_DEPTH:
            raise FormatError(f"{where}: tuples nested more than {MAX_PICKLE_DEPTH} deep, over the limit "
                              f"for a data pickle (mnist.pkl.gz nests 2 deep)")
        elif len(seen) + len(item) > MAX_PICKLE_NODES:
            raise FormatError(f"the pickle holds more than {MAX_PICKLE_NODES} tuples and arrays, over the limit "
                              f"for a data pickle (mnist.pkl.gz holds 10)")
        else:
            children = []
            for i, child in enumerate(item):
                if id(child) not in seen:
                    seen.add(id(child))
                    children.append((child, f"{where}[{i}]", depth + 1))
            stack.extend(reversed(children))


def load_array_pickle(path, *, max_bytes: int = MAX_FILE_BYTES):
    """The tuples and numeric arrays pickled in ``path`` (gzipped or raw), within the limits of the module docs.

    Raises
    ------
    FormatError
        A pickle naming any callable but NumPy's array rebuilders, holding
        anything but tuples and numeric arrays, over a nesting or count limit,
        corrupt, or a corrupt gzip stream.
    DataError
        A path that is not a readable regular file; a size over ``max_bytes``.
    """
    path = Path(path)
    max_bytes = check_int("max_bytes", max_bytes, min_value=1)
    with open_user_file(path, max_bytes=max_bytes) as raw:
        try:
            stream = gunzip_if_gzipped(raw)
            what = "the decompressed pickle" if stream is not raw else "the file"
            content = read_at_most(stream, max_bytes, name=path, what=what)
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            raise FormatError(f"{path}: corrupt or truncated gzip stream ({err})") from None
        except OSError as err:
            raise DataError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        obj = _ArrayUnpickler(io.BytesIO(content), max_bytes).load()
    except (FormatError, DataError) as err:
        raise type(err)(f"{path}: {err}") from None
    except Exception as err:  # noqa: BLE001 - any failure inside pickle is a corrupt file
        raise FormatError(f"{path}: not a readable pickle ({type(err).__name__}: {err})") from None
    del content
    try:
        _check_arrays_only(obj)
    except FormatError as err:
        raise FormatError(f"{path}: {err}") from None
    return obj
