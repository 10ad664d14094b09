"""gradmath.data: the embedded digits, IDX files, .npz files and the restricted unpickler."""

from __future__ import annotations

import gzip
import os
import pickle
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.data import load_dataset, read_idx
from gradmath.errors import DataError, FormatError, GradmathError


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[type_code]
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.asarray(array, dtype=dtype).tobytes()


def _write_idx_pair(folder, images, labels, *, gz=False, prefix="train"):
    opener = gzip.open if gz else open
    suffix = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    with opener(folder / f"{prefix}-images-idx3-ubyte{suffix}", "wb") as f:
        f.write(_idx_bytes(images))
    with opener(folder / f"{prefix}-labels-idx1-ubyte{suffix}", "wb") as f:
        f.write(_idx_bytes(labels))
    return folder / f"{prefix}-images-idx3-ubyte{suffix}"


@pytest.fixture
def small_idx():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(7, 3, 4), dtype=np.uint8), rng.integers(0, 10, size=7, dtype=np.uint8)


# ----- digits ----------------------------------------------------------------
def test_digits_is_scaled_and_labelled():
    d = load_dataset("digits")
    assert d.x.shape == (1797, 64) and d.x.dtype == np.float64
    assert d.x.min() == 0.0 and d.x.max() == 1.0
    assert d.y.dtype == np.int64 and set(d.y.tolist()) == set(range(10)) and d.n_classes == 10
    assert len(load_dataset("digits", limit=1000)) == 1000


def test_dataset_is_read_only():
    d = load_dataset("digits", limit=5)
    with pytest.raises(ValueError):
        d.x[0, 0] = 1.0


# ----- IDX -------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_and_file(tmp_path, small_idx, gz):
    images, labels = small_idx
    images_path = _write_idx_pair(tmp_path / "fashion", images, labels, gz=gz)
    for spec in (tmp_path / "fashion", images_path):
        d = load_dataset(str(spec))
        np.testing.assert_array_equal(d.x, images.reshape(7, 12) / 255.0)
        np.testing.assert_array_equal(d.y, labels)
    assert d.name == "fashion"
    assert len(load_dataset(str(tmp_path / "fashion"), limit=2)) == 2


def test_idx_folder_prefers_training_files(tmp_path, small_idx):
    images, labels = small_idx
    _write_idx_pair(tmp_path, images[:3], labels[:3], prefix="t10k")
    assert len(load_dataset(str(tmp_path))) == 3          # only test files: use them
    _write_idx_pair(tmp_path, images, labels, gz=True)
    assert len(load_dataset(str(tmp_path))) == 7          # training files present: use those


def test_idx_other_dtypes(tmp_path):
    path = tmp_path / "v-idx2-ubyte"
    values = np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float32)
    path.write_bytes(_idx_bytes(values, 0x0D))
    np.testing.assert_array_equal(read_idx(path), values)
    path.write_bytes(_idx_bytes(np.array([-3, 300]), 0x0B))
    assert read_idx(path).tolist() == [-3, 300]


@pytest.mark.parametrize("cut", [1, 5, 30])
def test_idx_truncated(tmp_path, small_idx, cut):
    images, labels = small_idx
    path = _write_idx_pair(tmp_path, images, labels)
    raw = path.read_bytes()
    path.write_bytes(raw[:-cut])
    with pytest.raises(FormatError, match="truncated IDX payload"):
        load_dataset(str(tmp_path))
    path.write_bytes(raw[:10])
    with pytest.raises(FormatError, match="truncated IDX header"):
        load_dataset(str(tmp_path))


def test_idx_truncated_gzip(tmp_path, small_idx):
    images, labels = small_idx
    path = _write_idx_pair(tmp_path, images, labels, gz=True)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(FormatError, match="gzip"):
        load_dataset(str(tmp_path))


def test_idx_extra_bytes(tmp_path, small_idx):
    images, labels = small_idx
    path = _write_idx_pair(tmp_path, images, labels)
    path.write_bytes(path.read_bytes() + b"\0\0")
    with pytest.raises(FormatError, match="2 bytes after"):
        load_dataset(str(tmp_path))


