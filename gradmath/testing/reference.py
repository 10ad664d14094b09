"""The reference gradients: the matrix form in mpmath, with a float64 rounding bound beside it.

For every example the forward pass zˡ = wˡaˡ⁻¹ + bˡ, aˡ = σ(zˡ) and the backward pass
δᴸ = ∂C/∂zᴸ, δˡ = Σ′(zˡ)(wˡ⁺¹)ᵀδˡ⁺¹, ∂C/∂bˡ = δˡ, ∂C/∂wˡ = δˡ(aˡ⁻¹)ᵀ (Nielsen's (124) and BP1–BP4)
are computed in mpmath at :data:`DIGITS` significant digits, with σ and σ′ from the activation's
SymPy expression (:attr:`gradmath.activations.Activation.sigma_mp`), so nothing is shared with a
float64 backprop. A mini-batch's gradient is the mean over its examples, as network2's
``update_mini_batch`` takes it.

**The tolerance** of every entry is a first-order bound on what float64 rounding can do to an
implementation of the same formulas (Higham's γ_n = nu/(1 − nu), u = 2⁻⁵³, for a dot product of n
terms, times the sum of the absolute values of its terms), carried through both passes beside the
reference:

* forward: ε(zˡ) = γ_{n+1}(|wˡ||aˡ⁻¹| + |bˡ|) + |wˡ| ε(aˡ⁻¹); ε(aˡ) = max |σ(zˡ ± 2ε(zˡ)) − σ(zˡ)|
  + :data:`SIGMA_ULPS`·u|aˡ| (σ evaluated to a few ulps);
* ε(σ′(zˡ)) = max |σ′(zˡ ± 2ε(zˡ)) − σ′(zˡ)| + :data:`SIGMA_ULPS`·u(|σ′| + |a|·min(1, |a|)): σ′
  may be computed from σ, as network2's σ(z)(1 − σ(z)) is, whose 1 − σ cancels when σ saturates;
  the ± 2ε(z) differences also cover a kink (ReLU at 0) that rounding may cross;
* backward: ε(t) = |w|ᵀε(δ) + γ_{n+1}|w|ᵀ|δ| for t = wᵀδ, ε(δ) = |σ′|ε(t) + |t|ε(σ′) + u|t||σ′|, and
  ε(δaᵀ) = ε(δ)|a|ᵀ + |δ|ε(a)ᵀ + u|δ||a|ᵀ; the mean over m examples adds γ_m times the mean of |·|.

The tolerance is :data:`SAFETY` times that bound (room for the second-order terms) plus an absolute
:data:`FLOOR` for the subnormal range, where products lose their relative accuracy. It is large
exactly where the computation is ill-conditioned (saturated units, cancelling residuals) and a
few ulps elsewhere; a wrong formula misses by far more at almost every drawn network.

Examples
--------
>>> import numpy as np
>>> from gradmath.testing.drawn import DrawnNetwork, Batch
>>> net = DrawnNetwork((np.array([[0.5]]),), (np.array([[0.0]]),), cost="quadratic")
>>> ref = reference_gradients(net, Batch(np.array([[1.0]]), np.array([[0.0]])))
>>> a = 1 / (1 + np.exp(-0.5))          # δ = (a − y)σ′(z) with σ′ = a(1 − a), in float64
>>> tol = ref.tolerance_b[0][0, 0]
>>> bool(abs(ref.nabla_b[0][0, 0] - a * a * (1 - a)) <= tol), bool(tol < 1e-14)   # a few hundred ulps of 0.146
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

from gradmath.norms import rounding_gamma
from gradmath.testing.drawn import Batch, DrawnNetwork

__all__ = ["Reference", "reference_gradients", "DIGITS", "SAFETY", "SIGMA_ULPS", "FLOOR", "UNIT"]

#: Significant digits of the mpmath reference (about twice float64's 16).
DIGITS = 30
#: The tolerance is this multiple of the first-order rounding bound.
SAFETY = 2.0
#: Rounding allowed to one float64 evaluation of σ or σ′, in units of u.
SIGMA_ULPS = 16
#: Absolute floor of every tolerance: float64's smallest normal number times 2⁴⁰ (≈ 2.4e-296).
FLOOR = 2.0 ** -982
#: The unit roundoff of float64.
UNIT = 2.0 ** -53


@dataclass(frozen=True, eq=False)
class Reference:
    """The reference mean gradients and their tolerances, in network2's layout.

    ``activations[i]`` (``i = 0`` the input) and ``weighted_inputs[i]`` (z^(i+2)) are the forward
    pass rounded to float64, one column per example, and ``activation_errors[i]`` the bound ε(aⁱ⁺¹)
    on what float64 rounding does to them.
    """

    nabla_b: tuple[np.ndarray, ...]
    nabla_w: tuple[np.ndarray, ...]
    tolerance_b: tuple[np.ndarray, ...]
    tolerance_w: tuple[np.ndarray, ...]
    activations: tuple[np.ndarray, ...]
    weighted_inputs: tuple[np.ndarray, ...]
    activation_errors: tuple[np.ndarray, ...]
    primes: tuple[np.ndarray | None, ...]

    @property
    def finite(self) -> bool:
        """Whether every reference value and tolerance is a finite float64 (false when the gradient overflows)."""
        arrays = self.nabla_b + self.nabla_w + self.tolerance_b + self.tolerance_w
        return all(bool(np.all(np.isfinite(a))) for a in arrays)

    def __repr__(self) -> str:
        return f"Reference(sizes={(self.activations[0].shape[0],) + tuple(b.shape[0] for b in self.nabla_b)}, " \
               f"examples={self.activations[0].shape[1]})"


def _mp_vector(values) -> np.ndarray:
    return np.array([mpmath.mpf(float(v)) for v in values], dtype=object)


def _float(values: np.ndarray) -> np.ndarray:
    return np.array([float(v) for v in values], dtype=np.float64)


def _evaluate(function, z: np.ndarray, err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """function(z) in mpmath and max |function(z ± 2ε) − function(z)| per entry."""
    values, spread = [], []
    for zj, ej in zip(z, err):
        v = function(zj)
        step = mpmath.mpf(2 * float(ej))
        values.append(v)
        spread.append(float(max(abs(function(zj + step) - v), abs(function(zj - step) - v))) if step else 0.0)
    return np.array(values, dtype=object), np.array(spread)


def _softmax(z: np.ndarray) -> np.ndarray:
    top = max(z)
    e = [mpmath.exp(v - top) for v in z]
    total = mpmath.fsum(e)
    return np.array([v / total for v in e], dtype=object)


def _one_example(net: DrawnNetwork, w_mp, b_mp, x: np.ndarray, y: np.ndarray):
    """Gradients, their rounding bounds and the forward pass (floats) for one example."""
    n_layers = len(net.weights)
    a, a_err = _mp_vector(x), np.zeros(len(x))
    acts, act_errs, zs, primes, prime_errs = [_float(a)], [a_err], [], [], []
    for i in range(n_layers):
        w, absw = net.weights[i], np.abs(net.weights[i])
        z = w_mp[i].dot(a) + b_mp[i]
        z_err = rounding_gamma(w.shape[1] + 1) * (absw @ np.abs(acts[-1]) + np.abs(net.biases[i][:, 0]))
        z_err = z_err + absw @ a_err
        act = net.activation(i)
        if act is None:
            a = _softmax(z)
            a_f = _float(a)
            a_err = a_f * (rounding_gamma(len(z) + 3) + 2 * float(np.max(z_err)))
            prime, prime_err = None, None
        else:
            a, spread = _evaluate(act.sigma_mp, z, z_err)
            a_f = _float(a)
            a_err = spread + SIGMA_ULPS * UNIT * np.abs(a_f)
            prime, p_spread = _evaluate(act.prime_mp, z, z_err)
            prime_f = _float(prime)
            prime_err = p_spread + SIGMA_ULPS * UNIT * (np.abs(prime_f) + np.abs(a_f) * np.minimum(1.0, np.abs(a_f)))
        zs.append(_float(z))
        acts.append(a_f)
        act_errs.append(a_err)
        primes.append((prime, prime_err))
    delta, d_err = _output_delta(net, a, acts[-1], act_errs[-1], y, primes[-1])
    deltas, errs = [delta], [d_err]
    for i in range(n_layers - 2, -1, -1):
        w_next, absw = w_mp[i + 1], np.abs(net.weights[i + 1])
        t = w_next.T.dot(delta)
        t_f, d_f = _float(t), np.abs(_float(delta))
        t_err = absw.T @ d_err + rounding_gamma(absw.shape[0] + 1) * (absw.T @ d_f)
        prime, prime_err = primes[i]
        prime_f = np.abs(_float(prime))
        delta = prime * t
        d_err = prime_f * t_err + np.abs(t_f) * prime_err + UNIT * np.abs(t_f) * prime_f
        deltas.insert(0, delta)
        errs.insert(0, d_err)
    grads_b, grads_w, tol_b, tol_w = [], [], [], []
    for i, (delta, d_err) in enumerate(zip(deltas, errs)):
        d_f = _float(delta)
        grads_b.append(d_f)
        grads_w.append(np.outer(d_f, acts[i]))
        tol_b.append(d_err)
        tol_w.append(np.outer(d_err, np.abs(acts[i])) + np.outer(np.abs(d_f), act_errs[i])
                     + UNIT * np.outer(np.abs(d_f), np.abs(acts[i])))
    prime_floats = [None if p is None else _float(p) for p, _ in primes]
    return grads_b, grads_w, tol_b, tol_w, acts, zs, act_errs, prime_floats


def _output_delta(net: DrawnNetwork, a, a_f, a_err, y: np.ndarray, prime_pair):
    """δᴸ = ∂C/∂zᴸ in mpmath and its rounding bound, per cost and output activation."""
    y_mp = _mp_vector(y)
    r, r_f = a - y_mp, a_f - y
    abs_r = np.abs(r_f)
    if net.cost == "cross-entropy":  # σ′ cancels: δᴸ = a − y
        return r, a_err + UNIT * abs_r
    if net.cost == "log-loss":  # softmax and −Σ y ln a: δᴸ = a Σy − y
        total = mpmath.fsum(y_mp)
        sum_abs = float(np.sum(np.abs(y)))
        err = a_err * sum_abs + rounding_gamma(len(y) + 1) * (np.abs(a_f) * sum_abs + np.abs(y))
        return a * total - y_mp, err
    prime, prime_err = prime_pair
    if prime is None:  # quadratic cost, softmax output: δ = (diag(a) − aaᵀ)(a − y)
        s = mpmath.fsum(a * r)
        s_abs = float(np.abs(a_f) @ abs_r)
        s_err = float(a_err @ abs_r + np.abs(a_f) @ a_err)
        err = (a_err * (abs_r + s_abs) + np.abs(a_f) * (a_err + s_err)
               + rounding_gamma(len(y) + 3) * np.abs(a_f) * (abs_r + s_abs))
        return a * (r - s), err
    prime_f = np.abs(_float(prime))
    return r * prime, a_err * prime_f + abs_r * prime_err + 2 * UNIT * abs_r * prime_f


def reference_gradients(net: DrawnNetwork, batch: Batch, *, digits: int = DIGITS) -> Reference:
    """The mean gradients over ``batch`` in mpmath at ``digits`` digits, with their tolerances."""
    m = batch.size
    # magnitudes past float64's range become inf (then ``finite`` is false), never an exception
    with mpmath.workdps(digits), np.errstate(over="ignore", invalid="ignore"):
        w_mp = [np.array([[mpmath.mpf(float(v)) for v in row] for row in w], dtype=object) for w in net.weights]
        b_mp = [_mp_vector(b[:, 0]) for b in net.biases]
        per = [_one_example(net, w_mp, b_mp, batch.x[:, e], batch.y[:, e]) for e in range(m)]
    n = len(net.weights)
    mean_gamma = rounding_gamma(m) if m > 1 else 0.0

    def mean(k: int, i: int, column: bool) -> tuple[np.ndarray, np.ndarray]:
        values = np.stack([p[k][i] for p in per])
        errors = np.stack([p[k + 2][i] for p in per])
        total = values.mean(axis=0)
        tol = SAFETY * (errors.mean(axis=0) + mean_gamma * np.abs(values).mean(axis=0)) + FLOOR
        return (total[:, None], tol[:, None]) if column else (total, tol)

    with np.errstate(over="ignore", invalid="ignore"):
        bs = [mean(0, i, True) for i in range(n)]
        ws = [mean(1, i, False) for i in range(n)]
    columns = lambda k, i: np.stack([p[k][i] for p in per], axis=1)  # noqa: E731
    return Reference(
        nabla_b=tuple(v for v, _ in bs), nabla_w=tuple(v for v, _ in ws),
        tolerance_b=tuple(t for _, t in bs), tolerance_w=tuple(t for _, t in ws),
        activations=tuple(columns(4, i) for i in range(n + 1)),
        weighted_inputs=tuple(columns(5, i) for i in range(n)),
        activation_errors=tuple(columns(6, i) for i in range(n + 1)),
        primes=tuple(None if per[0][7][i] is None else columns(7, i) for i in range(n)),
    )
