"""Network files (npz, network2 JSON, safetensors) and conversion from scikit-learn and PyTorch."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

from gradmath.activations import get_activation
from gradmath.backprop import backprop
from gradmath.errors import FormatError, MissingDependencyError, NonFiniteError, ShapeError
from gradmath.formats import ConversionNote, from_sklearn, from_torch, load_network, read_network, save_network
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
    (lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Dropout(), nn.Sigmoid(), nn.Linear(3, 1)),
     r"module 3 \(Sigmoid\): two activations in a row"),
    (lambda nn: nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(1.5), nn.Linear(3, 1)),
     r"module 1: LeakyReLU\(negative_slope=1.5\) is supported for 0 < negative_slope < 1"),
    (lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Softplus(beta=-1), nn.Linear(3, 1)),
     r"Softplus\(beta=-1\) needs a positive, finite beta"),
    (lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Softplus(threshold=5), nn.Linear(3, 1)),
     r"Softplus\(threshold=5\) switches to x"),
    (lambda nn: nn.Sequential(nn.Flatten(0), nn.Linear(2, 1)), r"module 0: Flatten\(start_dim=0"),
    (lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=0)), r"Softmax\(dim=0\) must act on dim=-1"),
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


# ----- identity: networks with linear layers load in any process ----------------------------
def _regressor():
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(5)
    x = rng.random((40, 3))
    return _fit(MLPRegressor(hidden_layer_sizes=(4,), activation="identity", max_iter=20, random_state=0), x,
                rng.random((40, 2))), x


def test_linear_networks_round_trip_in_a_fresh_process_and_the_cli(tmp_path):
    import subprocess

    torch = pytest.importorskip("torch")
    model, x = _regressor()
    torch.manual_seed(0)
    logits = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    with pytest.warns(ConversionNote, match="logits and no loss or cost"):
        torch_net = from_torch(logits)
    nets = {"sk": from_sklearn(model), "torch": torch_net}
    assert nets["sk"].hidden_activation == nets["sk"].output_activation == "identity"
    assert (torch_net.hidden_activation, torch_net.output_activation, torch_net.cost) == ("identity", "identity",
                                                                                         "quadratic")
    np.savez(tmp_path / "d.npz", x=x, y=np.random.default_rng(1).random((40, 2)))
    paths = [save_network(net, tmp_path / f"{name}{suffix}") for name, net in nets.items()
             for suffix in (".npz", ".safetensors")]
    script = ("import sys, json\nfrom gradmath.formats import load_network\nfrom gradmath.cli import main\n"
              "for p in sys.argv[1:-1]:\n"
              "    n = load_network(p); print(json.dumps([n.hidden_activation, n.output_activation]))\n"
              "    assert main(['verify', p, '--data', sys.argv[-1], '--json', '-q']) == 0\n")
    done = subprocess.run([sys.executable, "-c", script, *map(str, paths), str(tmp_path / "d.npz")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('["identity", "identity"]') == 4 and done.stdout.count('\n  "violations": 0,') == 4
    for path in paths:
        assert _same(load_network(path), nets[path.stem])


def test_identity_is_built_in_and_cannot_be_replaced():
    from gradmath.activations import get_activation, register_activation
    from gradmath.errors import InvalidParameterError

    z = np.array([-1e300, -2.0, 0.0, 3.5])
    identity = get_activation("identity")
    assert np.array_equal(identity.sigma(z), z) and np.array_equal(identity.prime(z), np.ones(4))
    assert identity.gamma.exact == 1
    with pytest.raises(InvalidParameterError, match="built-in"):
        register_activation("identity", "2*x", overwrite=True)


# ----- PyTorch: losses, pass-through modules, δ against autograd ------------------------------
def _autograd_deltas(torch, model, x, loss, target):
    """δˡ = ∂(loss summed over examples)/∂zˡ at every Linear output, by torch autograd."""
    outputs = []

    def keep(module, inputs, out):
        out.retain_grad()
        outputs.append(out)

    hooks = [m.register_forward_hook(keep) for m in model if isinstance(m, torch.nn.Linear)]
    value = loss(model(torch.from_numpy(x)), target)
    value.backward()
    for hook in hooks:
        hook.remove()
    return [z.grad.numpy() for z in outputs]


def _assert_deltas(net, x, y, expected, scale=1.0):
    got = backprop(net, x, y).deltas
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        # float64 on both sides, a few roundings per term over at most 6-term sums and 3 layers: 64ε of the layer
        np.testing.assert_allclose(scale * g, e, rtol=0, atol=64 * np.finfo(float).eps * max(np.abs(e).max(), 1e-300))


@pytest.mark.parametrize("way", ["loss", "cost"])
@pytest.mark.parametrize(("loss_name", "output", "cost"), [
    ("CrossEntropyLoss", "softmax", "log-loss"), ("BCEWithLogitsLoss", "sigmoid", "cross-entropy")])
def test_logits_with_their_loss_become_softmax_or_sigmoid_with_a_note(way, loss_name, output, cost):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Dropout(0.3), nn.Linear(6, 3)).double().eval()
    kwargs = {"loss": getattr(nn, loss_name)()} if way == "loss" else {"cost": cost}
    with pytest.warns(ConversionNote) as notes:
        net = from_torch(model, **kwargs)
    assert (net.hidden_activation, net.output_activation, net.cost) == ("tanh", output, cost)
    text = " ".join(str(n.message) for n in notes)
    assert "module 2 (Dropout) read as the identity" in text and output in text
    rng = np.random.default_rng(2)
    x = rng.random((5, 4))
    if output == "softmax":
        labels = np.array([0, 2, 1, 1, 0])
        y, target = np.eye(3)[labels], torch.from_numpy(labels)
    else:
        y = (rng.random((5, 3)) > 0.5).astype(float)
        target = torch.from_numpy(y)
    expected = _autograd_deltas(torch, model, x, getattr(nn, loss_name)(reduction="sum"), target)
    _assert_deltas(net, x, y, expected)


def test_nll_after_log_softmax_and_mse_match_autograd():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(2)
    rng = np.random.default_rng(3)
    x, labels = rng.random((6, 3)), np.array([0, 1, 1, 0, 1, 0])
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 5), nn.Softplus(), nn.Linear(5, 2), nn.LogSoftmax(dim=-1))
    model = model.double()
    with pytest.warns(ConversionNote) as notes:
        net = from_torch(model, loss=nn.NLLLoss())
    assert [str(n.message)[:30] for n in notes] == ["module 0 (Flatten) read as the", "module 2: Softplus(threshold=2",
                                                    "nn.LogSoftmax read as a softma"]
    assert "exact ln(1+e^(βx))/β, which differs there by less than e^-20 in σ′ and e^-20/β in σ" in str(notes[1].message)
    assert (net.hidden_activation, net.output_activation, net.cost) == ("softplus", "softmax", "log-loss")
    _assert_deltas(net, x, np.eye(2)[labels],
                   _autograd_deltas(torch, model, x, nn.NLLLoss(reduction="sum"), torch.from_numpy(labels)))
    model = nn.Sequential(nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 2), nn.Identity()).double()
    with pytest.warns(ConversionNote) as notes:
        net = from_torch(model, loss=nn.MSELoss())
    assert [str(n.message)[:36] for n in notes] == ["module 3 (Identity) read as the iden",
                                                    "nn.MSELoss read as the quadratic cos"]
    assert (net.output_activation, net.cost) == ("identity", "quadratic")
    y = rng.random((6, 2))
    # MSELoss(sum) = ‖a − y‖² = 2 C, so autograd's δ is twice gradmath's
    _assert_deltas(net, x, y, _autograd_deltas(torch, model, x, nn.MSELoss(reduction="sum"), torch.from_numpy(y)),
                   scale=2.0)


@pytest.mark.parametrize(("modules", "kwargs", "match"), [
    (lambda nn: [nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2), nn.LogSoftmax(dim=-1)], {"cost": "quadratic"},
     "LogSoftmax outputs log-probabilities, not a softmax"),
    (lambda nn: [nn.Linear(2, 2), nn.LogSoftmax(dim=-1)], {"loss": "MSELoss"}, "MSELoss on nn.LogSoftmax"),
    (lambda nn: [nn.Linear(2, 2), nn.Softmax(dim=-1)], {"loss": "CrossEntropyLoss"},
     "CrossEntropyLoss expects logits .* ends with nn.Softmax"),
    (lambda nn: [nn.Linear(2, 2)], {"loss": "NLLLoss"}, "NLLLoss expects nn.LogSoftmax .* ends with logits"),
    (lambda nn: [nn.Linear(2, 2)], {"loss": "BCELoss"}, "BCELoss expects nn.Sigmoid"),
    (lambda nn: [nn.Linear(2, 2)], {"loss": "L1Loss"}, "loss=L1Loss: gradmath reads"),
    (lambda nn: [nn.Linear(2, 2)], {"loss": "CrossEntropyLoss", "cost": "quadratic"}, "disagrees with loss"),
])
def test_from_torch_refuses_losses_that_do_not_fit(modules, kwargs, match):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    if "loss" in kwargs:
        kwargs = {**kwargs, "loss": getattr(nn, kwargs["loss"])()}
    with pytest.raises(FormatError, match=match):
        from_torch(nn.Sequential(*modules(nn)), **kwargs)


@pytest.mark.parametrize(("loss", "match"), [
    (lambda nn, torch: nn.CrossEntropyLoss(weight=torch.ones(2)), r"CrossEntropyLoss\(weight=...\)"),
    (lambda nn, torch: nn.CrossEntropyLoss(label_smoothing=0.1), "label_smoothing=0.1"),
    (lambda nn, torch: nn.BCEWithLogitsLoss(pos_weight=torch.ones(2)), "pos_weight"),
])
def test_from_torch_refuses_weighted_or_smoothed_losses(loss, match):
    torch = pytest.importorskip("torch")
    with pytest.raises(FormatError, match=match):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2)), loss=loss(torch.nn, torch))


# ----- state_dict in safetensors, skops ---------------------------------------------------------
def test_state_dict_in_safetensors_matches_from_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    nn = torch.nn
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 3))
    with pytest.warns(ConversionNote):
        expected = from_torch(model, loss=nn.CrossEntropyLoss())
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    loaded = read_network(tmp_path / "m.safetensors", activation="relu", cost="log-loss")
    assert loaded.format == "state_dict" and _same(loaded.network, expected)
    assert "implies a softmax output" in loaded.notes[1]
    save_file({k: v.to(torch.bfloat16) for k, v in model.state_dict().items()}, str(tmp_path / "half.safetensors"))
    half = load_network(tmp_path / "half.safetensors", activation="relu", output="softmax")
    for w, w16 in zip(expected.weights, half.weights):  # bfloat16 keeps 8 significant bits
        np.testing.assert_allclose(w16, w, rtol=2.0**-8)
        assert np.array_equal(w16, torch.tensor(w).to(torch.bfloat16).double().numpy())


@pytest.mark.parametrize(("tensors", "kwargs", "match"), [
    ({"0.weight": np.ones((3, 2)), "2.weight": np.ones((1, 3))}, {"cost": "quadratic"}, "give the hidden activation"),
    ({"0.weight": np.ones((1, 2))}, {}, "does not say how its output was trained"),
    ({"0.weight": np.ones((3, 2)), "1.running_mean": np.ones(3)}, {"cost": "quadratic"},
     "'1.running_mean' is not a Linear layer's weight or bias"),
    ({"fc1.weight": np.ones((3, 2)), "fc2.weight": np.ones((1, 4))}, {"activation": "tanh", "cost": "quadratic"},
     r"layer fc2: weight shape \(1, 4\) does not follow a layer of width 3"),
    ({"0.bias": np.ones(3)}, {"cost": "quadratic"}, "a bias without a weight"),
    ({"fc10.weight": np.ones((1, 3)), "fc2.weight": np.ones((3, 2)), "fc9.weight": np.ones((2, 2))},
     {"activation": "tanh", "cost": "quadratic"}, r"layer fc9: .* in the order fc2, fc9, fc10\)"),
])
def test_state_dict_refusals(tensors, kwargs, match):
    from gradmath.formats import from_state_dict

    with pytest.raises(FormatError, match=match):
        from_state_dict(tensors, activation=kwargs.get("activation"), output=kwargs.get("output"),
                        cost=kwargs.get("cost"))


def test_skops_file_round_trip_and_refusals(tmp_path):
    sio = pytest.importorskip("skops.io")
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(4)
    x, labels = rng.random((50, 4)), rng.integers(0, 3, 50)
    clf = _fit(MLPClassifier(hidden_layer_sizes=(5,), activation="relu", max_iter=30, random_state=0), x, labels)
    sio.dump(clf, tmp_path / "m.skops")
    loaded = read_network(tmp_path / "m.skops")
    assert loaded.format == "skops" and loaded.notes == () and _same(loaded.network, from_sklearn(clf))
    with pytest.raises(FormatError, match="the file states activation 'relu'; activation='tanh' disagrees"):
        read_network(tmp_path / "m.skops", activation="tanh")
    sio.dump(_fit(make_pipeline(StandardScaler(), LogisticRegression()), x, labels), tmp_path / "p.skops")
    with pytest.raises(FormatError, match="not an MLPClassifier or MLPRegressor|types gradmath does not load"):
        load_network(tmp_path / "p.skops")


def test_softplus_with_beta_matches_autograd_and_round_trips(tmp_path):
    import subprocess

    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 5), nn.Softplus(beta=2.5), nn.Linear(5, 2), nn.Sigmoid()).double()
    with pytest.warns(ConversionNote) as notes:
        net = from_torch(model)
    assert net.hidden_activation == "softplus_beta_2_5" and net.cost == "cross-entropy"
    assert "registered as the activation 'softplus_beta_2_5'" in str(notes[1].message)
    rng = np.random.default_rng(6)
    x, y = rng.random((6, 3)), (rng.random((6, 2)) > 0.5).astype(float)
    _assert_deltas(net, x, y, _autograd_deltas(torch, model, x, nn.BCELoss(reduction="sum"), torch.from_numpy(y)))
    # beyond βz = 20 PyTorch uses x itself: σ′ differs from the exact one by less than e^-20, as the note says
    z = np.linspace(-400.0, 400.0, 8001)
    zt = torch.from_numpy(z).requires_grad_()
    nn.functional.softplus(zt, beta=2.5).sum().backward()
    act = get_activation(net.hidden_activation)
    assert np.abs(act.prime(z) - zt.grad.numpy()).max() < np.exp(-20.0)
    assert np.abs(act.sigma(z) - nn.functional.softplus(zt, beta=2.5).detach().numpy()).max() < np.exp(-20.0) / 2.5
    path = save_network(net, tmp_path / "sp.npz")
    script = ("import sys\nfrom gradmath.formats import read_network\nr = read_network(sys.argv[1])\n"
              "print(r.network.hidden_activation, r.notes)")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("softplus_beta_2_5 (\"activation 'softplus_beta_2_5' registered from the file's "
                                  "expression 2*log(1 + exp(-5*Abs(x)/2))/5 + Max(0, x)\",)")
    assert _same(load_network(path), net)


@pytest.mark.parametrize(("expressions", "match"), [
    ({"evil": "__import__('os').system('echo hacked')"}, "only plain function calls"),
    ({"sigmoid": "x"}, "activation 'sigmoid' is x in the file but"),
    (["x"], "expressions must map activation names to expression strings"),
    ({"a": "x", "b": "x", "c": "x"}, "name 'a', which is not one of the network's activations"),
])
def test_metadata_expressions_go_through_the_safe_parser(tmp_path, capfd, expressions, match):
    hidden = next(iter(expressions)) if isinstance(expressions, dict) and len(expressions) == 1 else "sigmoid"
    path = _write_npz(tmp_path / "e.npz", {**_META, "hidden_activation": hidden, "expressions": expressions},
                      W2=np.ones((1, 2)), b2=np.zeros(1))
    with pytest.raises(FormatError, match=match):
        load_network(path)
    assert "hacked" not in capfd.readouterr().out


def test_leaky_relu_matches_autograd_away_from_zero_and_round_trips(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.2), nn.Linear(6, 6), nn.LeakyReLU(0.2), nn.Linear(6, 3))
    model = model.double()
    with pytest.warns(ConversionNote) as notes:
        net = from_torch(model, loss=nn.CrossEntropyLoss())
    assert (net.hidden_activation, net.output_activation, net.cost) == ("leaky_relu_0_2", "softmax", "log-loss")
    assert "its σ′(0) is (1 + a)/2 where PyTorch's autograd takes a" in str(notes[0].message)
    rng = np.random.default_rng(7)
    x, labels = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    expected = _autograd_deltas(torch, model, x, nn.CrossEntropyLoss(reduction="sum"), torch.from_numpy(labels))
    assert all(np.all(z != 0) for z in backprop(net, x, np.eye(3)[labels]).weighted_inputs)  # away from the kink
    _assert_deltas(net, x, np.eye(3)[labels], expected)
    act = get_activation("leaky_relu_0_2")
    assert act.prime(np.array([-3.0, 0.0, 2.0])).tolist() == [0.2, 0.6, 1.0] and act.gamma.exact == 1
    assert _same(load_network(save_network(net, tmp_path / "lr.safetensors")), net)


# ----- generated files: every one is read or refused in one line --------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                     | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=12)
_VALID = {"sizes": [2, 1], "weights": [[[1.0, 2.0]]], "biases": [[[0.5]]], "cost": "QuadraticCost"}


@given(key=st.sampled_from(sorted(_VALID)), value=_JSON)
def test_network2_fields_of_any_json_type_are_read_or_refused_in_one_line(key, value):
    from gradmath.formats.network2 import network_from_network2
    from gradmath.formats.reading import parse_json

    try:  # the text read_network parses, without the file (tested above)
        net, _ = network_from_network2(parse_json(json.dumps({**_VALID, key: value}), where="n.json"), where="n.json")
    except (FormatError, ShapeError, NonFiniteError) as err:  # read_network words the last two as FormatError
        assert "\n" not in str(err)
    else:  # only values that mean the same network are accepted
        assert net.sizes == (2, 1) and net.cost == "quadratic"


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from([".npz", ".safetensors", ".json"]), data=st.data())
def test_damaged_network_files_are_refused_in_one_line(tmp_path, suffix, data):
    net = Network.random((3, 2, 2), seed=0, cost="quadratic")
    good = save_network(net, tmp_path / f"good{suffix}").read_bytes()
    position = data.draw(st.integers(0, len(good) - 1))
    kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    byte = data.draw(st.integers(0, 255))
    if kind == "flip":
        damaged = good[:position] + bytes([good[position] ^ (byte or 1)]) + good[position + 1:]
    elif kind == "cut":
        damaged = good[:position]
    else:
        damaged = good[:position] + bytes([byte]) + good[position:]
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(damaged)
    try:
        back = load_network(path)
    except FormatError as err:
        assert "\n" not in str(err)
    else:  # a change the format cannot see (padding, a digit of a weight) still gives a valid network
        assert back.sizes == net.sizes and all(np.isfinite(w).all() for w in back.weights + back.biases)