@pytest.mark.parametrize("magic", [b"\x00\x00\x08", b"\x1f\x00\x08\x03", b"\x00\x00\x07\x03", b"\x00\x00\x08\x00",
                                   b"PK\x03\x04"])
def test_idx_wrong_magic(tmp_path, small_idx, magic):
    images, labels = small_idx
    path = _write_idx_pair(tmp_path, images, labels)
    path.write_bytes(magic + path.read_bytes()[4:])
    with pytest.raises(FormatError, match="not an IDX file"):
        load_dataset(str(tmp_path))


def test_idx_count_mismatch(tmp_path, small_idx):
    images, labels = small_idx
    _write_idx_pair(tmp_path, images, labels[:5])
    with pytest.raises(DataError, match="holds 7 images but .* holds 5 labels"):
        load_dataset(str(tmp_path))


def test_idx_missing_labels(tmp_path, small_idx):
    images, labels = small_idx
    path = _write_idx_pair(tmp_path, images, labels)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="no labels file"):
        load_dataset(str(path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no train-images"):
        load_dataset(str(tmp_path / "empty"))


# ----- .npz ------------------------------------------------------------------
def test_npz_labels_and_targets(tmp_path):
    x = np.linspace(0, 1, 12).reshape(4, 3)
    np.savez(tmp_path / "a.npz", x=x, y=np.array([0, 2, 1, 2]))
    d = load_dataset(str(tmp_path / "a.npz"))
    assert d.n_classes == 3 and d.y.tolist() == [0, 2, 1, 2]
    np.savez(tmp_path / "b.npz", x=x, y=np.eye(4)[:, :2])
    assert load_dataset(str(tmp_path / "b.npz")).y.shape == (4, 2)


@pytest.mark.parametrize("arrays, match", [
    ({"x": np.ones((3, 2))}, "needs arrays 'x' and 'y'"),
    ({"x": np.ones((3, 2)), "y": np.array([0, 1])}, "3 examples but 2"),
    ({"x": np.ones((3, 2)), "y": np.array([0, -1, 1])}, "labels must be >= 0"),
    ({"x": np.array([[0.0, np.nan]] * 2), "y": np.array([0, 1])}, "non-finite"),
    ({"x": np.ones((3, 2)), "y": np.array(["a", "b", "c"])}, "integer labels"),
    ({"x": np.ones((3, 2)), "y": np.array([None, 1, 2], dtype=object)}, "pickle"),
])
def test_npz_bad(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(GradmathError, match=match):
        load_dataset(str(tmp_path / "bad.npz"))


def test_npz_not_a_zip(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(FormatError):
        load_dataset(str(tmp_path / "junk.npz"))


# ----- mnist.pkl.gz ----------------------------------------------------------
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_nielsen_pickle(tmp_path, protocol):
    x = np.random.default_rng(0).random((6, 4)).astype(np.float32)
    y = np.array([1, 0, 3, 2, 1, 0])
    splits = ((x, y), (x[:2], y[:2]), (x[:3], y[:3]))
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as f:
        pickle.dump(splits, f, protocol=protocol)
    d = load_dataset(str(tmp_path / "mnist.pkl.gz"))
    np.testing.assert_array_equal(d.x, x.astype(np.float64))
    np.testing.assert_array_equal(d.y, y)


class _RunsCode:
    """Unpickling this with plain pickle.load would call os.system and create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps(((np.zeros((2, 2)), _RunsCode(marker)), (), ()))
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as f:
        f.write(payload)
    with pytest.raises(FormatError, match=r"system; only NumPy arrays"):
        load_dataset(str(tmp_path / "mnist.pkl.gz"))
    assert not marker.exists()
    # The crafted file is genuinely dangerous: plain pickle would have run it.
    pickle.loads(payload)
    assert marker.exists()


@pytest.mark.parametrize("obj, match", [
    ((np.zeros((2, 2)), {"labels": [0, 1]}), "type dict"),
    ((np.zeros((2, 2)), "ab"), "type str"),
    ((np.zeros((2, 2)), np.array([None, 1], dtype=object)), "only NumPy arrays|dtype object"),
    ((np.zeros((2, 2)),), "expected \\(x, y\\)"),
    ((np.zeros((2, 2)), np.array([0, 1, 0])), "2 examples but 3"),
])
def test_pickle_holding_non_arrays(tmp_path, obj, match):
    (tmp_path / "d.pkl").write_bytes(pickle.dumps(obj))
    with pytest.raises(FormatError if "examples" not in match else DataError, match=match):
        load_dataset(str(tmp_path / "d.pkl"))


def test_corrupt_pickle(tmp_path):
    (tmp_path / "d.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(FormatError, match="not a readable pickle"):
        load_dataset(str(tmp_path / "d.pkl"))


# ----- specs -----------------------------------------------------------------
@pytest.mark.parametrize("spec, match", [
    ("digts", "did you mean 'digits'"),
    ("/no/such/file.npz", "no such file or folder"),
    ("mnist", "neither a built-in data set"),
])
def test_bad_specs(spec, match):
    with pytest.raises(DataError, match=match):
        load_dataset(spec)


def test_unknown_file_kind(tmp_path):
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(DataError, match="expected 'digits'"):
        load_dataset(str(tmp_path / "data.csv"))


def test_bad_limit():
    with pytest.raises(GradmathError, match="limit=0"):
        load_dataset("digits", limit=0)


# ----- limits and exact values ---------------------------------------------------
_IDX_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@settings(max_examples=60 if os.environ.get("CI") else 30)
@given(code=st.sampled_from(sorted(_IDX_CODES)), shape=st.lists(st.integers(0, 5), min_size=1, max_size=3),
       gz=st.booleans(), seed=st.integers(0, 2**16))
def test_read_idx_returns_what_was_written(code, shape, gz, seed):
    """Every IDX type, gzipped or not, zero-sized dimensions included: the values written, in native byte order."""
    dtype = np.dtype(_IDX_CODES[code])
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    values = np.random.default_rng(seed).uniform(info.min / 2, info.max / 2, size=shape).astype(dtype)
    raw = bytes([0, 0, code, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes() + values.tobytes()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "v-idx-ubyte")
        with (gzip.open if gz else open)(path, "wb") as f:
            f.write(raw)
        got = read_idx(path)
    assert got.dtype == dtype.newbyteorder("=") and got.shape == tuple(shape)
    np.testing.assert_array_equal(got, values)


def test_uint64_labels_keep_their_values(tmp_path):
    top = 2**63 - 1
    np.savez(tmp_path / "u.npz", x=np.ones((2, 2)), y=np.array([3, top], dtype=np.uint64))
    d = load_dataset(str(tmp_path / "u.npz"))
    assert d.y.tolist() == [3, top] and d.n_classes == 2**63


def test_pickle_nesting_at_the_limit_passes_the_walk(tmp_path):
    from gradmath.data import MAX_PICKLE_DEPTH

    obj = np.zeros(2)
    for _ in range(MAX_PICKLE_DEPTH):
        obj = (obj,)
    (tmp_path / "deep.pkl").write_bytes(pickle.dumps(obj))
    with pytest.raises(FormatError, match=r"expected \(x, y\)"):  # the walk accepted it; the shape check did not
        load_dataset(str(tmp_path / "deep.pkl"))
    (tmp_path / "deeper.pkl").write_bytes(pickle.dumps((obj,)))
    with pytest.raises(FormatError, match=f"nested more than {MAX_PICKLE_DEPTH} deep"):
        load_dataset(str(tmp_path / "deeper.pkl"))


def test_a_directory_named_like_a_file_is_not_an_idx_folder(tmp_path):
    (tmp_path / "mnist.pkl.gz").mkdir()
    with pytest.raises(DataError, match="mnist.pkl.gz: is a directory, not a file"):
        load_dataset(str(tmp_path / "mnist.pkl.gz"))


def test_symlinks_to_regular_files_are_followed(tmp_path, small_idx):
    images, labels = small_idx
    _write_idx_pair(tmp_path / "real", images, labels)
    (tmp_path / "link").mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / "link" / name).symlink_to(tmp_path / "real" / name)
    np.testing.assert_array_equal(load_dataset(str(tmp_path / "link")).y, labels)
