"""A formula out of symkan: the equation ``y = …`` as text and LaTeX, plain Python or C
source of a function, and a PyTorch module whose constants can be trained further.

Every function takes a sympy expression, its variables (the safe-named Symbols of
:mod:`symkan.symbolic.names`, in column order) and, where it prints the left-hand side,
the target's name; rounding the constants first is :mod:`.precision`'s job.
"""
from __future__ import annotations

import sympy
import torch
from sympy.printing.c import C99CodePrinter, get_math_macros
from sympy.printing.pycode import PythonCodePrinter

from .names import is_safe_name, latex_label, latex_symbol_names, safe_names

#: the languages of :func:`formula_code`
LANGUAGES = ("python", "c")


def target_text(target: str) -> str:
    """The target's name on the left of a text equation: its safe name (as the variables)."""
    return safe_names([target])[0]


def target_latex(target: str) -> str:
    """The target's name on the left of a LaTeX equation, shown as the variables are: a
    safe name as sympy prints its Symbol, another one as :func:`latex_label` shows it."""
    if is_safe_name(target):
        return sympy.latex(sympy.Symbol(target))
    return latex_label(target) or sympy.latex(sympy.Symbol(target_text(target)))


def equation_text(target: str, expr: sympy.Expr) -> str:
    """``target = expr`` in sympy's text form (floats with trailing zeros stripped)."""
    return f"{target_text(target)} = {sympy.sstr(expr, full_prec=False)}"


def expression_latex(expr: sympy.Expr, names, variables) -> str:
    """LaTeX of expr with the user's names of renamed variables (``names``: the columns'
    names, ``variables``: their Symbols)."""
    return sympy.latex(expr, symbol_names=latex_symbol_names(names, variables))


def equation_latex(target: str, expr: sympy.Expr, names, variables) -> str:
    """``target = expr`` in LaTeX (:func:`target_latex`, :func:`expression_latex`)."""
    return f"{target_latex(target)} = {expression_latex(expr, names, variables)}"


# --- source code --------------------------------------------------------------------------
class _PythonPrinter(PythonCodePrinter):
    """Python's printer, floats written as the shortest text that reads back as the same
    float64 (sympy's default writes 15 digits)."""

    def _print_Float(self, expr):
        return repr(float(expr))


class _CPrinter(C99CodePrinter):
    def _print_Float(self, expr):
        return repr(float(expr))  # "0.1", "1e-05", "12.0": a C double literal


def _c_function_names(printer) -> set[str]:
    """The C functions the printer may call (a variable of such a name would hide one)."""
    names = set()
    for value in printer.known_functions.values():
        names.update([value] if isinstance(value, str) else [v for _, v in value])
    return names | {"pow", "sqrt", "exp", "log"}


def _macro_values() -> dict[str, float]:
    """{macro: value} of the constants C99's printer writes as ``M_PI``, ``M_SQRT2`` ...,
    which strict C99 does not define (POSIX does)."""
    values = {}
    for expr, macro in get_math_macros().items():
        try:
            values.setdefault(macro, float(expr))
        except TypeError:  # sympy's codegen forms (Sqrt(2)) repeat a plain form's macro
            pass
    return values


def _check_function_name(name: str, variables) -> None:
    """A function name both languages accept and nothing in the code means otherwise: a
    safe name (no Python keyword, builtin or name of math/numpy/sympy: ``abs`` would
    hide the builtin the code calls), ASCII, not a C keyword or function, no variable's."""
    c_printer = _CPrinter()
    if not (is_safe_name(name) and name.isascii() and name not in c_printer.reserved_words
            and name not in _c_function_names(c_printer) and name not in {v.name for v in variables}):
        raise ValueError(f"the function name must be an ASCII identifier that is no keyword, builtin, library "
                         f"function or variable's name, got {name!r}")


def _printed(printer, expr, language: str) -> str:
    try:
        return printer.doprint(expr)
    except NotImplementedError as err:  # strict printers: a function the language lacks
        first = str(err).splitlines()[0]
        raise ValueError(f"cannot write {sympy.sstr(expr)[:80]} as {language} code: {first}") from None


