"""Nielsen's exploding-gradient construction and how bias errors destroy it.

Checks ``proofs/exploding.md``.
"""

from __future__ import annotations

import json
import math
import time

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.activations import resolve_activation
from gradmath.cli import main
from gradmath.errors import ExpressionError, InvalidParameterError, NonFiniteError, VerificationError
from gradmath.expressions import X
from gradmath.symbolic.exploding import EPS, MAX_PERTURBED_DEPTH, bias_error_factor, exploding_chain, perturbed_chain


def test_every_z_is_zero_and_every_factor_is_25():
    r = exploding_chain(4)
    assert r.all_z_zero and r.factor == 25 and r.weight == 100
    assert float(r.log10_ratio) == pytest.approx(3 * math.log10(25), rel=1e-14)
    assert r.numeric_log10 == pytest.approx(3 * math.log10(25), rel=1e-12)


def _backprop_ratio(depth: int, w: float, a0: float) -> float:
    """∂C/∂b_1 ÷ ∂C/∂b_L by the chain rule written out (float64), the oracle for the construction."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    a, zs = a0, []
    for _ in range(depth):
        z = w * a + (-w * a)
        zs.append(z)
        a = sig(z)
    prime = [sig(z) * (1 - sig(z)) for z in zs]
    ratio = 1.0
    for j in range(1, depth):
        ratio *= w * prime[j]
    return ratio


@pytest.mark.parametrize("depth", [1, 2, 5, 12])
def test_ratio_matches_the_chain_rule(depth):
    r = exploding_chain(depth)
    assert 10 ** float(r.log10_ratio) == pytest.approx(_backprop_ratio(depth, 100.0, 0.37), rel=1e-12)


@settings(max_examples=30)
@given(depth=st.integers(1, 10**9))
def test_log_space_for_any_depth(depth):
    r = exploding_chain(depth, check_depth=3)
    with mpmath.workdps(30):
        expected = (depth - 1) * mpmath.log10(25)
        assert abs(mpmath.mpf(r.log10_ratio) - expected) <= mpmath.mpf(10) ** -14 * max(1, expected)


@pytest.mark.parametrize("weight,factor", [(100, 25), ("5/2", sp.Rational(5, 8)), (-8, -2)])
def test_factor_is_w_times_a_quarter(weight, factor):
    assert exploding_chain(3, weight=weight).factor == factor


def test_tanh_factor_is_the_weight():
    assert exploding_chain(3, activation="tanh").factor == 100


def test_bias_error_factor_and_its_series():
    f = bias_error_factor()
    assert sp.simplify(f.factor - 25 / sp.cosh(EPS / 2) ** 2) == 0
    assert f.series.removeO() == 25 - 25 * EPS**2 / 4
    with mpmath.workdps(30):
        assert abs(mpmath.mpf(f.breakeven) - 2 * mpmath.acosh(5)) < mpmath.mpf(10) ** -13


@pytest.mark.parametrize(("text", "weight", "exact"), [
    ("tanh", 3, lambda: mpmath.acosh(mpmath.sqrt(3))),  # 3 sech²ε = 1
    ("softsign", 100, lambda: mpmath.mpf(9)),  # 100/(1 + |ε|)² = 1
    ("erf(x)", 3, lambda: mpmath.sqrt(mpmath.log(6 / mpmath.sqrt(mpmath.pi)))),  # (6/√π) e^{−ε²} = 1
])
def test_breakeven_of_an_even_bell_shaped_derivative(text, weight, exact):
    f = bias_error_factor(weight=weight, activation=resolve_activation(text))
    with mpmath.workdps(30):  # printed to 15 significant digits: within one unit of the 15th
        assert abs(mpmath.mpf(f.breakeven) - exact()) <= mpmath.mpf(10) ** -14 * exact()


@pytest.mark.parametrize(("text", "weight"), [
    ("sin(x)", 3),  # 3 cos ε < 1 past acos(1/3) ≈ 1.23, but 3 cos ε = 3 again at 2π: no single crossing
    ("tanh(x)+tanh(x-1)", 100),  # a bell, but not even: the crossings at ±r differ
    ("silu", 100),  # σ′ → 1 as ε → +∞: no crossing on ε ≥ 0
    ("exp(exp(exp(x)))", 3),  # overflows past ε ≈ 1.9: was a traceback (mpmath OverflowError) or a hang
])
def test_no_breakeven_is_claimed_where_the_factor_is_not_below_one_for_every_larger_error(text, weight, capsys):
    assert bias_error_factor(weight=weight, activation=resolve_activation(text)).breakeven == "none"
    if text == "sin(x)":
        assert main(["exploding", "--depth", "3", "--activation", text, "--weight", str(weight)]) == 0
        out = capsys.readouterr().out
        assert "below 1 for" not in out and "no single crossing of 1" in out


@pytest.mark.parametrize("eps", [1e-12, 1e-9, 1e-6, 1e-3])
def test_any_bias_error_eventually_destroys_the_growth(eps):
    exact = perturbed_chain(depth=40, bias_error=0.0).log10_ratio
    assert exact == pytest.approx(39 * math.log10(25), rel=1e-12)
    assert perturbed_chain(depth=40, bias_error=eps).log10_ratio < 0 < exact


def test_small_error_survives_a_few_layers():
    # the error grows ~26× per layer: with ε = 1e-12 four layers still give nearly 25³
    assert perturbed_chain(depth=4, bias_error=1e-12).log10_ratio == pytest.approx(3 * math.log10(25), abs=1e-6)


@pytest.mark.parametrize("kwargs,error,words", [
    ({"depth": 0}, InvalidParameterError, "depth=0"),
    ({"depth": 3, "weight": 0}, InvalidParameterError, "weight=0"),
    ({"depth": 3, "weight": "0/5"}, InvalidParameterError, "weight='0/5'"),
    ({"depth": 3, "weight": "1e999999"}, InvalidParameterError, "exponent"),
    ({"depth": 3, "weight": "1e101"}, InvalidParameterError, "1e-100 ≤ |w| ≤ 1e100"),
    ({"depth": 3, "weight": "-1e-101"}, InvalidParameterError, "1e-100 ≤ |w| ≤ 1e100"),
    ({"depth": 3, "weight": "nan"}, NonFiniteError, "finite"),
    ({"depth": 3, "weight": sp.Symbol("w")}, InvalidParameterError, "without symbols"),
    ({"depth": 2.5}, InvalidParameterError, "integer"),
    ({"depth": 3, "activation": "sqrt(x)"}, InvalidParameterError, "finite real σ′"),
])
def test_bad_input(kwargs, error, words):
    depth = kwargs.pop("depth")
    if "activation" in kwargs:
        kwargs["activation"] = resolve_activation(kwargs["activation"])
    with pytest.raises(error, match=words):
        exploding_chain(depth, **kwargs)


def test_perturbed_rejects_non_finite_error():
    with pytest.raises(NonFiniteError, match="bias_error"):
        perturbed_chain(depth=3, bias_error=float("nan"))


@pytest.mark.parametrize("bad", [{"depth": MAX_PERTURBED_DEPTH + 1}, {"bias_error": "1e-301"},
                                 {"bias_error": "1e5000"}, {"weight": "0"}])
def test_perturbed_limits(bad):
    kwargs = {"depth": 3, "bias_error": 1e-6, **bad}
    with pytest.raises(InvalidParameterError):
        perturbed_chain(**kwargs)


@pytest.mark.parametrize(("text", "depth", "layer"), [
    ("exp(x)", 5, 4),  # z_4 ≈ 100·e^(1e77): was mpmath's OverflowError, a traceback with exit 1
    ("sinh(x)", 30, 4),
    ("2**x", 30, 4),  # a power with x in the exponent is an exponential too
    ("exp(exp(exp(x)))", 3, 2),  # z_2 ≈ 3.8e8, σ′ needs exp(e^(3.8e8)): mpmath hung in ln 2 to that many bits
])
def test_perturbed_chain_refuses_an_exponential_too_large_for_mpmath(text, depth, layer, capsys):
    start = time.process_time()
    code = main(["exploding", "--depth", str(depth), "--activation", text, "--bias-error", "1", "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"(z_{layer}) at z_{layer} = " in err and "too large for mpmath" in err and "--bias-error" in err
    assert time.process_time() - start < 30  # a refusal, not minutes of arithmetic


@pytest.mark.parametrize("text", ["Heaviside(x)*x", "x*sign(x)", "sign(x)"])
def test_an_activation_whose_derivative_has_a_dirac_delta_is_refused(text, capsys):
    # the float64 forward pass lambdified x*DiracDelta(x) + Heaviside(x): a NameError traceback, exit 1
    assert main(["exploding", "--depth", "3", "--activation", text]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "has a Dirac delta DiracDelta(x)" in err
    with pytest.raises(ExpressionError, match="Dirac delta"):
        perturbed_chain(depth=3, bias_error="1e-6", activation=resolve_activation(text))


def test_perturbed_chain_of_an_exponential_below_the_limit_is_right():
    # 2**x, w = 1, ε = 1/10: Π_{j<6} |w σ′(z_j)| with z_1 = ε, z_j = w(σ(z_{j−1}) − σ(0)) + ε, in mpmath at 50
    # digits; perturbed_chain works at 30 digits and rounds to float64: within 1e-15 relative
    with mpmath.workdps(50):
        z, total = mpmath.mpf(1) / 10, mpmath.mpf(0)
        for _ in range(5):
            total += mpmath.log10(mpmath.log(2) * 2**z)
            z = 2**z - 1 + mpmath.mpf(1) / 10
        expected = float(total)
    got = perturbed_chain(depth=6, bias_error="0.1", weight=1, activation=resolve_activation("2**x")).log10_ratio
    assert got == pytest.approx(expected, rel=1e-15, abs=1e-15)


def _log10_ratio_from_the_cost(depth: int, w, eps, a0, dps: int):
    """log10|∂C/∂b_1 ÷ ∂C/∂b_L| from mpmath.diff of C = (a_L − 2)²/2 in b_1 and in b_L at ``dps`` digits.

    Independent of :func:`perturbed_chain`: no chain rule, the cost is differentiated numerically
    (mpmath raises its precision for the difference quotient), with the biases of the perturbed
    construction b_j = −w·a*_{j−1} + ε held fixed.
    """
    with mpmath.workdps(dps):
        w, eps, a0 = mpmath.mpf(w), mpmath.mpf(eps), mpmath.mpf(a0)
        nominal = [a0] + [mpmath.mpf(1) / 2] * (depth - 1)  # a* of the exact construction
        biases = [-w * nominal[j] + eps for j in range(depth)]

        def cost(layer, t):
            a = a0
            for j in range(depth):
                a = 1 / (1 + mpmath.exp(-(w * a + biases[j] + (t if j == layer else 0))))
            return (a - 2) ** 2 / 2

        first = mpmath.diff(lambda t: cost(0, t), 0)
        last = mpmath.diff(lambda t: cost(depth - 1, t), 0)
        return mpmath.log10(abs(first / last))


@pytest.mark.parametrize("depth,eps", [(2, 1e-6), (5, 1e-3), (12, -1e-2), (30, 1e-6), (30, 1e-12), (30, 0.0)])
def test_perturbed_ratio_is_the_ratio_of_the_cost_derivatives(depth, eps):
    # 30 layers at ε = 1e-6 give a ratio near 1e-449: 700 digits keep the difference quotients exact enough
    expected = _log10_ratio_from_the_cost(depth, 100, eps, 0.3, dps=700)
    got = perturbed_chain(depth=depth, bias_error=eps).log10_ratio
    # perturbed_chain sums at ≥ 30 digits and rounds once to float64: within a few ulps of the value
    assert abs(got - float(expected)) <= 8 * np.finfo(float).eps * max(1.0, abs(float(expected)))


def test_the_old_sum_was_not_the_ratio():
    # Σ_{j=2..L} log10|wσ′(z_j)| (σ′(z_1)/σ′(z_L) left out) differs from the ratio by about 21 at L = 30
    with mpmath.workdps(40):
        w, eps, z, zs = mpmath.mpf(100), mpmath.mpf(1e-6), None, []
        for j in range(30):
            z = eps if j == 0 else w * (1 / (1 + mpmath.exp(-z)) - mpmath.mpf(1) / 2) + eps
            zs.append(z)
        prime = [1 / (4 * mpmath.cosh(zj / 2) ** 2) for zj in zs]
        old = float(sum(mpmath.log10(w * p) for p in prime[1:]))
    ratio = perturbed_chain(depth=30, bias_error=1e-6).log10_ratio
    assert ratio - old == pytest.approx(float(mpmath.log10(prime[0] / prime[-1])), rel=1e-12)
    assert ratio - old > 20


def test_a_zero_factor_is_reported_as_null_with_a_reason():
    cube = resolve_activation("x**3")  # σ′(0) = 0 in SymPy and NumPy alike
    r = exploding_chain(5, activation=cube)
    assert r.factor == 0 and r.log10_ratio is None and r.numeric_log10 is None and "σ′(0) = 0" in r.zero_reason
    assert r.to_json()["log10_ratio"] is None and r.to_json()["numeric_log10"] is None
    assert exploding_chain(1, activation=cube).log10_ratio == "0.0"  # empty product: ratio 1
    p = perturbed_chain(depth=4, bias_error=0, activation=cube)
    assert p.log10_ratio is None and "layer 1" in p.zero_reason


def test_relu_never_prints_a_finite_ratio_beside_minus_infinity(capsys):
    """Whatever σ′(0) ReLU has, the exact value and the float64 pass agree, or the command refuses."""
    relu = resolve_activation("relu")
    sympy_prime0 = relu.derivative.subs(X, 0)
    numpy_prime0 = float(relu.prime(0.0))
    code = main(["exploding", "--depth", "5", "--activation", "relu", "--json"])
    captured = capsys.readouterr()
    if float(sympy_prime0) == numpy_prime0:
        assert code == 0
        payload = json.loads(captured.out)
        assert (payload["log10_ratio"] is None) == (payload["numeric_log10"] is None) == (numpy_prime0 == 0)
    else:  # the two σ′(0) disagree: no number is printed at all
        assert code == 2 and captured.out == "" and "disagree" in captured.err
        with pytest.raises(VerificationError):
            exploding_chain(5, activation=relu)


def test_text_output_has_no_finite_ratio_beside_minus_infinity(capsys):
    assert main(["exploding", "--depth", "6", "--activation", "x**3"]) == 0
    out = capsys.readouterr().out
    ratio_line = next(line for line in out.splitlines() if line.startswith("log10|∂C/∂b_1"))
    assert ratio_line.count("−∞") == 2 and not any(ch.isdigit() for ch in ratio_line.split("=", 1)[1].split("(")[0])


@pytest.mark.parametrize("weight", ["1e100", "-1e-100"])
def test_the_ends_of_the_weight_range(weight):
    r = exploding_chain(3, weight=weight)
    assert float(r.log10_ratio) == pytest.approx(2 * math.log10(abs(float(weight)) / 4), rel=1e-14)


def test_cli_weight_is_read_as_a_number(capsys):
    assert main(["exploding", "--depth", "3", "--weight", "5/2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["weight"] == "5/2" and payload["factor"] == "5/8"


# ----- proofs/exploding.md: the collapse for ε ≠ 0 ---------------------------------------------
def _sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


@pytest.mark.parametrize("w", [100, 10, 5, 2])
@pytest.mark.parametrize("eps", [1e-12, 1e-6, 1e-3, 0.5, 10.0, -1e-6, -3.0])
def test_orbit_is_monotone_bounded_and_converges_to_the_attracting_fixed_point(w, eps):
    """z_1 = ε, z_{j+1} = F(z_j) = w(σ(z_j) − ½) + ε: monotone (sign of ε), inside (ε, w/2 + ε), → z*
    with F(z*) = z*, wσ′(z*) < 1; for w > 4, ζ < z* < w/2 + ε where ζ > 0 solves w(σ(ζ) − ½) = ζ."""
    with mpmath.workdps(60):
        w, eps = mpmath.mpf(w), mpmath.mpf(eps)
        s = mpmath.sign(eps)
        F = lambda z: w * (_sigmoid(z) - mpmath.mpf(1) / 2) + eps  # noqa: E731
        # z* by bisection on G = F − id between ε and ±(w/2 + ε) (G changes sign there, ends included)
        lo, hi = sorted([eps, s * w / 2 + eps])
        assert (F(lo) - lo) * (F(hi) - hi) <= 0
        z_star = mpmath.findroot(lambda z: F(z) - z, (lo, hi), solver="anderson")
        assert abs(F(z_star) - z_star) < mpmath.mpf(10) ** -50
        assert w * _sigmoid(z_star) * (1 - _sigmoid(z_star)) < 1  # attracting
        z, orbit = eps, [eps]
        for _ in range(400):
            z = F(z)
            orbit.append(z)
        steps = [b - a for a, b in zip(orbit, orbit[1:])]
        assert all(s * d >= 0 for d in steps)  # monotone, in the direction of ε
        assert all(min(eps, s * w / 2 + eps) <= v <= max(eps, s * w / 2 + eps) for v in orbit)  # bounded
        assert abs(orbit[-1] - z_star) < mpmath.mpf(10) ** -40  # converged
        if w > 4:  # the ε = 0 map has the positive fixed point ζ; z* lies between ±ζ and ±(w/2 + ε)
            zeta = mpmath.findroot(lambda z: w * (_sigmoid(z) - mpmath.mpf(1) / 2) - z, (mpmath.mpf(1), w),
                                   solver="anderson")
            assert zeta < abs(z_star) < w / 2 + abs(eps)
            assert w / 2 - zeta < w * mpmath.exp(-zeta)  # ζ = w/2 − w·σ(−ζ), σ(−ζ) < e^{−ζ}


def test_the_fixed_point_for_w_100_is_w_over_2_plus_eps():
    # z* = 50 + ε − δ with 0 < δ < 100·e^{−50} ≈ 1.9e-20; the factor there is about 100·e^{−50}
    with mpmath.workdps(60):
        for eps in (mpmath.mpf("1e-6"), mpmath.mpf("-1e-6")):
            F = lambda z: 100 * (_sigmoid(z) - mpmath.mpf(1) / 2) + eps  # noqa: E731
            target = mpmath.sign(eps) * 50 + eps
            z_star = mpmath.findroot(lambda z: F(z) - z, target)
            assert 0 < abs(target - z_star) < 100 * mpmath.exp(-50)
            factor = 100 * _sigmoid(z_star) * (1 - _sigmoid(z_star))
            assert mpmath.log10(factor) == pytest.approx(float(mpmath.log10(100) - 50 / mpmath.log(10)), abs=1e-6)
    # so every layer past saturation adds log10(100·σ′(50)) ≈ −19.7 to log10 of the ratio
    deep, deeper = (perturbed_chain(depth=L, bias_error="1e-6").log10_ratio for L in (30, 40))
    assert (deeper - deep) / 10 == pytest.approx(2 - 50 / math.log(10), abs=1e-6)


@pytest.mark.parametrize("eps", ["1e-6", "-1e-3"])
def test_perturbed_factor_is_accurate_where_the_formula_cancels(eps):
    # tanh′ = 1 − tanh²z cancels completely at 30 digits once z ≈ ±100; sech²z has no cancellation
    with mpmath.workdps(60):
        w, e, z, total = mpmath.mpf(100), mpmath.mpf(eps), None, mpmath.mpf(0)
        for j in range(29):
            z = e if j == 0 else w * mpmath.tanh(z) + e
            total += mpmath.log10(w * mpmath.sech(z) ** 2)
    got = perturbed_chain(depth=30, bias_error=eps, activation="tanh").log10_ratio
    # each factor to 15 significant digits: 29 × 1e-15/ln 10 ≈ 1.3e-14 in log10, ≪ 1e-13 × |total| (≈ 2e-10)
    assert got == pytest.approx(float(total), rel=1e-13)
    assert got < -1000  # about −87 per saturated layer
