"""Mean-field signal propagation in wide random networks: predict each layer's gradient, not only bound it.

Poole et al. (2016) and Schoenholz et al. (2017) show that in a wide network with
weights N(0, σ_w²/n) and biases N(0, σ_b²) the squared length q of the pre-activations,
the correlation c of two inputs and the squared length of a backward signal each follow
a one-dimensional map. Their fixed points and slopes give the typical per-layer factor
of the gradient, √χ₁, where the bounds of :mod:`gradmath.bounds` give only the worst case.

>>> from gradmath.meanfield import mean_field, critical_sigma_w2
>>> p = mean_field("tanh", sigma_w2=2.5, sigma_b2=0.05)
>>> p.phase, round(p.c_star, 4), round(p.gradient_factor, 4)
('chaotic', 0.4468, 1.0647)
>>> round(critical_sigma_w2("tanh", sigma_b2=0.05).sigma_w2, 6)
1.760955
"""

from gradmath.meanfield.critical import CriticalPoint, critical_sigma_w2
from gradmath.meanfield.point import MeanFieldPoint, depth_scale, mean_field

__all__ = ["MeanFieldPoint", "mean_field", "depth_scale", "CriticalPoint", "critical_sigma_w2"]
