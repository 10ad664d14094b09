"""The vectorised phase diagram agrees with the point-by-point computation, and the reproduce step's artifacts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradmath.cli import main
from gradmath.errors import InvalidParameterError
from gradmath.meanfield import critical_sigma_w2, mean_field
from gradmath.meanfield.phase import MAX_GRID_POINTS, phase_diagram


@pytest.mark.parametrize("name", ["tanh", "erf(x)", "relu"])
def test_phase_diagram_matches_mean_field_point_by_point(name):
    w, b = np.array([0.5, 1.0, 1.9, 2.5, 3.5]), np.array([0.0, 0.05, 0.3])
    d = phase_diagram(name, w, b)
    for i, sw2 in enumerate(w):
        for j, sb2 in enumerate(b):
            try:
                p = mean_field(name, sw2, sb2)
            except InvalidParameterError:
                assert d.phase[i, j] == "unbounded" and np.isnan(d.q_star[i, j])
                continue
            assert d.phase[i, j] == p.phase
            assert d.q_star[i, j] == pytest.approx(p.q_star, rel=1e-12, abs=1e-300)
            assert d.chi_1[i, j] == pytest.approx(p.chi_1, rel=1e-12)
            if p.c_star is None:
                assert np.isnan(d.c_star[i, j]) and np.isnan(d.chi_c[i, j])
            else:
                # Both take c* from Mehler's series for smooth φ (within 10⁻¹⁰); where the diagram uses its light
                # 2-D rule, that keeps 𝓒 within 2·10⁻¹⁰ (relative) of the point's; c* inherits that divided by
                # 1 − χ_c, its conditioning as a root.
                tol = 2e-10 / max(1e-3, 1 - p.chi_c)
                assert d.c_star[i, j] == pytest.approx(p.c_star, abs=tol)
                assert d.chi_c[i, j] == pytest.approx(p.chi_c, rel=tol)


def test_phase_boundary_lies_on_the_critical_line():
    sb2 = 0.05
    crit = critical_sigma_w2("tanh", sb2).sigma_w2
    d = phase_diagram("tanh", [crit * (1 - 1e-6), crit * (1 + 1e-6)], [sb2])
    assert list(d.phase[:, 0]) == ["ordered", "chaotic"]


def test_grid_limit_is_checked_before_any_work():
    big = np.linspace(0.5, 4, 1000)
    with pytest.raises(InvalidParameterError, match=f"limit of {MAX_GRID_POINTS}"):
        phase_diagram("tanh", big, big)


def test_cli_point_json_has_the_documented_keys(capsys):
    assert main(["meanfield", "--activation", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    for key in ("activation", "sigma_w2", "sigma_b2", "q_star", "c_star", "chi_1", "chi_c", "xi_q", "xi_c", "phase"):
        assert key in payload
    assert payload["phase"] == "ordered" and payload["c_star"] == 1.0


def test_cli_critical_json_and_text(capsys):
    assert main(["meanfield", "--activation", "tanh", "--critical", "--sigma-b2", "0.05", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["critical_sigma_w2"] == pytest.approx(critical_sigma_w2("tanh", 0.05).sigma_w2)
    assert main(["meanfield", "--activation", "relu", "--critical", "--sigma-b2", "0.1"]) == 0
    assert "no critical sigma_w2" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["--sigma-w2", "0"], "sigma_w2=0 must be > 0"),
    (["--sigma-w2", "1e-400"], "sigma_w2='1e-400' is nonzero but below the smallest float64"),
    (["--sigma-w2", "1", "--sigma-b2", "0.5e-330"], "so it would be read as 0"),   # the float 0, the text 5e-331
    (["--sigma-w2", "1", "--sigma-b2", "-1"], "must be >= 0"),
    (["--sigma-w2", "nan"], "not a decimal number"),
    (["--sigma-w2", "\uff11.\uff15"], "not a decimal number"),  # fullwidth 1.5: float() read it as 1.5
    (["--sigma-w2", "1.5", "--sigma-b2", "\u0660.\u0660\u0665"], "not a decimal number"),  # Arabic-Indic 0.05
    (["--sigma-w2", "1", "--digits", "100000"], "digits=100000"),
    (["--activation", "relu", "--sigma-w2", "3"], "no finite fixed point"),
    (["--activation", "exp(x**2)", "--sigma-w2", "1"], "not finite"),
    (["--critical", "--sigma-w2", "1"], "leave out --sigma-w2"),
    ([], "give --sigma-w2"),
])
def test_cli_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    assert main(["meanfield", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1 and "Traceback" not in err
