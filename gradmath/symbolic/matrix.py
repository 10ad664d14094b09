"""The matrix form of the gradient (Nielsen's (124)): δ^l = Σ′(z^l)(w^{l+1})ᵀ … Σ′(z^L) ∇_a C.

For layer widths ``sizes = (n_0, n_1, …, n_L)`` the network is
``z^l = w^l a^{l−1} + b^l``, ``a^l = σ(z^l)`` elementwise, with ``a^0`` the input and
cost ``C = Σ_j C(a^L_j, y_j)``. :func:`derive_matrix` writes every δ^l = ∂C/∂z^l
(= ∂C/∂b^l) as the product of matrices in (124), with ``Σ′(z^l)`` the diagonal
matrix of σ′(z^l_j), and checks it (proof: ``proofs/matrix-form.md``):

``nested``
    exact: for every layer l and neuron j, :func:`sympy.diff` of the fully nested
    cost with respect to ``b^l_j``, with σ and each output's cost arbitrary
    (undefined) functions, equals entry j of the product, after both are expanded
    into sums of products of σ′(…), w and C′(…) (a canonical form for such
    polynomials, so equality is decided exactly).
``numeric``
    every entry of every δ^l, for the given activation and cost at random
    parameters, agrees with a central difference of the cost computed with mpmath.

Examples
--------
>>> m = derive_matrix((2, 3, 2))
>>> m
MatrixDerivation(sizes=(2, 3, 2), activation='sigmoid', cost='quadratic', verified=True)
>>> m.product_form_latex(1)
"\\\\delta^{1} = \\\\Sigma'(z^{1}) (w^{2})^T \\\\Sigma'(z^{2}) \\\\nabla_a C"
>>> m.deltas[1][0]                      # δ² for a quadratic cost: σ′(z²_1)(a²_1 − y_1)
(a^2_1 - y_1)*sigma'(z^2_1)
>>> derive_matrix((2, 0, 2))
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: sizes=(2, 0, 2) must be at least two positive integers, e.g. 2,3,2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from gradmath.activations import Activation, check_no_dirac_delta, get_activation, guarded_mpmath, resolve_activation
from gradmath.costs import A, Y, Cost, get_cost
from gradmath.expressions import X
from gradmath.finite_difference import checked_derivative
from gradmath.symbolic.checks import (
    _TOO_LARGE, _UNSETTLED, DEFAULT_DIGITS, MAX_LOST_DIGITS, TOLERANCE_DIGITS, Check, checks_markdown,
    name_derivatives, numeric_check_refused,
)
from gradmath.symbolic.matrix_size import (
    MAX_DEPTH,
    MAX_INPUTS,
    MAX_NESTED_WORK,
    MAX_NEURONS,
    check_sizes,
    nested_work,
)
from gradmath.symbolic.renaming import rename
from gradmath.validation import check_int

__all__ = ["MatrixDerivation", "derive_matrix", "SigmaPrime", "MAX_NEURONS", "MAX_INPUTS", "MAX_DEPTH",
           "MAX_NESTED_WORK", "nested_work"]



class SigmaPrime(sp.Function):
    """σ′ left abstract, printed ``\\sigma'(z)``; :meth:`MatrixDerivation.explicit` writes it out."""

    nargs = 1

    def _latex(self, printer):
        return rf"\sigma'\left({printer._print(self.args[0])}\right)"

    def _sympystr(self, printer):
        return f"sigma'({printer._print(self.args[0])})"


@lru_cache(maxsize=None)
def _sym(kind: str, layer: int, j: int, k: int | None = None) -> sp.Symbol:
    if kind == "y":
        return sp.Symbol(f"y_{j}", real=True)
    return sp.Symbol(f"{kind}^{layer}_{j}" + ("" if k is None else f",{k}"), real=True)


