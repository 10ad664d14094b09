"""Network files (npz, network2 JSON, safetensors) and conversion from scikit-learn and PyTorch."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

from gradmath.backprop import backprop
from gradmath.errors import FormatError, MissingDependencyError, NonFiniteError, ShapeError
from gradmath.formats import from_sklearn, from_torch, load_network, save_network
from gradmath.network import Network


def _same(a: Network, b: Network) -> bool:
    return (a.to_json() == b.to_json()
            and all(np.array_equal(u, v) for u, v in zip(a.weights + a.biases, b.weights + b.biases)))


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize(("hidden", "output", "cost"), [("tanh", "softmax", "log-loss"), ("gelu", "relu", "quadratic"),
                                                        ("sigmoid", "sigmoid", "cross-entropy")])
def test_native_round_trip_is_exact(tmp_path, suffix, hidden, output, cost):
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    net = Network.random((5, 4, 3, 2), seed=3, hidden_activation=hidden, output_activation=output, cost=cost)
    assert _same(load_network(save_network(net, tmp_path / f"net{suffix}")), net)


def test_npz_uses_the_proofs_layer_numbers(tmp_path):
    path = save_network(Network.random((3, 4, 2), seed=0), tmp_path / "n.npz")
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["W2", "W3", "b2", "b3", "metadata"]
        assert json.loads(str(data["metadata"]))["format"] == "gradmath-network"


def test_network2_json_round_trip_and_layout(tmp_path):
    net = Network.random((4, 3, 2), seed=1, cost="quadratic")
    path = save_network(net, tmp_path / "net.json")
    data = json.loads(path.read_text())
    assert data["sizes"] == [4, 3, 2] and data["cost"] == "QuadraticCost"
    assert np.array(data["biases"][0]).shape == (3, 1)  # network2 keeps biases as columns
    assert _same(load_network(path), net)


def _write_npz(path, meta, **arrays):
    with open(path, "wb") as fh:
        np.savez(fh, metadata=np.array(json.dumps(meta)), **arrays)
    return path


_META = {"format": "gradmath-network", "version": 1, "hidden_activation": "sigmoid",
         "output_activation": "sigmoid", "cost": "quadratic"}


@pytest.mark.parametrize(
    ("name", "content", "error", "match"),
    [
        ("t.npz", lambda p: p.write_bytes(b"PK\x03\x04 truncated"), FormatError, "truncated or corrupt"),
        ("t.json", lambda p: p.write_text('{"sizes": [2, 1], "weights": [[[1'), FormatError, "truncated or corrupt"),
        ("t.json", lambda p: p.write_text('{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "cost": "HingeCost"}'),
         FormatError, "cost='HingeCost'"),
        ("t.json", lambda p: p.write_text('{"sizes": [2, 1], "weights": [[[1, 2]]]}'), FormatError, "lacks biases, cost"),
        ("t.json", lambda p: p.write_text('{"sizes": [3, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "cost": "QuadraticCost"}'),
         FormatError, r"sizes=\[3, 1\] disagree"),
        ("t.npz", lambda p: _write_npz(p, {**_META, "colour": "red"}, W2=np.ones((1, 2)), b2=np.zeros(1)),
         FormatError, "unknown metadata key 'colour'"),
        ("t.npz", lambda p: _write_npz(p, {**_META, "version": 7}, W2=np.ones((1, 2)), b2=np.zeros(1)),
         FormatError, "version=7"),
        ("t.npz", lambda p: _write_npz(p, _META, W2=np.ones((1, 2)), b3=np.zeros(1)), FormatError, "W2..W2"),
        ("t.npz", lambda p: _write_npz(p, _META, W2=np.ones((1, 2), dtype=np.int64), b2=np.zeros(1)), FormatError,
         "dtype int64"),
        ("t.npz", lambda p: _write_npz(p, _META, W2=np.array([[1.0, np.nan]]), b2=np.zeros(1)), FormatError,
         r"layer 2 weights has a non-finite value nan at index \(0, 1\)"),
        ("t.npz", lambda p: _write_npz(p, _META, W2=np.ones((1, 2)), W3=np.ones((2, 2)), b2=np.zeros(1), b3=np.zeros(2)),
         FormatError, r"layer 3: weight shape \(2, 2\) does not follow a layer of width 1"),
        ("t.npz", lambda p: _write_npz(p, {**_META, "hidden_activation": "sigmod"}, W2=np.ones((1, 2)), b2=np.zeros(1)),
         FormatError, "did you mean 'sigmoid'"),
        ("t.npz", lambda p: np.savez(p, W2=np.ones((1, 2)), b2=np.zeros(1)), FormatError, "no 'metadata'"),
        ("t.npz", lambda p: np.savez(p, metadata=np.array([{"a": 1}], dtype=object)), FormatError, "object arrays"),
        ("t.pkl", lambda p: p.write_bytes(b"\x80\x04"), FormatError, "never loads pickle"),
        ("missing.npz", lambda p: None, FormatError, "no such file"),
    ],
)
def test_bad_files_raise_one_clear_format_error(tmp_path, name, content, error, match):
    path = tmp_path / name
    content(path)
    with pytest.raises(error, match=match):
        load_network(path)


def test_truncated_safetensors(tmp_path):
    pytest.importorskip("safetensors")
    path = save_network(Network.random((3, 2), seed=0), tmp_path / "n.safetensors")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(FormatError, match="truncated or corrupt"):
        load_network(path)


def test_writing_safetensors_without_the_package_names_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(MissingDependencyError, match="pip install safetensors"):
        save_network(Network.random((3, 2), seed=0), tmp_path / "n.safetensors")


def test_reading_safetensors_needs_no_package(tmp_path, monkeypatch):
    pytest.importorskip("safetensors")
    net = Network.random((3, 4, 2), seed=2, hidden_activation="tanh", cost="quadratic")
    path = save_network(net, tmp_path / "n.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    assert _same(load_network(path), net)


def test_network2_refuses_other_activations(tmp_path):
    net = Network.random((3, 2), seed=0, output_activation="softmax", cost="log-loss")
    with pytest.raises(FormatError, match="sigmoid networks"):
        save_network(net, tmp_path / "n.json")


def _fit(model, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a few iterations are enough here
        with np.errstate(all="ignore"):  # scikit-learn's own arithmetic, not ours
            return model.fit(x, y)


@pytest.mark.parametrize(("kind", "labels", "output", "cost"), [
    ("classifier", 3, "softmax", "log-loss"),
    ("classifier", 2, "sigmoid", "cross-entropy"),
    ("regressor", None, "identity", "quadratic"),
])
def test_from_sklearn_reproduces_predictions(kind, labels, output, cost):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    rng = np.random.default_rng(0)
    x = rng.random((60, 4))
    if kind == "classifier":
        model = _fit(MLPClassifier(hidden_layer_sizes=(6, 5), activation="tanh", max_iter=30, random_state=0), x,
                     rng.integers(0, labels, 60))
        expected = model.predict_proba(x)
        expected = expected[:, 1:] if labels == 2 else expected
    else:
        model = _fit(MLPRegressor(hidden_layer_sizes=(6,), activation="logistic", max_iter=30, random_state=0), x, rng.random((60, 2)))
        expected = model.predict(x)
    net = from_sklearn(model)
    assert (net.output_activation, net.cost) == (output, cost)
    got = backprop(net, x, np.zeros((60, net.sizes[-1]))).activations[-1]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_from_sklearn_needs_a_fitted_model():
    from sklearn.neural_network import MLPClassifier

    with pytest.raises(FormatError, match="call fit first"):
        from_sklearn(MLPClassifier())


def test_from_torch_reproduces_the_forward_pass():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3), nn.Softmax(dim=-1))
    model = model.double()
    net = from_torch(model)
    assert (net.hidden_activation, net.output_activation, net.cost) == ("tanh", "softmax", "log-loss")
    x = np.random.default_rng(0).random((7, 4))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(backprop(net, x, np.zeros((7, 3))).activations[-1], expected, rtol=1e-12)


@pytest.mark.parametrize(("modules", "match"), [
    (lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1)),
     "share one activation"),
    (lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Dropout(), nn.Linear(3, 1)), r"module 1 \(Dropout\)"),
    (lambda nn: nn.Sequential(nn.Tanh(), nn.Linear(2, 1)), "must start with nn.Linear"),
    (lambda nn: nn.Sequential(nn.Linear(2, 3), nn.GELU(approximate="tanh"), nn.Linear(3, 1)), "not the exact GELU"),
    (lambda nn: nn.Linear(2, 3), "needs an nn.Sequential"),
])
def test_from_torch_refuses_what_it_cannot_represent(modules, match):
    torch = pytest.importorskip("torch")
    with pytest.raises(FormatError, match=match):
        from_torch(modules(torch.nn))


def test_from_torch_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match="pip install torch"):
        from_torch(object())


def test_loaded_network_keeps_shape_and_finiteness_checks():
    with pytest.raises(ShapeError):
        Network([np.ones((2, 3))], [np.zeros(3)])
    with pytest.raises(NonFiniteError):
        Network([np.full((1, 1), np.inf)], [np.zeros(1)])
