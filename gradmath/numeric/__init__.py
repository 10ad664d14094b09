"""Numeric evaluation with SciPy (float64) and mpmath (any precision, intervals).

- :mod:`gradmath.numeric.optimise`: the window width in float64 and its maximum with SciPy.
- :mod:`gradmath.numeric.measure`: the window measured from the raw inequality (the cross-check).
- :mod:`gradmath.numeric.precision`: the maximiser and maximum to any number of digits (Newton, mpmath).
- :mod:`gradmath.numeric.certify`: a rigorous enclosure of the maximum (mpmath.iv) and its globality.
"""
