"""gradmath.experiments.speeds: the speed of learning against the book and against the bounds."""

from __future__ import annotations

import numpy as np
import pytest

from gradmath.backprop import backprop
from gradmath.data import load_dataset
from gradmath.errors import GradmathError
from gradmath.experiments.speeds import BOOK_SPEEDS, init_speeds, speed_of_learning, training_speeds
from gradmath.network import Network
from gradmath.reports import SEED
from tests.golden import GOLDEN

SEEDS = 20


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def init_by_depth(digits):
    """Init speeds on digits for 2, 3, 4 hidden layers of 30, over 20 seeds from the reproduce seed."""
    with np.errstate(all="raise", under="ignore"):
        return {k: init_speeds((64,) + (30,) * k + (10,), digits.x, digits.y, seeds=SEEDS, seed=SEED)
                for k in BOOK_SPEEDS}


def test_book_values_are_the_quoted_golden_values():
    for k, values in BOOK_SPEEDS.items():
        assert GOLDEN[f"nielsen_speeds_{k}_hidden"]["value"] == values


@pytest.mark.parametrize("k", sorted(BOOK_SPEEDS))
def test_book_values_lie_within_the_spread_over_seeds(init_by_depth, k):
    """The book's numbers come from one random network on MNIST; ours vary from seed to seed.

    The tolerance is that spread, measured, not chosen: each of the book's values
    lies inside the range [min, max] of our 20 seeds on digits, and inside
    Tukey's fences (quartiles ± 1.5 interquartile ranges, on a log scale since
    speeds are positive and skewed), so it is not an outlier of our distribution.
    """
    book = np.array(BOOK_SPEEDS[k])
    values = init_by_depth[k].values
    assert values.shape == (SEEDS, k)
    lo, hi = values.min(axis=0), values.max(axis=0)
    assert ((lo <= book) & (book <= hi)).all(), (book, lo, hi)
    q1, q3 = np.quantile(np.log(values), [0.25, 0.75], axis=0)
    fence = 1.5 * (q3 - q1)
    assert ((q1 - fence <= np.log(book)) & (np.log(book) <= q3 + fence)).all()


@pytest.mark.parametrize("k", sorted(BOOK_SPEEDS))
def test_earlier_hidden_layers_learn_more_slowly_at_initialisation(init_by_depth, k):
    init = init_by_depth[k]
    assert (np.diff(init.median) > 0).all()
    assert (np.diff(init.values, axis=1) > 0).all()      # for every one of the 20 networks
    # Each layer back is a factor of roughly 1/4 to 1/6 (σ′ ≤ 1/4 times ‖w‖ of order 1).
    ratios = init.median[:-1] / init.median[1:]
    assert ((ratios > 1 / 8) & (ratios < 1 / 3)).all(), ratios


def test_init_json(init_by_depth):
    payload = init_by_depth[3].to_json()
    assert [row["layer"] for row in payload["init"]] == [1, 2, 3]
    assert payload["seeds"] == SEEDS and payload["sizes"] == [64, 30, 30, 30, 10]
    for row in payload["init"]:
        assert row["min"] <= row["q1"] <= row["median"] <= row["q3"] <= row["max"]


def test_speed_is_the_norm_of_the_mean_delta(digits):
    net = Network.random((64, 30, 30, 10), seed=4)
    deltas = backprop(net, digits.x[:1000], digits.y[:1000]).deltas
    expected = [np.linalg.norm(d.mean(axis=0)) for d in deltas[:-1]]
    np.testing.assert_allclose(speed_of_learning(net, digits.x, digits.y), expected, rtol=1e-12)
    np.testing.assert_allclose(speed_of_learning(net, digits.x, digits.y, examples=10),
                               [np.linalg.norm(d[:10].mean(axis=0)) for d in deltas[:-1]], rtol=1e-12)


def test_training_trajectory_keeps_every_bound(digits):
    net = Network.random((64, 30, 30, 30, 10), seed=SEED)
    run = training_speeds(net, digits.x, digits.y, epochs=15)
    assert run.training.speeds.shape == (16, 3)
    np.testing.assert_allclose(run.training.speeds[0], speed_of_learning(net, digits.x, digits.y), rtol=1e-10)
    b = run.bounds
    assert b.layers == (2, 3, 4, 5) and b.examples == 1000 and b.violations.shape == (16, 4)
    assert b.total_violations == 0
    assert (b.tightness_gamma >= b.tightness_data).all() and (b.tightness_data >= 1).all()
    # The output layer's bound is ‖aᴸ − y‖ itself (cross-entropy): tight.
    np.testing.assert_allclose(b.tightness_gamma[:, -1], 1.0)
    payload = run.to_json()
    assert payload["bounds"]["violations"] == 0 and payload["bounds"]["checks"] == 16 * 4 * 1000
    assert len(payload["training"]["speeds"][2]["per_epoch"]) == 16