def formula_code(expr: sympy.Expr, variables, language: str = "python", name: str = "formula",
                 comment: str = "") -> str:
    """Source of a function ``name(x0, x1, ...)`` (one argument per variable, in column
    order) returning expr: ``language`` "python" (scalars, the ``math`` module; the
    imports it needs come first) or "c" (doubles, ``<math.h>``; C99, with the constants
    ``M_PI``... defined where the C library does not). ``comment``: one line put above
    the return statement as a comment (e.g. the equation). ValueError for a function the language
    has no counterpart for (e.g. ``zeta`` in C) and for a bad ``name``."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    _check_function_name(name, variables)
    comment = " ".join(str(comment).split())
    if language == "python":
        printer = _PythonPrinter({"strict": True})
        body = _printed(printer, expr, "Python")
        imports = "".join(f"import {module}\n" for module in sorted(printer.module_imports))
        note = f"    # {comment}\n" if comment else ""
        args = ", ".join(printer.doprint(v) for v in variables)
        return f"{imports}\n\ndef {name}({args}):\n{note}    return {body}\n".lstrip("\n")
    printer = _CPrinter({"strict": True})
    hidden = _c_function_names(printer)
    renames = {v: sympy.Symbol(v.name + "_") for v in variables if v.name in hidden}
    expr, variables = expr.xreplace(renames), [renames.get(v, v) for v in variables]
    body = _printed(printer, expr, "C")
    guards = "".join(f"#ifndef {m}\n#define {m} {v!r}\n#endif\n" for m, v in _macro_values().items() if m in body)
    args = ", ".join(f"double {printer.doprint(v)}" for v in variables)
    note = f"    /* {comment.replace('*/', '* /')} */\n" if comment else ""
    return f"#include <math.h>\n{guards}\ndouble {name}({args}) {{\n{note}    return {body};\n}}\n"


# --- a PyTorch module -----------------------------------------------------------------------
class FormulaModule(torch.nn.Module):
    """y = expr(X) as a PyTorch module whose float constants are one trainable parameter
    vector ``constants`` (k,) (exact numbers — integers, rationals, π — stay fixed), so an
    optimizer can fine-tune them. ``forward(X)``: X (n, d) in column order -> (n,);
    :meth:`expression` is the formula with the current constants."""

    def __init__(self, expr: sympy.Expr, variables, dtype=torch.float64):
        super().__init__()
        floats = sorted(expr.atoms(sympy.Float), key=float)
        self.variables = tuple(variables)
        self.arg_symbols = [sympy.Symbol(f"v{k}_") for k in range(len(self.variables))]
        self.constant_symbols = [sympy.Symbol(f"c{k}_") for k in range(len(floats))]
        self.template = expr.xreplace({**dict(zip(self.variables, self.arg_symbols)),
                                       **dict(zip(floats, self.constant_symbols))})
        self.constants = torch.nn.Parameter(torch.tensor([float(f) for f in floats], dtype=dtype))
        self._build()

    def _build(self):
        self.fn = sympy.lambdify(self.arg_symbols + self.constant_symbols, self.template, modules="torch")

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = torch.as_tensor(X, dtype=self.constants.dtype, device=self.constants.device)
        if X.ndim != 2 or X.shape[1] != len(self.variables):
            raise ValueError(f"X must have shape (n, {len(self.variables)}); got {tuple(X.shape)}")
        out = self.fn(*X.unbind(1), *self.constants.unbind(0))
        if not isinstance(out, torch.Tensor):  # a formula without variables or constants
            return torch.full((X.shape[0],), float(out), dtype=X.dtype, device=X.device)
        return out.expand(X.shape[0]) if out.ndim == 0 else out

    def expression(self) -> sympy.Expr:
        """The formula with the constants' current values (in the variables' Symbols)."""
        values = [sympy.Float(float(c)) for c in self.constants.detach().cpu()]
        return self.template.xreplace({**dict(zip(self.arg_symbols, self.variables)),
                                       **dict(zip(self.constant_symbols, values))})

    def extra_repr(self) -> str:
        return f"variables={[v.name for v in self.variables]}, constants={len(self.constant_symbols)}"

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("fn", None)  # a lambdified function: rebuilt on unpickling
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._build()


__all__ = ["FormulaModule", "LANGUAGES", "equation_latex", "equation_text", "expression_latex", "formula_code",
           "target_latex", "target_text"]
