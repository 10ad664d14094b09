"""Shared test set-up: Hypothesis profiles and a clean numeric state for every test."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The result cache (gradmath.cache) never touches the user's folder during tests, and stays off unless a
# test turns it on (tests/test_cache.py), so no stored result can hide a monkeypatched library function.
os.environ["GRADMATH_CACHE_DIR"] = _CACHE_DIR = tempfile.mkdtemp(prefix="gradmath-test-cache-")
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)
os.environ["GRADMATH_NO_CACHE"] = "1"

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
