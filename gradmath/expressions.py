"""Safe parsing of an activation written as a string, such as ``"x/(1+abs(x))"``.

The string is parsed by :mod:`ast` and the tree is translated node by node into
SymPy; nothing is evaluated by Python. Only numbers, the variable ``x``, the
constants ``pi`` and ``E``, the operators ``+ - * / ** ^`` and a fixed list of
functions are accepted, so attribute access, imports, subscripts, lambdas and
calls of anything else are refused with :class:`~gradmath.errors.ExpressionError`.
"""

from __future__ import annotations

import ast
import re

import sympy as sp

from gradmath.errors import ExpressionError

__all__ = ["X", "parse_expression", "ALLOWED_FUNCTIONS", "summarise"]

#: The variable every activation is written in.
X = sp.Symbol("x", real=True)

ALLOWED_FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "Abs": sp.Abs,
    "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "atan": sp.atan, "arctan": sp.atan, "asinh": sp.asinh, "arcsinh": sp.asinh, "erf": sp.erf,
    "erfc": sp.erfc, "Max": sp.Max, "max": sp.Max, "Min": sp.Min, "min": sp.Min,
    "sign": sp.sign, "Heaviside": sp.Heaviside,
}
_CONSTANTS = {"pi": sp.pi, "E": sp.E, "e": sp.E}
_BINARY = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: _power(a, b), ast.BitXor: lambda a, b: _power(a, b),
}
_MAX_EXPONENT = 1000
#: A number built from the string has at most this many decimal digits (numerator and denominator).
MAX_DIGITS = 4000
#: Limits on the parsed tree: nodes in all, and depth of nesting.
MAX_NODES = 300
MAX_DEPTH = 100


def _power(base, exponent):
    """base**exponent, refused before it is built when the exponent or the result would be too large."""
    if exponent.is_Number and abs(exponent) > _MAX_EXPONENT:
        raise ExpressionError(f"exponent {exponent} is larger than {_MAX_EXPONENT} in absolute value")
    if base.is_Rational and exponent.is_Number and base != 0:
        # the result's numerator and denominator have about |exponent|·log10 of the base's digits
        digits = max(_digits(base.p), _digits(base.q)) * abs(float(exponent))
        if digits > MAX_DIGITS:
            shown = str(base) if max(_digits(base.p), _digits(base.q)) <= 20 else "a number"
            raise ExpressionError(f"{shown}**{exponent} would have about {digits:.3g} digits, "
                                  f"more than {MAX_DIGITS}; use a smaller base or exponent")
    return base**exponent


def _digits(n: int) -> int:
    """Decimal digits of |n| (at least 1), from its bit length: no conversion to text."""
    return max(1, int(abs(int(n)).bit_length() * 0.30103) + 1)


_MAX_LENGTH = 2000


def parse_expression(text: str) -> sp.Expr:
    """Translate ``text`` into a SymPy expression in :data:`X` without ``eval``.

    Parameters
    ----------
    text : str
        An expression of one variable ``x``; ``^`` means power.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ExpressionError
        If the string is not such an expression.

    Examples
    --------
    >>> parse_expression("x/(1+abs(x))")
    x/(Abs(x) + 1)
    >>> parse_expression("().__class__")
    Traceback (most recent call last):
    ...
    gradmath.errors.ExpressionError: activation '().__class__': Attribute is not allowed (use numbers, x, pi, E, + - * / ** and functions such as exp, tanh)
    """
    if not isinstance(text, str):
        raise ExpressionError(f"activation {text!r} must be a string such as 'x/(1+abs(x))'")
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"activation string of {len(text)} characters is longer than {_MAX_LENGTH}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"activation {text!r} is not a valid expression: {err.msg}") from err
    _check_size(tree.body, text)
    try:
        expr = sp.sympify(_translate(tree.body, text))
    except ExpressionError:
        raise
    except (ValueError, TypeError, ZeroDivisionError, RecursionError) as err:
        raise ExpressionError(f"activation {text!r} cannot be built: {err}") from err
    # each literal and power was checked as it was built, but products and sums of them combine into one number
    for number in expr.atoms(sp.Rational):
        if max(_digits(number.p), _digits(number.q)) > MAX_DIGITS:
            raise ExpressionError(f"activation {text[:40]!r}: its numbers combine into one of more than {MAX_DIGITS} "
                                  "digits; use smaller constants")
    free = expr.free_symbols - {X}
    if free:  # pragma: no cover - _translate admits only x
        raise ExpressionError(f"activation {text!r} has variables other than x: {sorted(map(str, free))}")
    if X not in expr.free_symbols:
        raise ExpressionError(f"activation {text!r} does not depend on x")
    return expr


