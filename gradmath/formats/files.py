"""Network files: which kind a file is, and reading and writing each kind.

:func:`read_network` tells the kind from the file's first bytes (the suffix only has to
agree), checks its size against a stated limit before reading it
(:mod:`gradmath.formats.reading`), and returns a :class:`LoadedNetwork`: the network,
the format, and notes on anything the file did not state and was assumed or given.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradmath.activations import (
    BUILTIN_ACTIVATIONS,
    LINEAR_ACTIVATION,
    activation_names,
    get_activation,
    register_activation,
)
from gradmath.errors import FormatError, GradmathError, MissingDependencyError
from gradmath.expressions import parse_expression
from gradmath.formats.network2 import network2_payload, network_from_network2
from gradmath.formats.pytorch import from_state_dict, register_named_family
from gradmath.formats.reading import MAX_BINARY_BYTES, MAX_JSON_BYTES, check_file, parse_json, sniff, zip_kind
from gradmath.formats.safetensors_file import read_safetensors
from gradmath.network import SOFTMAX, Network
from gradmath.npz import read_npz
from gradmath.validation import check_choice

__all__ = ["LoadedNetwork", "read_network", "load_network", "save_network", "FORMATS"]

#: File formats by suffix (``.safetensors`` holds a gradmath network or a PyTorch state_dict).
FORMATS = {".npz": "npz", ".json": "network2", ".safetensors": "safetensors", ".skops": "skops"}
_KIND_NAMES = {"npz": "an .npz archive", "network2": "network2 JSON", "safetensors": "a safetensors file",
               "skops": "a skops file"}

_FORMAT_NAME = "gradmath-network"
_VERSION = 1
_META_KEYS = {"format", "version", "hidden_activation", "output_activation", "cost", "sizes", "expressions"}


@dataclass(frozen=True)
class LoadedNetwork:
    """A network read from a file, with what the file did not say.

    Attributes
    ----------
    network : Network
    path : str
    format : str
        ``"npz"``, ``"network2"``, ``"safetensors"`` (a gradmath network), ``"state_dict"``
        (a PyTorch state_dict in safetensors) or ``"skops"``.
    notes : tuple of str
        Assumptions (network2's sigmoid, a softmax implied by the cost), one sentence each.
    """

    network: Network
    path: str
    format: str
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """Path, format, notes and the network's architecture."""
        return {"path": self.path, "format": self.format, **self.network.to_json(), "notes": list(self.notes)}


def save_network(network: Network, path, *, format: str | None = None) -> Path:
    """Write ``network`` to ``path`` (format from the suffix unless given) and return the path.

    network2 JSON holds sigmoid networks with a quadratic or cross-entropy cost only;
    skops files are written by scikit-learn users (:func:`skops.io.dump`), not here.
    """
    path = Path(path)
    fmt = _expected_format(path, format)
    if fmt == "network2":
        path.write_text(json.dumps(network2_payload(network)), encoding="utf-8")
        return path
    if fmt == "skops":
        raise FormatError(f"{path}: gradmath writes .npz, network2 .json and .safetensors; skops files come from "
                          "skops.io.dump of a fitted scikit-learn model")
    tensors = _tensors(network)
    meta = _metadata(network)
    if fmt == "npz":
        with path.open("wb") as fh:  # a file object keeps numpy from appending ".npz"
            np.savez(fh, metadata=np.array(json.dumps(meta)), **tensors)
        return path
    try:
        import safetensors.numpy as safetensors_numpy
    except ImportError as err:
        raise MissingDependencyError("writing safetensors files needs the safetensors package: pip install "
                                     "safetensors (or pip install 'gradmath[safetensors]')") from err
    safetensors_numpy.save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path),
                                metadata={k: json.dumps(v) for k, v in meta.items()})
    return path


def load_network(path, *, format: str | None = None, activation: str | None = None,
                 output: str | None = None, cost: str | None = None) -> Network:
    """The network of :func:`read_network` (without its notes)."""
    return read_network(path, format=format, activation=activation, output=output, cost=cost).network


