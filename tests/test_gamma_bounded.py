"""``bounded`` says what is proven: True (σ′ bounded), False (σ′ unbounded), None (neither: an estimate).

An estimate samples a finite range, so it can never show σ′ bounded by itself; it is bounded=True
only with an upper bound proven on all of ℝ (gradmath.gamma.cover), and σ′ is unbounded (False) only by
a SymPy limit or a sequence (gradmath.gamma.divergence). The oracle for a sequence is mpmath: σ′(x_n) by
mpmath.diff of σ itself, not SymPy's σ′.
"""

from __future__ import annotations

import json

import mpmath
import pytest
import sympy as sp

from gradmath.activations import (BUILTIN_ACTIVATIONS, get_activation, register_activation, resolve_activation,
                                  unregister_activation)
from gradmath.bounds.terms import sup_abs_prime
from gradmath.errors import InvalidParameterError
from gradmath.expressions import X, parse_expression
from gradmath.gamma.budget import Budget
from gradmath.gamma.cover import cover_sup
from gradmath.gamma.divergence import N, unbounded_along
from gradmath.symbolic.window import _derive

# σ′ oscillates with growing amplitude, so SymPy finds no limit at that end; an estimate once called them bounded
OSCILLATING = [
    ("sin(exp(exp(x)))", "oo"),     # σ′ = cos(e^(eˣ))·e^(eˣ)·eˣ
    ("exp(sin(x)/exp(x))", "-oo"),  # σ′ = e^(−x)(cos x − sin x)·exp(sin(x)e^(−x))
    ("sin(exp(x))", "oo"),          # the estimate's growth test once called this unbounded without a proof
    ("x*sin(x)", "oo"),
]
# |σ′| grows on the samples, but no sequence pins both sin(eˣ) and cos x: nothing is proven either way
UNPROVEN = "cos(x)*sin(exp(x))"
# estimates whose upper bound the cover proves, with sup |σ′| (|erf′(0)| = 2/√π; |cos| ≤ 1; tanh′ ≤ 1 and |cos| ≤ 1)
COVERED = [("abs(erf(x))", lambda: 2 / mpmath.sqrt(mpmath.pi)), ("abs(sin(x))", lambda: 1), ("tanh(sin(x))", lambda: 1)]
_DPS = 50


def _strict_json(result) -> dict:
    return json.loads(json.dumps(result.to_json(), allow_nan=False), parse_constant=lambda c: pytest.fail(c))


@pytest.mark.parametrize("text, end", OSCILLATING, ids=[t for t, _ in OSCILLATING])
def test_oscillating_unbounded_prime_is_proven_unbounded(text, end):
    g = resolve_activation(text).gamma
    assert g.bounded is False and g.method == "exact" and g.exact == sp.oo and g.value == "oo"
    assert g.enclosure == ("oo", "oo") and g.argmax == end and float(g) == float("inf")
    assert "x_n" in g.note and "unbounded" in g.note
    assert _strict_json(g)["bounded"] is False


@pytest.mark.parametrize("text, end", OSCILLATING, ids=[t for t, _ in OSCILLATING])
def test_the_sequence_agrees_with_mpmath(text, end):
    # σ′(x_n) by mpmath.diff of σ against SymPy's value at n = 1…5, at 50 digits. x_n rounded to 50 digits moves σ′
    # by about κ·10⁻⁵⁰ relative, κ = |x_n σ″(x_n)/σ′(x_n)| (up to 1.4e15 here); mpmath.diff works at twice the
    # precision with a step of 2^(−prec−10), far below that. Allowed: (1 + κ)·10⁻⁴⁸, a factor 100 for rounding.
    act = resolve_activation(text)
    found = unbounded_along(act.derivative, Budget(30.0))
    assert found, text
    sigma = sp.lambdify(X, act.expression, modules="mpmath")
    for sign, step in found.items():
        assert step.x_n.is_real and step.limit == sign * sp.oo
        x_of, value_of = (sp.lambdify(N, e, modules="mpmath") for e in (step.x_n, step.value))
        with mpmath.workdps(_DPS):
            previous = mpmath.mpf(0)
            for n in range(1, 6):
                x, claimed = x_of(n), value_of(n)
                measured = mpmath.diff(sigma, x)
                kappa = abs(x * mpmath.diff(sigma, x, 2) / measured)
                assert abs(measured - claimed) <= (1 + kappa) * mpmath.mpf(10) ** (2 - _DPS) * abs(claimed), (text, n)
                assert sign * claimed > previous, (text, n)   # growing in the sign's direction
                previous = sign * claimed


def test_unproven_prime_is_neither_bounded_nor_unbounded():
    g = resolve_activation(UNPROVEN).gamma
    assert g.bounded is None and g.method == "estimate" and g.exact is None
    assert g.enclosure[1] == "oo" and float(g.enclosure[0]) > 0
    assert "bound not proven" in g.note and "evidence" in g.note and "no proof" in g.note
    row = _strict_json(g)
    assert row["bounded"] is None and row["enclosure"][1] == "oo"
    assert "estimate, bound not proven" in g._repr_latex_()


@pytest.mark.parametrize("text", [t for t, _ in OSCILLATING] + [UNPROVEN])
def test_window_refuses_an_unbounded_or_unproven_prime(text):
    act = resolve_activation(text)
    d = _derive(act)
    assert not d.applies and "\n" not in d.reason
    if act.gamma.bounded is False:
        assert "σ′ is unbounded" in d.reason and d.gamma_value == "inf"
    else:
        assert "σ′ is not proven bounded" in d.reason and d.gamma_value == "unknown"
    with pytest.raises(InvalidParameterError, match="σ′ is (unbounded|not proven bounded)"):
        d.require_applicable()
    json.dumps(d.to_json(), allow_nan=False)


@pytest.mark.parametrize("text, message", [("sin(exp(exp(x)))", "is unbounded"), (UNPROVEN, "not proven bounded")])
def test_bound_a_refuses_an_unbounded_or_unproven_prime(text, message):
    register_activation("gammaboundedcase", text)
    try:
        with pytest.raises(InvalidParameterError, match=message):
            sup_abs_prime("gammaboundedcase")
    finally:
        unregister_activation("gammaboundedcase")


@pytest.mark.parametrize("text, exact", COVERED, ids=[t for t, _ in COVERED])
def test_an_estimate_is_bounded_only_with_a_proven_upper_bound(text, exact):
    # The cover's upper end is outward rounded at 20 digits: it lies at or above the true sup |σ′|.
    g = resolve_activation(text).gamma
    assert g.method == "estimate" and g.bounded is True and g.sup.bounded is True and g.inf.bounded is True
    with mpmath.workdps(_DPS):
        assert mpmath.mpf(g.enclosure[1]) >= exact()
        assert mpmath.mpf(g.enclosure[0]) <= mpmath.mpf(g.value) <= mpmath.mpf(g.enclosure[1])
    assert "proven" in g.note


def test_cover_proves_nothing_for_an_unbounded_function():
    for text in ("exp(x)*exp(exp(x))*cos(exp(exp(x)))", "x", "exp(-x)*cos(x)"):
        assert cover_sup(parse_expression(text), Budget(5.0)) is None, text


@pytest.mark.parametrize("name", BUILTIN_ACTIVATIONS)
def test_builtins_are_proven_bounded(name):
    g = get_activation(name).gamma
    assert g.bounded is True and g.method in ("exact", "certified") and g.enclosure[1] != "oo"
