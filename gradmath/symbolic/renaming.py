"""Renaming one symbol of a small SymPy template, fast and without re-evaluation.

The derivations build long products from a few templates (σ′(x), ∂z/∂a, …) written
once in generic symbols and renamed per layer: σ′(x) becomes σ′(z_1), σ′(z_2), ….
:func:`rename` does that by rebuilding the template's tree with the new symbol in
place, which is exact (renaming a symbol is always a valid substitution) and many
times faster than :meth:`~sympy.Basic.xreplace`.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["rename"]


def rename(expr: sp.Basic, old: sp.Symbol, new: sp.Symbol) -> sp.Basic:
    """``expr`` with the symbol ``old`` written ``new``, rebuilt without re-evaluation.

    Renaming one symbol is always a valid substitution, so nothing needs to be
    evaluated again; this is many times faster than :meth:`~sympy.Basic.xreplace`
    on the small templates σ′(x) it is used for (it recurses over the template's
    depth, not the chain's).

    >>> x, z = sp.symbols("x z_7")
    >>> rename(sp.exp(-x) / (1 + sp.exp(-x)) ** 2, x, z)
    exp(-z_7)/(1 + exp(-z_7))**2
    """
    return _renamer(expr, old)(new)


@lru_cache(maxsize=256)
def _renamer(template: sp.Basic, old: sp.Symbol):
    """A function ``new -> template with old renamed new``, walking the template once."""
    if template == old:
        return lambda new: new
    if not template.args or old not in template.free_symbols:
        return lambda new: template
    parts = [_renamer(a, old) for a in template.args]
    func = template.func
    try:
        func(*template.args, evaluate=False)
        flag = {"evaluate": False}
    except TypeError:  # classes without an evaluate flag (ExprCondPair, Tuple)
        flag = {}
    return lambda new: func(*[p(new) for p in parts], **flag)
