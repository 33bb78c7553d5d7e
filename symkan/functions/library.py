"""The symbolic function library: name -> (torch form, safe torch form, sympy form, complexity).

Every snapped edge is ``c · f(a·x + b) + d`` for one entry ``f`` of this library.
Users add their own with :func:`register_function`; custom entries are recorded by
name and sympy source so a saved model can rebuild them on load
(:func:`custom_functions` / :func:`restore_custom_functions`).

Besides the three forms, each entry tells the edge fitter how to search its affine
parameters (``mode``) and where it is defined (``domain``, ``poles``), so fits of
log, √, 1/x, arcsin ... keep ``a·x + b`` inside the domain over an edge's input range:

=========  ==================================================================
mode       parameters searched
=========  ==================================================================
``zero``   none: the edge is the constant ``d`` (f = 0)
``linear`` ``a = 1, b = 0`` fixed; only ``c, d`` (closed form)
``shift``  ``a = ±1`` fixed (``c`` carries the scale), ``b`` searched
``scale``  ``a`` searched; ``b`` is redundant with ``c`` (exp) and folded into it
``full``   ``a`` and ``b`` searched (a 2-D grid)
=========  ==================================================================
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import sympy
import torch

from .grammar import parse_expression

Tensor = torch.Tensor

MODES = ("zero", "linear", "shift", "scale", "full")


@dataclass(frozen=True)
class SymbolicFunction:
    """One library entry.

    ``torch_fn`` is the exact function; ``safe_fn`` the variant used while training and
    evaluating snapped networks (finite near singularities and outside the domain);
    ``sympy_fn`` maps a sympy expression to a sympy expression; ``domain`` is the
    interval on which the function is real and finite (open ends), ``poles`` points
    inside it where it is singular, repeated every ``pole_period`` when given (tan).
    ``signs``: the signs of ``a`` worth searching (odd/even functions need only +1
    because ``c`` and ``b`` absorb the sign); ``period``: the period of a periodic
    function, which bounds the search over ``b``. ``default``: whether the entry is in
    the set used when the caller names none (the log-space entries are opt-in, see
    :data:`LOG_SPACE_NAMES`).
    """

    name: str
    torch_fn: Callable[[Tensor], Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: int
    safe_fn: Callable[[Tensor], Tensor] | None = None
    domain: tuple[float, float] = (float("-inf"), float("inf"))
    source: str | None = field(default=None, compare=False)  # sympy source for custom entries
    mode: str = "full"
    signs: tuple[int, ...] = (1, -1)
    period: float | None = None
    poles: tuple[float, ...] = ()
    pole_period: float | None = None
    closed: tuple[bool, bool] = (False, False)  # domain ends where f is still finite (√ at 0)
    default: bool = True  # part of the library used when no names are given

    def __call__(self, x: Tensor) -> Tensor:
        return (self.safe_fn or self.torch_fn)(x)

    @property
    def restricted(self) -> bool:
        """True when some real inputs are outside the domain or on a pole."""
        return bool(self.poles) or math.isfinite(self.domain[0]) or math.isfinite(self.domain[1])

    def boundaries(self) -> tuple[float, ...]:
        """Finite domain ends and poles (one period of them for periodic poles)."""
        ends = tuple(v for v in self.domain if math.isfinite(v))
        return ends + tuple(self.poles)

    def feasible(self, lo: Tensor, hi: Tensor, margin: Tensor | float = 0.0) -> Tensor:
        """Whether the closed interval [lo, hi] of arguments lies strictly inside the
        domain, at least ``margin`` away from its ends and from every pole.
        lo, hi: tensors of one shape -> bool tensor of that shape."""
        ok = torch.isfinite(lo) & torch.isfinite(hi)
        d_lo, d_hi = self.domain
        if math.isfinite(d_lo):
            ok = ok & ((lo >= d_lo) if self.closed[0] else (lo > d_lo + margin))
        if math.isfinite(d_hi):
            ok = ok & ((hi <= d_hi) if self.closed[1] else (hi < d_hi - margin))
        for p in self.poles:
            if self.pole_period is None:
                ok = ok & ((hi < p - margin) | (lo > p + margin))
            else:
                # no pole p + k·period in [lo - margin, hi + margin]
                k_lo = torch.ceil((lo - margin - p) / self.pole_period)
                k_hi = torch.floor((hi + margin - p) / self.pole_period)
                ok = ok & (k_hi < k_lo)
        return ok


_EPS = 1e-6  # distance kept from singularities by the safe forms


def _safe_recip(x: Tensor, p: int = 1) -> Tensor:
    sign = torch.where(x < 0, -1.0, 1.0).to(x.dtype)
    mag = x.abs().clamp_min(_EPS)
    return (sign / mag) ** p if p % 2 else 1.0 / mag ** p


def _safe_tan(x: Tensor) -> Tensor:
    """tan with cos kept at least _EPS away from 0 (finite at the poles π/2 + kπ)."""
    cos = torch.cos(x)
    return torch.sin(x) / torch.where(cos < 0, -1.0, 1.0).to(x.dtype) / cos.abs().clamp_min(_EPS)


def _lib() -> dict[str, SymbolicFunction]:
    sp = sympy
    inf = float("inf")
    pos = (0.0, inf)
    unit = (-1.0, 1.0)
    entries = [
        SymbolicFunction("0", lambda x: x * 0, lambda x: sp.Integer(0), 0, mode="zero", signs=(1,)),
        SymbolicFunction("x", lambda x: x, lambda x: x, 1, mode="linear", signs=(1,)),
        SymbolicFunction("x^2", lambda x: x ** 2, lambda x: x ** 2, 2, mode="shift", signs=(1,)),
        SymbolicFunction("x^3", lambda x: x ** 3, lambda x: x ** 3, 3, mode="shift", signs=(1,)),
        SymbolicFunction("x^4", lambda x: x ** 4, lambda x: x ** 4, 3, mode="shift", signs=(1,)),
        SymbolicFunction("1/x", lambda x: 1 / x, lambda x: 1 / x, 2, lambda x: _safe_recip(x, 1),
                         mode="shift", signs=(1,), poles=(0.0,)),
        SymbolicFunction("1/x^2", lambda x: 1 / x ** 2, lambda x: 1 / x ** 2, 3, lambda x: _safe_recip(x, 2),
                         mode="shift", signs=(1,), poles=(0.0,)),
        SymbolicFunction("sqrt", torch.sqrt, sp.sqrt, 2, lambda x: torch.sqrt(x.clamp_min(0.0)), pos,
                         mode="shift", closed=(True, False)),
        SymbolicFunction("1/sqrt(x)", lambda x: 1 / torch.sqrt(x), lambda x: 1 / sp.sqrt(x), 3,
                         lambda x: torch.rsqrt(x.clamp_min(_EPS)), pos, mode="shift"),
        # arguments above 50 are clamped by the safe form (finite in float32), so fits stay below
        SymbolicFunction("exp", torch.exp, sp.exp, 2, lambda x: torch.exp(x.clamp(max=50.0)), (-inf, 50.0),
                         mode="scale", closed=(False, True)),
        SymbolicFunction("log", torch.log, sp.log, 2, lambda x: torch.log(x.clamp_min(_EPS)), pos, mode="shift"),
        SymbolicFunction("sin", torch.sin, sp.sin, 2, signs=(1,), period=2 * math.pi),
        SymbolicFunction("cos", torch.cos, sp.cos, 2, signs=(1,), period=2 * math.pi),
        SymbolicFunction("tan", torch.tan, sp.tan, 3, _safe_tan, signs=(1,), period=math.pi,
                         poles=(math.pi / 2,), pole_period=math.pi),
        SymbolicFunction("tanh", torch.tanh, sp.tanh, 3, signs=(1,)),
        # even, like gaussian; 1/cosh is the sech of two-level populations n₀/(eˣ + e⁻ˣ)
        SymbolicFunction("cosh", torch.cosh, sp.cosh, 3, lambda x: torch.cosh(x.clamp(-50.0, 50.0)),
                         signs=(1,)),
        SymbolicFunction("arcsin", torch.arcsin, sp.asin, 4,
                         lambda x: torch.arcsin(x.clamp(-1 + _EPS, 1 - _EPS)), unit, signs=(1,), closed=(True, True)),
        SymbolicFunction("arctan", torch.arctan, sp.atan, 4, signs=(1,)),
        SymbolicFunction("arctanh", torch.arctanh, sp.atanh, 4,
                         lambda x: torch.arctanh(x.clamp(-1 + _EPS, 1 - _EPS)), unit, signs=(1,)),
        SymbolicFunction("abs", torch.abs, sp.Abs, 3, mode="shift", signs=(1,)),
        SymbolicFunction("gaussian", lambda x: torch.exp(-x ** 2), lambda x: sp.exp(-x ** 2), 3, signs=(1,)),
    ]
    return {e.name: e for e in entries + _log_space_entries()}


def _log1m_exp(x: Tensor) -> Tensor:
    """log(1 − eˣ) for x < 0, without cancellation near 0."""
    return torch.log(-torch.expm1(x))


def _log_expm1(x: Tensor) -> Tensor:
    """log(eˣ − 1) for x > 0, without overflow for large x."""
    return x + torch.log(-torch.expm1(-x))


def _log_space_entries() -> list[SymbolicFunction]:
    """Edges of log-space networks whose formula is a law of a ratio or product of inputs.

    In the log space (u = log x, v = log y) a hidden sum node forms h = log r of a
    ratio or product r of powers of inputs (v/c, ħω/kT); a factor g(r) of the law is
    the edge log g(eʰ). These entries are those edges for the factors physics keeps
    meeting, and map back to y = … · g(r) (see symkan.discovery.spaces):

    ===================  ======================  ====================================
    entry                log-space edge          factor in the user's units
    ===================  ======================  ====================================
    ``log1p_exp``        log(1 + eˣ)             1 + r (Clausius–Mossotti, 1/d₁ + n/d₂)
    ``log1m_exp``        log(1 − eˣ), x < 0      1 − r (1/√(1 − v²/c²), 1/(1 − v/c))
    ``log_expm1``        log(eˣ − 1), x > 0      r − 1
    ``log_expm1_exp``    log(exp(eˣ) − 1)        eʳ − 1 (Bose–Einstein, diode law)
    ``log1p_exp_exp``    log(exp(eˣ) + 1)        eʳ + 1 (Fermi–Dirac)
    ===================  ======================  ====================================

    They are not in the default library (``default=False``): the linear space does not
    need them, and each entry costs snapping time for every edge. Each counts as one
    factor (complexity 3): the Bose factor eʳ − 1 is no more complex than r − 1 (at 4,
    log(eʰ − 1) stood in for it on III.4.32 at the default complexity weight).
    """
    sp = sympy
    inf = float("inf")
    softplus = torch.nn.functional.softplus
    # exp(x) of the double exponentials stays below e^30 (finite in float32); below
    # e^-80 log(exp(e^x) - 1) is x to float64 precision
    return [
        SymbolicFunction("log1p_exp", softplus, lambda x: sp.log(1 + sp.exp(x)), 3, signs=(1, -1), default=False),
        SymbolicFunction("log1m_exp", _log1m_exp, lambda x: sp.log(1 - sp.exp(x)), 3,
                         lambda x: _log1m_exp(x.clamp(max=-_EPS)), (-inf, 0.0), signs=(1, -1), default=False),
        SymbolicFunction("log_expm1", _log_expm1, lambda x: sp.log(sp.exp(x) - 1), 3,
                         lambda x: _log_expm1(x.clamp(min=_EPS)), (0.0, inf), signs=(1, -1), default=False),
        SymbolicFunction("log_expm1_exp", lambda x: _log_expm1(torch.exp(x)),
                         lambda x: sp.log(sp.exp(sp.exp(x)) - 1), 3,
                         lambda x: _log_expm1(torch.exp(x.clamp(-80.0, 30.0))), signs=(1, -1), default=False),
        SymbolicFunction("log1p_exp_exp", lambda x: softplus(torch.exp(x)),
                         lambda x: sp.log(1 + sp.exp(sp.exp(x))), 3,
                         lambda x: softplus(torch.exp(x.clamp(max=30.0))), signs=(1, -1), default=False),
    ]


FUNCTIONS: dict[str, SymbolicFunction] = _lib()
BUILTIN_NAMES = tuple(FUNCTIONS)
#: built-in entries outside the default set, snapped in the log space (symkan.discovery.spaces)
LOG_SPACE_NAMES = tuple(n for n, f in FUNCTIONS.items() if not f.default)
# "constant" is the edge c·0 + d, i.e. the function "0" with its offset d
ALIASES = {"constant": "0", "zero": "0", "identity": "x", "x2": "x^2", "x3": "x^3", "x4": "x^4",
           "sqrt(x)": "sqrt", "asin": "arcsin", "atan": "arctan", "atanh": "arctanh",
           "exp(-x^2)": "gaussian", "1/sqrt": "1/sqrt(x)", "x^-1": "1/x", "x^-2": "1/x^2"}


def available_functions() -> list[str]:
    """Names of every library entry (built-in and registered), in library order."""
    return list(FUNCTIONS)


def get_function(name: str) -> SymbolicFunction:
    """Look up a library entry by name (or alias); unknown names raise ValueError."""
    if isinstance(name, SymbolicFunction):
        return name
    key = ALIASES.get(name, name) if isinstance(name, str) else name
    if key not in FUNCTIONS:
        raise ValueError(f"unknown symbolic function {name!r}; known: {', '.join(FUNCTIONS)} "
                         f"(aliases: {', '.join(ALIASES)})")
    return FUNCTIONS[key]


def default_functions() -> list[str]:
    """Names used when the caller names none: every entry except the opt-in
    :data:`LOG_SPACE_NAMES` (registered functions included)."""
    return [n for n, f in FUNCTIONS.items() if f.default]


def resolve_functions(functions=None) -> list[SymbolicFunction]:
    """A list of library entries from names (None = :func:`default_functions`),
    deduplicated, with "0" always included (a dead edge must be expressible)."""
    names = default_functions() if functions is None else list(functions)
    if not names:
        raise ValueError("functions must name at least one library entry")
    out: dict[str, SymbolicFunction] = {"0": FUNCTIONS["0"]}
    for n in names:
        entry = get_function(n)
        out[entry.name] = entry
    return list(out.values())


def _broadcasting(fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """Wrap a lambdified function so constant expressions still return a tensor like x."""
    def wrapped(x: Tensor) -> Tensor:
        out = fn(x)
        if not isinstance(out, torch.Tensor):
            out = torch.full_like(x, float(out))
        return out * torch.ones_like(x) if out.shape != x.shape else out
    return wrapped


def register_function(name: str, sympy_expr: str | Callable[[sympy.Expr], sympy.Expr],
                      complexity: int = 3, torch_fn: Callable[[Tensor], Tensor] | None = None,
                      domain: tuple[float, float] = (float("-inf"), float("inf")),
                      poles: tuple[float, ...] = ()) -> SymbolicFunction:
    """Add a function to the library (searched with ``mode="full"``: a and b free).

    ``sympy_expr`` is a string in the variable ``x`` (e.g. ``"x*exp(-x)"``), which is
    what lets saved models rebuild the entry; a callable is accepted for session-only
    use. Strings are parsed without ``eval`` (:func:`symkan.functions.grammar.parse_expression`:
    numbers, ``x``, ``pi``, ``E``, ``+ - * / **`` and a list of sympy functions). The
    torch form is derived from the sympy form with ``sympy.lambdify`` unless given.
    ``domain`` (open interval) and ``poles`` keep fits inside the region where the
    function is finite. Registering an existing custom name replaces it.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("a symbolic function needs a non-empty string name")
    if name in BUILTIN_NAMES or name in ALIASES:
        raise ValueError(f"{name!r} is a built-in function and cannot be redefined")
    if isinstance(complexity, bool) or int(complexity) != complexity or int(complexity) < 1:
        raise ValueError(f"complexity must be an integer >= 1, got {complexity!r}")
    lo, hi = (float(v) for v in domain)
    if not hi > lo:
        raise ValueError(f"domain must be (lo, hi) with hi > lo, got {domain!r}")
    xs = sympy.Symbol("x")
    if isinstance(sympy_expr, str):
        try:  # no eval: model files carry these strings
            expr = parse_expression(sympy_expr, {"x": xs}, other_names=True)
        except ValueError as err:
            raise ValueError(f"cannot parse symbolic function {name!r}: {sympy_expr!r} ({err})") from None
        if not isinstance(expr, sympy.Expr):
            raise ValueError(f"symbolic function {name!r} must be an expression in x, got {sympy_expr!r}")
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
        torch_fn = _broadcasting(sympy.lambdify(xs, expr, modules="torch"))
    entry = SymbolicFunction(name, torch_fn, sympy_fn, int(complexity), None, (lo, hi), source,
                             mode="full", signs=(1, -1), poles=tuple(float(p) for p in poles))
    FUNCTIONS[name] = entry
    return entry


