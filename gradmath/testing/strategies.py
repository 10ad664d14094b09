"""Hypothesis strategies for networks, activations, costs and batches, in network2's layout.

In the style of :mod:`hypothesis.extra.numpy`: each function returns a strategy, every argument may
be a fixed value or a strategy, and the argument names are the rest of gradmath's
(``hidden_activation``, ``output_activation``, ``cost``, ``weight_scale``, ``depth``).
Every strategy shrinks toward the smallest, plainest case: depth 2, width 1, sigmoid, the
quadratic cost, weight and bias scale 1, batch size 1, and values of one significant digit.

The hard corners are drawn on purpose: width 1, tiny and huge weights (``weight_scale`` from
1e-3 to 1e3), saturated units (biases up to ±40, where σ′(z) of the sigmoid is about 4e-18) and
custom activations drawn from the safe grammar of :mod:`gradmath.expressions`.

Examples
--------
>>> from hypothesis import given, settings
>>> @settings(max_examples=5, database=None)
... @given(networks(max_depth=3, cost="quadratic"))
... def test_widths(net):
...     assert net.depth <= 3 and all(1 <= n <= 8 for n in net.sizes)
>>> test_widths()
>>> @settings(max_examples=5, database=None)
... @given(networks(sizes=(3, 1), cost="log-loss").flatmap(lambda net: batches(net, batch_size=2)))
... def test_one_hot_targets(batch):       # fixed sizes, for a model of fixed shape
...     assert batch.x.shape == (3, 2) and batch.y.tolist() == [[1.0, 1.0]]
>>> test_one_hot_targets()
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from gradmath.activations import BUILTIN_ACTIVATIONS, Activation
from gradmath.errors import ExpressionError, InvalidParameterError
from gradmath.expressions import parse_expression
from gradmath.gamma.hypotheses import check_defined_on_reals
from gradmath.network import COSTS, compatible_outputs
from gradmath.testing.drawn import Batch, DrawnNetwork
from gradmath.validation import check_choice, check_int

__all__ = ["activations", "custom_activations", "TERMS", "costs", "networks", "batches", "MAX_DEPTH", "MAX_WIDTH",
           "MAX_BATCH", "WEIGHT_SCALES", "BIAS_SCALES", "output_for"]

#: Limits on what the strategies draw (each checked before anything is allocated).
MAX_DEPTH, MAX_WIDTH, MAX_BATCH = 64, 64, 256
#: Weight scales drawn by default, plainest first; entries are uniform in ±2·scale/√n_in.
WEIGHT_SCALES = (1.0, 0.1, 10.0, 1e-3, 1e3)
#: Bias scales drawn by default; 40 saturates a sigmoid unit (σ′ ≈ e⁻⁴⁰ ≈ 4e-18) and 80 more so.
BIAS_SCALES = (1.0, 0.0, 10.0, 40.0)
_SMOOTH_BUILTINS = tuple(a for a in BUILTIN_ACTIVATIONS if a not in ("relu", "softsign"))
#: The terms of :func:`custom_activations`: smooth, defined on ℝ, each with |g′| ≤ 2/√π.
TERMS = ("tanh({x})", "atan({x})", "erf({x})", "{x}/(1+abs({x}))", "sin({x})", "{x}", "log(1+exp({x}))",
         "exp(-{x}**2)")
_CONSTANTS = ("1", "2", "1/2", "3")
_DECIMALS = (1, 3, 17)


def _fixed(value):
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


@lru_cache(maxsize=256)
def _hypotheses_hold(text: str) -> bool:
    """σ and σ′ defined on all of ℝ, by :func:`gradmath.gamma.hypotheses.check_defined_on_reals`."""
    try:
        activation = Activation(text, parse_expression(text))
        check_defined_on_reals(activation.expression, "σ")
        check_defined_on_reals(activation.derivative, "σ′")
        return True
    except ExpressionError:
        return False


def custom_activations() -> st.SearchStrategy[str]:
    """Expressions in ``x`` such as ``"tanh(x) + 1/2*sin(2*x)"``, parsed by :mod:`gradmath.expressions`.

    Each is one or two terms ``c·g(k·x)`` with g from :data:`TERMS` and c, k from 1, 2, ½, 3; each g has
    |g′| ≤ 2/√π, so γ = sup|σ′| is finite (bounds (a) and (b) apply). Only expressions whose σ and σ′
    pass the hypothesis checks of :mod:`gradmath.gamma.hypotheses` (defined on all of ℝ) are drawn.
    """

    @st.composite
    def draw_one(draw):
        first = draw(st.sampled_from(TERMS))
        inner = draw(st.sampled_from(_CONSTANTS))
        text = first.format(x="x" if inner == "1" else f"{inner}*x")
        if draw(st.booleans()):
            text += f" + {draw(st.sampled_from(_CONSTANTS))}*{draw(st.sampled_from(TERMS)).format(x='x')}"
        assume(_hypotheses_hold(text))
        return text

    return draw_one()


def activations(*, custom: bool = False, smooth: bool = False) -> st.SearchStrategy[str]:
    """Activation names: the built-in ones (sigmoid first), and expressions when ``custom``.

    ``smooth=True`` leaves out ReLU and softsign, whose σ′ or σ″ jumps at 0.
    """
    names = _SMOOTH_BUILTINS if smooth else ("sigmoid",) + tuple(a for a in BUILTIN_ACTIVATIONS if a != "sigmoid")
    built_in = st.sampled_from(names)
    return st.one_of(built_in, custom_activations()) if custom else built_in


def costs() -> st.SearchStrategy[str]:
    """The costs of :data:`gradmath.network.COSTS`, quadratic first."""
    return st.sampled_from(COSTS)


def output_for(cost: str, hidden_activation: str) -> str:
    """The output activation a cost needs: sigmoid for cross-entropy, softmax for log-loss, else the hidden one."""
    allowed = compatible_outputs(check_choice("cost", cost, COSTS))
    return hidden_activation if allowed is None else allowed[0]


def _significant(values: np.ndarray, digits: int) -> np.ndarray:
    """``values`` rounded to ``digits`` significant decimal digits (17: unchanged), so 0.3 prints as 0.3."""
    if digits >= 17:
        return values
    return np.array([float(f"{v:.{digits}g}") for v in values.ravel()]).reshape(values.shape)


def _generator(draw) -> tuple[np.random.Generator, int]:
    """A NumPy generator from a drawn seed, and the significant digits its values keep (1 first: the plainest).

    Entries come from the generator rather than one Hypothesis draw each, which keeps drawing
    about twice as fast; the shrinker still reaches the smallest shape and scales, seed 0 and one
    significant digit.
    """
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed), draw(st.sampled_from(_DECIMALS))


@st.composite
def networks(draw, *, depth=None, min_depth: int = 2, max_depth: int = 4, sizes=None, max_width: int = 8,
             hidden_activation="sigmoid", output_activation=None, cost="cross-entropy", weight_scale=None,
             bias_scale=None) -> DrawnNetwork:
    """A :class:`~gradmath.testing.drawn.DrawnNetwork` with ``depth`` layers (the input layer counts).

    Parameters
    ----------
    depth : int or strategy, optional
        L; by default from ``min_depth`` (≥ 2) to ``max_depth`` (≤ :data:`MAX_DEPTH`).
    sizes : sequence of int, optional
        Fixed widths (n_1, …, n_L), for a model of fixed shape; else widths 1 … ``max_width``.
    hidden_activation, output_activation, cost : str or strategy
        ``output_activation=None`` takes what the cost needs (:func:`output_for`).
    weight_scale, bias_scale : float or strategy, optional
        Entries of wˡ are uniform in ±2·weight_scale/√n_{l−1}, of bˡ in ±bias_scale, rounded to 1, 3 or
        all 17 significant digits; the scales are drawn from :data:`WEIGHT_SCALES` and :data:`BIAS_SCALES` by default.
    """
    if sizes is not None:
        sizes = tuple(check_int("size", n, min_value=1, max_value=MAX_WIDTH) for n in sizes)
        check_int("depth", len(sizes), min_value=2, max_value=MAX_DEPTH)
    else:
        check_int("max_depth", max_depth, min_value=2, max_value=MAX_DEPTH)
        check_int("min_depth", min_depth, min_value=2, max_value=max_depth)
        check_int("max_width", max_width, min_value=1, max_value=MAX_WIDTH)
        L = draw(_fixed(depth) if depth is not None else st.integers(min_depth, max_depth))
        L = check_int("depth", L, min_value=2, max_value=MAX_DEPTH)
        sizes = tuple(draw(st.lists(st.integers(1, max_width), min_size=L, max_size=L)))
    cost = check_choice("cost", draw(_fixed(cost)), COSTS)
    hidden = draw(_fixed(hidden_activation))
    output = draw(_fixed(output_activation)) or output_for(cost, hidden)
    allowed = compatible_outputs(cost)
    if allowed is not None and output not in allowed:
        raise InvalidParameterError(f"cost={cost!r} needs output_activation={allowed[0]!r}, got {output!r}")
    w_scale = draw(_fixed(weight_scale) if weight_scale is not None else st.sampled_from(WEIGHT_SCALES))
    b_scale = draw(_fixed(bias_scale) if bias_scale is not None else st.sampled_from(BIAS_SCALES))
    rng, digits = _generator(draw)
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(_significant(rng.uniform(-2.0, 2.0, (n_out, n_in)) * (float(w_scale) / np.sqrt(n_in)), digits))
        biases.append(_significant(rng.uniform(-1.0, 1.0, (n_out, 1)) * float(b_scale), digits))
    return DrawnNetwork(tuple(weights), tuple(biases), hidden, output, cost)


@st.composite
def batches(draw, network: DrawnNetwork, *, batch_size=1, x_scale=None, one_hot: bool | None = None) -> Batch:
    """Inputs ``x`` (n_1, m) and targets ``y`` (n_L, m) for ``network``, ``m`` = ``batch_size``.

    Targets lie in [0, 1], one-hot when ``one_hot`` (by default for log-loss, whose δᴸ = aᴸΣy − y is
    aᴸ − y there); ``x`` entries in ±2·x_scale, with x_scale from 1, 0.01, 10 by default.
    """
    m = check_int("batch_size", draw(_fixed(batch_size)), min_value=1, max_value=MAX_BATCH)
    n_in, n_out = network.sizes[0], network.sizes[-1]
    scale = draw(_fixed(x_scale) if x_scale is not None else st.sampled_from((1.0, 0.01, 10.0)))
    rng, digits = _generator(draw)
    x = _significant(rng.uniform(-2.0, 2.0, (n_in, m)) * float(scale), digits)
    if one_hot if one_hot is not None else network.cost == "log-loss":
        y = np.zeros((n_out, m))
        y[rng.integers(0, n_out, m), np.arange(m)] = 1.0
    else:
        y = np.minimum(_significant(rng.uniform(0.0, 1.0, (n_out, m)), digits), 1.0)
    return Batch(x, y)


