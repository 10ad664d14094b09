"""Nielsen's speeds of learning at initialisation, predicted by mean-field theory.

Nielsen measures the speed of hidden layer l as ‖∂C/∂bˡ‖ with ∂C/∂bˡ = (1/N) Σₓ δˡ(x), the norm of
the *mean* over N examples, not the mean of the norms. Squared and averaged over random networks,

    E‖∂C/∂bˡ‖² = (1/N²) Σ_{x,x′} Γˡ(x, x′),   Γˡ(x, x′) = E[δˡ(x)·δˡ(x′)],

so every pair of examples counts, and pairs of different examples dominate (there are N(N−1) of them).
In a wide network (proofs/meanfield.md, Theorems 1 and 2, with the pair's own variances):

- forward, per example and per pair, from the data: q¹(x) = σ_w²‖x‖²/n₀ + σ_b²,
  q¹(x, x′) = σ_w² x·x′/n₀ + σ_b², then qˡ⁺¹ = σ_w² E[φ(u₁)φ(u₂)] + σ_b² with (u₁, u₂) centred Gaussian of
  covariance [[qˡ(x), qˡ(x,x′)], [qˡ(x,x′), qˡ(x′)]];
- at the sigmoid output with the cross-entropy cost, δᴸ = aᴸ − y, so with one-hot labels
  Γᴸ(x, x′) = n_L E[σ(u₁)σ(u₂)] − E[σ(u₁)] − E[σ(u₂)] + [y = y′];
- backward, Γˡ = σ_w² E[φ′(u₁)φ′(u₂)] Γˡ⁺¹ at layer l's pair covariance (the pair version of χ₁ and χ_c).

The diagonal (x = x′) is summed exactly; the N(N − 1) off-diagonal terms are estimated from randomly
drawn pairs, and the prediction carries the standard error of that estimate. The prediction is
√(E‖∂C/∂bˡ‖²), a root mean square over networks; a median over seeds (what
:func:`gradmath.experiments.speeds.init_speeds` reports) sits somewhat below it (Jensen), and the layers
here are 30 units wide, far from infinite: the speeds table (``docs/generated/speeds/init.md``) says how
close it is.

>>> from gradmath.data import load_dataset
>>> d = load_dataset("digits")
>>> p = predict_speeds((64, 30, 30, 10), d.x, d.y, pairs=200)
>>> [f"{s:.2f}" for s in p.speeds], f"{p.ratios[0]:.1f}"
(['0.06', '0.30'], '4.9')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradmath.errors import InvalidParameterError, ShapeError
from gradmath.meanfield.gaussian import GaussianRule
from gradmath.meanfield.kernels import meanfield_kernels
from gradmath.validation import check_int

__all__ = ["SpeedPrediction", "predict_speeds", "MAX_PAIRS"]

#: Largest number of sampled pairs (each costs one two-dimensional quadrature per layer).
MAX_PAIRS = 20_000
_RULE = GaussianRule(nodes=6, levels=10)
_CHUNK = 64


@dataclass(frozen=True)
class SpeedPrediction:
    """Predicted speeds of learning of the hidden layers (hidden layer k is ``speeds[k − 1]``)."""

    sizes: tuple[int, ...]
    examples: int
    pairs: int
    speeds: np.ndarray          #: √E‖∂C/∂bˡ‖² for hidden layers 1, …, L − 2 (the book's numbering)
    standard_error: np.ndarray  #: of ``speeds``, from the sampling of pairs
    ratios: np.ndarray          #: speeds[k+1] / speeds[k]: how many times faster each next layer learns

    def to_json(self) -> dict:
        return {"sizes": list(self.sizes), "examples": self.examples, "pairs": self.pairs,
                "speeds": self.speeds.tolist(), "standard_error": self.standard_error.tolist(),
                "ratios": self.ratios.tolist()}


def predict_speeds(sizes: Sequence[int], x, y, *, examples: int = 1000, pairs: int = 2000, seed: int = 0,
                   activation: str = "sigmoid", sigma_w2: float = 1.0, sigma_b2: float = 1.0) -> SpeedPrediction:
    """Mean-field prediction of Nielsen's speeds for a network2-initialised network on the data ``x, y``.

    ``sizes`` as :class:`gradmath.network.Network` (input, hidden …, output); the output is a sigmoid with the
    cross-entropy cost and one-hot labels ``y`` (class indices), as in the book's experiment.
    """
    from gradmath.activations import get_activation

    sizes = tuple(check_int("size", int(n), min_value=1, max_value=100_000) for n in sizes)
    if len(sizes) < 3:
        raise InvalidParameterError(f"sizes={sizes} must have at least one hidden layer")
    examples = check_int("examples", examples, min_value=2)
    pairs = check_int("pairs", pairs, min_value=1, max_value=MAX_PAIRS)
    x = np.asarray(x, dtype=np.float64)[:examples]
    y = np.asarray(y)[:examples]
    if x.ndim != 2 or x.shape[1] != sizes[0] or y.shape != (x.shape[0],):
        raise ShapeError(f"x of shape {x.shape} and y of shape {y.shape} do not fit sizes {sizes}")
    n = x.shape[0]
    hidden = meanfield_kernels(get_activation(activation))
    out = meanfield_kernels(get_activation("sigmoid"))
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=pairs)
    j = (i + rng.integers(1, n, size=pairs)) % n                      # a different example
    diag = _gammas(hidden, out, sizes, x, x, y, y, sigma_w2, sigma_b2, same=True)
    off = _gammas(hidden, out, sizes, x[i], x[j], y[i], y[j], sigma_w2, sigma_b2, same=False)
    mean_sq = diag.mean(axis=1) / n + (1 - 1 / n) * off.mean(axis=1)
    se_sq = (1 - 1 / n) * off.std(axis=1, ddof=1) / np.sqrt(pairs)
    speeds = np.sqrt(mean_sq)
    standard_error = se_sq / (2 * speeds)                                 # delta method for the square root
    return SpeedPrediction(sizes, n, pairs, speeds, standard_error, speeds[1:] / speeds[:-1])


def _gammas(hidden, out, sizes, xa, xb, ya, yb, sw2, sb2, *, same: bool) -> np.ndarray:
    """Γˡ(x, x′) for every hidden layer (rows) and every pair (columns)."""
    n0 = sizes[0]
    qa = sw2 * np.einsum("ij,ij->i", xa, xa) / n0 + sb2
    qb = qa if same else sw2 * np.einsum("ij,ij->i", xb, xb) / n0 + sb2
    qab = qa if same else sw2 * np.einsum("ij,ij->i", xa, xb) / n0 + sb2
    layers = []                                   # (qa, qb, c) at each weighted layer 1 … L
    for k in range(len(sizes) - 1):
        c = np.clip(qab / np.sqrt(qa * qb), -1.0, 1.0)
        layers.append((qa, qb, c))
        if k == len(sizes) - 2:
            break
        kernel = hidden
        qa_next = sw2 * _pair(kernel.evaluate, kernel.evaluate, qa, qa, np.ones_like(qa), kernel.edges) + sb2
        qb_next = qa_next if same else sw2 * _pair(kernel.evaluate, kernel.evaluate, qb, qb, np.ones_like(qb),
                                                       kernel.edges) + sb2
        qab = qa_next if same else sw2 * _pair(kernel.evaluate, kernel.evaluate, qa, qb, c, kernel.edges) + sb2
        qa, qb = qa_next, qb_next
    qa, qb, c = layers[-1]
    n_out = sizes[-1]
    ea = _single(out.evaluate, qa)
    eb = ea if same else _single(out.evaluate, qb)
    gamma = n_out * _pair(out.evaluate, out.evaluate, qa, qb, c) - ea - eb + (ya == yb)
    result = []
    for qa, qb, c in reversed(layers[:-1]):          # hidden layers L − 1, …, 1
        gamma = sw2 * _pair(hidden.prime, hidden.prime, qa, qb, c, hidden.edges) * gamma
        result.append(gamma)
    return np.array(result[::-1])


def _single(f, q) -> np.ndarray:
    return _RULE.expect(f, q)[0]


def _pair(f, g, qa, qb, c, points=(0.0,)) -> np.ndarray:
    """E[f(u₁)g(u₂)] for each pair, in chunks (c = 1 with equal variances is the one-dimensional E[f g])."""
    if np.all(c == 1.0) and np.all(qa == qb):
        return _RULE.expect(lambda x: f(x) * g(x), qa, points=points)[0]
    out = np.empty(qa.shape)
    for s in range(0, qa.size, _CHUNK):
        sl = slice(s, s + _CHUNK)
        out[sl] = _RULE.expect2(f, g, qa[sl], c[sl], q2=qb[sl], estimate=False, points=points)[0]
    return out
