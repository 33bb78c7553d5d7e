"""What a fitted :class:`~symkan.regressor.SymKANRegressor` shows of its formulas: sympy,
text and LaTeX equations, a LaTeX table of the front, source code, a PyTorch module, and
pictures (the network diagram, the front, the residuals). A mixin of the estimator: it
reads the fitted state (``front_``, ``best_``, ``names_``, ``space_``, ``model_`` ...)."""
from __future__ import annotations

import numpy as np
import sympy
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from .checks import numeric_table
from .multi_target import has_several_targets, refuse_several
from .regressor_checks import as_array
from .symbolic.export import (
    FormulaModule,
    equation_text,
    expression_latex,
    formula_code,
    target_latex,
)
from .symbolic.precision import rounded
from .units.parsing import latex_dimension


class ResultViews:
    """The estimator's views of its fitted formulas (``index``: a position on the front,
    None for the best formula; several targets: a list, one per target)."""

    def sympy(self, index=None, precision=None) -> sympy.Expr:
        """The best formula (or ``front_[index]``) as a sympy expression in the
        symbols ``symbols_`` (its text parses back with ``sympy.sympify``). ``precision``
        rounds its float constants: None keeps every digit (what ``predict`` evaluates),
        N gives N significant digits (1 to 15), "auto" the digits the held-out data
        support (:mod:`symkan.symbolic.precision`). Several targets: a list, one per target."""
        if has_several_targets(self):
            return [e.sympy(index, precision) for e in self.estimators_]
        formula = self._entry(index).formula
        return rounded(formula.expr, precision, formula.digits)

    def equation(self, index=None, precision="auto") -> str:
        """The formula as text ``y = ...`` (the target's name on the left), its constants
        rounded as ``precision`` says (:meth:`sympy`). Several targets: a list."""
        if has_several_targets(self):
            return [e.equation(index, precision) for e in self.estimators_]
        return equation_text(self.target_name_, self.sympy(index, precision))

    def latex(self, index=None, units: bool = False, precision="auto", rhs_only: bool = False) -> str:
        """The equation ``y = ...`` in LaTeX, with the column names (:meth:`Formula.latex`)
        and constants rounded as ``precision`` says (:meth:`sympy`); ``rhs_only``: the
        right-hand side alone. With ``units`` (a fit with units), followed by the target's
        units in brackets. Several targets: a list."""
        if has_several_targets(self):
            return [e.latex(index, units, precision, rhs_only) for e in self.estimators_]
        formula = self._entry(index).formula
        text = expression_latex(self.sympy(index, precision), formula.names, formula.variables)
        text = text if rhs_only else f"{target_latex(self.target_name_)} = {text}"
        if units and getattr(self, "y_units_", None) is not None:
            text += rf" \quad \left[{latex_dimension(self.y_units_)}\right]"
        return text

    def latex_table(self, indices=None, precision: int = 3, columns=("equation", "complexity", "loss")) -> str:
        """The front (or the formulas at ``indices``) as a complete LaTeX table, the chosen
        formula marked ``$\\star$``: :meth:`symkan.pareto.ParetoFront.latex_table`."""
        refuse_several(self, "latex_table()")
        check_is_fitted(self, "best_")
        return self.front_.latex_table(indices, precision, columns)

    def code(self, index=None, language: str = "python", precision=None, name: str = "formula") -> str:
        """Source of a function ``name(x0, x1, ...)`` (the columns' symbols, in order) that
        computes the formula: ``language`` "python" (``math``) or "c" (``<math.h>``); every
        digit of its constants unless ``precision`` says otherwise (:meth:`sympy`)."""
        refuse_several(self, "code()")
        formula = self._entry(index).formula
        return formula_code(self.sympy(index, precision), formula.variables, language, name,
                            comment=self.equation(index, precision))

    def pytorch(self, index=None) -> FormulaModule:
        """The formula as a ``torch.nn.Module`` (X (n, d) -> (n,), float64) whose float
        constants are a trainable ``nn.Parameter`` (``.constants``), to fine-tune with any
        optimizer; ``.expression()`` is the formula with their current values."""
        refuse_several(self, "pytorch()")
        formula = self._entry(index).formula
        return FormulaModule(formula.expr, formula.variables)

    def jax(self, index=None):
        """The formula as a function of a JAX array X (n, d) -> (n,) (PySR's ``jax()``;
        ``jax.jit`` it); needs jax (an ImportError saying how to install it otherwise)."""
        refuse_several(self, "jax()")
        return self._entry(index).formula.to_callable("jax")

    def plot(self, X=None, beta: float = 3.0, **kwargs):
        """Diagram of the pruned, snapped network of the best formula (a matplotlib Figure).
        X (user units) defaults to a sample of the training inputs."""
        refuse_several(self, "a diagram")
        check_is_fitted(self, "best_")
        from .plot import plot_network

        if X is None:
            Xn = self.plot_sample_
        else:
            Xn = self.space_.inputs(validate_data(self, as_array(X), reset=False, dtype=np.float64))
        # "$" would start matplotlib's mathtext (a column "cost $x_$" fails to draw)
        names, target = [n.replace("$", r"\$") for n in self.names_], self.target_name_.replace("$", r"\$")
        for key, value in self.space_.labels(names, target).items():
            kwargs.setdefault(key, value)
        # first-layer curves in the inputs' units, last-layer curves in y's (docs: plot_network)
        kwargs.setdefault("input_affine", self.space_.input_transform)
        kwargs.setdefault("output_affine", self.space_.output_transform)
        p = next(iter(self.model_.parameters()))
        return plot_network(self.model_, torch.as_tensor(Xn, dtype=p.dtype), beta=beta, **kwargs)

    def plot_front(self, ax=None):
        """The Pareto front, loss against complexity, the chosen formula marked (a Figure;
        :func:`symkan.plot_results.plot_front`)."""
        refuse_several(self, "plot_front()")
        check_is_fitted(self, "best_")
        from .plot_results import plot_front

        return plot_front(self.front_, self.best_index_, ax=ax)

    def plot_residuals(self, X, y):
        """Residuals of the best formula on (X, y): against the prediction, a histogram and
        against each input (a Figure; :func:`symkan.plot_results.plot_residuals`)."""
        refuse_several(self, "plot_residuals()")
        from .plot_results import plot_residuals

        pred = self.predict(X)
        X = validate_data(self, numeric_table(as_array(X), self.names_), reset=False, dtype=np.float64)
        return plot_residuals(as_array(y), pred, X=X, names=self.names_, target=self.target_name_)
