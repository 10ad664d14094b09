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
    assert "input layer 1" in captured.out and "| layer l (1 = input, L = output) | k (Σ′ factors in (a)) |" in captured.out and "violations: 0" in captured.out
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


# ----- hostile network files: one line from the API, one line and exit 2 from the CLI -----------
def _n2(**change):
    payload = {"sizes": [2, 1], "weights": [[[1.0, 2.0]]], "biases": [[[0.5]]], "cost": "QuadraticCost"}
    return json.dumps({**payload, **change})


def _safetensors(header: dict | bytes, data: bytes = b"", length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return (len(raw) if length is None else length).to_bytes(8, "little") + raw + data


_F64 = np.ones((1, 2)).tobytes() + np.zeros(1).tobytes()
_NATIVE = {"format": '"gradmath-network"', "version": "1", "hidden_activation": '"sigmoid"',
           "output_activation": '"sigmoid"', "cost": '"quadratic"'}
_W2B2 = {"W2": {"dtype": "F64", "shape": [1, 2], "data_offsets": [0, 16]},
         "b2": {"dtype": "F64", "shape": [1], "data_offsets": [16, 24]}}


def _npz_meta(meta_text: str):
    def write(path):
        with open(path, "wb") as fh:
            np.savez(fh, metadata=np.array(meta_text), W2=np.ones((1, 2)), b2=np.zeros(1))
    return write


def _zip(members: dict):
    def write(path):
        import zipfile

        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    return write


def _text(content):
    return lambda path: path.write_text(content) if isinstance(content, str) else path.write_bytes(content)


HOSTILE = [
    # network2 JSON: wrong types, strict numbers, nesting
    ("n.json", _text(_n2(sizes=5)), "network2 sizes=5 must be a list of positive integers"),
    ("n.json", _text(_n2(sizes=None)), "network2 sizes=None must be a list"),
    ("n.json", _text(_n2(sizes=[2, True])), r"sizes=\[2, True\] must be a list of positive integers"),
    ("n.json", _text(_n2(cost=[])), r"network2 cost=\[\] is not one of CrossEntropyCost, QuadraticCost"),
    ("n.json", _text(_n2(cost={"a": 1})), "network2 cost={'a': 1} is not one of"),
    ("n.json", _text(_n2(weights="abc")), "network2 weights must be a list of 1 nested lists"),
    ("n.json", _text(_n2(weights=[[["1", "2"]]])), r"weights\[0\] must be a rectangular list of lists of numbers"),
    ("n.json", _text(_n2(weights=[[[True, False]]])), r"weights\[0\] must be a rectangular list"),
    ("n.json", _text(_n2(weights=[[[1.0, 2.0], [3.0]]])), r"weights\[0\] is not a rectangular list"),
    ("n.json", _text(_n2(weights=[[[10**30, 2]]])), r"weights\[0\] must be a rectangular list .*object"),
    ("n.json", _text(_n2(biases=[])), "network2 biases must be a list of 1"),
    ("n.json", _text('{"sizes": ' + "[" * 100_000), "JSON nested too deeply to parse"),
    ("n.json", _text(_n2().replace("[2, 1]", "[" + "9" * 5000 + ", 1]")), "an integer of 5000 digits; at most 400"),
    ("n.json", _text(_n2().replace("1.0", "1e999")), "the number 1e999 overflows float64"),
    ("n.json", _text(_n2().replace("1.0", "NaN")), "NaN is not a JSON number"),
    ("n.json", _text(_n2().replace("0.5", "-Infinity")), "-Infinity is not a JSON number"),
    ("n.json", _text(_n2()[:30]), "not valid JSON, truncated or corrupt"),
    ("n.json", _text(b'{"sizes": "\xff\xfe"}'), "not UTF-8"),
    ("n.json", _text('{"sizes": [2, 1], "colour": 1}'), "lacks weights, biases, cost"),
    ("n.json", _text(_n2()[:-1] + ', "activation": "tanh"}'), "unknown network2 key 'activation'"),
    # native .npz metadata
    ("m.npz", _npz_meta("[" * 100_000), "metadata: JSON nested too deeply"),
    ("m.npz", _npz_meta('["a"]'), "metadata must be a JSON object"),
    ("m.npz", _npz_meta(json.dumps({"format": "gradmath-network", "version": 1, "hidden_activation": "sigmoid",
                                    "output_activation": "sigmoid", "cost": "quadratic", "sizes": 5})),
     "metadata sizes=5 disagree"),
    ("m.npz", _npz_meta(json.dumps({"format": "gradmath-network", "version": 1, "hidden_activation": ["x"],
                                    "output_activation": "sigmoid", "cost": "quadratic"})),
     r"metadata hidden_activation=\['x'\] must be a string"),
    # safetensors
    ("s.safetensors", _text(_safetensors(b"{}", length=2**31)), "header of 2147483648 bytes is over the 8 MiB limit"),
    ("s.safetensors", _text(_safetensors(b"{}", length=4000)), "truncated or corrupt safetensors file"),
    ("s.safetensors", _text(_safetensors(b"{abc}")), "safetensors header: not valid JSON"),
    ("s.safetensors", _text(_safetensors(b'{"a": ' + b"[" * 100_000)), "safetensors header: JSON nested too deeply"),
    ("s.safetensors", _text(_safetensors({"W2": {"dtype": "I64", "shape": [1, 2], "data_offsets": [0, 16]}},
                                         b"\0" * 16)), "tensor 'W2' has dtype 'I64', expected floating point"),
    ("s.safetensors", _text(_safetensors({"W2": {"dtype": "F64", "shape": [10**6, 10**6], "data_offsets": [0, 16]}},
                                         b"\0" * 16)), "tensor 'W2': truncated or corrupt safetensors file"),
    ("s.safetensors", _text(_safetensors({"W2": {"dtype": "F64", "shape": [-1], "data_offsets": [0, 8]}}, b"\0" * 8)),
     r"shape \[-1\] must be a list"),
    ("s.safetensors", _text(_safetensors({"__metadata__": {"a": 1}}, b"")), "__metadata__ must map names to strings"),
    # tensors sharing bytes: each was read and widened to float64 (200 views of 1 MiB of F16 took 0.9 GB), and
    # these two made a network of W2 = [[1, 1]] and b2 = [1] from 16 bytes
    ("s.safetensors", _text(_safetensors({"__metadata__": _NATIVE, "W2": _W2B2["W2"],
                                          "b2": {"dtype": "F64", "shape": [1], "data_offsets": [8, 16]}}, _F64[:16])),
     "tensors 'W2' and 'b2' share bytes"),
    ("s.safetensors", _text(_safetensors({f"t{i}": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}
                                          for i in range(3)}, b"\0" * 8)), "tensors 't0' and 't1' share bytes"),
    ("s.safetensors", _text(_safetensors({"__metadata__": {**_NATIVE, "colour": '"red"'}, **_W2B2}, _F64)),
     "unknown metadata key 'colour'"),
    ("s.safetensors", _text(_safetensors({"__metadata__": {**_NATIVE, "version": "1" * 500}, **_W2B2}, _F64)),
     "an integer of 500 digits"),
    ("s.safetensors", _text(_safetensors({"0.weight": _W2B2["W2"], "0.bias": _W2B2["b2"]}, _F64)),
     "does not say how its output was trained: give --output and/or --cost"),
    # skops, pickles, other kinds
    ("k.skops", _zip({"schema.json": "{not json"}), "unreadable skops file"),
    ("k.skops", _zip({"schema.json": json.dumps({"__class__": "Popen", "__module__": "subprocess",
                                                 "__loader__": "ObjectNode", "content": {}, "protocol": 2,
                                                 "_skops_version": "0.10"})}), "skops"),
    ("k.skops", lambda p: _skops_dump(p, "system"), "skops file holds types gradmath does not load: posix.system"),
    ("k.skops", lambda p: _skops_dump(p, "model"), "skops file holds a FunctionTransformer, not an MLPClassifier"),
    ("m.pt", lambda p: p.write_bytes(_torch_save()), "a torch.save file .* never loads pickle"),
    ("m.pkl", _text(b"\x80\x04K\x01."), "a pickle or gzip file"),
    ("m.npy", lambda p: np.save(p, np.ones(3)), "a single .npy array, not a network"),
    ("m.bin", _text(b"\x00\x01garbage"), "not a network file"),
    ("m.npz", _text(b""), "empty file"),
    ("m.json", _zip({"W2.npy": b"x"}), "the file is an .npz archive, not network2 JSON as its suffix says"),
    ("m.npz", _text(_n2()), "the file is network2 JSON, not an .npz archive"),
]


