"""γ = sup |σ′|, sup σ′ and inf σ′: hostile activations, random expression trees, signed activations.

Every result is right (inside its enclosure), labelled an estimate, or refused in one line,
and never takes longer than the search's limit. The independent reference is mpmath:
σ′ by central differences of σ (not SymPy's derivative) on a dense grid out to |x| = 10⁸,
refined by golden-section search around the best grid point.
"""

from __future__ import annotations

import json
import time

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.activations import get_activation, resolve_activation
from gradmath.cli import main
from gradmath.errors import GradmathError
from gradmath.expressions import X
from gradmath.gamma import SECONDS, derive_gamma

# the search's own limits in CPU seconds (hypotheses, two limits, sup, inf: SECONDS each at most),
# plus SymPy's parse and derivative; the wall time is that stretched by the machine's load
CPU_LIMIT = 4 * SECONDS + 4.0

HOSTILE = [
    # (expression, expected: "refuse" | "oo" | a number γ = sup|σ′|, the text a refusal names)
    ("x**3", "oo", None),
    ("x**2", "oo", None),
    ("exp(x)", "oo", None),
    ("sinh(x)", "oo", None),
    ("x*abs(x)", "oo", None),
    ("sqrt(x)", "refuse", "sqrt(x) for x < 0"),
    ("log(x)", "refuse", "log(x) for x <= 0"),
    ("1/x", "refuse", "1/x for x = 0"),
    ("1/x**2", "refuse", "for x = 0"),
    ("tan(x)", "refuse", "tan(x) is undefined where cos(x) = 0"),
    ("Heaviside(x)", "refuse", "Heaviside(x) jumps where x = 0"),
    ("sign(x)", "refuse", "sign(x) jumps where x = 0"),
    ("sqrt(abs(x))", "refuse", "not differentiable"),
    ("sin(x)", 1.0, None),
    ("sin(x)+x/10", 1.1, None),
    ("-tanh(x)", 1.0, None),
    ("x/2-2*tanh(x)", 1.5, None),  # σ′ = 1/2 − 2 sech² x runs from −3/2 (x = 0) to 1/2 (x → ±∞)
    ("x/sqrt(1+x**2)", 1.0, None),
    ("x*1e-300", 1e-300, None),
    ("tanh(x)+1e-400*x**3", "oo", None),  # 1e-400 is 10**-400 (not the float 0.0), so σ′ is unbounded
    # σ′ = tanh x + x sech² x, maximal where x tanh x = 1, and there σ′ = x: mpmath.findroot at 30 digits
    ("x*tanh(x)", 1.19967864025773383391636984864, None),
    # σ′ = 3x² sech²(x³), maximal where u = x³ solves 3u tanh u = 1: mpmath.findroot at 30 digits
    ("tanh(x**3)", 1.51892418446832770605106933216, None),
]