def _column(kind: str, layer: int, n: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix([_sym(kind, layer, j) for j in range(1, n + 1)])


def _weights(layer: int, rows: int, cols: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(rows, cols, lambda j, k: _sym("w", layer, j + 1, k + 1))


@dataclass(frozen=True, repr=False)
class MatrixDerivation:
    """δ^1, …, δ^L of a network with the given widths, as in (124), with the checks made.

    Attributes
    ----------
    sizes : tuple of int
    activation, cost : str
    activation_expression, cost_expression : sympy.Expr
    deltas : tuple of sympy.ImmutableMatrix
        ``deltas[l - 1]`` is δ^l, with σ′ kept as :class:`SigmaPrime`.
    checks : tuple of Check
    """

    sizes: tuple[int, ...]
    activation: str
    cost: str
    activation_expression: sp.Expr
    cost_expression: sp.Expr
    deltas: tuple[sp.ImmutableMatrix, ...]
    checks: tuple[Check, ...]

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1

    @property
    def verified(self) -> bool:
        """True only when checks were made and every one passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    def explicit(self, layer: int) -> sp.ImmutableMatrix:
        """δ^layer with σ′ written out from the activation's derivative."""
        layer = check_int("layer", layer, min_value=1, max_value=self.depth)
        prime = sp.diff(self.activation_expression, X)
        delta = self.deltas[layer - 1]
        mapping = {f: rename(prime, X, f.args[0]) for f in delta.atoms(SigmaPrime)}
        return delta.xreplace(mapping)

    def weight_gradient(self, layer: int) -> sp.ImmutableMatrix:
        """∂C/∂w^layer = δ^layer (a^{layer−1})ᵀ (Nielsen's BP4)."""
        layer = check_int("layer", layer, min_value=1, max_value=self.depth)
        return self.deltas[layer - 1] * _column("a", layer - 1, self.sizes[layer - 1]).T

    def product_form_latex(self, layer: int) -> str:
        """(124) for one layer, with the matrices named."""
        L = self.depth
        parts = [rf"\Sigma'(z^{{{layer}}})"]
        parts += [rf"(w^{{{j}}})^T \Sigma'(z^{{{j}}})" for j in range(layer + 1, L + 1)]
        return rf"\delta^{{{layer}}} = " + " ".join(parts) + r" \nabla_a C"

    def to_latex(self) -> str:
        """Every layer's (124) and its entries, in a LaTeX ``aligned`` block."""
        lines = []
        for layer in range(1, self.depth + 1):
            lines.append(self.product_form_latex(layer).replace(" = ", " &= ", 1) + r" \\")
            lines.append(rf"&= {sp.latex(self.deltas[layer - 1])} \\")
        return "\\begin{aligned}\n" + "\n".join(lines).rstrip(" \\") + "\n\\end{aligned}"

    def to_markdown(self) -> str:
        """A Markdown section: the network, the derivation, the checks."""
        L = self.depth
        cost = sp.latex(self.cost_expression.xreplace({A: sp.Symbol("a^L_j"), Y: sp.Symbol("y_j")}))
        out = [
            f"### δ^l for widths {','.join(map(str, self.sizes))}, {self.activation}, {self.cost} cost",
            "",
            f"$z^l = w^l a^{{l-1}} + b^l$, $a^l = \\sigma(z^l)$ with $\\sigma(x) = {sp.latex(self.activation_expression)}$, "
            f"$C = \\sum_j {cost}$, $L = {L}$.",
            "",
            f"$$\n{self.to_latex()}\n$$",
            "",
        ]
        return "\n".join(out + checks_markdown(self.checks, self.verified))

    def to_json(self) -> dict:
        """JSON-ready: sizes, names, each layer's product form and entries (LaTeX), checks."""
        return {
            "sizes": list(self.sizes),
            "depth": self.depth,
            "activation": self.activation,
            "cost": self.cost,
            "layers": [
                {"layer": layer, "product_form": self.product_form_latex(layer),
                 "delta": [sp.latex(e) for e in self.deltas[layer - 1]]}
                for layer in range(1, self.depth + 1)
            ],
            "verified": self.verified,
            "checks": [c.to_json() for c in self.checks],
        }

    def _repr_latex_(self) -> str:
        return f"$${self.to_latex()}$$"

    def __repr__(self) -> str:
        return (f"MatrixDerivation(sizes={self.sizes}, activation={self.activation!r}, cost={self.cost!r}, "
                f"verified={self.verified})")


def derive_matrix(sizes, activation: str | Activation = "sigmoid", cost: str | Cost = "quadratic", *,
                  verify: bool = True, seed: int = 0, digits: int = DEFAULT_DIGITS,
                  progress: Callable[[int, int], None] | None = None) -> MatrixDerivation:
    """Derive δ^l for every layer of a network of widths ``sizes`` by (124), and check it.

    The theorem and its proof: ``proofs/matrix-form.md``.

    Parameters
    ----------
    sizes : str or sequence of int
        ``(n_0, n_1, …, n_L)``, input width first, or a string such as ``"2,3,2"``:
        at most :data:`MAX_INPUTS` inputs, :data:`MAX_DEPTH` layers and
        :data:`MAX_NEURONS` neurons after the input, and :func:`nested_work` at most
        :data:`MAX_NESTED_WORK` (the nested check's time grows fast with depth).
    activation, cost, verify, seed, digits
        As for :func:`gradmath.symbolic.chain.derive_chain`.
    progress : callable, optional
        ``progress(done, total)`` after each entry of each check (``total`` = twice the neurons
        after the input); the checks take most of the time.

    Returns
    -------
    MatrixDerivation

    Raises
    ------
    InvalidParameterError
        Malformed or too large ``sizes``.
    """
    sizes = check_sizes(sizes)
    seed = check_int("seed", seed, min_value=0)
    digits = check_int("digits", digits, min_value=15, max_value=1000)
    act = check_no_dirac_delta(activation if isinstance(activation, Activation) else (
        resolve_activation(activation) if isinstance(activation, str) else get_activation(activation)))
    cst = get_cost(cost)
    L = len(sizes) - 1
    grad_a = sp.ImmutableMatrix([cst.derivative.xreplace({A: _sym("a", L, j), Y: _sym("y", L, j)})
                                 for j in range(1, sizes[L] + 1)])
    deltas = _product_form(sizes, lambda z: SigmaPrime(z), grad_a)
    checks: list[Check] = []
    if verify:
        total, done = 2 * sum(sizes[1:]), [0]

        def tick() -> None:
            done[0] += 1
            if progress is not None:
                progress(done[0], total)

        checks.append(_check_nested(sizes, tick))
        checks.append(_check_numeric(sizes, act, cst, deltas, seed=seed, digits=digits, tick=tick))
    return MatrixDerivation(tuple(sizes), act.name, cst.name, act.expression, cst.expression,
                            tuple(deltas), tuple(checks))


def _product_form(sizes, sigma_prime, grad_a, z_of=None) -> list[sp.ImmutableMatrix]:
    """(124) for each layer l: Σ′(z^l) (w^{l+1})ᵀ Σ′(z^{l+1}) … Σ′(z^L) ∇_a C, multiplied out."""
    L = len(sizes) - 1
    z_of = z_of or (lambda layer, j: _sym("z", layer, j))

    def big_sigma(layer):
        return sp.ImmutableMatrix(sp.diag(*[sigma_prime(z_of(layer, j)) for j in range(1, sizes[layer] + 1)]))

    deltas = []
    for layer in range(1, L + 1):
        product = big_sigma(layer)
        for j in range(layer + 1, L + 1):
            product = product * _weights(j, sizes[j], sizes[j - 1]).T * big_sigma(j)
        deltas.append(sp.ImmutableMatrix(product * grad_a))
    return deltas


def _check_nested(sizes, tick=lambda: None) -> Check:
    """sympy.diff of the nested cost (σ and per-output costs undefined) against (124), entry by entry."""
    L = len(sizes) - 1
    sigma, sigma_p = sp.Function("sigma"), sp.Function("sigma'")
    costs = [sp.Function(f"C_{j}") for j in range(1, sizes[L] + 1)]
    cost_ps = [sp.Function(f"C_{j}'") for j in range(1, sizes[L] + 1)]
    a = _column("a", 0, sizes[0])
    nested_z = {}
    for layer in range(1, L + 1):
        z = _weights(layer, sizes[layer], sizes[layer - 1]) * a + _column("b", layer, sizes[layer])
        for j in range(1, sizes[layer] + 1):
            nested_z[(layer, j)] = z[j - 1]
        a = z.applyfunc(sigma)
    nested_cost = sp.Add(*[c(a_j) for c, a_j in zip(costs, a)])
    grad_a = sp.ImmutableMatrix([cp(a_j) for cp, a_j in zip(cost_ps, a)])
    product = _product_form(sizes, sigma_p, grad_a, z_of=lambda layer, j: nested_z[(layer, j)])
    primes = {sigma: sigma_p, **dict(zip(costs, cost_ps))}
    entries, ok = 0, True
    for layer in range(1, L + 1):
        for j in range(1, sizes[layer] + 1):
            direct = name_derivatives(sp.diff(nested_cost, _sym("b", layer, j)), primes)
            ok = ok and sp.expand(direct) == sp.expand(product[layer - 1][j - 1])
            entries += 1
            tick()
    return Check("nested", ok, True,
                 f"sympy.diff of the nested cost by each of the {entries} biases, σ and C undefined functions, "
                 "equals the entry of (124), both expanded")


def _check_numeric(sizes, act, cst, deltas, *, seed, digits, tick=lambda: None) -> Check:
    """Every entry of every δ^l at random parameters against a central difference (mpmath); refused in one
    line (InvalidParameterError) where a value is too large for mpmath or |C| ≫ |∂C| beyond MAX_LOST_DIGITS."""
    try:
        return _check_numeric_entries(sizes, act, cst, deltas, seed=seed, digits=digits, tick=tick)
    except (OverflowError, MemoryError) as err:
        raise numeric_check_refused(act.name, seed, _TOO_LARGE) from err


def _check_numeric_entries(sizes, act, cst, deltas, *, seed, digits, tick) -> Check:
    L = len(sizes) - 1
    rng = np.random.default_rng(seed)
    dps = digits + 10
    for _ in range(1000):
        x = rng.uniform(0.0, 1.0, sizes[0])
        y = rng.uniform(0.0, 1.0, sizes[L])
        ws = [rng.standard_normal((sizes[l], sizes[l - 1])) for l in range(1, L + 1)]
        bs = [rng.standard_normal(sizes[l]) for l in range(1, L + 1)]
        with mpmath.workdps(dps):
            zs, acts = _forward(act, x, ws, bs)
        if cst.name != "cross-entropy" or all(0 < v < 1 for v in acts[-1]):
            break
    prime = sp.diff(act.expression, X)
    rtol = mpmath.mpf(10) ** -(digits - TOLERANCE_DIGITS)
    worst, ok, count = mpmath.mpf(0), True, 0
    with mpmath.workdps(dps):
        zs, acts = _forward(act, x, ws, bs)
        values = {}
        for layer in range(1, L + 1):
            for j in range(sizes[layer]):
                values[_sym("z", layer, j + 1)] = zs[layer - 1][j]
                for k in range(sizes[layer - 1]):
                    values[_sym("w", layer, j + 1, k + 1)] = mpmath.mpf(ws[layer - 1][j, k])
        for j in range(sizes[L]):
            values[_sym("a", L, j + 1)] = acts[-1][j]
            values[_sym("y", L, j + 1)] = mpmath.mpf(y[j])
        cost_value = mpmath.fsum(cst.evaluate_mp(a_j, mpmath.mpf(y_j)) for a_j, y_j in zip(acts[-1], y))
        for layer in range(1, L + 1):
            for j in range(sizes[layer]):
                entry = deltas[layer - 1][j].replace(SigmaPrime, lambda z: rename(prime, X, z))
                symbols = sorted(entry.free_symbols, key=str)
                value = guarded_mpmath(entry, symbols)(*[values[s] for s in symbols])

                def cost_at(t, layer=layer, j=j):
                    b_new = [list(map(mpmath.mpf, b)) for b in bs]
                    b_new[layer - 1][j] = t
                    _, out = _forward(act, x, ws, b_new)
                    return mpmath.fsum(cst.evaluate_mp(a_j, mpmath.mpf(y_j)) for a_j, y_j in zip(out[-1], y))

                lost = 2 + (0 if value == 0 else max(0, int(mpmath.ceil(mpmath.log10(abs(cost_value) / abs(value))))))
                if lost > MAX_LOST_DIGITS:
                    raise numeric_check_refused(act.name, seed, f"|C| is about 10^{lost} times an entry of "
                                                f"δ^{layer}, more than the {MAX_LOST_DIGITS} extra digits carried")
                numeric, spread = checked_derivative(cost_at, mpmath.mpf(bs[layer - 1][j]), digits=digits,
                                                     lost_digits=lost)
                scale = max(abs(numeric), abs(value))
                rel = abs(numeric - value) / scale if scale else mpmath.mpf(0)
                if rel > rtol and spread > rtol:   # the two central differences disagree too: nothing is shown
                    raise numeric_check_refused(act.name, seed, _UNSETTLED.format(
                        f"δ^{layer}_{j + 1}", mpmath.nstr(spread, 2), digits - TOLERANCE_DIGITS))
                ok = ok and rel <= rtol   # (the more precise central difference agrees: a pass)
                worst = max(worst, rel)
                count += 1
                tick()
    return Check("numeric", bool(ok), False,
                 f"seed {seed}, w, b ~ N(0, 1): {count} entries of δ^1…δ^{L} against central differences of C, "
                 f"largest relative difference {mpmath.nstr(worst, 2)}; tolerance 1e-{digits - TOLERANCE_DIGITS}")


def _forward(act, x, ws, bs):
    a = [mpmath.mpf(v) for v in x]
    zs, acts = [], []
    for w, b in zip(ws, bs):
        z = [mpmath.fsum(mpmath.mpf(w[j][k]) * a[k] for k in range(len(a))) + mpmath.mpf(b[j])
             for j in range(len(b))]
        a = [act.sigma_mp_guarded(v) for v in z]
        zs.append(z)
        acts.append(a)
    return zs, acts
