"""`verify --meanfield`: the typical ‖δˡ‖ predicted for a network at initialisation against the measured one.

The prediction is for infinite width; a drawn network deviates by a finite-width fluctuation of relative
order Σ_r 1/n_r (Hanin 2018) plus the sampling of its own weights. Over several seeds the mean log-ratio
must lie within 5 standard errors (measured from the seeds) of 0, plus that Σ 1/n_r.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradmath.cli import main
from gradmath.data import load_dataset
from gradmath.errors import InvalidParameterError
from gradmath.formats import save_network
from gradmath.meanfield.prediction import predict_delta_norms
from gradmath.network import Network


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=400)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_prediction_matches_wide_random_networks(digits, activation):
    sizes = (64, 256, 256, 256, 10)
    logs = np.array([np.log(predict_delta_norms(Network.random(sizes, seed=s, cost="cross-entropy",
                                                               hidden_activation=activation),
                                                digits.x, digits.y).ratio) for s in range(5)])
    mean, se = logs.mean(axis=0), logs.std(axis=0, ddof=1) / np.sqrt(len(logs))
    allowance = sum(1 / n for n in sizes[1:-1])
    assert np.all(np.abs(mean) <= 5 * se + allowance), (mean, se, allowance)


def test_given_variances_override_the_estimates(digits):
    net = Network.random((64, 30, 10), seed=0, cost="cross-entropy")
    r = predict_delta_norms(net, digits.x, digits.y, sigma_w2=1.0, sigma_b2=1.0)
    assert r.sigma_w2 == (1.0, 1.0) and r.sigma_b2 == (1.0, 1.0) and r.layers == (2,)
    with pytest.raises(InvalidParameterError, match="no hidden layer"):
        predict_delta_norms(Network.random((64, 10), seed=0, cost="cross-entropy"), digits.x, digits.y)


def test_verify_meanfield_option(tmp_path, capsys):
    path = save_network(Network.random((64, 30, 30, 10), seed=0, cost="cross-entropy"), tmp_path / "init.npz")
    assert main(["verify", str(path), "--examples", "200", "--meanfield", "--quiet", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    mf = payload["meanfield"]
    assert mf["layers"] == [2, 3] and len(mf["predicted_rms"]) == 2 and mf["norm"] == "2"
    assert all(0.3 < p / m < 3 for p, m in zip(mf["predicted_rms"], mf["measured_rms"]))
    assert main(["verify", str(path), "--examples", "200", "--meanfield", "--quiet"]) == 0
    assert "mean-field RMS ‖δˡ‖₂" in capsys.readouterr().out
