"""The mean-field predictions against real random networks (gradmath.meanfield.simulate).

Finite width makes every measured quantity fluctuate around the prediction: qˡ is a mean of
n squares (relative spread ~√(2/n)), and ln‖δˡ‖ accumulates a spread of order Σ 1/n_r over
the layers (Hanin 2018). Each test therefore draws several networks (seeds), and compares the
mean of the measurements with the prediction within 5 standard errors of that mean, the
standard error being measured from the seeds themselves (so the tolerance follows the actual
finite-width spread; 5 SE leaves a two-sided chance below 10⁻³ even with 6 seeds' t-tails),
plus the O(1/n) bias of a finite layer, bounded by 4q*/n.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.meanfield import mean_field
from gradmath.meanfield.maps import correlation_map, length_map
from gradmath.meanfield.point import expectations_for
from gradmath.meanfield.simulate import measure_network
from gradmath.activations import resolve_activation

SEEDS = range(6)


def _iterate_length(name, sigma_w2, sigma_b2, q1, depth):
    """q¹, 𝓛(q¹), 𝓛(𝓛(q¹)), … : the length map's prediction for every layer."""
    e = expectations_for(resolve_activation(name))
    out = [q1]
    for _ in range(depth - 1):
        out.append(float(length_map(e, sigma_w2, sigma_b2, np.array([out[-1]]))[0][0]))
    return np.array(out)


def _mean_and_se(values):
    values = np.asarray(values, dtype=float)
    return values.mean(), values.std(ddof=1) / np.sqrt(values.size)


@settings(max_examples=6, deadline=None)
@given(name=st.sampled_from(["tanh", "erf(x)", "arctan", "sigmoid"]),
       sigma_w2=st.floats(min_value=0.5, max_value=3.0), sigma_b2=st.floats(min_value=0.02, max_value=0.5),
       width=st.integers(min_value=300, max_value=600), depth=st.integers(min_value=16, max_value=24))
def test_measured_length_and_gradient_slope_follow_the_maps(name, sigma_w2, sigma_b2, width, depth):
    p = mean_field(name, sigma_w2, sigma_b2)
    # Inputs with |x|²/n = q_in per unit, so that q¹ = σ_w² q_in + σ_b² = q* in expectation.
    q_in = max((p.q_star - sigma_b2) / sigma_w2, 1e-6)
    runs = [measure_network(name, sigma_w2=sigma_w2, sigma_b2=sigma_b2, widths=[width] * depth, seed=s,
                            q0=q_in) for s in SEEDS]
    # q: every layer's measured qˡ against the length map iterated from q¹.
    theory = _iterate_length(name, sigma_w2, sigma_b2, sigma_w2 * q_in + sigma_b2, depth)
    q_mean, q_se = _mean_and_se([np.mean(r.q[:, 0] - theory) for r in runs])
    assert abs(q_mean) <= 5 * q_se + 4 * theory.max() / width, (q_mean, q_se, p.q_star)
    # ln‖δˡ‖ falls by ½ ln χ₁ per layer going back: the fitted slope over the layers.
    layers = np.arange(depth)
    slopes = [np.polyfit(layers, r.log_delta, 1)[0] for r in runs]
    s_mean, s_se = _mean_and_se(slopes)
    assert abs(s_mean - (-0.5 * np.log(p.chi_1))) <= 5 * s_se + 1.0 / width, (s_mean, s_se, p.chi_1)


def test_measured_correlation_follows_the_correlation_map_to_c_star_in_the_chaotic_phase():
    sw2, sb2, depth, width = 2.5, 0.05, 30, 500
    p = mean_field("tanh", sw2, sb2)
    assert p.phase == "chaotic"
    # Inputs of squared length q_in per unit chosen so that q¹ = σ_w² q_in + σ_b² = q*; correlation 0.9.
    q_in = (p.q_star - sb2) / sw2
    runs = [measure_network("tanh", sigma_w2=sw2, sigma_b2=sb2, widths=[width] * depth, seed=s, q0=q_in, c0=0.9)
            for s in SEEDS]
    e = expectations_for(resolve_activation("tanh"))
    theory = [(sw2 * 0.9 * q_in + sb2) / p.q_star]
    for _ in range(depth - 1):
        theory.append(float(correlation_map(e, sw2, sb2, np.array([p.q_star]), np.array([theory[-1]]))[0][0]))
    theory = np.array(theory)
    assert p.c_star < theory[-1] < theory[0]            # the map falls from 0.9 towards c*
    c_mean, c_se = _mean_and_se([np.mean(r.c - theory) for r in runs])
    assert abs(c_mean) <= 5 * c_se + 4.0 / width, (c_mean, c_se)
    last_mean, last_se = _mean_and_se([r.c[-1] for r in runs])
    assert abs(last_mean - theory[-1]) <= 5 * last_se + 4.0 / width, (last_mean, last_se, theory[-1])


def test_ordered_phase_correlation_goes_to_one():
    p = mean_field("tanh", 1.0, 0.3)
    runs = [measure_network("tanh", sigma_w2=1.0, sigma_b2=0.3, widths=[500] * 30, seed=s, c0=0.2) for s in SEEDS]
    assert p.c_star == 1.0
    assert all(r.c[-1] > 0.99 for r in runs)


def test_log_delta_stays_finite_at_depth_100():
    r = measure_network("tanh", sigma_w2=0.5, sigma_b2=0.05, widths=[100] * 100, seed=1)
    assert np.all(np.isfinite(r.log_delta))
    p = mean_field("tanh", 0.5, 0.05)
    # 99 layers of factor √χ₁ ≈ 0.7: ‖δ¹‖/‖δ¹⁰⁰‖ ≈ e^{−17}, far below float64's ε relative to ‖δ¹⁰⁰‖ yet exact in logs.
    assert r.log_delta[0] - r.log_delta[-1] < 99 * 0.5 * np.log(p.chi_1) + 5
