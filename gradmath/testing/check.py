"""check_backprop: every property of :mod:`gradmath.testing.properties` on networks Hypothesis draws.

Each drawn network and batch goes through the user's function, whose answer is checked in this
order: it returned ``(nabla_b, nabla_w)`` of network2's shapes, all finite; it equals the mpmath
reference within the float64 rounding bound; ∂C/∂w = δaᵀ (one example); bounds (a) and (b) hold;
and, for a chain of one neuron per layer, it equals the exact product form. The first failure is
shrunk by Hypothesis to the smallest network that still fails, and raised as a
:class:`~gradmath.testing.properties.BackpropMismatch` that prints that network in full.

Examples
--------
network2's ``backprop`` (Nielsen, ``src/network2.py``) with the cross-entropy cost, as a student writes it:

>>> import numpy as np
>>> def sigmoid(z): return 1.0 / (1.0 + np.exp(-z))
>>> def backprop(weights, biases, x, y):
...     activation, activations, zs = x, [x], []
...     for b, w in zip(biases, weights):
...         zs.append(w @ activation + b)
...         activation = sigmoid(zs[-1])
...         activations.append(activation)
...     delta = activations[-1] - y                  # cross-entropy: σ′(zᴸ) cancels
...     nabla_b, nabla_w = [None] * len(biases), [None] * len(weights)
...     nabla_b[-1], nabla_w[-1] = delta, delta @ activations[-2].T
...     for l in range(2, len(weights) + 1):
...         sp = sigmoid(zs[-l]) * (1 - sigmoid(zs[-l]))
...         delta = (weights[-l + 1].T @ delta) * sp
...         nabla_b[-l], nabla_w[-l] = delta, delta @ activations[-l - 1].T
...     return nabla_b, nabla_w
>>> check_backprop(backprop, activation="sigmoid", cost="cross-entropy", max_examples=20, seed=0)
CheckReport(examples=20, activation='sigmoid', output_activation='sigmoid', cost='cross-entropy', ...)
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from gradmath.errors import InvalidParameterError
from gradmath.network import COSTS
from gradmath.norms import check_norm
from gradmath.testing.adapters import Adapter
from gradmath.testing.drawn import Batch, DrawnNetwork, resolve
from gradmath.testing.properties import (
    BackpropNotFinite,
    BackpropRaised,
    BackpropShapeError,
    assert_bounds,
    assert_chain_product,
    assert_matches_reference,
    assert_outer_product,
    is_chain,
)
from gradmath.testing.reference import reference_gradients
from gradmath.testing.strategies import MAX_BATCH, batches, networks, output_for
from gradmath.validation import check_choice, check_int

__all__ = ["check_backprop", "CheckReport", "PROPERTIES", "MAX_EXAMPLES"]

#: The properties :func:`check_backprop` checks, in order.
PROPERTIES = ("reference", "outer-product", "bounds", "chain")
#: The most examples one call draws.
MAX_EXAMPLES = 100_000


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_backprop` checked: examples run, chains among them, properties, seconds."""

    examples: int
    activation: str
    output_activation: str
    cost: str
    properties: tuple[str, ...]
    chains: int
    seconds: float

    def to_json(self) -> dict:
        return {"examples": self.examples, "activation": self.activation, "output_activation": self.output_activation,
                "cost": self.cost, "properties": list(self.properties), "chains": self.chains,
                "seconds": self.seconds}


