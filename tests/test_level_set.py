"""Windows of activations whose σ′ changes sign or is negative, against an independent mpmath oracle.

Checks ``proofs/window.md`` (γ = sup|σ′|, 1/γ an infimum, the width as the total length of the
level set, the closed form accepted only where it checks out). The oracle (``tests/window_oracle.py``)
writes σ′ by hand in mpmath and finds γ, the level set and the maximum by dense sampling refined
with ``mpmath.findroot``; it shares no code with gradmath.
"""

from __future__ import annotations

import json
import math

import mpmath
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gradmath.activations import Activation, resolve_activation
from gradmath.cli import main
from gradmath.errors import InvalidParameterError
from gradmath.expressions import X
from gradmath.numeric.certify import MAX_CERTIFY_DIGITS, certify_window_maximum
from gradmath.numeric.optimise import level_set_measure, maximise_window, window_width
from gradmath.numeric.precision import window_maximum
from gradmath.symbolic.level_set import tail_limit, time_limit
from gradmath.symbolic.window import W, derive_window
from tests import window_oracle as oracle

# Tolerances: the oracle works at 30 digits; the code under test measures in float64 with brentq
# (xtol 1e-13·max(1, |z|)) or evaluates a closed form, so widths agree to ~1e-12 relative away
# from tangencies; 1e-9 leaves three orders for the conditioning of a root near a flat |σ′|.
RTOL = 1e-9


def _oracle_width(prime, u) -> float:
    return float(oracle.width(prime, u))


# ----- the table of hostile cases --------------------------------------------------------------
# (activation, method, min |w|, unbounded_from, inclusive, width formula or None, sample |w| values)
CASES = [
    ("-tanh(x)", "closed form", 1, None, False, sp.log(2 * sp.sqrt(W) * sp.sqrt(W - 1) + 2 * W - 1) / W,
     (1.2, 1.7235, 3.0, 40.0)),
    ("-1/(1+exp(-x))", "closed form", 4, None, False, None, (4.5, 6.9, 20.0)),
    # σ′ = 1/2 − 2 sech²: |σ′(0)| = 3/2 = γ (not sup σ′ = 1/2); {|σ′| ≥ 1/u} = {cosh² z ≤ 4u/(u + 2)}
    # for 2/3 ≤ u ≤ 2, so W = (2/u) acosh(2√(u/(u + 2))); beyond 2 the tails qualify too
    ("x/2-2*tanh(x)", "closed form", sp.Rational(2, 3), 2, False,
     2 / W * sp.acosh(2 * sp.sqrt(W / (W + 2))), (0.7, 1.0, 1.5, 1.99)),
    ("x/sqrt(1+x**2)", "closed form", 1, None, False, 2 * sp.sqrt(W ** sp.Rational(2, 3) - 1) / W,
     (1.1, 1.837, 5.0)),
    # |σ′| has three peaks (1 at 0, 2e^{-3/2} at ±√(3/2)): below that level, three intervals
    ("x*exp(-x*x)", "numeric", 1, None, False, None, (1.5, 3.0, 10.0)),
    ("3*tanh(x)-x/5", "closed form", sp.Rational(5, 14), 5, False, None, (0.5, 2.0, 4.9)),
    ("3*tanh(x)+x/5", "closed form", sp.Rational(5, 16), 5, True, None, (0.5, 2.0, 4.9)),
]


@pytest.mark.parametrize("name,method,min_w,unbounded,inclusive,formula,samples", CASES,
                         ids=[c[0] for c in CASES])
