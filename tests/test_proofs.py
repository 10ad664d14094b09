"""The rounded numbers written in proofs/ agree with gradmath's own computations.

Each number is read from the proof's text, so a proof that drifts from the code fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from gradmath.activations import get_activation
from gradmath.symbolic.exploding import bias_error_factor

PROOFS = Path(__file__).resolve().parents[1] / "proofs"


def _digits(text_value: float) -> float:
    """Half a unit in the last printed place."""
    decimals = len(repr(text_value).split(".")[1]) if "." in repr(text_value) else 0
    return 0.5 * 10.0**-decimals


@pytest.mark.parametrize(
    ("name", "pattern", "compute"),
    [
        ("gamma.md", r"1/\(e√π\) ≈ (\d\.\d+)", lambda: float(get_activation("gelu").gamma.value)),
        ("gamma.md", r"σ′\(x\*\) ≈ (\d\.\d+)", lambda: float(get_activation("silu").gamma.value)),
        ("gamma.md", r"x = x\* ≈ (\d\.\d+)", lambda: float(get_activation("silu").gamma.argmax)),
        ("exploding.md", r"2 arcosh 5 ≈ (\d\.\d+)", lambda: float(bias_error_factor().breakeven)),
        ("induced-norm-bounds.md", r"GELU's σ′ dips to about (−\d\.\d+)",
         lambda: minimize_scalar(lambda z: float(get_activation("gelu").prime(z)), bounds=(-5, 0), method="bounded").fun),
        ("induced-norm-bounds.md", r"SiLU's\s+to about (−\d\.\d+)",
         lambda: minimize_scalar(lambda z: float(get_activation("silu").prime(z)), bounds=(-5, 0), method="bounded").fun),
    ],
)
def test_numbers_in_proofs_match_the_computation(name, pattern, compute):
    text = (PROOFS / name).read_text(encoding="utf-8").replace("−", "-")
    match = re.search(pattern.replace("−", "-"), text)
    assert match, f"{name} no longer states {pattern!r}"
    stated = float(match.group(1))
    assert np.isclose(compute(), stated, rtol=0, atol=_digits(stated) * 1.0001)
