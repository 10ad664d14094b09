"""Data sets, read from disk or from scikit-learn, never downloaded.

``load_dataset(spec)`` understands four kinds of ``spec``:

* ``"digits"``: scikit-learn's 1,797 handwritten 8×8 digits (shipped inside
  scikit-learn), pixels scaled from 0..16 to [0, 1];
* a ``.npz`` file holding ``x`` (N × n_in) and ``y`` (N × n_out targets or N
  integer labels), read with ``allow_pickle=False``;
* MNIST or Fashion-MNIST IDX files, gzipped or raw: a folder holding
  ``train-images-idx3-ubyte[.gz]`` and ``train-labels-idx1-ubyte[.gz]``, or the
  images file itself (its labels file is found beside it);
* Nielsen's ``mnist.pkl.gz``, read by an unpickler that builds NumPy arrays and
  tuples only and refuses every other object (a pickle can run code).

Examples
--------
>>> d = load_dataset("digits", limit=1000)
>>> d
Dataset(name='digits', examples=1000, inputs=64, n_classes=10)
>>> float(d.x.min()), float(d.x.max()), d.y[:5].tolist()
(0.0, 1.0, [0, 1, 2, 3, 4])
>>> load_dataset("digts")
Traceback (most recent call last):
...
gradmath.errors.DataError: data='digts' is neither a built-in data set ('digits') nor an existing path (did you mean 'digits'?)
"""

from __future__ import annotations

import gzip
import io
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradmath.errors import DataError, FormatError
from gradmath.npz import read_npz
from gradmath.validation import check_finite_array, check_int, suggest

__all__ = ["Dataset", "load_dataset", "read_idx", "load_nielsen_pickle", "BUILTIN_DATASETS"]

#: Names ``load_dataset`` accepts besides paths.
BUILTIN_DATASETS = ("digits",)

