"""Reading .npz archives: never through pickle, one clear message per kind of damage."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.errors import FormatError
from gradmath.npz import read_npz


def test_round_trip(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.arange(3.0), y=np.array([1, 2]))
    arrays = read_npz(tmp_path / "a.npz")
    np.testing.assert_array_equal(arrays["x"], [0.0, 1.0, 2.0])
    assert arrays["y"].dtype.kind == "i"


@pytest.mark.parametrize(
    ("write", "match"),
    [
        (lambda p: p.write_text("not an archive"), "never loads pickled data"),
        (lambda p: p.write_bytes(b"PK\x03\x04 truncated"), "truncated or corrupt"),
        (lambda p: np.savez(p, x=np.array([{"a": 1}], dtype=object)), "object arrays"),
        (lambda p: np.save(p, np.zeros(2)), "single .npy array"),
        (lambda p: None, "no such file"),
    ],
)
def test_damaged_files(tmp_path, write, match):
    path = tmp_path / "f.npz"
    write(path)
    if path.suffix == ".npz" and not path.exists() and (tmp_path / "f.npz.npy").exists():
        (tmp_path / "f.npz.npy").rename(path)
    with pytest.raises(FormatError, match=match):
        read_npz(path)


def test_a_pickle_is_refused_and_not_run(tmp_path):
    import pickle

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "evil.npz").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(FormatError, match="never loads pickled data"):
        read_npz(tmp_path / "evil.npz")
    assert not marker.exists()


# ----- read_npz agrees with np.load on every honest archive ---------------------
_DTYPES = ["<f8", ">f8", "<f4", "<i8", ">i4", "<u2", "|u1", "|i1", "|b1", "<c16", "<U3", "|S2"]


@settings(max_examples=60 if os.environ.get("CI") else 30)
@given(
    arrays=st.dictionaries(
        st.text("abcxyzW0123_", min_size=1, max_size=6),
        st.tuples(st.sampled_from(_DTYPES), st.lists(st.integers(0, 4), max_size=3), st.booleans()),
        max_size=4,
    ),
    compressed=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_read_npz_agrees_with_np_load(arrays, compressed, seed):
    """On archives np.savez wrote (trusted input), read_npz returns exactly what np.load does."""
    rng = np.random.default_rng(seed)
    made = {}
    for name, (dtype, shape, fortran) in arrays.items():
        values = rng.integers(0, 100, size=shape).astype(dtype)
        made[name] = np.asfortranarray(values) if fortran else values
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a.npz"
        (np.savez_compressed if compressed else np.savez)(path, **made)
        ours = read_npz(path)
        with np.load(path, allow_pickle=False) as reference:
            assert sorted(ours) == sorted(reference.files)
            for name in reference.files:
                expected = reference[name]
                assert ours[name].dtype == expected.dtype and ours[name].shape == expected.shape
                np.testing.assert_array_equal(ours[name], expected)
                assert ours[name].flags.f_contiguous == expected.flags.f_contiguous


def test_npy_format_version_2_and_a_0d_string(tmp_path):
    """Version 2.0 headers (np.save writes them for headers over 64 KiB) and gradmath's 0-d metadata string."""
    import io
    import zipfile

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.arange(3.0), version=(2, 0))
    with zipfile.ZipFile(tmp_path / "v2.npz", "w") as z:
        z.writestr("x.npy", buffer.getvalue())
    np.testing.assert_array_equal(read_npz(tmp_path / "v2.npz")["x"], [0.0, 1.0, 2.0])
    np.savez(tmp_path / "m.npz", metadata=np.array('{"a": 1}'))
    assert str(read_npz(tmp_path / "m.npz")["metadata"]) == '{"a": 1}'


def test_the_budget_covers_all_members_together(tmp_path):
    np.savez_compressed(tmp_path / "two.npz", a=np.zeros(100), b=np.zeros(100))  # 800 bytes each, small on disk
    assert set(read_npz(tmp_path / "two.npz", max_bytes=4000)) == {"a", "b"}
    with pytest.raises(FormatError, match=r"member 'b.npy' declares .* which exceeds the limit of"):
        read_npz(tmp_path / "two.npz", max_bytes=1500)


def test_a_directory_is_not_reported_missing(tmp_path):
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(FormatError, match="d.npz: is a directory, not a file"):
        read_npz(tmp_path / "d.npz")
