"""`gradmath verify` and `gradmath counterexample` from the command line; the reproduce step."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradmath.cli import main
from gradmath.formats import save_network
from gradmath.network import Network


@pytest.fixture()
def digits_net(tmp_path):
    return save_network(Network.random((64, 12, 10), seed=0), tmp_path / "net.npz")


def test_verify_json_is_one_object_with_the_documented_keys(digits_net, capsys):
    assert main(["verify", str(digits_net), "--data", "digits", "--examples", "200", "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["norm"] == "2" and payload["examples"] == 200 and payload["violations"] == 0
    assert [layer["l"] for layer in payload["layers"]] == [2, 3]
    assert "input layer 1" in payload["notation"]
    assert captured.err == ""


@pytest.mark.parametrize("norm", ["1", "inf"])
def test_verify_table_for_people(digits_net, capsys, norm):
    assert main(["verify", str(digits_net), "--norm", norm, "--examples", "50"]) == 0
    captured = capsys.readouterr()
    assert "input layer 1" in captured.out and "| l | k |" in captured.out and "violations: 0" in captured.out
    assert captured.err == ""  # stderr is not a terminal here, so no progress bar


def test_verify_reads_an_npz_data_file_and_network2_json(tmp_path, capsys):
    net = Network.random((3, 4, 2), seed=1, cost="quadratic")
    model = save_network(net, tmp_path / "n.json")
    data = tmp_path / "d.npz"
    np.savez(data, x=np.random.default_rng(0).random((30, 3)), y=np.random.default_rng(1).random((30, 2)))
    assert main(["verify", str(model), "--data", str(data), "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 30


@pytest.mark.parametrize(("args", "match"), [
    (["--norm", "fro"], "norm='fro'"),
    (["--examples", "0"], "examples=0"),
    (["--data", "digts"], "did you mean 'digits'"),
    (["--chunk-size", "0"], "chunk_size=0"),
])
def test_verify_bad_options_exit_2_with_one_line(digits_net, capsys, args, match):
    assert main(["verify", str(digits_net), "-q", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err


def _nan_data(path):
    x = np.zeros((4, 64))
    x[2, 5] = np.nan
    np.savez(path, x=x, y=np.zeros(4, dtype=int))


@pytest.mark.parametrize(("model", "data", "match"), [
    (lambda p: p / "missing.npz", None, "no such file"),
    (lambda p: (p / "t.npz").write_bytes(b"PK\x03\x04junk") and p / "t.npz", None, "truncated or corrupt"),
    (lambda p: save_network(Network.random((5, 3), seed=0), p / "w.npz"), None,
     "64 inputs per example but the network's input layer has width 5"),
    (lambda p: save_network(Network.random((64, 3), seed=0), p / "ok.npz"), _nan_data, "nan"),
])
def test_verify_bad_files_exit_2_with_one_line(tmp_path, capsys, model, data, match):
    path = model(tmp_path)
    args = ["verify", str(path), "-q"]
    if data is not None:
        data(tmp_path / "bad.npz")
        args += ["--data", str(tmp_path / "bad.npz")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err and err.startswith("gradmath verify: error:")


def test_counterexample_command(capsys):
    assert main(["counterexample", "--norm", "inf", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["margin"] == pytest.approx(4.0) and payload["corrected_holds"]
    assert main(["counterexample", "--norm", "1", "--width", "7"]) == 0
    out = capsys.readouterr().out
    assert "FAILS by a factor 7" in out and "holds" in out


def test_counterexample_has_none_for_the_spectral_norm(capsys):
    assert main(["counterexample", "--norm", "2"]) == 2
    assert "no counterexample" in capsys.readouterr().err


def test_reproduce_step_writes_a_clean_report(tmp_path):
    from gradmath.reports.verification import write_artifacts

    files = write_artifacts(tmp_path)
    assert sorted(p.name for p in files) == ["counterexample.md", "tightness.png", "verification.json",
                                             "verification.md"]
    payload = json.loads((tmp_path / "verification" / "verification.json").read_text())
    assert [r["norm"] for r in payload["reports"]] == ["2", "1", "inf"]
    assert all(r["violations"] == 0 for r in payload["reports"])
    assert payload["training"]["training_accuracy"] > 0.9


def test_verify_of_a_network_whose_activations_overflow_prints_one_line_per_message(tmp_path, capsys):
    net = Network([np.full((3, 64), 1e200), np.full((3, 3), 1e200), np.ones((10, 3))],
                  [np.zeros(3), np.zeros(3), np.zeros(10)], "softplus", "sigmoid", "quadratic")
    model = save_network(net, tmp_path / "big.npz")
    with np.errstate(all="warn", under="ignore"):  # NumPy's default, as a user's shell has it (tests raise)
        assert main(["verify", str(model), "--data", "digits", "-q"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == ("gradmath verify: error: layer 3: activations overflow float64 "
                       "(weights too large for this input)")
    assert err[:-1] == ["gradmath verify: warning: overflow encountered in matmul"]  # one line, no source line