# IDX type codes (third magic byte) → big-endian NumPy dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Examples ``x`` (float64, N × n_in) with integer labels ``y`` (N,) or float targets (N × k).

    ``n_classes`` is the number of label values (the label maximum + 1) or the
    target width k.
    """

    x: np.ndarray
    y: np.ndarray
    name: str
    n_classes: int

    def __post_init__(self):
        for array in (self.x, self.y):
            array.flags.writeable = False

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def n_inputs(self) -> int:
        """Width of one example, n_1."""
        return self.x.shape[1]

    def head(self, n: int) -> Dataset:
        """The first ``n`` examples (all of them when there are fewer)."""
        n = check_int("limit", n, min_value=1)
        return Dataset(self.x[:n], self.y[:n], self.name, self.n_classes)

    def to_json(self) -> dict:
        return {"name": self.name, "examples": len(self), "inputs": self.n_inputs, "n_classes": self.n_classes}

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, examples={len(self)}, inputs={self.n_inputs}, "
                f"n_classes={self.n_classes})")


def load_dataset(spec: str, *, limit: int | None = None) -> Dataset:
    """Load ``spec`` ("digits", an ``.npz`` file, IDX files or ``mnist.pkl.gz``); see the module docs.

    Parameters
    ----------
    spec : str or path
        A built-in name or a path.
    limit : int, optional
        Keep only the first ``limit`` examples (in file order).

    Raises
    ------
    DataError
        A missing or unreadable path, an unknown name, counts that disagree.
    FormatError
        A file of the wrong kind, truncated, or holding something other than arrays.
    """
    if limit is not None:
        limit = check_int("limit", limit, min_value=1)
    text = str(spec)
    if text in BUILTIN_DATASETS:
        data = _load_digits()
    else:
        path = Path(text).expanduser()
        if not path.exists():
            if "/" not in text and "." not in text:
                raise DataError(f"data={text!r} is neither a built-in data set ('digits') nor an existing path"
                                f"{suggest(text, BUILTIN_DATASETS)}")
            raise DataError(f"data={text!r}: no such file or folder")
        data = _load_path(path)
    return data if limit is None else data.head(limit)


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _make("digits", bunch.data / 16.0, bunch.target)


def _load_path(path: Path) -> Dataset:
    if path.is_dir():
        return _load_idx_folder(path)
    name = path.name.lower()
    if name.endswith(".npz"):
        return _load_npz(path)
    if name.endswith((".pkl", ".pkl.gz", ".pickle", ".pickle.gz")):
        return load_nielsen_pickle(path)
    if "idx" in name or "ubyte" in name:
        return _load_idx_file(path)
    raise DataError(f"data={str(path)!r}: expected 'digits', a .npz file, MNIST IDX files or mnist.pkl.gz")


def _make(name: str, x, y) -> Dataset:
    """Check and freeze examples and labels/targets into a :class:`Dataset`."""
    x = check_finite_array(f"{name}: x", x)
    if x.ndim != 2:
        raise DataError(f"{name}: x must be a matrix of examples × inputs, got shape {x.shape}")
    y = np.asarray(y)
    if y.shape[0:1] != x.shape[0:1]:
        raise DataError(f"{name}: {x.shape[0]} examples but {y.shape[0] if y.ndim else 0} labels/targets")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"{name}: no examples (x has shape {x.shape})")
    if y.ndim == 1 and y.dtype.kind in "iub":
        y = y.astype(np.int64)
        if y.min() < 0:
            raise DataError(f"{name}: labels must be >= 0, found {int(y.min())}")
        n_classes = int(y.max()) + 1
    elif y.ndim == 2:
        y = check_finite_array(f"{name}: y", y)
        n_classes = y.shape[1]
    else:
        raise DataError(f"{name}: y must hold N integer labels or an N × k matrix of targets, "
                        f"got dtype {y.dtype} and shape {y.shape}")
    return Dataset(np.ascontiguousarray(x), np.ascontiguousarray(y), name, n_classes)


# ----- .npz ------------------------------------------------------------------
def _load_npz(path: Path) -> Dataset:
    archive = read_npz(path)
    if "x" not in archive or "y" not in archive:
        raise FormatError(f"{path}: an .npz data file needs arrays 'x' and 'y', found {sorted(archive)}")
    x, y = archive["x"], archive["y"]
    return _make(path.name, x, y)


# ----- IDX -------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                with gzip.open(f) as g:
                    return g.read()
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise FormatError(f"{path}: corrupt or truncated gzip stream ({err})") from err
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from err


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzipped or raw) into an array of its declared dtype and shape.

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
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise FormatError(f"{path}: not an IDX file (magic number {raw[:4].hex() or 'missing'}, "
                          f"expected 0000 then a type code and a dimension count, e.g. 00000803)")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise FormatError(f"{path}: truncated IDX header ({len(raw)} bytes, {header} needed for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    needed = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found < needed:
        raise FormatError(f"{path}: truncated IDX payload: shape {shape} needs {needed} bytes, found {found}")
    if found > needed:
        raise FormatError(f"{path}: {found - needed} bytes after the IDX payload of shape {shape}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _load_idx_folder(folder: Path) -> Dataset:
    """The training images of an MNIST-style folder (the test images when there are no others)."""
    for split in ("train", "t10k"):
        for stem in (f"{split}-images-idx3-ubyte", f"{split}-images.idx3-ubyte"):
            for suffix in ("", ".gz"):
                if (folder / (stem + suffix)).is_file():
                    return _load_idx_file(folder / (stem + suffix), name=folder.name)
    raise DataError(f"{folder}: no train-images-idx3-ubyte[.gz] in this folder (MNIST or Fashion-MNIST IDX files)")


def _load_idx_file(images_path: Path, name: str | None = None) -> Dataset:
    labels_path = _labels_beside(images_path)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim < 2:
        raise FormatError(f"{images_path}: an images file needs at least 2 dimensions, found shape {images.shape}")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise FormatError(f"{labels_path}: a labels file needs one dimension of integers, "
                          f"found shape {labels.shape} of {labels.dtype}")
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{images_path.name} holds {images.shape[0]} images but {labels_path.name} "
                        f"holds {labels.shape[0]} labels")
    x = images.reshape(images.shape[0], -1).astype(np.float64)
    if images.dtype == np.uint8:
        x /= 255.0
    return _make(name or images_path.parent.name or images_path.name, x, labels)


def _labels_beside(images_path: Path) -> Path:
    name = images_path.name
    for old, new in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1"), ("images", "labels")):
        if old in name:
            candidate = images_path.with_name(name.replace(old, new))
            for path in (candidate, candidate.with_name(candidate.name + ".gz"),
                         candidate.with_name(candidate.name.removesuffix(".gz"))):
                if path.is_file():
                    return path
            raise DataError(f"{images_path}: no labels file {candidate.name} beside it")
    raise DataError(f"{images_path}: give an images file (…-images-idx3-ubyte) or its folder")


# ----- Nielsen's mnist.pkl.gz -------------------------------------------------
def _allowed_globals() -> dict[tuple[str, str], object]:
    """The only callables the unpickler may name: those NumPy uses to rebuild plain arrays."""
    allowed = {}
    reconstruct = np.zeros(1).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "ndarray")] = np.ndarray
        allowed[(module, "dtype")] = np.dtype
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(module, "_frombuffer")] = frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    allowed[("_codecs", "encode")] = _latin1_bytes  # how protocol 2 stores bytes from Python 3
    return allowed


def _latin1_bytes(text, encoding="latin1"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise FormatError("the pickle calls _codecs.encode on something other than latin-1 text")
    return text.encode("latin1")


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler whose only globals are NumPy's array and dtype constructors."""

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise FormatError(f"the pickle refers to {module}.{name}; only NumPy arrays and tuples "
                              f"are accepted (a pickle can run code)") from None

    def persistent_load(self, pid):
        raise FormatError("the pickle uses persistent ids; only NumPy arrays and tuples are accepted")


