"""What the checks on a derivation share: the :class:`Check` record, the digits asked of
the numeric checks, and SymPy's derivatives of undefined functions written as f′.

Every derivation in :mod:`gradmath.symbolic` records the checks it made as a tuple of
:class:`Check`; its ``verified`` is true only when every check made passed.

Examples
--------
>>> Check("nested", True, True, "sympy.diff of the nested cost").to_json()
{'name': 'nested', 'passed': True, 'exact': True, 'detail': 'sympy.diff of the nested cost'}
>>> u = sp.Symbol("u")
>>> sigma, sigma_p = sp.Function("sigma"), sp.Function("sigma'")
>>> name_derivatives(sp.diff(sigma(2 * u), u), {sigma: sigma_p})
2*sigma'(2*u)
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["Check", "checks_markdown", "name_derivatives", "DEFAULT_DIGITS", "TOLERANCE_DIGITS", "MAX_LOST_DIGITS",
           "numeric_check_refused"]

#: Significant digits the numeric check asks for.
DEFAULT_DIGITS = 30
#: The numeric check passes when the relative difference is below 10^-(digits - TOLERANCE_DIGITS).
TOLERANCE_DIGITS = 10
#: Most digits the numeric check carries beyond ``digits`` because |C| ≫ |∂C| (the cancellation in C(x+h) − C(x−h)).
MAX_LOST_DIGITS = 10_000


def numeric_check_refused(activation: str, seed: int, why: str):
    """The one-line :class:`~gradmath.errors.InvalidParameterError` for a numeric check that cannot be made."""
    from gradmath.errors import InvalidParameterError

    return InvalidParameterError(f"activation {activation!r}: the numeric check at seed {seed} cannot be made: {why}; "
                                 "the derivation is unchecked: use another --seed, a slower-growing activation, "
                                 "or --no-verify (verify=False)")


_TOO_LARGE = "a value is too large for mpmath (an exponential of an argument beyond 2**1000)"
#: Where the product form and the central difference disagree but the central differences at two steps
#: disagree too, the difference says nothing of the formula.
_UNSETTLED = ("the central differences of {} at two steps differ by {} relative, more than 1e-{}: the cost "
              "curves too fast there for a difference quotient")


@dataclass(frozen=True)
class Check:
    """One check made on a derivation: its name, whether it passed, whether it is exact, and what it compared."""

    name: str
    passed: bool
    exact: bool
    detail: str

    def to_json(self) -> dict:
        return {"name": self.name, "passed": self.passed, "exact": self.exact, "detail": self.detail}


def checks_markdown(checks, verified: bool) -> list[str]:
    """The checks of a derivation as Markdown lines: a table, then whether all passed.

    >>> print("\\n".join(checks_markdown([Check("nested", True, True, "sympy.diff")], True)))
    | check | exact | passed | what was compared |
    |---|---|---|---|
    | nested | yes | yes | sympy.diff |
    <BLANKLINE>
    Verified: yes.
    """
    out = ["| check | exact | passed | what was compared |", "|---|---|---|---|"]
    out += [f"| {c.name} | {'yes' if c.exact else 'no'} | {'yes' if c.passed else 'NO'} | {c.detail} |" for c in checks]
    return out + ["", f"Verified: {'yes' if verified else 'NO'}."]


def name_derivatives(expr: sp.Expr, primes: dict) -> sp.Expr:
    """Write SymPy's ``Subs(Derivative(f(ξ), ξ), ξ, u)`` and ``Derivative(f(u), u)`` as ``f′(u)``."""
    mapping = {}
    for node in expr.atoms(sp.Subs):
        inner = node.expr
        if isinstance(inner, sp.Derivative) and inner.expr.func in primes and len(inner.variables) == 1:
            mapping[node] = primes[inner.expr.func](*node.point)
    for node in expr.atoms(sp.Derivative):
        f = node.expr
        if f.func in primes and len(node.variables) == 1 and f.args == node.variables:
            mapping[node] = primes[f.func](*f.args)
    return expr.xreplace(mapping)
