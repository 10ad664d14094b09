"""γ = sup |σ′| over the real line, with sup σ′ and inf σ′: exact, certified, or labelled an estimate.

The bounds of the Stack Exchange answer need ‖Σ′(z)‖ ≤ γ, that is γ = sup |σ′|
(``proofs/gamma.md``); for an activation whose σ′ ≥ 0 this is sup σ′. Each of sup σ′ and
inf σ′ (= −sup(−σ′)) is found in this order:

1. **Hypotheses** (:mod:`gradmath.gamma.hypotheses`): σ and σ′ are defined on all of ℝ,
   else :class:`~gradmath.errors.ExpressionError` says where they are not.
2. **Limits at ±∞** (SymPy): a limit of +∞ (or bounds reaching it) means σ′ is unbounded
   there, and γ = ∞ (``bounded=False``; ``exact`` is ``sp.oo``, ``float()`` is inf).
   Otherwise σ′ is locally bounded (step 1) and bounded at both ends.
3. **Exact** (:mod:`gradmath.gamma.exact`): SymPy lists every critical point of every piece.
4. **Certified** (:mod:`gradmath.gamma.interval`): interval branch and bound on a finite
   range, with the tails beyond it shown monotone in interval arithmetic.
5. **Estimate**: otherwise, a dense grid plus golden-section refinement, labelled so. Its
   enclosure's lower end is a sample; its upper end is a proven bound from interval values
   on a cover of ℝ (:mod:`gradmath.gamma.cover`) when there is one, else ``"oo"``.
6. **Unbounded along a sequence** (:mod:`gradmath.gamma.divergence`): when an estimate has no
   proven upper bound, SymPy may still prove |σ′(x_n)| → ∞ along a real sequence x_n that
   pins σ′'s oscillation (sin(e^(eˣ))); then γ = ∞, exactly.

``bounded`` says what is proven, and only that:

* ``True``: σ′ is proven bounded (sup and inf both have a finite, proven enclosure end);
* ``False``: σ′ is proven unbounded (γ = ∞, ``method`` "exact");
* ``None``: neither is proven (``method`` "estimate", enclosure ``(lower bound, "oo")``).
  When the samples far out dwarf those near 0 the estimate's ``value`` is ``"oo"`` and
  ``note`` calls that evidence, not a proof.

Every SymPy step runs under a CPU-time budget (:mod:`gradmath.gamma.budget`,
:data:`SECONDS` for each part of the search) and every loop under the same clock, so the
search ends within seconds for any expression the parser accepts.

Examples
--------
>>> from gradmath.activations import get_activation, resolve_activation
>>> g = derive_gamma(get_activation("sigmoid"))
>>> g.exact, g.attained, g.method, g.bounded
(1/4, True, 'exact', True)
>>> g.inf.exact, g.inf.attained   # σ′ > 0, approached as x → ±∞
(0, False)
>>> derive_gamma(get_activation("softplus")).attained   # sup 1 approached as x → ∞
False
>>> g = derive_gamma(get_activation("silu"))
>>> g.method, g.value[:8], g.inf.value[:9]
('certified', '1.099839', '-0.099839')
>>> cube = derive_gamma(resolve_activation("x**3"))
>>> cube.bounded, cube.value, float(cube)
(False, 'oo', inf)
>>> derive_gamma(resolve_activation("sin(exp(exp(x)))")).bounded   # no limit; a sequence proves it
False
>>> g = derive_gamma(resolve_activation("cos(x)*sin(exp(x))"))     # neither proven: an estimate
>>> g.bounded is None, g.method, g.enclosure[1]
(True, 'estimate', 'oo')
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import mpmath
import sympy as sp

from gradmath.errors import ExpressionError
from gradmath.gamma.budget import Budget, OutOfTime
from gradmath.gamma.cover import cover_sup
from gradmath.gamma.divergence import unbounded_along
from gradmath.gamma.exact import NotExact, exact_sup, limit_at
from gradmath.gamma.hypotheses import check_defined_on_reals
from gradmath.gamma.interval import estimate_sup, interval_sup

__all__ = ["GammaResult", "Extremum", "derive_gamma", "SECONDS"]

#: The limit, in CPU seconds, of each part of the search: the hypotheses with the proof of an
#: unbounded σ′, the two limits, sup σ′, inf σ′ (so at most about 4·SECONDS in all; a few
#: seconds for ordinary activations).
SECONDS = 6.0
_HYPOTHESES_SECONDS = 3.0  # within the first SECONDS
_DIVERGENCE_SECONDS = SECONDS - _HYPOTHESES_SECONDS
_COVER_SECONDS = 0.5
_DIGITS = 30
_RANK = {"estimate": 0, "certified": 1, "exact": 2}


class _Value:
    """What an extremum and γ share: ``status`` (= ``method``) and ``float()`` (``inf`` when unbounded)."""

    @property
    def status(self) -> str:
        return self.method

    def __float__(self) -> float:
        return float(mpmath.mpf(self.value.replace("oo", "inf")))


@dataclass(frozen=True)
class Extremum(_Value):
    """sup σ′ or inf σ′ (or sup |σ′|) with the argument behind it.

    Attributes
    ----------
    exact : sympy.Expr or None
        The exact value (``sp.oo``/``-sp.oo`` when unbounded), when known.
    value : str
        The value to 30 significant digits, or ``"oo"``/``"-oo"``.
    enclosure : tuple[str, str]
        ``(lo, hi)``, rigorous (outward rounded) for "exact" and "certified"; for an
        "estimate", ``lo`` is a point value and ``hi`` a proven upper bound (``bounded``
        True) or ``"oo"`` (``bounded`` None: nothing proven above ``lo``).
    argmax : str
        Where the extremum is reached (``"oo"``/``"-oo"`` when only approached there).
    attained : bool
    method : str
        ``"exact"``, ``"certified"`` or ``"estimate"``.
    bounded : bool or None
        True when proven finite (``hi`` finite), False when proven infinite (``method``
        "exact"), None when neither is proven (an estimate).
    """

    exact: sp.Expr | None
    value: str
    enclosure: tuple[str, str]
    argmax: str
    attained: bool
    method: str
    bounded: bool | None = True


    def negated(self) -> Extremum:
        return Extremum(None if self.exact is None else -self.exact, _neg(self.value),
                        (_neg(self.enclosure[1]), _neg(self.enclosure[0])), self.argmax, self.attained,
                        self.method, self.bounded)

    def to_json(self) -> dict:
        return {"value": self.value, "exact": None if self.exact is None else str(self.exact),
                "latex": None if self.exact is None else sp.latex(self.exact),
                "enclosure": list(self.enclosure), "argmax": self.argmax, "attained": self.attained,
                "method": self.method, "bounded": self.bounded}


@dataclass(frozen=True)
class GammaResult(_Value):
    """γ = sup |σ′| of one activation, with sup σ′ (``sup``) and inf σ′ (``inf``).

    The first fields describe γ = sup |σ′| (what the bounds and the window use):
    ``exact`` (``sp.oo`` when unbounded), ``value`` (30 digits, or ``"oo"``),
    ``enclosure``, ``argmax``, ``attained``, ``method`` (= ``status``), ``bounded``
    (True: proven bounded; False: proven unbounded; None: not proven either way, an
    estimate). ``float(result)`` is γ (``inf`` when unbounded, or when an estimate's samples
    grow). ``note`` says which hypothesis, limit or sequence decided the result, in one line.
    """

    activation: str
    exact: sp.Expr | None
    value: str
    enclosure: tuple[str, str]
    argmax: str
    attained: bool
    method: str
    bounded: bool | None = True
    sup: Extremum | None = field(default=None, compare=False)
    inf: Extremum | None = field(default=None, compare=False)
    note: str = ""


    def to_json(self) -> dict:
        return {
            "activation": self.activation,
            "gamma": self.value,
            "gamma_exact": None if self.exact is None else str(self.exact),
            "gamma_latex": None if self.exact is None else sp.latex(self.exact),
            "enclosure": list(self.enclosure),
            "argmax": self.argmax,
            "attained": self.attained,
            "method": self.method,
            "status": self.method,
            "bounded": self.bounded,
            "sup": None if self.sup is None else self.sup.to_json(),
            "inf": None if self.inf is None else self.inf.to_json(),
            "note": self.note,
        }

    def _repr_latex_(self) -> str:
        if self.bounded is False:
            return rf"$\gamma_{{\mathrm{{{self.activation}}}}} = \infty$"
        if self.bounded is None:
            return (rf"$\gamma_{{\mathrm{{{self.activation}}}}} \geq {self.enclosure[0]}"
                    r"\ (\text{estimate, bound not proven})$")
        shown = sp.latex(self.exact) if self.exact is not None else rf"\in [{self.enclosure[0]}, {self.enclosure[1]}]"
        return rf"$\gamma_{{\mathrm{{{self.activation}}}}} = {shown}$"


def derive_gamma(activation, *, seconds: float = SECONDS) -> GammaResult:
    """γ = sup |σ′|, sup σ′ and inf σ′ for ``activation`` (see the module text).

    Raises
    ------
    ExpressionError
        If σ is not defined, or not differentiable, on all of ℝ (the message says where).
    """
    budget = Budget(seconds)
    try:
        with budget.sympy(_HYPOTHESES_SECONDS, untimed_elsewhere=True):
            check_defined_on_reals(activation.expression, "σ")
            check_defined_on_reals(activation.derivative, "σ′")
    except ExpressionError as err:
        raise ExpressionError(f"activation {activation.name!r}: {err}") from None
    except OutOfTime:
        raise ExpressionError(f"activation {activation.name!r}: could not decide within {_HYPOTHESES_SECONDS:g} s "
                              "whether σ is differentiable on all of ℝ; write a simpler expression") from None
    f = activation.derivative
    trusted = _is_builtin(activation)
    limits = {end: limit_at(f, end, Budget(seconds, trusted=trusted)) for end in (sp.S.Infinity, sp.S.NegativeInfinity)}
    sup = _sup(f, limits, Budget(seconds, trusted=trusted))
    neg_limits = {end: (None if v is None else -v) for end, v in limits.items()}
    inf = _sup(-f, neg_limits, Budget(seconds, trusted=trusted)).negated()
    proof = ""
    if sup.bounded is None or inf.bounded is None:
        sup, inf, proof = _prove_unbounded(f, sup, inf, Budget(_DIVERGENCE_SECONDS, trusted=trusted))
    result = _combine(activation.name, sup, inf)
    return replace(result, note=f"{result.note}: {proof}") if proof else result


def _prove_unbounded(f: sp.Expr, sup: Extremum, inf: Extremum, budget: Budget):
    """(sup, inf, what proved it): an unproven extremum replaced by ±∞ where a sequence proves it."""
    found = unbounded_along(f, budget)
    lines = []
    for sign, step in sorted(found.items(), reverse=True):
        if (sup if sign > 0 else inf).bounded is True:
            continue   # a proven finite bound and this cannot both hold; keep the bound, claim nothing more
        where = str(step.end) if step.end is not None else f"x_n = {step.x_n}"
        if sign > 0:
            sup = Extremum(sp.oo, "oo", ("oo", "oo"), where, False, "exact", bounded=False)
        else:
            inf = Extremum(-sp.oo, "-oo", ("-oo", "-oo"), where, False, "exact", bounded=False)
        lines.append(step.describe())
    return sup, inf, (lines[0] if lines else "")   # one sequence is proof enough


def _is_builtin(activation) -> bool:
    """A built-in activation, unchanged: its SymPy steps are known to finish (tests/test_activations.py)."""
    from gradmath.activations import BUILTIN_ACTIVATIONS, get_activation

    if activation.name not in BUILTIN_ACTIVATIONS:
        return False
    return get_activation(activation.name).expression == activation.expression


def _sup(g: sp.Expr, limits: dict, budget: Budget) -> Extremum:
    for end, limit in limits.items():
        top = limit.max if isinstance(limit, sp.AccumBounds) else limit
        if top is sp.oo:
            return Extremum(sp.oo, "oo", ("oo", "oo"), str(end), False, "exact", bounded=False)
    if all(v is not None for v in limits.values()):
        try:
            value, where, attained = exact_sup(g, limits, budget)
            with mpmath.workdps(_DIGITS + 10):
                v = mpmath.mpf(str(sp.N(value, _DIGITS + 10)))
            return Extremum(value, _fmt(v), _outward(v, v, _DIGITS + 5), where, attained, "exact")
        except NotExact:
            pass
        found = interval_sup(g, limits, budget)
        if found is not None:
            return _from_search(g, found, "certified")
    found = estimate_sup(g, limits, budget)
    # the cover takes ~0.03 s for ordinary σ′; it gets at least _COVER_SECONDS even when the search spent its share
    return _from_estimate(found, cover_sup(g, Budget(max(budget.left(), _COVER_SECONDS))))


def _from_search(g, found: dict, method: str) -> Extremum:
    """A certified extremum from :func:`interval_sup`."""
    return Extremum(None, _fmt(found["value"]), _outward(found["lo"], found["hi"], 20), _where(found["argmax"]),
                    found["attained"], method)


def _from_estimate(found: dict, bound) -> Extremum:
    """An estimate: proven bounded when the cover gives an upper bound ``bound``, else not proven (None)."""
    value, where = found["value"], _where(found["argmax"])
    lo = _outward(value, value, _DIGITS)[0]
    if bound is not None:
        top = max(bound, value)   # bound ≥ sup ≥ the sample; max() only guards the sample's last digit
        return Extremum(None, _fmt(value), (lo, _outward(top, top, 20)[1]), where, found["attained"], "estimate", True)
    if found.get("grows", False):  # samples far out dwarf those near 0: evidence of an unbounded g, not a proof
        return Extremum(None, "oo", (lo, "oo"), where, False, "estimate", None)
    return Extremum(None, _fmt(value), (lo, "oo"), where, found["attained"], "estimate", None)


def _where(argmax) -> str:
    return mpmath.nstr(argmax, 20) if isinstance(argmax, mpmath.mpf) else str(argmax)


def _combine(name: str, sup: Extremum, inf: Extremum) -> GammaResult:
    """γ = max(sup σ′, −inf σ′), with the weaker of the two arguments' labels and proofs."""
    neg = inf.negated()
    if sup.bounded is False or inf.bounded is False:   # proven: only the exact paths set False
        top = sup if sup.bounded is False else neg
        note = f"σ′ is unbounded (sup |σ′| = ∞, approached as x → {top.argmax})".replace("oo", "∞")
        return GammaResult(name, sp.oo, "oo", ("oo", "oo"), top.argmax, False, "exact", False, sup, inf, note)
    method = min(sup.method, inf.method, key=_RANK.__getitem__)
    bounded = True if (sup.bounded and inf.bounded) else None
    top = sup if _sup_wins(sup, neg) else neg
    other = neg if top is sup else sup
    enclosure = (_max_text(top.enclosure[0], other.enclosure[0]), _max_text(top.enclosure[1], other.enclosure[1]))
    exact = top.exact if method == "exact" else None
    note = "" if method != "estimate" else _estimate_note(top, bounded)
    return GammaResult(name, exact, top.value, enclosure, top.argmax, top.attained, method, bounded, sup, inf, note)