def read_network(path, *, format: str | None = None, activation: str | None = None,
                 output: str | None = None, cost: str | None = None) -> LoadedNetwork:
    """Read a network file written by gradmath, network2, safetensors (PyTorch) or skops (scikit-learn).

    Parameters
    ----------
    path : path-like
    format : {"npz", "network2", "safetensors", "skops"}, optional
        The kind expected (default: from the suffix, or from the content for other suffixes).
    activation, output, cost : str, optional
        What the file does not state: the hidden and output activations of a network2 file
        (default sigmoid) or of a PyTorch state_dict (required), and a state_dict's cost.
        Besides registered names, ``softplus_beta_<β>`` and ``leaky_relu_<a>`` (``leaky_relu_0_01``)
        name PyTorch's ``Softplus(beta)`` and ``LeakyReLU(a)``.
        Files that state them (gradmath's, skops) must agree.

    Raises
    ------
    FormatError
        Missing, not a regular file, over the size limit, truncated, corrupt, of another
        kind than its suffix says, or holding unknown metadata or arrays.
    MissingDependencyError
        A skops file without the ``skops`` package.
    """
    path = Path(path)
    for name in (activation, output):  # PyTorch's parametrised activations by name, e.g. leaky_relu_0_01
        register_named_family(name)
    expected = _expected_format(path, format, strict=False)
    size = check_file(path, MAX_JSON_BYTES if expected == "network2" else MAX_BINARY_BYTES)
    kind = sniff(path, size)
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise FormatError(f"{path}: truncated or corrupt zip archive (.npz or .skops) ({err})") from None
        kind = zip_kind(path, names)
    elif kind == "json":
        kind = "network2"
        if size > MAX_JSON_BYTES:
            raise FormatError(f"{path}: {size} bytes of JSON is over the {MAX_JSON_BYTES // 2**20} MiB limit")
    if expected is not None and kind != expected:
        raise FormatError(f"{path}: the file is {_KIND_NAMES[kind]}, not {_KIND_NAMES[expected]} as its "
                          f"{'format' if format else 'suffix'} says; rename it or give the right format")
    try:
        if kind == "network2":
            data = parse_json(path.read_bytes(), where=path)
            network, notes = network_from_network2(data, where=path, activation=activation, output=output)
            return _stated(path, kind, network, notes, None, None, cost)  # the file states its cost
        if kind == "npz":
            arrays = read_npz(path)
            if "metadata" not in arrays:
                raise FormatError(f"{path}: no 'metadata' array; write the file with gradmath.formats.save_network")
            meta = parse_json(str(arrays.pop("metadata")), where=f"{path}: metadata")
            return _stated(path, kind, *_from_arrays(path, arrays, meta), activation, output, cost)
        if kind == "skops":
            from gradmath.formats.sklearn import read_skops

            return _stated(path, kind, read_skops(path), (), activation, output, cost)
        return _read_safetensors(path, size, activation, output, cost)
    except MissingDependencyError:
        raise
    except GradmathError as err:  # every message names the file first
        if isinstance(err, FormatError) and str(err).startswith(str(path)):
            raise
        raise FormatError(f"{path}: {err}") from err


def _expected_format(path: Path, format: str | None, *, strict: bool = True) -> str | None:
    if format is not None:
        return check_choice("format", format, tuple(FORMATS.values()))
    suffix = path.suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if strict:
        raise FormatError(f"{path}: unknown network file suffix {suffix!r}; use one of {', '.join(FORMATS)}")
    return None


def _stated(path: Path, kind: str, network: Network, notes, activation, output, cost) -> LoadedNetwork:
    """A file that states its activations and cost: options may repeat them, not change them."""
    for option, given, stated in (("activation", activation, network.hidden_activation),
                                  ("output", output, network.output_activation), ("cost", cost, network.cost)):
        if given is not None and given != stated:
            raise FormatError(f"{path}: the file states {option} {stated!r}; {option}={given!r} disagrees "
                              f"(options only fill in what a file does not state)")
    return LoadedNetwork(network, str(path), kind, tuple(notes))


def _tensors(network: Network) -> dict[str, np.ndarray]:
    out = {}
    for layer in range(2, network.depth + 1):
        out[f"W{layer}"] = network.weight(layer)
        out[f"b{layer}"] = network.bias(layer)
    return out


def _metadata(network: Network) -> dict:
    meta = {"format": _FORMAT_NAME, "version": _VERSION, "hidden_activation": network.hidden_activation,
            "output_activation": network.output_activation, "cost": network.cost, "sizes": list(network.sizes)}
    custom = {name: str(get_activation(name).expression)
              for name in (network.hidden_activation, network.output_activation)
              if name != SOFTMAX and name not in BUILTIN_ACTIVATIONS and name != LINEAR_ACTIVATION}
    if custom:  # registered in this process only: the file carries their expressions
        meta["expressions"] = custom
    return meta


