"""The mean-field prediction of Nielsen's speeds against real network2-initialised networks.

The prediction is √E‖∂C/∂bˡ‖² over random networks, so it is compared with the root mean square of the
measured speeds over seeds. The tolerance is 5 standard errors of that RMS (measured from the seeds, by
the delta method: SE(RMS) = SD(speed²)/(2·RMS·√seeds)) plus the prediction's own sampling error, plus the
finite-width correction, of relative order Σ_r 1/n_r over the layers the signal crosses (Hanin 2018).
"""

from __future__ import annotations

import numpy as np
import pytest

from gradmath.data import load_dataset
from gradmath.errors import InvalidParameterError, ShapeError
from gradmath.experiments.speeds import init_speeds
from gradmath.meanfield.nielsen import predict_speeds


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.mark.parametrize("width, seeds", [(30, 60), (200, 20)])
def test_prediction_matches_the_rms_over_seeds(digits, width, seeds):
    sizes = (64, width, width, width, 10)
    measured = init_speeds(sizes, digits.x, digits.y, seeds=seeds, seed=7).values      # (seeds, layers)
    rms = np.sqrt(np.mean(measured**2, axis=0))
    se_rms = np.std(measured**2, axis=0, ddof=1) / (2 * rms * np.sqrt(seeds))
    p = predict_speeds(sizes, digits.x, digits.y, pairs=600, seed=3)
    for layer in range(3):
        finite_width = sum(1 / n for n in sizes[layer + 1:-1]) * rms[layer]
        tol = 5 * (se_rms[layer] + p.standard_error[layer]) + finite_width
        assert abs(p.speeds[layer] - rms[layer]) <= tol, (width, layer, p.speeds[layer], rms[layer], tol)


def test_each_layer_learns_about_five_times_slower_than_the_next(digits):
    p = predict_speeds((64, 30, 30, 30, 10), digits.x, digits.y, pairs=300)
    # The ratio is √(σ_w² E[σ′(u₁)σ′(u₂)]) at the data's pair covariances: the quoted "about 5×" of the book.
    assert np.all((4.5 < p.ratios) & (p.ratios < 5.5))


def test_bad_input(digits):
    with pytest.raises(InvalidParameterError, match="at least one hidden layer"):
        predict_speeds((64, 10), digits.x, digits.y)
    with pytest.raises(ShapeError, match="do not fit sizes"):
        predict_speeds((63, 30, 10), digits.x, digits.y)
    with pytest.raises(InvalidParameterError, match="pairs"):
        predict_speeds((64, 30, 10), digits.x, digits.y, pairs=10**9)