def custom_functions() -> dict[str, dict]:
    """Serializable description of the user-registered entries (for save/load)."""
    return {n: {"sympy": f.source, "complexity": f.complexity, "domain": list(f.domain),
                "poles": list(f.poles)}
            for n, f in FUNCTIONS.items() if n not in BUILTIN_NAMES and f.source is not None}


def restore_custom_functions(spec: dict[str, dict]) -> list[str]:
    """Re-register entries described by :func:`custom_functions`; returns the names
    newly registered (for :func:`unregister_functions` when the rest of a model file is
    refused).

    The sympy source is parsed without ``eval`` (a model file cannot run code). A name
    already in the library is kept when its definition is the same; a different
    definition (or a built-in of that name) raises ValueError — a model must not be
    evaluated with a function other than the one it was fitted with. Malformed entries
    raise ValueError. Nothing is registered unless every entry is valid."""
    if not isinstance(spec, dict):
        raise ValueError("custom functions must be a mapping of name -> definition")
    xs = sympy.Symbol("x")
    todo = []
    for name, entry in spec.items():
        if not isinstance(name, str) or not isinstance(entry, dict) or not isinstance(entry.get("sympy"), str):
            raise ValueError(f"malformed custom function entry {name!r}")
        try:
            complexity = entry["complexity"]
            domain = tuple(float(v) for v in entry["domain"])
            poles = tuple(float(p) for p in entry.get("poles", ()))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"malformed custom function entry {name!r}") from None
        if name in FUNCTIONS:
            have = FUNCTIONS[name]
            try:
                same = (name not in BUILTIN_NAMES and have.source is not None
                        and parse_expression(have.source, {"x": xs}) == parse_expression(entry["sympy"], {"x": xs})
                        and have.complexity == complexity and tuple(have.domain) == domain
                        and tuple(have.poles) == poles)
            except ValueError as err:
                raise ValueError(f"cannot parse custom function {name!r}: {entry['sympy']!r} ({err})") from None
            if not same:
                current = "a built-in function" if name in BUILTIN_NAMES else (
                    f"defined as {have.source!r}" if have.source else "defined by a Python callable")
                raise ValueError(f"custom function {name!r} is {entry['sympy']!r} (complexity {complexity}) in "
                                 f"the model, but in this session it is {current}: rename or remove one of them")
            continue
        todo.append((name, entry["sympy"], complexity, domain, poles))
    added = []
    try:
        for name, source, complexity, domain, poles in todo:
            register_function(name, source, complexity, domain=domain, poles=poles)
            added.append(name)
    except (ValueError, TypeError) as err:
        unregister_functions(added)  # all or nothing
        raise ValueError(f"custom function {name!r} is refused: {err}") from None
    return added


def unregister_functions(names) -> None:
    """Remove the registered (custom) entries ``names`` from the library; built-in names
    raise ValueError, names not registered are ignored."""
    names = list(names)
    builtin = [n for n in names if n in BUILTIN_NAMES]
    if builtin:
        raise ValueError(f"built-in functions cannot be removed: {builtin}")
    for name in names:
        FUNCTIONS.pop(name, None)