def _where(err: BaseException) -> str:
    """The innermost frame of the user's code that raised, as ``file:line in function: code``."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "gradmath/testing" not in f.filename.replace("\\", "/")]
    if not frames:
        return ""
    f = frames[-1]
    return f" at {f.filename}:{f.lineno} in {f.name}" + (f": {f.line.strip()}" if f.line else "")


def call_backprop(backprop, network: DrawnNetwork, batch: Batch):
    """Run the user's function on copies of the drawn case; check what it returns; return float64 lists."""
    weights, biases = network.copies()
    x, y = batch.x.copy(), batch.y.copy()
    try:
        with np.errstate(all="ignore"):  # overflow in a user's exp(−z) is theirs to allow; NaN is checked below
            result = backprop(weights, biases, x, y)
    except Exception as err:
        raise BackpropRaised(f"backprop raised {type(err).__name__}: {err}{_where(err)}", network, batch) from None
    n = len(network.weights)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise BackpropShapeError(f"backprop returned {type(result).__name__}, not a pair (nabla_b, nabla_w) "
                                 "as network2's backprop does", network, batch)
    out = []
    for kind, given, params in (("b", result[0], network.biases), ("w", result[1], network.weights)):
        if not isinstance(given, (tuple, list)) or len(given) != n:
            got = f"{len(given)} arrays" if isinstance(given, (tuple, list)) else type(given).__name__
            raise BackpropShapeError(f"backprop returned nabla_{kind} as {got}; network2's layout needs a list of "
                                     f"{n} arrays, one per weighted layer", network, batch)
        arrays = []
        for i, (g, p) in enumerate(zip(given, params)):
            try:
                g = np.asarray(g, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise BackpropShapeError(f"backprop returned nabla_{kind}[{i}] that is not an array of numbers ({err})",
                                         network, batch) from None
            if g.shape != p.shape:
                name = "biases" if kind == "b" else "weights"
                raise BackpropShapeError(f"backprop returned nabla_{kind}[{i}] of shape {g.shape}, but network2's "
                                         f"layout needs {p.shape}, the shape of {name}[{i}]", network, batch)
            bad = ~np.isfinite(g)
            if bad.any():
                index = tuple(int(k) for k in np.argwhere(bad)[0])
                raise BackpropNotFinite(f"backprop returned {g[index]!r} in nabla_{kind}[{i}] entry {index}; "
                                        "every gradient of this network is finite", network, batch)
            arrays.append(g)
        out.append(arrays)
    return out[0], out[1]


def check_backprop(backprop, activation: str = "sigmoid", cost: str = "cross-entropy", max_examples: int = 100, *,
                   output_activation: str | None = None, max_depth: int = 4, max_width: int = 8,
                   batch_size: int | None = None, weight_scale=None, bias_scale=None, norm: str = "2",
                   seed: int | None = None, properties=PROPERTIES) -> CheckReport:
    """Check ``backprop`` on ``max_examples`` drawn networks; raise the smallest failing one.

    Parameters
    ----------
    backprop : callable or Adapter
        network2's ``backprop(weights, biases, x, y) -> (nabla_b, nabla_w)``: lists of ``(n_out, n_in)``
        weights and ``(n_out, 1)`` biases, one example ``x`` of shape ``(n_in, 1)`` and ``y`` of shape
        ``(n_out, 1)``; or an :class:`~gradmath.testing.adapters.Adapter` (mini-batches, mean gradients).
    activation : str
        The activation of every layer (a registered name, or an expression in ``x``).
    cost : {"quadratic", "cross-entropy", "log-loss"}
    max_examples : int
        Networks drawn (at most :data:`MAX_EXAMPLES`); the shrinking afterwards draws more.
    output_activation : str, optional
        ``"softmax"`` or another activation for the output layer; by default what the cost needs
        (sigmoid for cross-entropy, softmax for log-loss), else ``activation``.
    max_depth, max_width : int
        Largest network drawn (depth counts the input layer); ignored for an adapter of fixed shape.
    batch_size : int, optional
        Largest mini-batch for an adapter (default 4); a plain function gets one example.
    weight_scale, bias_scale : float or strategy, optional
        As :func:`gradmath.testing.strategies.networks`; by default tiny to huge weights and saturating biases.
    norm : {"2", "1", "inf"}
        The norm of bounds (a) and (b).
    seed : int, optional
        Makes the run repeatable (Hypothesis's ``@seed``).
    properties : sequence of str
        A subset of :data:`PROPERTIES`.

    Returns
    -------
    CheckReport

    Raises
    ------
    BackpropMismatch
        (an ``AssertionError``) for the smallest failing network: which property, layer, entry,
        measured and expected values, tolerance and why, and the network and batch in full.
    """
    cost = check_choice("cost", cost, COSTS)
    resolve(activation)
    output = output_activation or output_for(cost, activation)
    if output != "softmax":
        resolve(output)
    max_examples = check_int("max_examples", max_examples, min_value=1, max_value=MAX_EXAMPLES)
    norm = check_norm(norm)
    unknown = set(properties) - set(PROPERTIES)
    if unknown:
        raise InvalidParameterError(f"properties={sorted(unknown)} are not among {list(PROPERTIES)}")
    adapter = backprop if isinstance(backprop, Adapter) else None
    if not callable(backprop):
        raise InvalidParameterError(f"backprop={backprop!r} must be callable as backprop(weights, biases, x, y)")
    m = 1 if adapter is None else check_int("batch_size", batch_size or 4, min_value=1, max_value=MAX_BATCH)
    nets = networks(max_depth=max_depth, max_width=max_width, sizes=adapter.sizes if adapter else None,
                    hidden_activation=activation, output_activation=output, cost=cost, weight_scale=weight_scale,
                    bias_scale=bias_scale)

    @st.composite
    def cases(draw):
        network = draw(nets)
        return network, draw(batches(network, batch_size=st.integers(1, m)))

    counts = {"examples": 0, "chains": 0}

    # No "explain" phase: it traces every line of the shrunk example, seconds for nothing a student reads.
    @settings(max_examples=max_examples, database=None, deadline=None, report_multiple_bugs=False,
              verbosity=Verbosity.quiet, phases=(Phase.explicit, Phase.generate, Phase.shrink), suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(cases())
    def run(case):
        network, batch = case
        reference = reference_gradients(network, batch)
        assume(reference.finite)  # a gradient beyond float64's range: no float64 backprop can be judged on it
        nabla_b, nabla_w = call_backprop(backprop, network, batch)
        if "reference" in properties:
            assert_matches_reference(network, batch, nabla_b, nabla_w, reference=reference)
        if "outer-product" in properties:
            assert_outer_product(network, batch, nabla_b, nabla_w, reference=reference)
        if "bounds" in properties:
            assert_bounds(network, batch, nabla_b, norm=norm, reference=reference)
        if "chain" in properties and is_chain(network):
            assert_chain_product(network, batch, nabla_b, nabla_w, reference=reference)
            counts["chains"] += 1
        counts["examples"] += 1

    if seed is not None:
        run = hypothesis_seed(seed)(run)
    start = time.perf_counter()
    run()
    return CheckReport(counts["examples"], activation, output, cost, tuple(properties), counts["chains"],
                       time.perf_counter() - start)