def test_hostile_case_table(name, method, min_w, unbounded, inclusive, formula, samples):
    act = resolve_activation(name)
    d = derive_window(act)
    assert d.method == method
    with mpmath.workdps(40):  # γ may be exact or certified (to 30 digits): compare its value
        assert abs(mpmath.mpf(d.min_abs_w_value) - mpmath.mpf(sp.N(min_w, 40))) < mpmath.mpf(10) ** -25
    assert d.unbounded_from == unbounded and d.unbounded_inclusive == inclusive
    prime = oracle.PRIMES.get(name) or _tanh_line_prime(name)
    tail = 0 if unbounded is None else 1 / unbounded
    gamma, attained = oracle.sup_abs(prime, tail)
    assert float(gamma) == pytest.approx(float(1 / min_w), rel=1e-20 ** 0.5) and attained
    if formula is not None:  # the closed form gradmath found is the one worked out by hand
        for u in samples:
            assert float(d.width.subs(W, u)) == pytest.approx(float(formula.subs(W, u)), rel=1e-12)
    for u in samples:  # and every width, closed form or measured, is the oracle's
        assert window_width(act, u).width == pytest.approx(_oracle_width(prime, u), rel=RTOL)
    if unbounded is not None:
        assert math.isinf(window_width(act, 1.01 * float(unbounded)).width)
        assert math.isinf(_oracle_width(prime, 1.01 * float(unbounded)))


def _tanh_line_prime(name: str):
    a, b = {"3*tanh(x)-x/5": (3, -0.2), "3*tanh(x)+x/5": (3, 0.2)}[name]
    return oracle.tanh_line(a, b)


@pytest.mark.parametrize("name,same_as", [("-tanh(x)", "tanh"), ("-1/(1+exp(-x))", "sigmoid")])
def test_negated_activations_have_the_same_window(name, same_as):
    mine, theirs = derive_window(resolve_activation(name)), derive_window(same_as)
    assert sp.simplify(mine.width - theirs.width) == 0
    assert mpmath.mpf(mine.min_abs_w_value) == mpmath.mpf(theirs.min_abs_w_value)
    assert window_maximum(resolve_activation(name), digits=30).max_width == window_maximum(same_as, digits=30).max_width


def test_negated_tanh_maximum_against_the_oracle():
    u, top = oracle.argmax_width(oracle.PRIMES["-tanh(x)"], 1.2, 3.0, steps=40)
    m = maximise_window(resolve_activation("-tanh(x)"))
    assert m.max_width == pytest.approx(float(top), rel=1e-12)
    assert m.argmax_abs_w == pytest.approx(float(u), rel=1e-6)  # a flat maximum: u is good to √tol


def test_closed_form_found_for_x_over_sqrt_1_plus_x2():
    d = derive_window(resolve_activation("x/sqrt(1+x**2)"))
    assert d.method == "closed form"
    assert d.exact_maximum == (3 * sp.sqrt(6) / 4, 4 * sp.sqrt(3) / 9)  # s = u^{2/3} maximises (s−1)/s³ at 3/2
    u, top = oracle.argmax_width(oracle.PRIMES["x/sqrt(1+x**2)"], 1.2, 3.0, steps=40)
    assert float(d.exact_maximum[1]) == pytest.approx(float(top), rel=1e-12)
    assert float(d.exact_maximum[0]) == pytest.approx(float(u), rel=1e-6)


def test_several_intervals_count_with_their_total_length():
    prime = oracle.PRIMES["x*exp(-x*x)"]
    parts = oracle.level_intervals(prime, mpmath.mpf(1) / 3)
    assert len(parts) == 3  # so the width is a sum, not the longest interval
    assert window_width(resolve_activation("x*exp(-x*x)"), 3.0).width == pytest.approx(
        _oracle_width(prime, 3.0), rel=RTOL)


# ----- γ approached, not attained: 1/γ is an infimum -----------------------------------------------
@pytest.mark.parametrize("name,edge", [("softplus", 1.0), ("tanh(x)-2*x/3", 1.5)])
def test_unattained_gamma_gives_an_empty_window_at_one_over_gamma(name, edge):
    act = resolve_activation(name)
    d = derive_window(act)
    assert not d.gamma_attained and d.method == "unbounded"
    at = window_width(act, edge)
    assert at.width == 0.0 and "never attained" in at.reason
    assert math.isinf(window_width(act, edge * (1 + 1e-9)).width)
    if name != "softplus":  # σ′ = sech² − 2/3: |σ′| < 2/3 everywhere, → 2/3 at ±∞
        prime = oracle.tanh_line(1, -mpmath.mpf(2) / 3)
        gamma, attained = oracle.sup_abs(prime, mpmath.mpf(2) / 3)
        assert not attained and float(gamma) == pytest.approx(2 / 3)
        assert oracle.level_intervals(prime, 1 / mpmath.mpf(edge), radius=10.0) == []  # sech² ≫ 10⁻³⁰ there


