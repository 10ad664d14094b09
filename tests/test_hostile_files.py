"""Hostile data and network files: each class refused in one line, from the API and from the command line.

Every case below is a file a user could hand gradmath (``--data``, ``--model``,
``verify MODEL``) that once hung, exhausted memory, printed a traceback or
misreported the problem. The API must raise the case's specific exception with
a one-line message naming the file and the problem; the command line must exit
with code 2 and print that one line on stderr, no traceback. Decompression
bombs must also stay within a small multiple of what their headers declare
(measured with ``tracemalloc``), and the cases that used to block forever run
in a subprocess under a timeout, so a regression fails instead of hanging.
"""

from __future__ import annotations

import gzip
import os
import pickle
import re
import signal
import socket
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from gradmath.cli import main
from gradmath.data import MAX_PICKLE_DEPTH, MAX_PICKLE_NODES, load_dataset, load_nielsen_pickle, read_idx
from gradmath.errors import DataError, FormatError
from gradmath.formats import load_network, save_network
from gradmath.network import Network
from gradmath.npz import read_npz
from gradmath.userfiles import MAX_FILE_BYTES, read_user_file

REPO = Path(__file__).resolve().parents[1]
HANG_GUARD_S = 60  # each case takes well under a second (a process: about two); a hang fails here instead


# ----- builders: each writes one hostile file under tmp and returns (spec, the path the message must name) ----
def _idx(shape, payload: bytes = b"", type_code: int = 0x08) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + payload


def _idx_folder(tmp: Path, images: bytes, labels: bytes = _idx((1,), b"\x00"), *, gz: bool = False) -> Path:
    folder = tmp / "mnist"
    folder.mkdir()
    suffix = ".gz" if gz else ""
    (folder / f"train-images-idx3-ubyte{suffix}").write_bytes(images)
    (folder / "train-labels-idx1-ubyte").write_bytes(labels)
    return folder