def _estimate_note(top: Extremum, bounded: bool | None) -> str:
    if bounded:
        return "estimate: the value is sampled; its upper bound on all of ℝ is proven by interval arithmetic"
    if top.value.endswith("oo"):
        return (f"estimate, bound not proven: |σ′| grows on the samples (largest near x = {top.argmax}), "
                "evidence of an unbounded σ′ but no proof either way")
    return "estimate, bound not proven: the search found no upper bound of |σ′| on all of ℝ"


def _sup_wins(sup: Extremum, neg: Extremum) -> bool:
    """Whether sup σ′ ≥ −inf σ′: decided exactly when both are exact, else on the 30-digit values."""
    if sup.exact is not None and neg.exact is not None:
        difference = sp.N(sup.exact - neg.exact, 60)
        if difference.is_Number:
            return bool(difference >= 0)
    with mpmath.workdps(_DIGITS + 20):
        return _number(sup.value) >= _number(neg.value)


def _max_text(a: str, b: str) -> str:
    """The larger of two decimal strings (``"oo"`` is +∞, ``"-oo"`` is −∞), compared exactly."""
    with mpmath.workdps(_DIGITS + 20):
        return a if _number(a) >= _number(b) else b


def _number(text: str):
    return mpmath.mpf(text.replace("oo", "inf"))


def _neg(text: str) -> str:
    if text.strip("-").strip("0.") == "":
        return text.lstrip("-")  # zero stays unsigned
    return text[1:] if text.startswith("-") else "-" + text


def _fmt(v, digits: int = _DIGITS) -> str:
    """``digits`` significant digits; fixed point for 1e-6 ≤ |v| < 10^digits, else with an exponent."""
    with mpmath.workdps(digits + 10):
        return mpmath.nstr(v, digits, strip_zeros=False, min_fixed=-6, max_fixed=digits)


def _outward(lo, hi, digits: int) -> tuple[str, str]:
    """Format ``[lo, hi]`` to ``digits`` digits, widened (relatively) so that rounding cannot shrink it."""
    with mpmath.workdps(digits + 10):
        pad = mpmath.mpf(10) ** (1 - digits)
        return _fmt(lo - pad * abs(lo), digits), _fmt(hi + pad * abs(hi), digits)