# ----- Hypothesis: a·tanh(x) + b·x, the numeric path against the oracle ----------------------------
# On [−20, 20] sech² stays above 10⁻¹⁷, far above the oracle's 30 digits; 801 points (step 0.05)
# resolve every interval here, as |w| ≥ 1.5/γ keeps the narrowest one wider than 0.3.
_FAST = dict(radius=20.0, grid=801)


@settings(max_examples=25, deadline=None)
@given(a=st.floats(0.5, 4.0) | st.floats(-4.0, -0.5),
       b=st.just(0.0) | st.floats(0.05, 0.4) | st.floats(-0.4, -0.05), t=st.floats(0.05, 0.95))
@example(a=-2.0, b=0.2, t=0.5)   # σ′ changes sign (a·b < 0, |a| > |b|)
@example(a=1.0, b=0.0, t=0.9)
@example(a=1.0, b=-0.4, t=0.5)   # |a| < 2|b|, a·b < 0: γ = |b| approached, no bounded range
def test_tanh_line_level_set_against_the_oracle(a, b, t):
    act = Activation("drawn", a * sp.tanh(X) + b * X)
    prime = oracle.tanh_line(mpmath.mpf(a), mpmath.mpf(b))
    gamma, _ = oracle.sup_abs(prime, abs(b), **_FAST)
    assert float(gamma) == pytest.approx(max(abs(a + b), abs(b)), rel=1e-12)  # by hand: a·sech² + b
    low, high = 1.5 / float(gamma), min(1 / abs(b) if b else math.inf, 50 / float(gamma))
    if high <= low:
        return  # (next to) no bounded range: empty below 1/|b|, unbounded beyond
    u = low * (high / low) ** t
    measured = level_set_measure(act, 1.0 / u) / u
    assert measured == pytest.approx(float(oracle.width(prime, u, **_FAST)), rel=RTOL, abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(name=st.sampled_from(["-tanh(x)", "x/2-2*tanh(x)", "-1/(1+exp(-x))", "x/sqrt(1+x**2)"]),
       t=st.floats(0.01, 0.99))
def test_closed_forms_of_signed_activations_against_the_oracle(name, t):
    act = resolve_activation(name)
    d = derive_window(act)  # cached after the first draw of each name
    low = float(d.min_abs_w_value)
    high = float(d.unbounded_from) if d.unbounded_from is not None else 30 * low
    u = low * (high / low) ** t
    expected = float(oracle.width(oracle.PRIMES[name], u, **_FAST))  # every root lies within |z| < 10 here
    assert window_width(act, u).width == pytest.approx(expected, rel=RTOL)


# ----- refusals: γ = ∞, digits ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["x**3", "x*abs(x)", "x**2"])
def test_unbounded_derivative_says_the_window_does_not_apply(name, capsys):
    act = resolve_activation(name)
    d = derive_window(act)
    assert d.method == "not applicable" and not d.applies
    json.dumps(d.to_json(), allow_nan=False)  # still valid JSON
    for call in (lambda: window_width(act, 2.0), lambda: maximise_window(act),
                 lambda: window_maximum(act, digits=10), lambda: certify_window_maximum(act, digits=10)):
        with pytest.raises(InvalidParameterError, match="do not apply"):
            call()
    assert main(["window", f"--activation={name}", "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "σ′ is unbounded" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("digits", [MAX_CERTIFY_DIGITS + 1, 4295, 100000])
def test_certify_digit_limit_is_checked_first(digits, capsys):
    assert main(["window", "--digits", str(digits), "--certify"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"digits={digits} must be an integer in [1, {MAX_CERTIFY_DIGITS}]" in err
    assert len(err.splitlines()) == 1


def test_negated_tanh_is_certified_like_tanh():
    mine = certify_window_maximum(resolve_activation("-tanh(x)"), digits=20)
    theirs = certify_window_maximum("tanh", digits=20)
    assert mine.enclosure == theirs.enclosure and mine.activation == "-tanh(x)"


def test_time_limit_interrupts_and_restores():
    import time

    with pytest.raises(Exception, match="longer than"):
        with time_limit(0.2):  # CPU time: a busy loop, not a sleep
            end = time.process_time() + 5
            while time.process_time() < end:
                pass
    with time_limit(1.0):
        assert sp.solve(X - 1, X) == [1]


def test_maximum_of_a_width_with_two_peaks_is_the_higher_one():
    # x·e^{−x²}: the width has a local maximum below |w| = e^{3/2}/2 ≈ 2.24, where two more intervals
    # appear, and its maximum after that; the oracle scans |w| on its own grid.
    act, prime = resolve_activation("x*exp(-x*x)"), oracle.PRIMES["x*exp(-x*x)"]
    m = maximise_window(act)
    assert m.max_width == pytest.approx(float(oracle.width(prime, m.argmax_abs_w, **_FAST)), rel=RTOL)
    scan = [float(oracle.width(prime, 1.05 * 1.1**k, **_FAST)) for k in range(30)]  # |w| from 1.05 to 16
    assert max(scan) <= m.max_width * (1 + 1e-12)
    assert m.argmax_abs_w > math.exp(1.5) / 2  # on the second peak


def test_a_second_small_peak_rules_out_a_single_closed_form():
    # |σ′| = sech²x + sech²(x − 10)/100: the second peak (1/100) lies below every sample level
    # (|w| ≤ 64), but for |w| > 100 it adds a second interval; the grid guard sees it.
    act = resolve_activation("tanh(x)+tanh(x-10)/100")
    assert derive_window(act).method == "numeric"
    prime = lambda z: oracle.sech2(z) + oracle.sech2(z - 10) / 100  # noqa: E731
    assert len(oracle.level_intervals(prime, mpmath.mpf(1) / 200, **_FAST)) == 2
    for u in (2.0, 200.0):
        assert window_width(act, u).width == pytest.approx(float(oracle.width(prime, u, **_FAST)), rel=RTOL)


@pytest.mark.parametrize("prime", [sp.cos(X), sp.sin(2) * sp.cos(X), 2 * sp.sin(X) * sp.cos(X),
                                   sp.cos(X) * (1 - sp.tanh(sp.sin(X)) ** 2), sp.cos(X) + 1 - sp.tanh(X) ** 2])
def test_tail_limit_is_unknown_where_sympy_answers_with_accumbounds(prime):
    # sp.limit gives AccumBounds, bare or inside an expression: an enclosure of the accumulation points, not L
    assert sp.limit(prime, X, sp.oo).has(sp.AccumBounds)
    assert tail_limit(prime) is None


@pytest.mark.parametrize("text, gamma", [("sin(x)", 1), ("(sin(x))**2", 1), ("x+sin(x)", 2)])
def test_periodic_derivative_is_unbounded_from_one_over_gamma(text, gamma):
    # lim sup |σ′| = γ for a periodic σ′ (every value recurs in every period); (sin x)² once gave L = 2 > γ = 1
    d = derive_window(resolve_activation(text))
    assert (d.method, d.unbounded_from, d.min_abs_w) == ("unbounded", sp.Rational(1, gamma), sp.Rational(1, gamma))


def test_window_width_reason_states_the_true_limit_superior():
    # |σ′| = e^{cos z}|sin z| has lim sup γ ≈ 1.45853 (its maximum, where its derivative vanishes near z = 1, recurring
    # each period), not e
    r = window_width(resolve_activation("exp(cos(x))"), 2.0)
    z = mpmath.findroot(lambda t: mpmath.diff(lambda s: mpmath.exp(mpmath.cos(s)) * mpmath.sin(s), t), 1.0)
    gamma = mpmath.exp(mpmath.cos(z)) * mpmath.sin(z)
    assert r.width == math.inf and f"is {float(gamma):g} ≥ 1/|w|" in r.reason and "2.71828" not in r.reason


# ----- random expressions from the γ tests' grammar: a window that agrees with γ, or one clear refusal -----
from hypothesis import settings as _settings  # noqa: E402
from hypothesis import given as _given  # noqa: E402

from tests.test_gamma import CPU_LIMIT as _GAMMA_CPU, EXPRESSIONS as _EXPRESSIONS, _reference  # noqa: E402


# A stress run measured 0.02–0.25 s per drawn example on average (most are refused, unbounded or linear; the
# slowest, γ searches such as erf(tanh(x)), take up to ~24 s): 30 examples keep this test within about a minute.
@_settings(max_examples=30, deadline=None)
@_given(text=_EXPRESSIONS)
@example(text="tanh(sin(x))")              # sp.limit of σ′ is an expression holding AccumBounds (was a TypeError)
@example(text="(sin(x))*(sin(2))")         # sin(2)*AccumBounds(-1, 1)
@example(text="exp((sin(x))/(tanh(1)))")   # simplify(1/L) rebuilt AccumBounds with complex ends (was a ValueError)
@example(text="abs(erf(x))")               # γ: sup of a ConditionSet (was a NotImplementedError)
@example(text="abs(sin(x))")               # γ: as_set of a periodic condition (was a NotImplementedError)
@example(text="(sin(x))**2")               # AccumBounds(-2, 2) taken as L = 2 > γ = 1
@example(text="exp(sin(x))")               # AccumBounds(-e, e) taken as L = e > γ
@example(text="sin(exp(exp(x)))")          # γ's estimate once said bounded; σ′ is not (proven along a sequence)
@example(text="exp((sin(x))/(exp(x)))")    # the same at −∞
@example(text="(cos(x))*(sin(exp(x)))")    # σ′ not proven bounded nor unbounded: γ's bounded is None
def test_random_expressions_window_is_consistent_with_gamma_or_refused(text):
    import time

    import mpmath

    from gradmath.activations import resolve_activation
    from gradmath.errors import GradmathError
    from gradmath.symbolic.window import derive_window

    start = time.process_time()
    try:
        act = resolve_activation(text)
        d = derive_window(act)
    except GradmathError as err:
        assert "\n" not in str(err)
        return
    # γ's own search, the window's SymPy steps and its checks each have their CPU budgets
    assert time.process_time() - start < 4 * _GAMMA_CPU + 60
    g = act.gamma
    if g.bounded is False:
        assert not d.applies and "σ′ is unbounded" in d.reason, (text, d.reason)
        return
    if g.bounded is None:   # an estimate with no proven upper bound: the window does not use it
        assert not d.applies and "σ′ is not proven bounded" in d.reason, (text, d.reason)
        return
    if not d.applies:
        # An honest refusal: σ′ is proven bounded, but SymPy finds no limit L of |σ′| at ±∞ (σ′ oscillates and
        # SymPy finds no period)
        assert "no limit of |σ′|" in d.reason, (text, d.reason)
        return
    if d.unbounded_from is not None and d.min_abs_w is not None:
        # 1/L ≥ 1/γ since L = lim sup |σ′| ≤ sup |σ′| = γ; both exact, compared at 40 digits (equal when L = γ)
        with mpmath.workdps(40):
            edge, low = (mpmath.mpf(str(sp.N(e, 40))) for e in (d.unbounded_from, d.min_abs_w))
            assert edge >= low * (1 - mpmath.mpf(10) ** -35), (text, d.unbounded_from, d.min_abs_w)
    if d.min_abs_w is not None and g.method != "estimate":
        ref = _reference(act)
        if ref is not None:
            top, bottom, _ = ref
            gamma = max(top, -bottom)
            # 1/γ from the window against the sampled sup |σ′| (central differences in mpmath, refined)
            assert abs(1 / mpmath.mpf(str(sp.N(d.min_abs_w, 30))) - gamma) <= mpmath.mpf(10) ** -6 * (1 + gamma), \
                (text, d.min_abs_w, gamma)
