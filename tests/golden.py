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
}