def _register_expressions(path: Path, expressions) -> list[str]:
    """Register the file's custom activations (through the safe parser), or check they match this process's."""
    if not isinstance(expressions, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in expressions.items()):
        raise FormatError(f"{path}: metadata expressions must map activation names to expression strings")
    if len(expressions) > 2:
        raise FormatError(f"{path}: metadata expressions name {len(expressions)} activations; a network has 2")
    notes = []
    for name, text in expressions.items():
        expr = parse_expression(text)
        if name.strip().lower() in activation_names():
            registered = get_activation(name).expression
            if registered != expr:
                raise FormatError(f"{path}: activation {name!r} is {text} in the file but {registered} here; "
                                  "unregister_activation it first or rename it")
            continue
        register_activation(name, expr, description=f"from {path.name}: {text}")
        notes.append(f"activation {name!r} registered from the file's expression {text}")
    return notes


def _from_arrays(path: Path, arrays: dict[str, np.ndarray], meta) -> tuple[Network, tuple[str, ...]]:
    if not isinstance(meta, dict):
        raise FormatError(f"{path}: metadata must be a JSON object")
    unknown = set(meta) - _META_KEYS
    if unknown:
        raise FormatError(f"{path}: unknown metadata key {sorted(unknown)[0]!r}; known: {', '.join(sorted(_META_KEYS))}")
    if meta.get("format") != _FORMAT_NAME:
        raise FormatError(f"{path}: metadata format={str(meta.get('format'))[:60]!r}, expected {_FORMAT_NAME!r}")
    if meta.get("version") != _VERSION:
        raise FormatError(f"{path}: metadata version={str(meta.get('version'))[:60]}, this gradmath reads "
                          f"version {_VERSION}")
    for key in ("hidden_activation", "output_activation", "cost"):
        if not isinstance(meta.get(key), str):
            raise FormatError(f"{path}: metadata {key}={str(meta.get(key))[:60]} must be a string")
    expressions = meta.get("expressions", {})
    odd = sorted(set(expressions) - {meta["hidden_activation"], meta["output_activation"]}) \
        if isinstance(expressions, dict) else []
    if odd:
        raise FormatError(f"{path}: metadata expressions name {odd[0]!r}, which is not one of the network's "
                          "activations")
    notes = _register_expressions(path, expressions) if "expressions" in meta else []
    depth = 1 + sum(1 for k in arrays if k.startswith("W"))
    expected = {f"{p}{layer}" for layer in range(2, depth + 1) for p in "Wb"}
    if set(arrays) != expected:
        odd = sorted(set(arrays) ^ expected)
        raise FormatError(f"{path}: arrays must be W2..W{depth} and b2..b{depth}; unexpected or missing: "
                          f"{', '.join(odd[:5])}")
    for name, arr in arrays.items():
        if arr.dtype.kind != "f":
            raise FormatError(f"{path}: array {name} has dtype {arr.dtype}, expected floating point")
    network = Network(tuple(arrays[f"W{l}"] for l in range(2, depth + 1)),
                      tuple(arrays[f"b{l}"] for l in range(2, depth + 1)),
                      meta["hidden_activation"], meta["output_activation"], meta["cost"])
    sizes = meta.get("sizes", list(network.sizes))
    if not isinstance(sizes, list) or sizes != list(network.sizes):
        raise FormatError(f"{path}: metadata sizes={str(sizes)[:60]} disagree with the arrays' {list(network.sizes)}")
    return network, tuple(notes)


def _read_safetensors(path: Path, size: int, activation, output, cost) -> LoadedNetwork:
    tensors, raw = read_safetensors(path, size)
    if raw.get("format") == json.dumps(_FORMAT_NAME) or "hidden_activation" in raw:
        meta = {key: parse_json(value, where=f"{path}: metadata {key}") for key, value in raw.items()}
        return _stated(path, "safetensors", *_from_arrays(path, tensors, meta), activation, output, cost)
    network, notes = from_state_dict(tensors, activation=activation, output=output, cost=cost)
    note = (f"a PyTorch state_dict: hidden activation {network.hidden_activation}, output "
            f"{network.output_activation}, cost {network.cost}, as given")
    return LoadedNetwork(network, str(path), "state_dict", (note, *notes))
