"""Significant digits of a formula's float constants: rounding, and the digits the
data support.

Only ``sympy.Float`` atoms are rounded (through :meth:`sympy.Basic.xreplace`): exact
integers and rationals and symbolic constants such as π stay as they are. A rounded
constant is the float64 nearest to its N-digit decimal, so it prints with those N digits
(sympy strips the trailing zeros of its 15-digit form) and evaluates to that decimal.

The digits the data support (:func:`supported_digits`) are, for each constant, the
fewest that keep the held-out loss within ``LOSS_RTOL`` (1 %) of the unrounded
formula's — or within round-off (``ROUND_OFF``) of it for a formula that fits the data
to round-off: a 1 % increase of the loss moves a constant by about 0.1·√n of its
standard error on n rows, a change the data cannot tell from noise, while an exact fit
keeps every digit that changes its predictions. Capped at ``MAX_DIGITS`` (15, the digits
a float64 holds reliably and sympy prints).
"""
from __future__ import annotations

import numpy as np
import sympy

from .names import printable

#: the most significant digits a constant is printed with (float64: 15 are reliable)
MAX_DIGITS = 15
#: rounding may raise the held-out loss by this share of it
LOSS_RTOL = 0.01
#: ... or by (ROUND_OFF · RMS of y)², the round-off of evaluating a formula in float64
ROUND_OFF = 1e-13
#: what a ``precision`` argument may be besides an int: no rounding / the data's digits
PRECISION_WORDS = (None, "auto")


def check_precision(precision):
    """``precision`` checked: None (every digit), "auto" (the digits the data support) or
    an int from 1 to ``MAX_DIGITS``; ValueError otherwise."""
    if precision in PRECISION_WORDS and not isinstance(precision, (bool, np.bool_)):
        return precision
    if isinstance(precision, (int, np.integer)) and not isinstance(precision, (bool, np.bool_)) \
            and 1 <= precision <= MAX_DIGITS:
        return int(precision)
    raise ValueError(f"precision must be an integer from 1 to {MAX_DIGITS}, 'auto' or None, got {precision!r}")


def round_to_digits(value: float, digits: int) -> float:
    """value rounded to ``digits`` significant decimal digits (correctly rounded)."""
    value = float(value)
    if value == 0 or not np.isfinite(value):
        return value
    return float(f"{value:.{int(digits) - 1}e}")


def round_floats(expr: sympy.Expr, digits) -> sympy.Expr:
    """expr with every Float rounded to ``digits`` significant digits: an int for all of
    them, or a mapping {float value: digits} (a constant it lacks keeps ``MAX_DIGITS``);
    None returns expr unchanged."""
    if digits is None:
        return expr
    floats = expr.atoms(sympy.Float)
    per_value = digits if isinstance(digits, dict) else dict.fromkeys(map(float, floats), int(digits))
    return expr.xreplace({f: sympy.Float(round_to_digits(float(f), per_value.get(float(f), MAX_DIGITS)))
                          for f in floats})


class _ConstantLoss:
    """The held-out MSE of expr as a function of its float constants: expr is lambdified
    once with the constants as arguments. X: (n, d), y: (n,)."""

    def __init__(self, expr, variables, X, y):
        self.floats = sorted(expr.atoms(sympy.Float), key=float)
        self.values = np.array([float(f) for f in self.floats])
        args = [sympy.Symbol(f"v{k}_") for k in range(len(variables))]
        consts = [sympy.Symbol(f"c{k}_") for k in range(len(self.floats))]
        body = expr.xreplace({**dict(zip(variables, args)), **dict(zip(self.floats, consts))})
        self.fn = sympy.lambdify(args + consts, printable(body), modules="numpy")
        self.columns = [np.asarray(X[:, k], dtype=np.float64) for k in range(X.shape[1])]
        self.y = np.asarray(y, dtype=np.float64).reshape(-1)

    def __call__(self, values) -> float:
        with np.errstate(all="ignore"):
            out = np.asarray(self.fn(*self.columns, *values))
            if np.iscomplexobj(out):
                out = np.where(np.abs(out.imag) > 1e-12 * (1 + np.abs(out.real)), np.nan, out.real)
            err = np.broadcast_to(out.astype(np.float64), self.y.shape) - self.y
            loss = float(np.mean(err ** 2))
        return loss if np.isfinite(loss) else np.inf


