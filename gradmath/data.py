"""Data sets, read from disk or from scikit-learn, never downloaded.

``load_dataset(spec)`` understands four kinds of ``spec``:

* ``"digits"``: scikit-learn's 1,797 handwritten 8×8 digits (shipped inside
  scikit-learn), pixels scaled from 0..16 to [0, 1];
* a ``.npz`` file holding ``x`` (N × n_in) and ``y`` (N × n_out targets or N
  integer labels), read without pickle by :func:`gradmath.npz.read_npz`;
* MNIST or Fashion-MNIST IDX files, gzipped or raw: a folder holding
  ``train-images-idx3-ubyte[.gz]`` and ``train-labels-idx1-ubyte[.gz]``, or the
  images file itself (its labels file is found beside it);
* Nielsen's ``mnist.pkl.gz``, read by an unpickler that builds NumPy arrays and
  tuples only and refuses every other object (a pickle can run code; see
  :mod:`gradmath.arraypickle`).

Limits, each checked before allocating and named in its one-line refusal:
paths must be regular files (:mod:`gradmath.userfiles`: a directory, FIFO,
device or socket is refused before it is opened); a file, its decompressed
content and the float64 matrix of examples take at most ``max_bytes`` each
(:data:`MAX_DATA_BYTES`, 1 GiB, enough for MNIST's 376 MB; pass
``max_bytes=`` to raise it); IDX headers declare at most
:data:`gradmath.idx.MAX_IDX_DIMENSIONS` dimensions; pickles nest tuples at most
:data:`MAX_PICKLE_DEPTH` deep, hold at most :data:`MAX_PICKLE_NODES` tuples
and arrays, and ask for no array over ``max_bytes``; labels lie in [0, 2**63).

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

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradmath.arraypickle import MAX_PICKLE_DEPTH, MAX_PICKLE_NODES, load_array_pickle
from gradmath.errors import DataError, FormatError
from gradmath.idx import read_idx
from gradmath.npz import read_npz
from gradmath.userfiles import MAX_FILE_BYTES, check_user_path, format_size, limit_exceeded
from gradmath.validation import check_finite_array, check_int, suggest

__all__ = ["Dataset", "load_dataset", "read_idx", "load_nielsen_pickle", "BUILTIN_DATASETS", "MAX_DATA_BYTES",
           "MAX_PICKLE_DEPTH", "MAX_PICKLE_NODES"]

#: Names ``load_dataset`` accepts besides paths.
BUILTIN_DATASETS = ("digits",)

#: Default memory budget of one data set: 1 GiB for a file's decompressed content and, separately, for the
#: float64 matrix of examples (MNIST's 60,000 training images take 376 MB as float64). Raise it with ``max_bytes=``.
MAX_DATA_BYTES = MAX_FILE_BYTES

_PICKLE_SUFFIXES = (".pkl", ".pkl.gz", ".pickle", ".pickle.gz")
_FILE_SUFFIXES = (".npz", ".gz") + _PICKLE_SUFFIXES



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


def load_dataset(spec: str, *, limit: int | None = None, max_bytes: int = MAX_DATA_BYTES) -> Dataset:
    """Load ``spec`` ("digits", an ``.npz`` file, IDX files or ``mnist.pkl.gz``); see the module docs.

    Parameters
    ----------
    spec : str or path
        A built-in name or a path.
    limit : int, optional
        Keep only the first ``limit`` examples (in file order).
    max_bytes : int
        Memory budget (default :data:`MAX_DATA_BYTES`, 1 GiB): a file's size, its
        decompressed content and the float64 matrix of examples may each take
        at most this much. Declared sizes are checked before allocating.

    Raises
    ------
    DataError
        A missing or unreadable path, a directory, FIFO or device where a file
        is needed, an unknown name, counts that disagree, a size over the limit.
    FormatError
        A file of the wrong kind, truncated, or holding something other than arrays.
    """
    if limit is not None:
        limit = check_int("limit", limit, min_value=1)
    max_bytes = check_int("max_bytes", max_bytes, min_value=1)
    text = str(spec)
    if text in BUILTIN_DATASETS:
        data = _load_digits()
    else:
        path = Path(text).expanduser() if text.startswith("~") else Path(text)
        if "/" not in text and "." not in text and not os.path.lexists(path):
            raise DataError(f"data={text!r} is neither a built-in data set ('digits') nor an existing path"
                            f"{suggest(text, BUILTIN_DATASETS)}")
        status = check_user_path(path, folder_ok=True, max_bytes=max_bytes)
        data = _load_path(path, stat.S_ISDIR(status.st_mode), max_bytes)
    return data if limit is None else data.head(limit)


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _make("digits", bunch.data / 16.0, bunch.target)


def _load_path(path: Path, is_dir: bool, max_bytes: int) -> Dataset:
    name = path.name.lower()
    if is_dir:
        if name.endswith(_FILE_SUFFIXES):
            raise DataError(f"{path}: is a directory, not a file")
        return _load_idx_folder(path, max_bytes)
    if name.endswith(".npz"):
        return _load_npz(path, max_bytes)
    if name.endswith(_PICKLE_SUFFIXES):
        return load_nielsen_pickle(path, max_bytes=max_bytes)
    if "idx" in name or "ubyte" in name:
        return _load_idx_file(path, max_bytes)
    raise DataError(f"data={str(path)!r}: expected 'digits', a .npz file, MNIST IDX files or mnist.pkl.gz")


def _make(name: str, x, y, max_bytes: int = MAX_DATA_BYTES, where: str | None = None) -> Dataset:
    """Check and freeze examples and labels/targets into a :class:`Dataset`; messages begin with ``where``."""
    size = getattr(x, "size", None)
    label = where or name
    if size is not None and size * 8 > max_bytes:
        raise limit_exceeded(label, f"x as a float64 matrix needs {format_size(size * 8)}", max_bytes)
    x = check_finite_array(f"{label}: x", x)
    if x.ndim != 2:
        raise DataError(f"{label}: x must be a matrix of examples × inputs, got shape {x.shape}")
    y = np.asarray(y)
    if y.shape[0:1] != x.shape[0:1]:
        raise DataError(f"{label}: {x.shape[0]} examples but {y.shape[0] if y.ndim else 0} labels/targets")
    if x.shape[0] == 0:
        raise DataError(f"{label}: no examples (x has shape {x.shape})")
    if x.shape[1] == 0:
        raise DataError(f"{label}: examples without inputs (x has shape {x.shape})")
    if y.ndim == 1 and y.dtype.kind in "iub":
        low, high = int(y.min()), int(y.max())  # Python ints: a uint64 label keeps its value
        if low < 0:
            raise DataError(f"{label}: labels must be >= 0, found {low}")
        if high > np.iinfo(np.int64).max:
            raise DataError(f"{label}: labels must be below 2**63, found {high}")
        y = y.astype(np.int64)
        n_classes = high + 1
    elif y.ndim == 2:
        y = check_finite_array(f"{label}: y", y)
        n_classes = y.shape[1]
    else:
        raise DataError(f"{label}: y must hold N integer labels or an N × k matrix of targets, "
                        f"got dtype {y.dtype} and shape {y.shape}")
    return Dataset(np.ascontiguousarray(x), np.ascontiguousarray(y), name, n_classes)


# ----- .npz ------------------------------------------------------------------
def _load_npz(path: Path, max_bytes: int) -> Dataset:
    archive = read_npz(path, max_bytes=max_bytes, access_error=DataError)
    if "x" not in archive or "y" not in archive:
        raise FormatError(f"{path}: an .npz data file needs arrays 'x' and 'y', found {sorted(archive)}")
    x, y = archive["x"], archive["y"]
    return _make(path.name, x, y, max_bytes, where=str(path))


# ----- IDX -------------------------------------------------------------------
def _load_idx_folder(folder: Path, max_bytes: int) -> Dataset:
    """The training images of an MNIST-style folder (the test images when there are no others)."""
    try:
        os.listdir(folder)
    except OSError as err:
        raise DataError(f"{folder}: cannot list this folder ({err.strerror or err})") from None
    for split in ("train", "t10k"):
        for stem in (f"{split}-images-idx3-ubyte", f"{split}-images.idx3-ubyte"):
            for suffix in ("", ".gz"):
                if os.path.lexists(folder / (stem + suffix)):
                    return _load_idx_file(folder / (stem + suffix), max_bytes, name=folder.name)
    raise DataError(f"{folder}: no train-images-idx3-ubyte[.gz] in this folder (MNIST or Fashion-MNIST IDX files)")


def _load_idx_file(images_path: Path, max_bytes: int, name: str | None = None) -> Dataset:
    labels_path = _labels_beside(images_path)
    images = read_idx(images_path, max_bytes=max_bytes, float64_copy=True)
    labels = read_idx(labels_path, max_bytes=max_bytes, float64_copy=True)
    if images.ndim < 2:
        raise FormatError(f"{images_path}: an images file needs at least 2 dimensions, found shape {images.shape}")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise FormatError(f"{labels_path}: a labels file needs one dimension of integers, "
                          f"found shape {labels.shape} of {labels.dtype}")
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{images_path.name} holds {images.shape[0]} images but {labels_path.name} "
                        f"holds {labels.shape[0]} labels")
    x = images.reshape(images.shape[0], math.prod(images.shape[1:])).astype(np.float64)
    if images.dtype == np.uint8:
        x /= 255.0
    return _make(name or images_path.parent.name or images_path.name, x, labels, max_bytes, where=str(images_path))


def _labels_beside(images_path: Path) -> Path:
    name = images_path.name
    for old, new in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1"), ("images", "labels")):
        if old in name:
            candidate = images_path.with_name(name.replace(old, new))
            for path in (candidate, candidate.with_name(candidate.name + ".gz"),
                         candidate.with_name(candidate.name.removesuffix(".gz"))):
                if os.path.lexists(path):
                    return path
            raise DataError(f"{images_path}: no labels file {candidate.name} beside it")
    raise DataError(f"{images_path}: give an images file (…-images-idx3-ubyte) or its folder")


# ----- Nielsen's mnist.pkl.gz -------------------------------------------------
def load_nielsen_pickle(path, *, max_bytes: int = MAX_DATA_BYTES) -> Dataset:
    """Nielsen's ``mnist.pkl.gz``: the training pair of (training, validation, test), safely.

    The file is read with an unpickler that may build NumPy arrays, dtypes and
    tuples and nothing else; a pickle naming any other callable (``os.system``,
    ``builtins.eval``, …) raises :class:`FormatError` before that callable is
    looked up, so it never runs. A single ``(x, y)`` pair is accepted too.

    Limits: those of :func:`gradmath.arraypickle.load_array_pickle` (file,
    decompressed content and every array at most ``max_bytes``, default 1 GiB;
    tuples nested at most :data:`MAX_PICKLE_DEPTH` deep, at most
    :data:`MAX_PICKLE_NODES` tuples and arrays), and the float64 examples at
    most ``max_bytes``.
    """
    path = Path(path)
    obj = load_array_pickle(path, max_bytes=max_bytes)
    pair = obj
    if isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(p, tuple) for p in obj):
        pair = obj[0]  # (training, validation, test): Nielsen's experiments use the training set
    if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(a, np.ndarray) for a in pair)):
        raise FormatError(f"{path}: expected (x, y) or ((x, y), (x, y), (x, y)) of arrays as in mnist.pkl.gz")
    x, y = pair
    if x.ndim > 2:
        x = x.reshape(x.shape[0], math.prod(x.shape[1:]))
    return _make(path.name, x, y, max_bytes, where=str(path))
