"""Nielsen's network2 JSON: ``{"sizes", "weights", "biases", "cost"}`` as ``network2.save`` writes it.

The file states no activation: network2.py computes with sigmoid units in every layer,
so a file is read as sigmoid unless the caller says otherwise, and the result says which
activation it assumed. Every field is checked for its type before it is used.

>>> payload = {"sizes": [2, 1], "weights": [[[1.0, 2.0]]], "biases": [[[0.5]]], "cost": "QuadraticCost"}
>>> net, notes = network_from_network2(payload, where="n.json")
>>> net
Network(sizes=(2, 1), hidden_activation='sigmoid', output_activation='sigmoid', cost='quadratic')
>>> notes[0]
'network2 JSON states no activation: read as sigmoid in every layer, as network2.py computes ...'
>>> network_from_network2({**payload, "sizes": 5}, where="n.json")
Traceback (most recent call last):
...
gradmath.errors.FormatError: n.json: network2 sizes=5 must be a list of positive integers
"""

from __future__ import annotations

import numpy as np

from gradmath.errors import FormatError
from gradmath.network import Network

__all__ = ["network_from_network2", "network2_payload", "NETWORK2_COSTS"]

#: network2's cost class names and gradmath's names for them.
NETWORK2_COSTS = {"CrossEntropyCost": "cross-entropy", "QuadraticCost": "quadratic"}
_KEYS = ("sizes", "weights", "biases", "cost")


def network2_payload(network: Network) -> dict:
    """The JSON object ``network2.save`` would write for ``network`` (sigmoid units only)."""
    if (network.hidden_activation, network.output_activation) != ("sigmoid", "sigmoid") or \
            network.cost not in NETWORK2_COSTS.values():
        raise FormatError("network2 JSON holds sigmoid networks with a quadratic or cross-entropy cost; "
                          f"got {network!r} (save it as .npz instead)")
    return {
        "sizes": list(network.sizes),
        "weights": [w.tolist() for w in network.weights],
        "biases": [b.reshape(-1, 1).tolist() for b in network.biases],
        "cost": {v: k for k, v in NETWORK2_COSTS.items()}[network.cost],
    }


def network_from_network2(data, *, where, activation: str | None = None,
                          output: str | None = None) -> tuple[Network, tuple[str, ...]]:
    """The network of a parsed network2 JSON object and the notes on what was assumed.

    ``activation`` (hidden layers) and ``output`` override network2's sigmoid.
    """
    if not isinstance(data, dict):
        raise FormatError(f"{where}: network2 JSON must be an object with sizes, weights, biases, cost")
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise FormatError(f"{where}: network2 JSON lacks {', '.join(missing)}")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise FormatError(f"{where}: unknown network2 key {unknown[0]!r}; known: {', '.join(_KEYS)}")
    sizes, cost = data["sizes"], data["cost"]
    if not isinstance(cost, str) or cost not in NETWORK2_COSTS:
        raise FormatError(f"{where}: network2 cost={_short(cost)} is not one of {', '.join(NETWORK2_COSTS)}")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)):
        raise FormatError(f"{where}: network2 sizes={_short(sizes)} must be a list of positive integers")
    weights = _matrices(where, "weights", data["weights"], len(sizes) - 1)
    biases = _matrices(where, "biases", data["biases"], len(sizes) - 1)
    hidden, out = activation or "sigmoid", output or "sigmoid"
    network = Network(tuple(weights), tuple(biases), hidden, out, NETWORK2_COSTS[cost])
    if sizes != list(network.sizes):
        raise FormatError(f"{where}: sizes={_short(sizes)} disagree with the weights' {list(network.sizes)}")
    if activation is None and output is None:
        note = ("network2 JSON states no activation: read as sigmoid in every layer, as network2.py computes "
                "(--activation/--output, or activation=/output=, override it)")
    else:
        note = (f"network2 JSON states no activation: hidden layers read as {hidden}"
                f"{' (as given)' if activation else ' (network2.py)'}, output layer as {out}"
                f"{' (as given)' if output else ' (network2.py)'}")
    return network, (note,)


def _matrices(where, key: str, value, count: int) -> list[np.ndarray]:
    if not isinstance(value, list) or len(value) != count:
        raise FormatError(f"{where}: network2 {key} must be a list of {count} nested lists of numbers "
                          f"(one per layer after the first), got {_short(value)}")
    out = []
    for i, item in enumerate(value):
        try:
            arr = np.array(item)
        except ValueError:  # ragged lists
            raise FormatError(f"{where}: network2 {key}[{i}] is not a rectangular list of numbers "
                              "(rows of different lengths, or nested too deeply)") from None
        if arr.dtype.kind not in "fi" or arr.ndim != 2:
            raise FormatError(f"{where}: network2 {key}[{i}] must be a rectangular list of lists of numbers "
                              f"(got {arr.ndim} levels of {arr.dtype.name} values)")
        out.append(arr.astype(np.float64))
    return out


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
