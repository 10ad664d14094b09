"""gradmath: the mathematics of unstable gradients in deep networks, executable and checkable.

Definitions (:mod:`gradmath.activations`) feed symbolic derivations
(:mod:`gradmath.symbolic`), numeric evaluation (:mod:`gradmath.numeric`),
verification on real networks (:mod:`gradmath.network`, :mod:`gradmath.backprop`,
:mod:`gradmath.bounds`) and reports (:mod:`gradmath.reports`).

>>> import gradmath
>>> gradmath.get_activation("sigmoid").gamma.exact
1/4

The names below are loaded on first use (PEP 562), so ``import gradmath`` (and the
command line's ``--help``) does not pay for importing SymPy.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> the module that defines it, imported on first access.
_LAZY = {
    "Activation": "gradmath.activations",
    "activation_names": "gradmath.activations",
    "get_activation": "gradmath.activations",
    "register_activation": "gradmath.activations",
    "unregister_activation": "gradmath.activations",
    "GradmathError": "gradmath.errors",
}

__all__ = [
    "Activation",
    "GradmathError",
    "activation_names",
    "get_activation",
    "register_activation",
    "unregister_activation",
    "__version__",
]


def __getattr__(name: str):
    """Import the module behind a public name on first access and keep the value."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gradmath' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
