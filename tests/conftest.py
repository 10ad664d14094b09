"""Shared test set-up: Hypothesis profiles and a clean numeric state for every test."""

from __future__ import annotations

import os

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _clean_numeric_state():
    """Reset mpmath precision, NumPy's error state and its global seed around every test."""
    saved_dps, saved_iv = mpmath.mp.dps, mpmath.iv.dps
    with np.errstate(all="raise", under="ignore"):
        np.random.seed(0)
        yield
    mpmath.mp.dps, mpmath.iv.dps = saved_dps, saved_iv
