"""`gradmath speeds`: JSON shape, data paths, models trained elsewhere, one-line errors."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import sys

import numpy as np
import pytest

from gradmath.cli import main
from gradmath.experiments.speeds import BOOK_SPEEDS, init_speeds
from gradmath.formats import from_sklearn, from_torch, save_network
from gradmath.network import Network
from gradmath.reports import SEED


def _run(capsys, *argv):
    code = main(["speeds", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys, *argv):
    code, out, err = _run(capsys, *argv, "--json", "--quiet")
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def _idx(array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.asarray(array, dtype=">u1").tobytes()


@pytest.fixture
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(_idx(rng.integers(0, 256, (40, 5, 5), dtype=np.uint8))))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.arange(40) % 10)))
    return tmp_path


def test_init_json_matches_the_library(capsys):
    from gradmath.data import load_dataset

    payload = _json(capsys, "--sizes", "64,30,30,10", "--seeds", "20")
    assert [row["layer"] for row in payload["init"]] == [1, 2]
    assert set(payload["init"][0]) >= {"layer", "median", "q1", "q3"}
    assert "training" not in payload
    d = load_dataset("digits")
    expected = init_speeds((64, 30, 30, 10), d.x, d.y, seeds=20, seed=SEED)
    assert [row["median"] for row in payload["init"]] == pytest.approx(expected.median.tolist(), rel=1e-12)
    assert payload["book"]["values"] == list(BOOK_SPEEDS[2])


def test_training_json_with_bounds(capsys):
    payload = _json(capsys, "--sizes", "64,20,20,20,10", "--seeds", "3", "--epochs", "4", "--bounds")
    assert [row["layer"] for row in payload["training"]] == [1, 2, 3]
    assert all(len(row["per_epoch"]) == 5 for row in payload["training"])
    assert payload["training_parameters"]["eta"] == 0.1 and payload["training_parameters"]["lmbda"] == 5.0
    assert payload["bounds"]["violations"] == 0 and payload["bounds"]["epochs_checked"] == 5
    assert "book" not in payload   # not the book's architecture


def test_text_output_and_progress(capsys):
    code, out, err = _run(capsys, "--seeds", "3", "--epochs", "2")
    assert code == 0
    assert "hidden layer" in out and "book (quoted" in out and "training from the network of seed" in out
    assert err == ""               # stderr is not a terminal here: no progress bar
    # each table says how its layers are numbered, as the verifier numbers them (input l = 1)
    assert out.count("hidden layer k: 1 = first hidden layer (network layer l = k + 1, input l = 1") == 2
    code, out, err = _run(capsys, "--seeds", "2", "--quiet")
    assert code == 0 and err == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_only_on_a_terminal_and_not_quiet(capsys, monkeypatch, quiet):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["speeds", "--seeds", "3", "--epochs", "2", *(["--quiet"] if quiet else [])]) == 0
    shown = terminal.getvalue()
    assert ("speeds" in shown and "step" in shown) != quiet, shown
    assert "hidden layer" in capsys.readouterr().out


def test_idx_folder_default_sizes(capsys, idx_folder):
    payload = _json(capsys, "--data", str(idx_folder), "--seeds", "3")
    assert payload["sizes"] == [25, 30, 30, 10] and payload["examples"] == 40


def _check_model(capsys, tmp_path, name, net):
    from gradmath.data import load_dataset
    from gradmath.experiments.speeds import speed_of_learning

    d = load_dataset("digits")
    path = save_network(net, tmp_path / f"{name}.npz")
    payload = _json(capsys, "--model", str(path), "--epochs", "2")
    assert [row["speed"] for row in payload["speeds"]] == pytest.approx(
        speed_of_learning(net, d.x, d.y).tolist(), rel=1e-12)
    assert payload["sizes"] == list(net.sizes) and "init" not in payload
    assert len(payload["training"]) == len(net.sizes) - 2
    assert all(len(row["per_epoch"]) == 3 for row in payload["training"])


def test_model_saved_from_gradmath_and_sklearn(capsys, tmp_path):
    from sklearn.neural_network import MLPClassifier

    from gradmath.data import load_dataset

    d = load_dataset("digits")
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), activation="logistic", max_iter=5, random_state=0)
    with pytest.warns(Warning):   # ConvergenceWarning after 5 iterations
        clf.fit(d.x[:300], d.y[:300])
    _check_model(capsys, tmp_path, "gradmath", Network.random((64, 16, 12, 10), seed=1))
    _check_model(capsys, tmp_path, "sklearn", from_sklearn(clf))


def test_model_saved_from_torch(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 12),
                                 torch.nn.Sigmoid(), torch.nn.Linear(12, 10), torch.nn.Sigmoid())
    _check_model(capsys, tmp_path, "torch", from_torch(module))


@pytest.mark.parametrize("argv, match", [
    (["--data", "/no/such/folder"], "no such file or folder"),
    (["--data", "digts"], "did you mean 'digits'"),
    (["--sizes", "784,30,30,10"], "first width 784 does not match the 64 inputs of digits"),
    (["--sizes", "64,30,5"], "output width 5 is less than the 10 classes"),
    (["--sizes", "64,10"], "no hidden layer"),
    (["--sizes", "64,,10"], "comma-separated positive integers"),
    (["--seeds", "0"], "seeds=0"),
    (["--bounds"], "--bounds needs --epochs"),
    (["--epochs", "-1"], "epochs=-1"),
    (["--eta", "0", "--epochs", "1"], "eta=0"),
    (["--eta", "1e308", "--epochs", "3"], "training diverged in epoch 1: layer 2's parameters are no longer finite"),
    (["--lmbda", "1e308", "--epochs", "3"], "(eta=0.1, lmbda=1e+308); use a smaller eta or lmbda"),
    (["--activation", "sigmod"], "did you mean 'sigmoid'"),
    (["--model", "/no/such/net.npz"], "net.npz"),
    (["--sizes", "64,1000000,10"], "has 75,000,010 weights and biases; at most 10,000,000"),
    (["--sizes", "64,\u00b2,10"], "comma-separated positive integers"),
    (["--sizes", "64," + "9" * 5000 + ",10"], "(5006 characters) must be comma-separated positive integers"),
    (["--seeds", "10000000"], "seeds=10000000 must be an integer in [1, 10000]"),
    (["--seeds", "1e7"], "'1e7' is not an integer of at most 12 ASCII digits"),
    (["--epochs", "10000000"], "epochs=10000000 must be an integer in [0, 100000]"),
    (["--epochs", "9" * 5000], "(5000 characters) is not an integer of at most 12 ASCII digits"),
    (["--sizes", "64,300,300,10", "--seeds", "5000"], "5,000 passes × 1,000 examples × 112,810 parameters"),
    (["--sizes", "64,300,300,10", "--epochs", "5000"], "5,003 passes × 1,000 examples × 112,810 parameters"),
    (["--sizes", "64,30000,10", "--examples", "5000"],
     "1,797 examples × 30,074 neurons = 54,042,978 values in one pass; at most 25,000,000"),
])
def test_bad_arguments_are_one_line(capsys, argv, match):
    fast = [] if "--seeds" in argv else ["--seeds", "2"]
    code, out, err = _run(capsys, *argv, *fast, "--quiet")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("gradmath speeds: error:")
    assert match in err, err


def test_bad_data_files_are_one_line(capsys, tmp_path, idx_folder):
    bad = {}
    wrong_magic = tmp_path / "magic"
    wrong_magic.mkdir()
    (wrong_magic / "train-images-idx3-ubyte").write_bytes(b"\x03\x08\x00\x00" + bytes(100))  # byte-swapped magic
    (wrong_magic / "train-labels-idx1-ubyte").write_bytes(_idx(np.zeros(3)))
    bad[wrong_magic] = "not an IDX file"
    mismatch = tmp_path / "mismatch"
    mismatch.mkdir()
    (mismatch / "train-images-idx3-ubyte").write_bytes(_idx(np.zeros((4, 2, 2))))
    (mismatch / "train-labels-idx1-ubyte").write_bytes(_idx(np.zeros(3)))
    bad[mismatch] = "holds 4 images but train-labels-idx1-ubyte holds 3 labels"
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "train-images-idx3-ubyte").write_bytes(_idx(np.zeros((4, 2, 2)))[:-3])
    (truncated / "train-labels-idx1-ubyte").write_bytes(_idx(np.zeros(4)))
    bad[truncated] = "truncated IDX payload"
    non_arrays = tmp_path / "mnist.pkl.gz"
    non_arrays.write_bytes(gzip.compress(pickle.dumps(((np.zeros((3, 4)), [0, 1, 2]), (), ()))))
    bad[non_arrays] = "holds an object of type list"
    for path, match in bad.items():
        code, out, err = _run(capsys, "--data", str(path), "--quiet")
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert match in err, err


def test_help_has_examples(capsys):
    assert main(["speeds", "--help"]) == 0
    assert "examples:" in capsys.readouterr().out


def test_ctrl_c_stops_the_run_with_exit_code_130(capsys, monkeypatch):
    """A KeyboardInterrupt in the middle of the seeds reaches main (no loop swallows it)."""
    import gradmath.experiments.speeds as speeds

    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = speeds.speed_of_learning
    monkeypatch.setattr(speeds, "speed_of_learning", interrupted)
    code, out, err = _run(capsys, "--seeds", "5")
    assert code == 130 and out == "" and err == "gradmath: interrupted\n"
    assert len(calls) == 2


def test_meanfield_prediction_beside_the_rms_over_seeds(capsys):
    import json

    from gradmath.cli import main

    assert main(["speeds", "--seeds", "8", "--sizes", "64,30,30,10", "--meanfield", "--quiet", "--json"]) == 0
    mf = json.loads(capsys.readouterr().out)["meanfield"]
    assert len(mf["speeds"]) == len(mf["rms_over_seeds"]) == 2
    # 8 seeds of width 30: the RMS is within a few tens of percent of the infinite-width prediction
    assert all(0.7 < p / r < 1.4 for p, r in zip(mf["speeds"], mf["rms_over_seeds"]))
    assert main(["speeds", "--seeds", "2", "--sizes", "64,30,30,10", "--meanfield", "--quiet"]) == 0
    assert "mean-field prediction" in capsys.readouterr().out


def test_meanfield_is_for_random_networks_only(tmp_path, capsys):
    from gradmath.cli import main
    from gradmath.formats import save_network
    from gradmath.network import Network

    path = save_network(Network.random((64, 30, 10), seed=0, cost="cross-entropy"), tmp_path / "net.npz")
    assert main(["speeds", "--model", str(path), "--meanfield", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "verify MODEL --meanfield" in err and len(err.strip().splitlines()) == 1
