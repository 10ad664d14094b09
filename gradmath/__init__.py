"""gradmath: the mathematics of unstable gradients in deep networks, executable and checkable.

Definitions (:mod:`gradmath.activations`) feed symbolic derivations
(:mod:`gradmath.symbolic`), numeric evaluation (:mod:`gradmath.numeric`),
verification on real networks (:mod:`gradmath.network`, :mod:`gradmath.backprop`,
:mod:`gradmath.bounds`) and reports (:mod:`gradmath.reports`).

>>> import gradmath
>>> gradmath.get_activation("sigmoid").gamma.exact
1/4
"""

from gradmath.activations import (
    Activation,
    activation_names,
    get_activation,
    register_activation,
    unregister_activation,
)
from gradmath.errors import GradmathError

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "GradmathError",
    "activation_names",
    "get_activation",
    "register_activation",
    "unregister_activation",
    "__version__",
]