def supported_digits(expr: sympy.Expr, variables, X, y) -> dict[float, int]:
    """{float value: significant digits} of expr's constants that the held-out rows X
    (n, d), y (n,) support (module docstring): each constant gets the fewest digits that
    keep the loss within its share of the allowance when rounded alone; then all digits
    grow together until the formula with every constant rounded is within it. Empty
    for a formula without floats or not finite on the rows (printed with MAX_DIGITS)."""
    loss_of = _ConstantLoss(expr, variables, np.asarray(X, dtype=np.float64), y)
    if not len(loss_of.values):
        return {}
    base = loss_of(loss_of.values)
    if not np.isfinite(base):
        return {}
    allowed = max(LOSS_RTOL * base, ROUND_OFF ** 2 * float(np.mean(loss_of.y ** 2)))
    share = allowed / len(loss_of.values)

    def rounded(digits):
        return np.array([round_to_digits(v, d) for v, d in zip(loss_of.values, digits)])

    digits = []
    for k, value in enumerate(loss_of.values):
        for n in range(1, MAX_DIGITS + 1):
            trial = loss_of.values.copy()
            trial[k] = round_to_digits(value, n)
            if loss_of(trial) <= base + share:
                break
        digits.append(n)
    digits = np.array(digits)
    while loss_of(rounded(digits)) > base + allowed and digits.min() < MAX_DIGITS:
        digits = np.minimum(digits + 1, MAX_DIGITS)
    return {float(v): int(d) for v, d in zip(loss_of.values, digits)}


def rounded(expr: sympy.Expr, precision, supported: dict | None = None) -> sympy.Expr:
    """expr with its floats rounded as ``precision`` says (:func:`check_precision`): None
    keeps every digit, an int N rounds each to N significant digits, "auto" to the
    digits the data support (``supported``, :func:`supported_digits`; a constant it
    lacks keeps ``MAX_DIGITS``)."""
    precision = check_precision(precision)
    if precision is None:
        return expr
    return round_floats(expr, dict(supported or {}) if precision == "auto" else precision)


def annotate_digits(formulas, X, y) -> None:
    """Set each formula's ``digits`` to the digits held-out rows X (n, d), y (n,) support."""
    for formula in formulas:
        formula.digits = supported_digits(formula.expr, formula.variables, X, y)


def digits_to_data(digits: dict | None) -> list:
    """{value: digits} as plain data for a model file: [[value, digits], ...]."""
    return [[float(v), int(d)] for v, d in (digits or {}).items()]


def digits_from_data(data) -> dict | None:
    """The mapping :func:`digits_to_data` wrote (None for a file without it); ValueError
    for anything else."""
    if data is None:
        return None
    try:
        pairs = {float(v): int(d) for v, d in data}
    except (TypeError, ValueError):
        raise ValueError(f"the digits of a formula must be [value, digits] pairs, got {str(data)[:100]}") from None
    if not all(1 <= d <= MAX_DIGITS for d in pairs.values()):
        raise ValueError(f"the digits of a formula must be from 1 to {MAX_DIGITS}, got {sorted(pairs.values())}")
    return pairs


__all__ = ["LOSS_RTOL", "MAX_DIGITS", "PRECISION_WORDS", "ROUND_OFF", "annotate_digits", "check_precision",
           "digits_from_data", "digits_to_data", "round_floats", "round_to_digits", "rounded", "supported_digits"]
