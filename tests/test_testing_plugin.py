"""The pytest plugin (entry point ``pytest11``: gradmath), run in a subprocess with ``-p gradmath.testing.plugin``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

STUDENT_TEST = '''
import numpy as np
from hypothesis import settings


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def backprop(weights, biases, x, y):
    activations, zs = [x], []
    for b, w in zip(biases, weights):
        zs.append(w @ activations[-1] + b)
        activations.append(sigmoid(zs[-1]))
    delta = activations[-1] - y
    nabla_b, nabla_w = [delta], [delta @ activations[-2].T]
    for l in range(2, len(weights) + 1):
        delta = (weights[-l + 1].T @ delta) * SIGMA_PRIME(zs[-l])
        nabla_b.insert(0, delta)
        nabla_w.insert(0, delta @ activations[-l - 1].T)
    return nabla_b, nabla_w


def test_profile():
    assert settings.default.max_examples == EXPECTED


def test_backprop(check_backprop):
    report = check_backprop(backprop, activation="sigmoid", cost="cross-entropy", seed=1)
    assert report.examples == EXPECTED
'''


def _run(pytester, monkeypatch, *args, prime="sigmoid(z) * (1 - sigmoid(z))", expected=25):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    source = STUDENT_TEST.replace("SIGMA_PRIME(zs[-l])", f"({prime.replace('z', 'zs[-l]')})")
    pytester.makepyfile(test_student=source.replace("EXPECTED", str(expected)))
    return pytester.runpytest_subprocess("-p", "gradmath.testing.plugin", "-p", "no:cacheprovider", *args)


def test_quick_profile_and_fixture(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "--gradmath-profile=quick")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["gradmath.testing: Hypothesis profile gradmath-quick"])


def test_a_wrong_backprop_fails_with_the_shrunk_network(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "--gradmath-profile=quick", prime="1.0")  # σ′ left out at hidden layers
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*GradientMismatch: ∂C/∂b² (nabla_b?0?)*", "*DrawnNetwork(sizes=(1, 1, 1)*"])


def test_without_the_option_no_profile_is_loaded(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, expected=100)  # Hypothesis's own default stays in charge
    result.assert_outcomes(passed=2)


def test_the_profiles_do_not_replace_the_projects_own():
    from hypothesis import settings

    import gradmath.testing.plugin as plugin

    assert set(plugin.PROFILES.values()) == {"gradmath-quick", "gradmath-thorough"}
    assert settings.get_profile("gradmath-thorough").max_examples == plugin.THOROUGH_EXAMPLES
    assert settings.get_profile("ci").max_examples == 300  # tests/conftest.py's profile, untouched


def test_the_entry_point_is_declared():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # named as the module, so ``-p gradmath.testing.plugin`` is the same plugin once installed, not a second copy
    assert project["entry-points"]["pytest11"] == {"gradmath.testing.plugin": "gradmath.testing.plugin"}
    assert "hypothesis>=6.80" in project["optional-dependencies"]["testing"]


def test_an_unknown_profile_is_refused(pytester):
    # in this process: the option is refused while parsing, before any profile could be loaded
    result = pytester.runpytest_inprocess("-p", "gradmath.testing.plugin", "--gradmath-profile=slow")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice: 'slow'*"])