def _check_size(root: ast.AST, text: str) -> None:
    """Refuse a tree with more than MAX_NODES nodes or deeper than MAX_DEPTH (walked without recursion)."""
    stack, count = [(root, 1)], 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"activation {text[:40]!r}...: more than {MAX_NODES} parts; write a shorter one")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"activation {text[:40]!r}...: nested deeper than {MAX_DEPTH}; write a flatter one")
        stack += [(child, depth + 1) for child in ast.iter_child_nodes(node)]


def _number(node: ast.Constant, text: str) -> sp.Rational:
    """A literal as an exact rational: 1e-300 is 10**-300 exactly (its decimal text), never 0.

    A float literal is read from its source text, not from the float Python made of it, so no digit
    is lost (0.30000000000000000001 stays itself, not 3/10) and 1e-400 is 10**-400, not 0.0.
    """
    value = node.value
    if isinstance(value, int):
        if _digits(value) > MAX_DIGITS:
            raise ExpressionError(f"activation {text[:40]!r}: an integer with more than {MAX_DIGITS} digits")
        return sp.Integer(value)
    if value in (float("inf"), float("-inf")):
        raise ExpressionError(f"activation {text[:40]!r}: a number is too large for a float (use x*10**k)")
    written = ast.get_source_segment(text.strip(), node)
    match = _FLOAT_LITERAL.fullmatch((written or "").replace("_", ""))
    if match is None:  # pragma: no cover - every float literal of Python's grammar matches
        raise ExpressionError(f"activation {text[:40]!r}: cannot read the number {written!r}")
    frac = match["frac"] or ""
    digits = ((match["int"] or "") + frac).lstrip("0")
    exponent = int(match["exp"] or 0) - len(frac)
    # checked before 10**|exponent| is built: at most MAX_DIGITS digits in numerator and denominator
    if len(digits) + max(exponent, 0) > MAX_DIGITS or -exponent > MAX_DIGITS:
        raise ExpressionError(f"activation {text[:40]!r}: the number {written[:30]!r} would have more than "
                              f"{MAX_DIGITS} digits; use a smaller exponent")
    mantissa = int(digits or "0")
    return sp.Integer(mantissa * 10**exponent) if exponent >= 0 else sp.Rational(mantissa, 10**-exponent)


#: A float literal of Python's grammar (underscores removed): digits, optional fraction, optional exponent.
_FLOAT_LITERAL = re.compile(r"(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?:[eE](?P<exp>[+-]?[0-9]+))?", re.ASCII)


def _translate(node: ast.AST, text: str):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"activation {text!r}: {node.value!r} is not a number")
        return _number(node, text)
    if isinstance(node, ast.Name):
        if node.id == "x":
            return X
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ExpressionError(f"activation {text!r}: unknown name {node.id!r} (the variable is x)")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_translate(node.left, text), _translate(node.right, text))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _translate(node.operand, text)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(f"activation {text!r}: only plain function calls such as exp(x) are allowed")
        name = node.func.id
        if name not in ALLOWED_FUNCTIONS:
            allowed = ", ".join(sorted(ALLOWED_FUNCTIONS))
            raise ExpressionError(f"activation {text!r}: {name!r} is not an allowed function (allowed: {allowed})")
        if node.keywords or not node.args:
            raise ExpressionError(f"activation {text!r}: {name}() takes positional arguments only")
        return ALLOWED_FUNCTIONS[name](*(_translate(a, text) for a in node.args))
    raise ExpressionError(
        f"activation {text!r}: {type(node).__name__} is not allowed "
        "(use numbers, x, pi, E, + - * / ** and functions such as exp, tanh)"
    )


def summarise(name: str, expression: sp.Expr, derivative: sp.Expr) -> dict:
    """A JSON-ready summary of a definition and its derivative, plain and LaTeX."""
    return {
        "name": name,
        "expression": str(expression),
        "expression_latex": sp.latex(expression),
        "derivative": str(derivative),
        "derivative_latex": sp.latex(derivative),
    }
