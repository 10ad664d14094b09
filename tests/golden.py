"""Golden values with their provenance: quoted from the seeds or computed independently.

Each entry: value, source, and the tolerance used when comparing (with why).
Values quoted from the seeds are quotations: tests compare gradmath's own
computations against them; they are never written into outputs.
"""

GOLDEN = {
    "gamma_sigmoid": {
        "value": "1/4",
        "source": "Nielsen ch. 5: 'The derivative reaches a maximum at σ′(0) = 1/4'; "
        "Stack Exchange answer: 'γ = 0.25' for sigmoid",
        "tolerance": "exact",
    },
    "gamma_tanh": {
        "value": "1",
        "source": "sech²(0) = 1; the Stack Exchange answer plots tanh′ with maximum 1",
        "tolerance": "exact",
    },
    "gamma_gelu": {
        "value": "1.128904145185154786340744442261926",
        "source": "independent: mpmath.findroot on Φ′ + (xφ)′ = φ(x)(2 − x²) gives x = √2; "
        "Φ(√2) + √2 φ(√2) evaluated with mpmath at 40 digits",
        "tolerance": "1e-30 absolute",
    },
    "gamma_silu": {
        "value": "1.0998393201288669",
        "source": "independent: scipy.optimize.minimize_scalar(-silu′) on [0, 10], xtol 1e-12",
        "tolerance": "1e-9 absolute (the optimiser's tolerance on a quadratic maximum)",
    },
    "nielsen_speeds_2_hidden": {
        "value": (0.07, 0.31),
        "source": "Nielsen ch. 5, 'The vanishing gradient problem': '||δ^1|| = 0.07... and ||δ^2|| = 0.31...' "
        "for one [784, 30, 30, 10] network on MNIST just after initialisation (network2's init)",
        "tolerance": "none fixed: one random network, so compared with the spread over seeds "
        "(Tukey's fences of our init speeds on digits, tests/test_speeds.py)",
    },
    "nielsen_speeds_3_hidden": {
        "value": (0.012, 0.060, 0.283),
        "source": "Nielsen ch. 5: 'in a [784, 30, 30, 30, 10] network, then the respective speeds of learning "
        "turn out to be 0.012, 0.060, and 0.283'",
        "tolerance": "as nielsen_speeds_2_hidden",
    },
    "nielsen_speeds_4_hidden": {
        "value": (0.003, 0.017, 0.070, 0.285),
        "source": "Nielsen ch. 5: 'Suppose we add yet another layer with 30 hidden neurons. In that case, the "
        "respective speeds of learning are 0.003, 0.017, 0.070, and 0.285'",
        "tolerance": "as nielsen_speeds_2_hidden",
    },
    "nielsen_window_argmax_abs_w": {
        "value": "6.9",
        "source": "Nielsen ch. 5, Problems, part (3): 'the above expression bounding the width of the range "
        "is greatest at |w| ≈ 6.9'",
        "tolerance": "the printed digits: equal after rounding to 1 decimal",
    },
    "nielsen_window_max_width": {
        "value": "0.45",
        "source": "Nielsen ch. 5, Problems, part (3): '... where it takes a value ≈ 0.45'",
        "tolerance": "the printed digits: equal after rounding to 2 decimals",
    },
    "window_sigmoid_argmax_abs_w_50": {
        "value": "6.8941510322729280142120043530732618028792068449017",
        "source": "independent: with |w| = 4cosh²(v) the width is v·sech²(v), maximal where v·tanh(v) = 1/2; "
        "mpmath (dps 70): v = findroot(lambda v: v*tanh(v) - 1/2, 0.77); |w|* = 16v²/(4v² − 1), 50 digits",
        "tolerance": "1e-48 relative (rounding of the last printed digit)",
    },
    "window_sigmoid_max_width_50": {
        "value": "0.44774320469430284917832424096967256979161169212605",
        "source": "independent: as window_sigmoid_argmax_abs_w_50; maximum width v − 1/(4v), 50 digits",
        "tolerance": "1e-49 absolute (rounding of the last printed digit)",
    },
    "exploding_term_sigmoid": {
        "value": "25",
        "source": "Nielsen ch. 5, the exploding gradient example: with w_j = 100 and z_j = 0, "
        "'all the terms w_j σ′(z_j) are equal to 100 * 1/4 = 25'",
        "tolerance": "exact",
    },
}