def test_training_speeds_without_bounds_and_earlier_layers_slower(digits):
    run = training_speeds(Network.random((64, 30, 30, 30, 30, 10), seed=SEED), digits.x, digits.y,
                          epochs=100, bounds=False)
    assert run.bounds is None and "bounds" not in run.to_json()
    # With four hidden layers the order holds at every epoch on digits (the book: "early hidden
    # layers learn much more slowly than later hidden layers").
    assert (np.diff(run.training.speeds, axis=1) > 0).all()


@pytest.mark.parametrize("call, match", [
    (lambda d: init_speeds((64, 30, 10), d.x, d.y, seeds=0), "seeds=0"),
    (lambda d: init_speeds((64, 30, 10), d.x, d.y, seed=-1), "seed=-1"),
    (lambda d: init_speeds((784, 30, 10), d.x, d.y), "64 columns but the network's input layer has width 784"),
    (lambda d: speed_of_learning(Network.random((64, 3, 10)), d.x, d.y, examples=0), "examples=0"),
    (lambda d: training_speeds(Network.random((64, 3, 10)), d.x, d.y, epochs=-2), "epochs=-2"),
    (lambda d: init_speeds((64, 30, 10), d.x, d.y, seeds=10**7), r"seeds=10000000 must be an integer in \[1, 10000\]"),
    (lambda d: init_speeds((64, 10**6, 10), d.x, d.y), "has 75,000,010 weights and biases; at most 10,000,000"),
    (lambda d: init_speeds((64, 10**5, 10), d.x, d.y),
     r"1,000 examples × 100,074 neurons = 100,074,000 values in one pass; at most 25,000,000"),
    (lambda d: init_speeds((64, 3000, 10), d.x, d.y, seeds=2000), r"2,000 passes .* at most 3e\+11"),
    (lambda d: training_speeds(Network.random((64, 3, 10)), d.x, d.y, epochs=10**7), "epochs=10000000"),
    (lambda d: training_speeds(Network.random((64, 3000, 10)), d.x, d.y, epochs=50_000, bounds=True),
     r"100,002 passes × 1,000 examples × 225,010 parameters"),
])
def test_invalid_arguments(digits, call, match):
    with pytest.raises(GradmathError, match=match):
        call(digits)


def test_report_step_writes_every_artifact_byte_identically(tmp_path, monkeypatch):
    import hashlib
    import json

    from gradmath.reports import speeds as report

    monkeypatch.setattr(report, "EPOCHS", 3)      # the real step runs 500 epochs and 100 seeds (~30 s)
    monkeypatch.setattr(report, "INIT_SEEDS", 5)
    messages = []
    first = report.write_artifacts(tmp_path / "a", messages.append)
    second = report.write_artifacts(tmp_path / "b")
    names = sorted(p.name for p in first)
    assert names == sorted(p.name for p in second)
    assert {"init.md", "init.csv", "init.json", "training-2.png", "training-3.csv", "training-4.json",
            "bounds-tightness.png", "bounds.csv", "bounds.json", "bounds.md", "training.md",
            "differences.md"} <= set(names)
    for a, b in zip(sorted(first), sorted(second)):
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest(), a.name
    assert messages[0] == "speeds: initialisation over seeds"
    init = json.loads((tmp_path / "a" / "speeds" / "init.json").read_text())
    assert [(r["hidden_layers"], r["layer"], r["book_quoted"]) for r in init["rows"]] == [
        (k, j + 1, v) for k, values in BOOK_SPEEDS.items() for j, v in enumerate(values)]
    assert "*quoted*" in (tmp_path / "a" / "speeds" / "init.md").read_text()
    bounds = json.loads((tmp_path / "a" / "speeds" / "bounds.json").read_text())
    assert bounds["violations"] == 0 and bounds["runs"]["4"]["checks"] == 4 * 1000 * 5
    # every table with a layer column says how its layers are numbered, in the header itself
    for name, header in [("init.md", "hidden layer k (1 = first hidden layer; l = k + 1 in the proofs)"),
                         ("training.md", "hidden layer k (1 = first hidden layer; l = k + 1 in the proofs)"),
                         ("bounds.md", "layer l (1 = input, 2 = first hidden layer, L = output)")]:
        table_header = next(line for line in (tmp_path / "a" / "speeds" / name).read_text().splitlines()
                            if line.startswith("| hidden layers |"))
        assert header in table_header, (name, table_header)