def _gzip_of_zeros(prefix: bytes, zeros: int) -> bytes:
    """``prefix`` followed by ``zeros`` zero bytes, gzipped chunk by chunk (a few kB per 64 MiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts, chunk = [c.compress(prefix)], bytes(2**20)
    for _ in range(zeros // len(chunk)):
        parts.append(c.compress(chunk))
    return b"".join(parts) + c.flush()


def _npy(shape, descr: str = "<f8", data: bytes = b"") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _zip_declaring(path: Path, declared: int) -> Path:
    """A valid ``x.npy``/``y.npy`` archive whose central directory then claims ``x.npy`` holds ``declared`` bytes."""
    raw = bytearray(_zip(path, {"x.npy": _npy((1, 1), data=bytes(8)), "y.npy": _npy((1,), "<i8", bytes(8))})
                    .read_bytes())
    at = raw.index(b"PK\x01\x02")  # the first central directory entry: x.npy
    raw[at + 24:at + 28] = struct.pack("<I", declared)
    path.write_bytes(bytes(raw))
    return path


def _shared_tuples() -> bytes:
    t = ()
    for _ in range(60):
        t = (t, t)  # 61 objects, 2**60 paths from the top
    return gzip.compress(pickle.dumps(t, protocol=2), mtime=0)


def _link(tmp: Path, name: str, target: str) -> Path:
    if not os.path.exists(target):
        pytest.skip(f"{target} does not exist on this system")
    (tmp / name).symlink_to(target)
    return tmp / name


def _named(path: Path) -> tuple[str, str]:
    return str(path), str(path)


def _case_dir(tmp):
    (tmp / "data.npz").mkdir()
    return _named(tmp / "data.npz")


def _case_json_dir(tmp):
    (tmp / "n.json").mkdir()
    return _named(tmp / "n.json")


def _case_socket(tmp):
    path = tmp / "s.npz"
    if not hasattr(socket, "AF_UNIX") or len(str(path)) > 100:
        pytest.skip("no Unix sockets here, or the temporary path is too long for one")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return _named(path)


def _case_big_sparse(tmp):
    path = tmp / "big.npz"
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk space used
    return _named(path)


def _case_idx(images: bytes, labels: bytes | None = None, gz: bool = False, named: str = "train-images-idx3-ubyte"):
    def build(tmp):
        folder = _idx_folder(tmp, images, labels if labels is not None else _idx((1,), b"\x00"), gz=gz)
        return str(folder), str(folder / named)
    return build


def _case_npz(members: dict[str, bytes]):
    def build(tmp):
        return _named(_zip(tmp / "d.npz", members))
    return build


def _case_bytes(name: str, content: Callable[[], bytes]):
    def build(tmp):
        (tmp / name).write_bytes(content())
        return _named(tmp / name)
    return build


def _case_dev_zero_idx(tmp):
    folder = tmp / "mnist"
    folder.mkdir()
    _link(folder, "train-images-idx3-ubyte", "/dev/zero")
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx((1,), b"\x00"))
    return str(folder), str(folder / "train-images-idx3-ubyte")


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], tuple[str, str]]
    error: type
    match: str


_OK_X, _OK_Y = _npy((2, 2), data=bytes(32)), _npy((2,), "<i8", bytes(16))

DATA_CASES = [
    Case("directory", _case_dir, DataError, "is a directory, not a file"),
    Case("character device", lambda tmp: _named(_link(tmp, "zero.npz", "/dev/zero")), DataError,
         "is a character device, not a regular file"),
    Case("character device as IDX images", _case_dev_zero_idx, DataError, "is a character device"),
    Case("socket", _case_socket, DataError, "is a socket, not a regular file"),
    Case("missing", lambda tmp: _named(tmp / "absent.npz"), DataError, "no such file"),
    Case("over the size limit", _case_big_sparse, DataError,
         "the file holds 1,073,741,825 bytes, which exceeds the limit of 1024 MiB"),
    Case("IDX header declares 100 GB", _case_idx(_idx((100_000, 1000, 1000))), DataError,
         r"shape \(100000, 1000, 1000\) of uint8 declares 93.13 GiB .*exceeds the limit of 1024 MiB"),
    Case("IDX dimensions whose product overflows int64", _case_idx(_idx((2**32 - 1,) * 3, type_code=0x0E)),
         DataError, r"shape \(4294967295, 4294967295, 4294967295\) of float64 declares .*exceeds the limit"),
    Case("IDX with 255 dimensions", _case_idx(_idx((0,) * 255)), FormatError,
         "declares 255 dimensions, more than the limit of 16"),
    Case("IDX zero-length images file", _case_idx(b""), FormatError, "the file is empty, not an IDX file"),
    Case("IDX zero-length labels file", _case_idx(_idx((1, 2, 2), bytes(4)), labels=b"",
                                                  named="train-labels-idx1-ubyte"),
         FormatError, "the file is empty, not an IDX file"),
    Case("IDX gzip bomb (64 MiB after a 784-byte payload)",
         _case_idx(_gzip_of_zeros(_idx((1, 28, 28), bytes(784)), 64 * 2**20), gz=True,
                   named="train-images-idx3-ubyte.gz"),
         FormatError, "at least 1048576 bytes after the IDX payload of shape"),
    Case("IDX images without inputs", _case_idx(_idx((1, 0, 0))), DataError, "examples without inputs"),
    Case(".npz member declares 3.75 GiB", lambda tmp: _named(_zip_declaring(tmp / "d.npz", 0xF0000000)),
         FormatError, "member 'x.npy' declares 3.75 GiB uncompressed, which exceeds the limit of 1024 MiB"),
    Case(".npz .npy header declares 7 TiB", _case_npz({"x.npy": _npy((10**6, 10**6)), "y.npy": _OK_Y}),
         FormatError, r"member 'x.npy' declares shape \(1000000, 1000000\) of float64, 7451 GiB, which exceeds"),
    Case(".npz zip bomb behind a small .npy header",
         _case_npz({"x.npy": _npy((2, 2), data=bytes(64 * 2**20)), "y.npy": _OK_Y}),
         FormatError, r"member 'x.npy' holds more bytes than its shape \(2, 2\) of float64 declares"),
    Case(".npz member without .npy", _case_npz({"x": b"hello", "y.npy": _OK_Y}), FormatError,
         "member 'x' is not a .npy array"),
    Case(".npz negative dimension", _case_npz({"x.npy": _npy((-1, 2)), "y.npy": _OK_Y}), FormatError,
         r"negative dimension in shape \(-1, 2\)"),
    Case(".npz object array", _case_npz({"x.npy": _npy((2,), "|O"), "y.npy": _OK_Y}), FormatError,
         "object arrays, which only pickle could load"),
    Case(".npz uint64 label above int64", _case_npz({
        "x.npy": _OK_X, "y.npy": _npy((2,), "<u8", struct.pack("<QQ", 1, 2**63 + 5))}),
         DataError, "labels must be below 2\\*\\*63, found 9223372036854775813"),
    Case(".pkl.gz of tuples sharing references", _case_bytes("mnist.pkl.gz", _shared_tuples), FormatError,
         f"tuples nested more than {MAX_PICKLE_DEPTH} deep"),
    Case(".pkl of 100,000 nested tuples", _case_bytes("deep.pkl", lambda: b"\x80\x02)" + b"\x85" * 100_000 + b"."),
         FormatError, f"tuples nested more than {MAX_PICKLE_DEPTH} deep"),
    Case(".pkl asking NumPy for a 931 GiB array", _case_bytes("big.pkl", lambda: (
        b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I1000000\nI1000000\ntS'b'\ntR.")),
         DataError, "the pickle: an array declared of 2 dimensions needs 931.3 GiB, which exceeds the limit of 1024"),
    Case(".pkl calling numpy.ndarray directly", _case_bytes("call.pkl", lambda: b"cnumpy\nndarray\n(I1000000\ntR."),
         FormatError, "calls numpy.ndarray directly"),
    Case(".pkl of 1,001 arrays", _case_bytes("wide.pkl", lambda: pickle.dumps(
        tuple(np.zeros(1) for _ in range(MAX_PICKLE_NODES + 1)))),
         FormatError, f"more than {MAX_PICKLE_NODES} tuples and arrays"),
]

MODEL_CASES = [
    Case("directory", _case_dir, FormatError, "is a directory, not a file"),
    Case("directory named .json", _case_json_dir, FormatError, "is a directory, not a file"),
    Case("character device", lambda tmp: _named(_link(tmp, "net.npz", "/dev/zero")), FormatError,
         "is a character device"),
    Case("missing", lambda tmp: _named(tmp / "absent.npz"), FormatError, "no such file"),
    Case("over the size limit", _case_big_sparse, FormatError, "bytes is over the 1024 MiB limit for this kind of network file"),
    Case(".npz member without .npy", _case_npz({"W2": b"hello"}), FormatError, "member 'W2' is not a .npy array"),
    Case(".npz .npy header declares 7 TiB", _case_npz({"W2.npy": _npy((10**6, 10**6))}), FormatError,
         r"declares shape \(1000000, 1000000\) of float64"),
]


def _one_line(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message, message
    return message


# ----- the API ---------------------------------------------------------------
@pytest.mark.parametrize("case", DATA_CASES, ids=lambda c: c.id)
def test_data_file_refused_by_the_api(tmp_path, case):
    spec, named = case.build(tmp_path)
    with pytest.raises(case.error, match=case.match) as info:
        load_dataset(spec)
    message = _one_line(str(info.value))
    assert message.startswith(named + ":"), message


@pytest.mark.parametrize("case", MODEL_CASES, ids=lambda c: c.id)
def test_network_file_refused_by_the_api(tmp_path, case):
    spec, named = case.build(tmp_path)
    with pytest.raises(case.error, match=case.match) as info:
        load_network(spec)
    assert _one_line(str(info.value)).startswith(named + ":")


# ----- the command line (in process: exit code, stderr, no exception escapes) ---
@pytest.fixture()
def model(tmp_path):
    return str(save_network(Network.random((4, 3, 2), seed=0), tmp_path / "good.npz"))


@pytest.mark.parametrize("command", ["verify", "speeds"])
@pytest.mark.parametrize("case", DATA_CASES, ids=lambda c: c.id)
def test_data_file_refused_by_the_cli(tmp_path, model, capsys, case, command):
    spec, named = case.build(tmp_path)
    argv = ["verify", model, "--data", spec, "--quiet"] if command == "verify" else ["speeds", "--data", spec]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"gradmath {command}: error: {named}:"), err
    assert re.search(case.match, err), err


@pytest.mark.parametrize("case", MODEL_CASES, ids=lambda c: c.id)
def test_network_file_refused_by_the_cli(tmp_path, capsys, case):
    spec, named = case.build(tmp_path)
    for argv in (["verify", spec, "--data", "digits", "--quiet"], ["speeds", "--model", spec, "--quiet"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"error: {named}:" in err and "Traceback" not in err, err


def test_unreadable_file_is_one_line(tmp_path, monkeypatch, model, capsys):
    """PermissionError (simulated: the tests may run as root, who reads everything) becomes one line."""
    path = tmp_path / "locked.npz"
    np.savez(path, x=np.ones((2, 4)), y=np.array([0, 1]))
    real_open = os.open

    def refuse(p, *args, **kwargs):
        if os.fspath(p) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(p, *args, **kwargs)

    monkeypatch.setattr("gradmath.userfiles.os.open", refuse)
    with pytest.raises(DataError, match=r"locked.npz: permission denied \(check the permissions of the file and "
                                        r"of the folders above it\)"):
        load_dataset(str(path))
    with pytest.raises(FormatError, match="permission denied"):
        read_npz(path)
    assert main(["verify", model, "--data", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == (f"gradmath verify: error: {path}: permission denied (check the permissions of the file and "
                   "of the folders above it)\n")


# ----- what used to block forever: under a timer here, and once in a real process under a timeout ----
class _StillBlocked(BaseException):
    """Raised by the timer: a BaseException, so no ``except OSError`` or ``except Exception`` can hide it."""


@pytest.fixture()
def hang_guard():
    """Fail (instead of blocking the suite) when the test is still running after HANG_GUARD_S seconds."""
    if not hasattr(signal, "setitimer"):
        pytest.skip("no interval timer on this platform")

    def expire(signum, frame):
        raise _StillBlocked(f"still blocked after {HANG_GUARD_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, HANG_GUARD_S)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def _fifo(tmp: Path, role: str) -> tuple[Path, str]:
    """A named pipe nothing writes to (opening it for reading would wait forever) and the spec naming it."""
    if role == "idx labels":
        folder = _idx_folder(tmp, _idx((1, 2, 2), bytes(4)), labels=b"")
        (folder / "train-labels-idx1-ubyte").unlink()
        fifo = folder / "train-labels-idx1-ubyte"
    else:
        fifo = tmp / ("net.npz" if role == "model" else "data.npz")
    os.mkfifo(fifo)
    return fifo, str(fifo.parent if role == "idx labels" else fifo)


_FIFO_MESSAGE = ("{}: is a FIFO (named pipe), not a regular file; "
                 "gradmath reads data and networks from regular files only")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
@pytest.mark.parametrize("role", ["data", "model", "idx labels"])
def test_fifo_is_refused_without_blocking(tmp_path, model, capsys, hang_guard, role):
    fifo, spec = _fifo(tmp_path, role)
    error = FormatError if role == "model" else DataError
    with pytest.raises(error) as info:
        load_network(spec) if role == "model" else load_dataset(spec)
    assert str(info.value) == _FIFO_MESSAGE.format(fifo)
    argv = ["verify", spec, "--data", "digits"] if role == "model" else ["verify", model, "--data", spec]
    assert main([*argv, "--quiet"]) == 2
    assert capsys.readouterr().err == f"gradmath verify: error: {_FIFO_MESSAGE.format(fifo)}\n"


def _gradmath(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "gradmath", *argv], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, cwd=cwd, env=env)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_fifo_in_a_real_process(tmp_path):
    fifo, spec = _fifo(tmp_path, "data")
    done = _gradmath("speeds", "--data", spec, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"gradmath speeds: error: {_FIFO_MESSAGE.format(fifo)}\n"


def test_the_shared_tuples_pickle_in_a_real_process(tmp_path):
    (tmp_path / "mnist.pkl.gz").write_bytes(_shared_tuples())
    done = _gradmath("speeds", "--data", "mnist.pkl.gz", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("gradmath speeds: error: mnist.pkl.gz: pickle[0][0]"), done.stderr


# ----- the caps hold: memory stays near what the header declares -------------------
def _peak_bytes(call) -> int:
    tracemalloc.start()
    try:
        with pytest.raises((DataError, FormatError)):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_idx_gzip_bomb_is_read_only_as_far_as_its_header_declares(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(_gzip_of_zeros(_idx((1, 28, 28), bytes(784)), 64 * 2**20))
    peak = _peak_bytes(lambda: read_idx(path))
    assert peak < 4 * 2**20  # the 1 MiB probe past the payload plus gzip's buffers, not 64 MiB


def test_npz_zip_bomb_is_read_only_as_far_as_its_npy_header_declares(tmp_path):
    path = _zip(tmp_path / "bomb.npz", {"x.npy": _npy((2, 2), data=bytes(64 * 2**20))})
    peak = _peak_bytes(lambda: read_npz(path))
    assert peak < 4 * 2**20


def test_pkl_gz_bomb_stops_at_the_limit(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(_gzip_of_zeros(b"", 64 * 2**20))
    with pytest.raises(DataError, match=r"mnist.pkl.gz: the decompressed pickle holds more than 1 MiB, "
                                        r"which exceeds the limit of 1 MiB; pass max_bytes="):
        load_nielsen_pickle(path, max_bytes=2**20)
    assert _peak_bytes(lambda: load_nielsen_pickle(path, max_bytes=2**20)) < 4 * 2**20


def test_the_shared_tuples_pickle_is_small_and_would_be_2_to_the_60_paths():
    payload = _shared_tuples()
    assert len(payload) < 400  # the file is 358 bytes
    t = pickle.loads(gzip.decompress(payload))
    depth = 0
    while t:
        assert t[0] is t[1]
        t, depth = t[0], depth + 1
    assert depth == 60


# ----- the limits can be raised where that is sensible -------------------------------
def test_limits_are_keyword_arguments(tmp_path):
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    folder = _idx_folder(tmp_path, _idx(images.shape, images.tobytes()), _idx((2,), b"\x01\x00"))
    with pytest.raises(DataError, match=r"declares 18 bytes \(144 bytes as float64\), which exceeds the limit of"):
        load_dataset(str(folder), max_bytes=105)
    assert load_dataset(str(folder), max_bytes=144).x.shape == (2, 9)
    npz = tmp_path / "a.npz"
    np.savez(npz, x=np.ones((4, 4)), y=np.arange(4))
    with pytest.raises(FormatError, match="exceeds the limit"):
        read_npz(npz, max_bytes=100)
    assert read_npz(npz)["x"].shape == (4, 4)
    with pytest.raises(DataError, match="exceeds the limit"):
        read_user_file(npz, max_bytes=100)
    assert read_user_file(npz) == npz.read_bytes()


def test_a_huge_table_of_members_is_refused_before_zipfile_parses_it(tmp_path):
    """The end-of-archive record says where the table is and how large; a forged 100 MiB table is refused."""
    path = _zip(tmp_path / "d.npz", {"x.npy": _OK_X, "y.npy": _OK_Y})
    raw = bytearray(path.read_bytes())
    end = raw.rindex(b"PK\x05\x06")
    raw[end + 12:end + 16] = struct.pack("<I", 100 * 2**20)  # size of the central directory
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=r"d.npz: the table of members takes 100 MiB, which exceeds the limit "
                                          r"of 8 MiB; gradmath.npz.MAX_CENTRAL_DIRECTORY_BYTES sets it"):
        read_npz(path)