def _check_arrays_only(obj, where: str = "pickle") -> None:
    if isinstance(obj, tuple):
        for i, item in enumerate(obj):
            _check_arrays_only(item, f"{where}[{i}]")
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise FormatError(f"{where} is an array of dtype {obj.dtype}; only numeric arrays are accepted")
    else:
        raise FormatError(f"{where} holds an object of type {type(obj).__name__}; "
                          "only NumPy arrays and tuples are accepted")


def load_nielsen_pickle(path) -> Dataset:
    """Nielsen's ``mnist.pkl.gz``: the training pair of (training, validation, test), safely.

    The file is read with an unpickler that may build NumPy arrays, dtypes and
    tuples and nothing else; a pickle naming any other callable (``os.system``,
    ``builtins.eval``, …) raises :class:`FormatError` before that callable is
    looked up, so it never runs. A single ``(x, y)`` pair is accepted too.
    """
    path = Path(path)
    raw = _read_bytes(path)
    try:
        obj = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except FormatError as err:
        raise FormatError(f"{path}: {err}") from None
    except Exception as err:  # noqa: BLE001 - any failure inside pickle is a corrupt file
        raise FormatError(f"{path}: not a readable pickle ({type(err).__name__}: {err})") from err
    try:
        _check_arrays_only(obj)
    except FormatError as err:
        raise FormatError(f"{path}: {err}") from None
    pair = obj
    if isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(p, tuple) for p in obj):
        pair = obj[0]  # (training, validation, test): Nielsen's experiments use the training set
    if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(a, np.ndarray) for a in pair)):
        raise FormatError(f"{path}: expected (x, y) or ((x, y), (x, y), (x, y)) of arrays as in mnist.pkl.gz")
    x, y = pair
    if x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    return _make(path.name, x.astype(np.float64), y)
