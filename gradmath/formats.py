"""Networks in and out: native ``.npz``, Nielsen's network2 JSON, safetensors, scikit-learn, PyTorch.

Never a pickle: ``.npz`` files are read with ``allow_pickle=False``, and the
metadata travels as a JSON string.

* **native .npz**: arrays ``W2 … WL`` and ``b2 … bL`` in the proofs' notation (layer 1 is
  the input layer, so the first weight matrix is w²), plus ``metadata``, a JSON string
  ``{"format": "gradmath-network", "version": 1, "hidden_activation", "output_activation", "cost"}``;
* **network2 JSON** (``.json``): ``{"sizes", "weights", "biases", "cost"}`` as Nielsen's
  ``network2.save`` writes it (sigmoid units, biases as column vectors, cost
  ``"CrossEntropyCost"`` or ``"QuadraticCost"``);
* **safetensors** (``.safetensors``, needs ``pip install safetensors``): the same tensors as
  the ``.npz`` and the metadata fields as the file's string metadata.

Examples
--------
>>> import tempfile, pathlib
>>> from gradmath.network import Network
>>> net = Network.random((4, 3, 2), seed=0, cost="log-loss", output_activation="softmax")
>>> with tempfile.TemporaryDirectory() as d:
...     path = save_network(net, pathlib.Path(d) / "net.npz")
...     back = load_network(path)
...     broken = pathlib.Path(d) / "broken.npz"
...     _ = broken.write_bytes(path.read_bytes()[:100])
...     load_network(broken)
Traceback (most recent call last):
...
gradmath.errors.FormatError: .../broken.npz: truncated or corrupt .npz archive (...)
>>> back.output_activation, all((a == b).all() for a, b in zip(back.weights, net.weights))
('softmax', True)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gradmath.errors import FormatError, GradmathError, MissingDependencyError
from gradmath.network import SOFTMAX, Network
from gradmath.npz import read_npz
from gradmath.userfiles import check_user_path
from gradmath.validation import check_choice

__all__ = ["load_network", "save_network", "from_sklearn", "from_torch", "FORMATS"]

#: File formats by suffix.
FORMATS = {".npz": "npz", ".json": "network2", ".safetensors": "safetensors"}

_FORMAT_NAME = "gradmath-network"
_VERSION = 1
_META_KEYS = {"format", "version", "hidden_activation", "output_activation", "cost", "sizes"}
_NETWORK2_COSTS = {"CrossEntropyCost": "cross-entropy", "QuadraticCost": "quadratic"}


# ----- files -------------------------------------------------------------------------------
def save_network(network: Network, path, *, format: str | None = None) -> Path:
    """Write ``network`` to ``path`` (format from the suffix unless given) and return the path.

    network2 JSON holds sigmoid networks with a quadratic or cross-entropy cost only.
    """
    path = Path(path)
    fmt = _format_of(path, format)
    if fmt == "network2":
        _check_network2_compatible(network)
        payload = {
            "sizes": list(network.sizes),
            "weights": [w.tolist() for w in network.weights],
            "biases": [b.reshape(-1, 1).tolist() for b in network.biases],
            "cost": {v: k for k, v in _NETWORK2_COSTS.items()}[network.cost],
        }
        path.write_text(json.dumps(payload), encoding="utf-8")
        return path
    tensors = _tensors(network)
    meta = _metadata(network)
    if fmt == "npz":
        with path.open("wb") as fh:  # a file object keeps numpy from appending ".npz"
            np.savez(fh, metadata=np.array(json.dumps(meta)), **tensors)
        return path
    safetensors_numpy = _import_safetensors()
    safetensors_numpy.save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path),
                                metadata={k: json.dumps(v) for k, v in meta.items()})
    return path


def load_network(path, *, format: str | None = None) -> Network:
    """Read a network written by :func:`save_network`, Nielsen's ``network2.save`` or safetensors.

    Raises
    ------
    FormatError
        The file is missing, truncated, corrupt, or holds unknown metadata or arrays.
    MissingDependencyError
        A ``.safetensors`` file without the ``safetensors`` package.
    """
    path = Path(path)
    fmt = _format_of(path, format)
    check_user_path(path, error=FormatError)  # a regular readable file of at most 1 GiB, never a FIFO or folder
    try:
        if fmt == "network2":
            return _load_network2(path)
        if fmt == "npz":
            return _load_npz(path)
        return _load_safetensors(path)
    except GradmathError as err:
        if isinstance(err, (FormatError, MissingDependencyError)):
            raise
        raise FormatError(f"{path}: {err}") from err


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        return check_choice("format", format, tuple(FORMATS.values()))
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise FormatError(f"{path}: unknown network file suffix {suffix!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def _tensors(network: Network) -> dict[str, np.ndarray]:
    out = {}
    for layer in range(2, network.depth + 1):
        out[f"W{layer}"] = network.weight(layer)
        out[f"b{layer}"] = network.bias(layer)
    return out


def _metadata(network: Network) -> dict:
    return {"format": _FORMAT_NAME, "version": _VERSION, "hidden_activation": network.hidden_activation,
            "output_activation": network.output_activation, "cost": network.cost, "sizes": list(network.sizes)}


def _from_arrays(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> Network:
    unknown = set(meta) - _META_KEYS
    if unknown:
        raise FormatError(f"{path}: unknown metadata key {sorted(unknown)[0]!r}; known: {', '.join(sorted(_META_KEYS))}")
    if meta.get("format") != _FORMAT_NAME:
        raise FormatError(f"{path}: metadata format={meta.get('format')!r}, expected {_FORMAT_NAME!r}")
    if meta.get("version") != _VERSION:
        raise FormatError(f"{path}: metadata version={meta.get('version')!r}, this gradmath reads version {_VERSION}")
    for key in ("hidden_activation", "output_activation", "cost"):
        if not isinstance(meta.get(key), str):
            raise FormatError(f"{path}: metadata {key}={meta.get(key)!r} must be a string")
    depth = 1 + sum(1 for k in arrays if k.startswith("W"))
    expected = {f"{p}{layer}" for layer in range(2, depth + 1) for p in "Wb"}
    if set(arrays) != expected:
        odd = sorted(set(arrays) ^ expected)
        raise FormatError(f"{path}: arrays must be W2..W{depth} and b2..b{depth}; unexpected or missing: {', '.join(odd)}")
    for name, arr in arrays.items():
        if arr.dtype.kind != "f":
            raise FormatError(f"{path}: array {name} has dtype {arr.dtype}, expected floating point")
    network = Network(tuple(arrays[f"W{l}"] for l in range(2, depth + 1)),
                      tuple(arrays[f"b{l}"] for l in range(2, depth + 1)),
                      meta["hidden_activation"], meta["output_activation"], meta["cost"])
    if "sizes" in meta and list(meta["sizes"]) != list(network.sizes):
        raise FormatError(f"{path}: metadata sizes={meta['sizes']} disagree with the arrays' {list(network.sizes)}")
    return network


def _load_npz(path: Path) -> Network:
    arrays = read_npz(path)
    if "metadata" not in arrays:
        raise FormatError(f"{path}: no 'metadata' array; write the file with gradmath.formats.save_network")
    meta = _parse_json(path, str(arrays.pop("metadata")))
    return _from_arrays(path, arrays, meta)


def _parse_json(path: Path, text: str):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise FormatError(f"{path}: metadata is not valid JSON ({err.msg} at character {err.pos})") from err
    if not isinstance(value, dict):
        raise FormatError(f"{path}: metadata must be a JSON object")
    return value


def _import_safetensors():
    try:
        import safetensors.numpy as safetensors_numpy
    except ImportError as err:
        raise MissingDependencyError(
            "safetensors files need the safetensors package: pip install safetensors "
            "(or pip install 'gradmath[safetensors]')") from err
    return safetensors_numpy


def _load_safetensors(path: Path) -> Network:
    safetensors_numpy = _import_safetensors()
    from safetensors import safe_open

    try:
        arrays = safetensors_numpy.load_file(str(path))
        with safe_open(str(path), framework="numpy") as fh:
            raw = fh.metadata() or {}
    except Exception as err:  # safetensors raises its own SafetensorError and OSError
        raise FormatError(f"{path}: not a readable safetensors file (truncated or corrupt: {err})") from err
    meta = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value)
        except json.JSONDecodeError:
            meta[key] = value
    return _from_arrays(path, dict(arrays), meta)


def _load_network2(path: Path) -> Network:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FormatError(f"{path}: not a network2 JSON file (truncated or corrupt: {err})") from err
    if not isinstance(data, dict):
        raise FormatError(f"{path}: network2 JSON must be an object with sizes, weights, biases, cost")
    missing = [k for k in ("sizes", "weights", "biases", "cost") if k not in data]
    if missing:
        raise FormatError(f"{path}: network2 JSON lacks {', '.join(missing)}")
    unknown = set(data) - {"sizes", "weights", "biases", "cost"}
    if unknown:
        raise FormatError(f"{path}: unknown network2 key {sorted(unknown)[0]!r}")
    if data["cost"] not in _NETWORK2_COSTS:
        raise FormatError(f"{path}: network2 cost={data['cost']!r} is not one of {', '.join(_NETWORK2_COSTS)}")
    try:
        weights = [np.array(w, dtype=np.float64) for w in data["weights"]]
        biases = [np.array(b, dtype=np.float64) for b in data["biases"]]
    except (TypeError, ValueError) as err:
        raise FormatError(f"{path}: network2 weights and biases must be nested lists of numbers ({err})") from err
    network = Network(tuple(weights), tuple(biases), "sigmoid", "sigmoid", _NETWORK2_COSTS[data["cost"]])
    if list(data["sizes"]) != list(network.sizes):
        raise FormatError(f"{path}: sizes={data['sizes']} disagree with the weights' {list(network.sizes)}")
    return network


def _check_network2_compatible(network: Network) -> None:
    if (network.hidden_activation, network.output_activation) != ("sigmoid", "sigmoid") or \
            network.cost not in _NETWORK2_COSTS.values():
        raise FormatError("network2 JSON holds sigmoid networks with a quadratic or cross-entropy cost; "
                          f"got {network!r} (save it as .npz instead)")


# ----- other libraries ---------------------------------------------------------------------
_SKLEARN_ACTIVATIONS = {"logistic": "sigmoid", "tanh": "tanh", "relu": "relu", "identity": "identity"}


def _identity() -> str:
    """Register σ(x) = x (γ = 1) for linear layers, once."""
    from gradmath.activations import activation_names, register_activation

    if "identity" not in activation_names():
        register_activation("identity", "x", description="identity (linear layer)")
    return "identity"


def from_sklearn(model) -> Network:
    """A :class:`Network` from a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor``.

    Output and cost follow the model's loss: softmax with log-loss (multi-class),
    sigmoid with cross-entropy (binary or multi-label), identity with the
    quadratic cost ½‖aᴸ − y‖² (regressor; scikit-learn's squared loss also divides
    by the number of outputs, which scales every δ alike). Linear (``"identity"``)
    layers use an activation σ(x) = x registered on first use.

    >>> import numpy as np
    >>> from sklearn.neural_network import MLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((40, 3)); labels = (x.sum(axis=1) > 1.5).astype(int) + (x[:, 0] > 0.5)
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")   # ConvergenceWarning after 50 iterations
    ...     clf = MLPClassifier(hidden_layer_sizes=(5,), activation="logistic", max_iter=50, random_state=0).fit(x, labels)
    >>> from_sklearn(clf)
    Network(sizes=(3, 5, 3), hidden_activation='sigmoid', output_activation='softmax', cost='log-loss')
    """
    coefs = getattr(model, "coefs_", None)
    intercepts = getattr(model, "intercepts_", None)
    if coefs is None or intercepts is None:
        raise FormatError(f"{type(model).__name__} is not a fitted scikit-learn MLP (no coefs_; call fit first)")
    hidden = _SKLEARN_ACTIVATIONS.get(getattr(model, "activation", None))
    if hidden is None:
        raise FormatError(f"scikit-learn activation={model.activation!r} has no gradmath counterpart")
    out = getattr(model, "out_activation_", None)
    if out == "softmax":
        output, cost = SOFTMAX, "log-loss"
    elif out == "logistic":
        output, cost = "sigmoid", "cross-entropy"
    elif out == "identity":
        output, cost = _identity(), "quadratic"
    else:
        raise FormatError(f"scikit-learn out_activation_={out!r} has no gradmath counterpart")
    if hidden == "identity":
        hidden = _identity()
    weights = tuple(np.asarray(c, dtype=np.float64).T for c in coefs)
    biases = tuple(np.asarray(b, dtype=np.float64) for b in intercepts)
    return Network(weights, biases, hidden, output, cost)


def from_torch(module, *, cost: str | None = None) -> Network:
    """A :class:`Network` from a PyTorch ``nn.Sequential`` of ``Linear`` layers and elementwise activations.

    The pattern is Linear, σ, Linear, σ, …, Linear, then optionally one output
    module: ``Sigmoid``, ``Softmax(dim=-1)``/``Softmax(dim=1)``, ``LogSoftmax`` (read as softmax
    with log-loss), or an elementwise activation. Hidden activations: ``Sigmoid``, ``Tanh``,
    ``ReLU``, ``GELU`` (exact), ``SiLU``, ``Softplus`` (β = 1), ``Softsign``. The default
    cost is log-loss after softmax, cross-entropy after sigmoid, quadratic otherwise.

    Raises
    ------
    MissingDependencyError
        PyTorch is not installed (``pip install torch``).
    FormatError
        A module outside that pattern (the message names its position).
    """
    try:
        import torch
        from torch import nn
    except ImportError as err:
        raise MissingDependencyError("from_torch needs PyTorch: pip install torch (or pip install 'gradmath[torch]')") from err
    if not isinstance(module, nn.Sequential):
        raise FormatError(f"from_torch needs an nn.Sequential, got {type(module).__name__}")
    elementwise = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu", nn.SiLU: "silu", nn.Softsign: "softsign",
                   nn.GELU: "gelu", nn.Softplus: "softplus"}
    children = list(module)
    weights, biases, hidden, output = [], [], set(), None
    for i, child in enumerate(children):
        last = i == len(children) - 1
        if isinstance(child, nn.Linear):
            w = child.weight.detach().to(torch.float64).cpu().numpy()
            b = (child.bias.detach().to(torch.float64).cpu().numpy() if child.bias is not None
                 else np.zeros(w.shape[0]))
            weights.append(w)
            biases.append(b)
            continue
        if not weights:
            raise FormatError(f"module {i} ({type(child).__name__}): the Sequential must start with nn.Linear")
        name = None
        if type(child) in elementwise:
            name = elementwise[type(child)]
            if isinstance(child, nn.GELU) and child.approximate != "none":
                raise FormatError(f"module {i}: GELU(approximate={child.approximate!r}) is not the exact GELU")
            if isinstance(child, nn.Softplus) and child.beta != 1:
                raise FormatError(f"module {i}: Softplus(beta={child.beta}) is not softplus ln(1+eˣ)")
        elif isinstance(child, (nn.Softmax, nn.LogSoftmax)) and last:
            if child.dim not in (-1, 1):
                raise FormatError(f"module {i}: {type(child).__name__}(dim={child.dim}) must act on dim=-1")
            output = "log-softmax" if isinstance(child, nn.LogSoftmax) else SOFTMAX
            continue
        else:
            raise FormatError(f"module {i} ({type(child).__name__}) is not nn.Linear or a supported elementwise "
                              "activation (Sigmoid, Tanh, ReLU, GELU, SiLU, Softplus, Softsign; Softmax last)")
        if last:
            output = name
        elif isinstance(children[i + 1], nn.Linear):
            hidden.add(name)
        else:
            raise FormatError(f"module {i + 1} ({type(children[i + 1]).__name__}): two activations in a row")
    if not weights:
        raise FormatError("the Sequential holds no nn.Linear layer")
    linear = [i for i, c in enumerate(children) if isinstance(c, nn.Linear)]
    gaps = {b - a for a, b in zip(linear, linear[1:])}
    if gaps == {1}:  # Linear after Linear: linear hidden layers
        hidden_name = _identity()
    elif gaps <= {2} and len(hidden) <= 1:
        hidden_name = hidden.pop() if hidden else "sigmoid"
    else:
        raise FormatError(f"hidden layers must share one activation between every two Linear layers, "
                          f"found {', '.join(sorted(hidden)) or 'none'}")
    if output is None:
        output = _identity()
    if output == "log-softmax":
        output, default_cost = SOFTMAX, "log-loss"
    else:
        default_cost = {SOFTMAX: "log-loss", "sigmoid": "cross-entropy"}.get(output, "quadratic")
    return Network(tuple(weights), tuple(biases), hidden_name, output, default_cost if cost is None else cost)