@pytest.mark.parametrize(("text", "expected", "names"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_activations(text, expected, names, capsys):
    start = time.process_time()
    code = main(["gamma", f"--activation={text}", "--json"])
    elapsed = time.process_time() - start
    out, err = capsys.readouterr()
    assert elapsed < CPU_LIMIT
    if expected == "refuse":
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and names in err
        return
    assert code == 0
    row = json.loads(out)  # valid JSON: no Infinity or NaN token can pass json.loads(strict) below
    json.loads(out, parse_constant=lambda c: pytest.fail(f"JSON token {c}"))
    if expected == "oo":
        assert row["gamma"] == "oo" and row["bounded"] is False and row["gamma_exact"] == "oo"
        assert float(resolve_activation(text).gamma) == float("inf")
        return
    assert row["bounded"] is True
    if row["method"] == "estimate":
        assert float(row["enclosure"][0]) == pytest.approx(expected, rel=1e-8)
    else:
        lo, hi = (float(v) for v in row["enclosure"])
        assert lo <= expected * (1 + 1e-12) and expected * (1 - 1e-12) <= hi


def test_exact_gamma_keeps_every_written_digit(capsys):
    # a float would round the slope to 0.3 = 3/10 and label that "exact"
    assert main(["gamma", "--activation", "0.30000000000000000001*x", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["status"] == "exact" and row["gamma_exact"] == "30000000000000000001/100000000000000000000"


def test_cube_says_gamma_is_infinite_in_text(capsys):
    assert main(["gamma", "--activation", "x**3"]) == 0
    out = capsys.readouterr().out
    assert "∞ (σ′ unbounded)" in out and "4.18e42" not in out


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_inf_prime_is_one_minus_gamma_for_gelu_and_silu(name):
    # σ(x) − σ(−x) = x gives σ′(x) + σ′(−x) = 1, so inf σ′ = 1 − sup σ′ (proofs/gamma.md).
    act = get_activation(name)
    assert sp.simplify((act.expression - act.expression.subs(X, -X)).rewrite(sp.exp) - X) == 0
    g = derive_gamma(act, seconds=60)  # a generous limit: the check is about the values, not the clock
    assert g.sup.method == g.inf.method == ("exact" if name == "gelu" else "certified")
    with mpmath.workdps(50):
        sup_lo, sup_hi = (mpmath.mpf(v) for v in g.sup.enclosure)
        inf_lo, inf_hi = (mpmath.mpf(v) for v in g.inf.enclosure)
        assert inf_lo <= 1 - sup_lo and 1 - sup_hi <= inf_hi  # the two enclosures agree
    assert g.value == g.sup.value  # γ = sup |σ′| = sup σ′ here, since 1 − γ > −γ


def test_signed_activation_uses_the_absolute_value():
    g = resolve_activation("-tanh(x)").gamma
    assert g.exact == 1 and g.sup.exact == 0 and g.inf.exact == -1 and g.argmax == "0"


# ----- random expression trees against an independent mpmath reference ------------------
_LEAF = st.sampled_from(["x", "1", "2", "3", "1/2", "x"])
_FUNCS = ["exp", "tanh", "sin", "cos", "atan", "erf", "asinh", "sinh", "cosh", "log", "sqrt", "abs"]


def _trees(children):
    return st.one_of(
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(_FUNCS), children),
        st.builds(lambda a, op, b: f"({a}){op}({b})", children, st.sampled_from(["+", "-", "*", "/"]), children),
        st.builds(lambda a, n: f"({a})**{n}", children, st.sampled_from(["2", "3", "-1"])),
    )


EXPRESSIONS = st.recursive(_LEAF, _trees, max_leaves=5).filter(lambda s: "x" in s)


def _reference(act):
    """sup σ′, inf σ′ by central differences of σ in mpmath on a grid out to 10⁸, refined."""
    sigma = sp.lambdify(X, act.expression, modules="mpmath")
    sigma_np = sp.lambdify(X, act.expression, modules="numpy")

    def prime(t):
        h = mpmath.mpf(10) ** -12 * max(1, abs(t))
        return (sigma(t + h) - sigma(t - h)) / (2 * h)

    grid = [mpmath.mpf(k) / 8 for k in range(-160, 161)]
    grid += [s * mpmath.mpf(10) ** (k / 8) for k in range(11, 65) for s in (1, -1)]
    with np.errstate(all="ignore"):  # where σ overflows float64, mpmath could work for ever (exp(exp(10⁸)))
        grid = [t for t in sorted(grid) if np.isfinite(complex(sigma_np(np.float64(t)))).all()]
    values = []
    with mpmath.workdps(40):
        for t in grid:
            try:
                v = prime(t)
            except (ValueError, ZeroDivisionError, OverflowError):
                return None
            if not isinstance(v, mpmath.mpf) or not mpmath.isfinite(v):
                return None
            values.append(v)
        near = max((abs(v) for t, v in zip(grid, values) if abs(t) <= 1), default=0)
        top = _refined(prime, grid, values, 1)
        return top, -_refined(lambda t: -prime(t), grid, [-v for v in values], 1), near


def _refined(fn, grid, values, sign):
    i = max(range(len(values)), key=values.__getitem__)
    best = values[i]
    if 0 < i < len(grid) - 1:
        a, b = grid[i - 1], grid[i + 1]
        for _ in range(60):
            c, d = b - (b - a) / mpmath.phi, a + (b - a) / mpmath.phi
            if fn(c) > fn(d):
                b = d
            else:
                a = c
        best = max(best, fn((a + b) / 2))
    return best


@settings(max_examples=25)  # each example runs a search of up to a few seconds: 25 keep CI near a minute
@given(text=EXPRESSIONS)
def test_random_expressions_are_right_labelled_or_refused(text):
    try:
        act = resolve_activation(text)
    except GradmathError as err:
        assert "\n" not in str(err)
        return
    start = time.process_time()
    try:
        g = derive_gamma(act)
    except GradmathError as err:
        assert "\n" not in str(err) and time.process_time() - start < CPU_LIMIT
        return
    assert time.process_time() - start < CPU_LIMIT
    json.dumps(g.to_json(), allow_nan=False)
    assert float(g) == max(float(g.sup), -float(g.inf))  # γ = sup |σ′| = max(sup σ′, −inf σ′)
    # bounded: False when either extremum is proven infinite, True when both are proven finite, else None
    pair = (g.sup.bounded, g.inf.bounded)
    assert g.bounded == (False if False in pair else True if pair == (True, True) else None), (text, pair)
    for ext in (g, g.sup, g.inf):
        assert ext.bounded in (True, False, None)
        assert ext.bounded is not False or ext.method == "exact", (text, ext)  # unbounded only when proven
        assert ext.bounded is not None or ext.method == "estimate", (text, ext)
        # proven bounded exactly when the enclosure has a finite end on its open side
        assert (ext.bounded is True) == ("oo" not in (ext.enclosure[1] if ext is not g.inf else ext.enclosure[0])), \
            (text, ext)
    ref = _reference(act)
    if ref is None:
        return  # σ overflows mpmath on the grid: nothing independent to compare with
    top, bottom, near = ref
    for ext, sampled, sign in ((g.sup, top, 1), (g.inf, bottom, -1)):
        if not ext.bounded:
            continue  # checked below through γ
        tol = mpmath.mpf(10) ** -6 * (1 + abs(sampled))
        lo, hi = ext.enclosure
        if ext.method == "estimate":
            # only the proven end is checked: the sampled extremum does not pass it (the other end is a sample too)
            assert (sampled <= mpmath.mpf(hi) + tol) if sign > 0 else (mpmath.mpf(lo) - tol <= sampled), (text, ext)
            continue
        # sound: the sampled extremum lies inside the enclosure (up to the reference's own error)
        if sign > 0:
            assert sampled <= mpmath.mpf(hi) + tol, (text, ext, sampled)
            assert mpmath.mpf(lo) <= sampled + tol or not ext.attained, (text, ext, sampled)
        else:
            assert mpmath.mpf(lo) - tol <= sampled, (text, ext, sampled)
            assert sampled - tol <= mpmath.mpf(hi) or not ext.attained, (text, ext, sampled)
    if g.bounded is False:
        # unbounded: farther out, |σ′| exceeds everything on [−1, 1]
        assert max(abs(top), abs(bottom)) > mpmath.mpf("1.05") * near, (text, top, bottom, near)


def test_off_the_main_thread_builtins_agree_and_custom_ones_finish():
    # No timer can interrupt SymPy off the main thread: built-ins run their (known to finish) SymPy
    # steps there untimed and give the same answer; custom ones skip SymPy and finish labelled.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        sigmoid = pool.submit(derive_gamma, get_activation("sigmoid")).result(timeout=120)
        custom = pool.submit(derive_gamma, resolve_activation("x*tanh(x)")).result(timeout=120)
    assert (sigmoid.exact, sigmoid.method) == (sp.Rational(1, 4), "exact")
    assert custom.method in ("certified", "estimate")
    assert float(custom.enclosure[0]) <= 1.19967864025773383391636984864  # golden value above


def test_gamma_inside_another_cpu_time_limit_gets_the_same_answer():
    """The window's SymPy steps run under their own CPU-time limit; γ computed inside one is unchanged."""
    from gradmath.symbolic.level_set import time_limit

    outside = derive_gamma(resolve_activation("x*tanh(x)"))
    with time_limit(120):
        inside = derive_gamma(resolve_activation("x*tanh(x)"))
    assert (inside.method, inside.value, inside.enclosure) == (outside.method, outside.value, outside.enclosure)


@pytest.mark.parametrize("text, exact", [("abs(erf(x))", lambda: 2 / mpmath.sqrt(mpmath.pi)), ("abs(sin(x))", lambda: 1)])
def test_gamma_of_abs_when_sympy_cannot_split_it(text, exact):
    # SymPy cannot give the pieces' domains (a ConditionSet for erf(x) > 0; a periodic set for sin(x) > 0); the
    # estimate's grid is refined by 80 golden-section steps on a cell of width 2/16, leaving |x − x*| ≤ δ, and both
    # |σ′| fall short of their sup by at most γ·δ² there; its value is printed to 30 digits (one unit: 1e-29).
    g = resolve_activation(text).gamma
    assert g.bounded
    with mpmath.workdps(40):
        delta, gamma = mpmath.mpf(2) / 16 * mpmath.phi ** -80, mpmath.mpf(exact())
        assert abs(mpmath.mpf(g.value) - gamma) <= gamma * (mpmath.mpf(10) ** -29 + delta ** 2), (text, g.value)
