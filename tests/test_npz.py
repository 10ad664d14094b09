"""Reading .npz archives: never through pickle, one clear message per kind of damage."""

from __future__ import annotations

import numpy as np
import pytest

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