def _torch_save() -> bytes:
    import io

    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    return buffer.getvalue()


def _skops_dump(path, what):
    import os

    sio = pytest.importorskip("skops.io")
    from sklearn.preprocessing import FunctionTransformer

    sio.dump(FunctionTransformer(func=os.system if what == "system" else None), path)


def _hostile_ids(row):
    return f"{row[0]}:{row[2][:30]}"


@pytest.mark.parametrize(("name", "write", "match"), HOSTILE, ids=[_hostile_ids(r) for r in HOSTILE])
def test_hostile_network_files_give_one_line(tmp_path, capsys, name, write, match):
    from gradmath.errors import FormatError
    from gradmath.formats import read_network

    if name.endswith(".skops"):
        pytest.importorskip("skops")
    path = tmp_path / name
    write(path)
    with pytest.raises(FormatError, match=match) as info:
        read_network(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400
    for command in (["verify", str(path)], ["speeds", "--model", str(path), "--seeds", "1"]):
        assert main([*command, "-q"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith(f"gradmath {command[0]}: error: {path}"), err


def test_special_files_and_size_limits(tmp_path, capsys, monkeypatch):
    import os

    from gradmath.formats import reading

    os.mkfifo(tmp_path / "fifo.npz")
    (tmp_path / "folder.npz").mkdir()
    with open(tmp_path / "big.json", "wb") as fh:  # sparse: no disk used
        fh.truncate(reading.MAX_JSON_BYTES + 1)
    for name, match in [("fifo.npz", "not a regular file"), ("folder.npz", "is a directory"),
                        ("big.json", "134217729 bytes is over the 128 MiB limit")]:
        assert main(["verify", str(tmp_path / name), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err, err


def test_skops_archive_that_unpacks_past_the_limit(tmp_path, monkeypatch):
    sio = pytest.importorskip("skops.io")
    from sklearn.neural_network import MLPRegressor

    from gradmath.errors import FormatError
    from gradmath.formats import read_network, sklearn

    rng = np.random.default_rng(0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(3,), max_iter=5).fit(rng.random((20, 2)), rng.random(20))
    sio.dump(model, tmp_path / "m.skops")
    monkeypatch.setattr(sklearn, "MAX_BINARY_BYTES", 1000)
    with pytest.raises(FormatError, match="skops archive unpacks to .* bytes, over the 0 MiB limit"):
        read_network(tmp_path / "m.skops")


# ----- models trained elsewhere, from the command line ----------------------------------------
def _verify_json(capsys, *argv):
    assert main(["verify", *argv, "--json", "-q"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def _library_report(network, examples: int):
    from gradmath.bounds import verify_network
    from gradmath.data import load_dataset

    data = load_dataset("digits", limit=examples)
    return json.loads(json.dumps(verify_network(network, data.x, data.y).to_json()))


def test_a_trained_mlp_classifier_through_skops_and_the_cli(tmp_path, capsys):
    sio = pytest.importorskip("skops.io")
    import warnings

    from sklearn.neural_network import MLPClassifier

    from gradmath.data import load_dataset
    from gradmath.formats import from_sklearn

    d = load_dataset("digits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after 40 iterations
        clf = MLPClassifier(hidden_layer_sizes=(20,), activation="tanh", max_iter=40, random_state=0).fit(d.x, d.y)
    sio.dump(clf, tmp_path / "clf.skops")
    payload = _verify_json(capsys, str(tmp_path / "clf.skops"), "--examples", "300")
    assert payload["model"]["format"] == "skops" and payload["model"]["notes"] == []
    assert payload["model"]["hidden_activation"] == "tanh" and payload["model"]["output_activation"] == "softmax"
    expected = _library_report(from_sklearn(clf), 300)
    assert {k: v for k, v in payload.items() if k != "model"} == expected
    assert main(["speeds", "--model", str(tmp_path / "clf.skops"), "--json", "-q"]) == 0
    assert [row["layer"] for row in json.loads(capsys.readouterr().out)["speeds"]] == [1]


def test_a_torch_state_dict_through_safetensors_and_the_cli(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    from gradmath.formats import ConversionNote, from_torch

    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 24), nn.Sigmoid(), nn.Linear(24, 16), nn.Sigmoid(), nn.Linear(16, 10))
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    with pytest.warns(ConversionNote):
        expected = _library_report(from_torch(model, loss=nn.CrossEntropyLoss()), 200)
    argv = [str(tmp_path / "m.safetensors"), "--activation", "sigmoid", "--cost", "log-loss", "--examples", "200"]
    payload = _verify_json(capsys, *argv)
    assert {k: v for k, v in payload.items() if k != "model"} == expected
    assert payload["model"]["format"] == "state_dict"
    assert any("implies a softmax output layer" in note for note in payload["model"]["notes"])
    assert main(["verify", *argv]) == 0
    assert "note: cost='log-loss' on logits implies a softmax" in capsys.readouterr().out
    assert main(["speeds", "--model", str(tmp_path / "m.safetensors"), "--activation", "sigmoid", "--output",
                 "sigmoid", "--cost", "cross-entropy"]) == 0
    out = capsys.readouterr().out
    assert "note: a PyTorch state_dict: hidden activation sigmoid, output sigmoid, cost cross-entropy" in out
    assert "hidden layer 2:" in out
    assert main(["verify", str(tmp_path / "m.safetensors"), "--cost", "log-loss", "-q"]) == 2
    assert "give the hidden activation (--activation" in capsys.readouterr().err


def test_network2_says_which_activation_it_assumed_and_activation_overrides_it(tmp_path, capsys):
    from gradmath.formats import load_network

    net = Network.random((64, 12, 10), seed=4, cost="cross-entropy")
    path = save_network(net, tmp_path / "n.json")
    assert main(["verify", str(path), "--examples", "50"]) == 0
    assert "note: network2 JSON states no activation: read as sigmoid in every layer" in capsys.readouterr().out
    payload = _verify_json(capsys, str(path), "--examples", "50", "--activation", "tanh")
    assert payload["model"]["hidden_activation"] == "tanh" and payload["model"]["output_activation"] == "sigmoid"
    assert payload["model"]["notes"] == ["network2 JSON states no activation: hidden layers read as tanh (as given), "
                                         "output layer as sigmoid (network2.py)"]
    expected = _library_report(load_network(path, activation="tanh"), 50)
    assert {k: v for k, v in payload.items() if k != "model"} == expected
    assert expected != _library_report(net, 50)  # the override changes the network verified
    assert main(["speeds", "--model", str(path), "--activation", "tanh", "--json", "-q"]) == 0
    speeds_tanh = json.loads(capsys.readouterr().out)
    assert speeds_tanh["model"]["hidden_activation"] == "tanh"
    assert main(["verify", str(path), "--cost", "quadratic", "-q"]) == 2
    assert "the file states cost 'cross-entropy'; cost='quadratic' disagrees" in capsys.readouterr().err
    assert main(["verify", str(path), "--output", "softmax", "-q"]) == 2
    assert "cost='cross-entropy' needs output_activation='sigmoid'" in capsys.readouterr().err
    assert main(["speeds", "--cost", "quadratic", "--seeds", "1", "-q"]) == 2
    assert "--output and --cost describe a --model file" in capsys.readouterr().err


def test_files_that_state_their_activations_refuse_other_options(digits_net, capsys):
    assert main(["verify", str(digits_net), "--activation", "tanh", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the file states activation 'sigmoid'; activation='tanh' disagrees" in err
    assert main(["verify", str(digits_net), "--activation", "sigmoid", "--examples", "20", "-q"]) == 0


def test_a_leaky_relu_state_dict_by_name_from_the_cli(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    from gradmath.formats import ConversionNote, from_torch

    nn = torch.nn
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(64, 20), nn.LeakyReLU(0.05), nn.Linear(20, 10))
    save_file(model.state_dict(), str(tmp_path / "lr.safetensors"))
    with pytest.warns(ConversionNote):
        expected = _library_report(from_torch(model, loss=nn.CrossEntropyLoss()), 100)
    payload = _verify_json(capsys, str(tmp_path / "lr.safetensors"), "--activation", "leaky_relu_0_05", "--cost",
                           "log-loss", "--examples", "100")
    assert payload["model"]["hidden_activation"] == "leaky_relu_0_05"
    assert {k: v for k, v in payload.items() if k != "model"} == expected
