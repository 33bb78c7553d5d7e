"""The symbolic function library: name -> (torch form, safe torch form, sympy form, complexity).

Every snapped edge is ``c · f(a·x + b) + d`` for one entry ``f`` of this library.
Users add their own with :func:`register_function`; custom entries are recorded by
name and sympy source so a saved model can rebuild them on load.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy
import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class SymbolicFunction:
    """One library entry.

    ``torch_fn`` is the exact function; ``safe_fn`` the variant used while fitting and
    evaluating (finite near singularities and outside the domain); ``sympy_fn`` maps a
    sympy expression to a sympy expression; ``domain`` is the open/closed interval on
    which the function is real and finite, used to keep fits feasible.
    """

    name: str
    torch_fn: Callable[[Tensor], Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: int
    safe_fn: Callable[[Tensor], Tensor] | None = None
    domain: tuple[float, float] = (float("-inf"), float("inf"))
    source: str | None = field(default=None, compare=False)  # sympy source for custom entries

    def __call__(self, x: Tensor) -> Tensor:
        return (self.safe_fn or self.torch_fn)(x)


_EPS = 1e-6  # distance kept from singularities by the safe forms


def _safe_recip(x: Tensor, p: int = 1) -> Tensor:
    sign = torch.where(x < 0, -1.0, 1.0).to(x.dtype)
    mag = x.abs().clamp_min(_EPS)
    return (sign / mag) ** p if p % 2 else 1.0 / mag ** p


def _lib() -> dict[str, SymbolicFunction]:
    sp = sympy
    entries = [
        SymbolicFunction("0", lambda x: x * 0, lambda x: sp.Integer(0), 0),
        SymbolicFunction("x", lambda x: x, lambda x: x, 1),
        SymbolicFunction("x^2", lambda x: x ** 2, lambda x: x ** 2, 2),
        SymbolicFunction("x^3", lambda x: x ** 3, lambda x: x ** 3, 3),
        SymbolicFunction("x^4", lambda x: x ** 4, lambda x: x ** 4, 3),
        SymbolicFunction("1/x", lambda x: 1 / x, lambda x: 1 / x, 2, lambda x: _safe_recip(x, 1)),
        SymbolicFunction("1/x^2", lambda x: 1 / x ** 2, lambda x: 1 / x ** 2, 3, lambda x: _safe_recip(x, 2)),
        SymbolicFunction("sqrt", torch.sqrt, sp.sqrt, 2, lambda x: torch.sqrt(x.clamp_min(0.0)), (0.0, float("inf"))),
        SymbolicFunction("1/sqrt(x)", lambda x: 1 / torch.sqrt(x), lambda x: 1 / sp.sqrt(x), 3,
                         lambda x: torch.rsqrt(x.clamp_min(_EPS)), (0.0, float("inf"))),
        SymbolicFunction("exp", torch.exp, sp.exp, 2, lambda x: torch.exp(x.clamp(max=50.0))),
        SymbolicFunction("log", torch.log, sp.log, 2, lambda x: torch.log(x.clamp_min(_EPS)), (0.0, float("inf"))),
        SymbolicFunction("sin", torch.sin, sp.sin, 2),
        SymbolicFunction("cos", torch.cos, sp.cos, 2),
        SymbolicFunction("tan", torch.tan, sp.tan, 3),
        SymbolicFunction("tanh", torch.tanh, sp.tanh, 3),
        SymbolicFunction("arcsin", torch.arcsin, sp.asin, 4,
                         lambda x: torch.arcsin(x.clamp(-1 + _EPS, 1 - _EPS)), (-1.0, 1.0)),
        SymbolicFunction("arctan", torch.arctan, sp.atan, 4),
        SymbolicFunction("arctanh", torch.arctanh, sp.atanh, 4,
                         lambda x: torch.arctanh(x.clamp(-1 + _EPS, 1 - _EPS)), (-1.0, 1.0)),
        SymbolicFunction("abs", torch.abs, sp.Abs, 3),
        SymbolicFunction("gaussian", lambda x: torch.exp(-x ** 2), lambda x: sp.exp(-x ** 2), 3),
    ]
    return {e.name: e for e in entries}


FUNCTIONS: dict[str, SymbolicFunction] = _lib()
BUILTIN_NAMES = tuple(FUNCTIONS)
# the function used by constant edges c·f(a·x+b)+d with c=0 is "0"; "constant" is an alias
ALIASES = {"constant": "0", "zero": "0", "identity": "x", "x2": "x^2", "x3": "x^3", "x4": "x^4",
           "sqrt(x)": "sqrt", "asin": "arcsin", "atan": "arctan", "atanh": "arctanh",
           "exp(-x^2)": "gaussian"}


def get_function(name: str) -> SymbolicFunction:
    """Look up a library entry by name (or alias); unknown names raise ValueError."""
    key = ALIASES.get(name, name)
    if key not in FUNCTIONS:
        raise ValueError(f"unknown symbolic function {name!r}; known: {', '.join(FUNCTIONS)}")
    return FUNCTIONS[key]


def register_function(name: str, sympy_expr: str | Callable[[sympy.Expr], sympy.Expr],
                      complexity: int = 3, torch_fn: Callable[[Tensor], Tensor] | None = None,
                      domain: tuple[float, float] = (float("-inf"), float("inf"))) -> SymbolicFunction:
    """Add a function to the library.

    ``sympy_expr`` is a string in the variable ``x`` (e.g. ``"x*exp(-x)"``), which is
    what lets saved models rebuild the entry; a callable is accepted for session-only
    use. The torch form is derived from the sympy form with ``sympy.lambdify`` unless
    given.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("a symbolic function needs a non-empty string name")
    if name in BUILTIN_NAMES:
        raise ValueError(f"{name!r} is a built-in function and cannot be redefined")
    xs = sympy.Symbol("x")
    if isinstance(sympy_expr, str):
        try:
            expr = sympy.sympify(sympy_expr, locals={"x": xs})
        except (sympy.SympifyError, SyntaxError, TypeError) as err:
            raise ValueError(f"cannot parse symbolic function {name!r}: {sympy_expr!r} ({err})") from None
        if expr.free_symbols - {xs}:
            raise ValueError(f"symbolic function {name!r} may use only the variable x, got {expr.free_symbols}")
        source = sympy_expr

        def sympy_fn(arg, _expr=expr):
            return _expr.subs(xs, arg)
    elif callable(sympy_expr):
        sympy_fn, source = sympy_expr, None
        expr = sympy_fn(xs)
    else:
        raise ValueError("sympy_expr must be a string in x or a callable")
    if torch_fn is None:
        torch_fn = sympy.lambdify(xs, expr, modules="torch")
    entry = SymbolicFunction(name, torch_fn, sympy_fn, int(complexity), None, tuple(domain), source)
    FUNCTIONS[name] = entry
    return entry


def custom_functions() -> dict[str, dict]:
    """Serializable description of the user-registered entries (for save/load)."""
    return {n: {"sympy": f.source, "complexity": f.complexity, "domain": list(f.domain)}
            for n, f in FUNCTIONS.items() if n not in BUILTIN_NAMES and f.source is not None}


def restore_custom_functions(spec: dict[str, dict]) -> None:
    for name, entry in spec.items():
        if name not in FUNCTIONS:
            register_function(name, entry["sympy"], entry["complexity"], domain=tuple(entry["domain"]))
