"""SymKANRegressor: from a table of measurements to a checked closed-form formula.

scikit-learn conventions: parameters are stored untouched by ``__init__``; everything
learned by :meth:`fit` ends with an underscore; ``get_params``/``set_params``,
``clone`` and ``Pipeline`` work.

>>> m = SymKANRegressor().fit(X, y)      # X: array (n, d), DataFrame or tensor
>>> m.sympy(), m.latex(), m.equations_   # best formula, LaTeX, Pareto front (DataFrame)
>>> m.predict(X_new); m.predict(X_new, index=2); m.latex_table()  # best or the front's 3rd formula
>>> m.equation(), m.code("c"), m.pytorch()  # "y = ...", source code, a trainable nn.Module
>>> m.score(X, y); m.save("model.skan")
"""
from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted, validate_data

from .bases import get_basis
from .checks import numeric_table
from .discovery import (
    SMALL_DATA_ROWS,
    Budget,
    DiscoveryError,
    SearchSettings,
    default_widths,
    discover,
    mark_consistency,
    split_rows,
)
from .discovery.parallel import require_joblib
from .model_file import load_model, save_model
from .multi_target import (
    MULTI_TARGET_STATE,
    fit_targets,
    has_several_targets,
    is_multi_target,
    predict_targets,
    refuse_several,
)
from .pareto import SELECTION_RULES
from .progress import StageProgress
from .regressor_checks import (
    PARAMETER_CONSTRAINTS,
    as_array,
    check_values,
    checked_types,
    column_names,
    plain,
    seed_of,
    target_label,
    validate_params,
)
from .regressor_output import ResultViews
from .sample_weights import fit_weights, relative_loss_scale
from .symbolic.names import variable_symbols
from .symbolic.precision import annotate_digits
from .units.columns import fit_units
from .warm_start import continued, previous_fit, remember_owners

log = logging.getLogger(__name__)

#: rows of training inputs kept in a fitted model, for diagrams (``plot``)
PLOT_SAMPLE_ROWS = 500


class FitError(DiscoveryError):
    """The search ran but found no usable formula (e.g. training diverged everywhere);
    its ``__cause__`` is the :mod:`symkan.discovery.errors` error that says why."""


class SymKANRegressor(ResultViews, RegressorMixin, BaseEstimator):
    """Symbolic regression with Kolmogorov–Arnold Networks.

    ``fit`` standardises the data, tries architectures from small to large (train →
    sparsify → prune → refit → snap every edge → joint refit of all constants), scores
    every formula on held-out rows and keeps the Pareto front over complexity.

    Parameters:
        basis: KAN basis name (see ``symkan.bases.available_bases()``).
        hidden: hidden node layers to use, e.g. ``[5]``, ``[[4, 2]]`` (4 sum + 2 product
            nodes) or ``[5, 3]``; None searches the ladder of
            ``symkan.discovery.build_ladder``.
        grid_size: the number of basis functions / grid cells per edge, passed as the
            basis's own size option (``size_option``: ``grid_size``, ``num_centers``,
            ``degree``, ...; ignored by a basis without one, ``rational``).
        steps: LBFGS steps per training stage (three stages per architecture).
        lamb: sparsification strength (L1 + entropy of edge magnitudes).
        node_th, edge_th: pruning thresholds (attribution scores).
        functions: library function names to snap to (None: the default set,
            ``symkan.functions.default_functions()``; the log space adds ``LOG_SPACE_NAMES``).
        complexity_weights: snapping trade-offs tried per architecture (larger =
            simpler formulas); each gives candidates for the Pareto front.
        log_space: also train networks on (log x, log|y|) — where products of powers
            are sums — when every input is positive and y never changes sign ("auto"),
            always (True; an error if the data do not allow it) or never (False).
        val_fraction: held-out share of rows used to score formulas. A table of fewer
            than ``symkan.discovery.SMALL_DATA_ROWS`` (100) rows is small data
            (:mod:`symkan.discovery.small_data`): the held-out rows only steer the search;
            every formula is then refit on all rows, its constants snapped to simple values
            the table's noise cannot tell apart from the fitted ones (an F-test), and it is
            scored by K-fold cross-validation, so its ``loss`` and R² are cross-validated.
        time_budget: seconds: nothing starts and training stops once it runs out, the
            formula steps under way stop 15 % of it later (a budget makes results depend on
            machine speed; None = fixed work). Tables above 50 rows per second of it (at
            least 2 000; 10 000 without a budget) are searched on a random subsample, their
            formulas' constants then refit on all rows (``symkan.discovery.sampling``).
        max_evaluations: a work budget: the loss evaluations the whole search may spend,
            each step charged up front what it may evaluate (an LBFGS training step 25,
            a constant refit 30·(k + 1), ...; ``symkan.work``). It stops the search like
            ``time_budget`` but at the same point on every machine, so a seed gives the
            same front anywhere; with both, whichever runs out first. None = no limit.
            ``fit_evaluations_`` says what a fit was charged.
        variable_names: names of the columns (default: DataFrame columns or x0, x1, ...),
            any text: names that would print ambiguously (``E``, ``pi``, ``x-1``, ``c d``)
            get safe symbols (``E_``, ``pi_``, ``x_1``, ``c_d``; :func:`~symkan.symbolic.names.safe_names`).
        target_name: name of y, for labels (``plot``); default: the name of a pandas
            Series y, else "y".
        random_state: seed of every random choice — the held-out split and all training
            (private generators only; the global RNGs are never touched). An int gives
            the same result on every fit; None draws a fresh seed from the OS on each
            fit; a ``numpy.random.RandomState`` or ``Generator`` gives a seed drawn from
            it (so repeated fits differ, as in scikit-learn). The seed used is
            ``seed_``.
        n_threads: torch intra-op threads during fit (restored afterwards); 1 is fastest
            for the small networks of a formula search. None leaves torch's setting.
        n_jobs: processes the rungs of the ladder run in at once (joblib's loky backend,
            or the caller's ``joblib.parallel_config``; -1: every core), each with one
            torch thread (:mod:`symkan.discovery.parallel`). Without a time budget the
            front is the one ``n_jobs=1`` finds; several targets run in parallel instead
            (one process per target). 1 (the default) runs in this process and needs no
            extra; other values need ``pip install symkan[parallel]``.
        progress: show a progress bar over the stages.
        basis_options: extra keyword options for the basis.
        loss: what the search minimises and scores formulas by: "mse" (mean squared error)
            or "relative" (mean squared relative error Σ w·((f − y)/y)² / Σ w, for targets
            spanning orders of magnitude: the same search with row weights 1/y² times
            ``sample_weight``; y must not be 0 on a row that counts).
        model_selection: which formula of the front is ``best_`` (what ``predict``,
            ``sympy`` and ``latex`` give by default): "best" (the simplest formula
            within 1.5× of the lowest held-out loss, exact formulas first), "accuracy"
            (the lowest loss) or "score" (PySR's score: the largest drop of log loss per
            unit of complexity); :meth:`symkan.pareto.ParetoFront.best_index`.
        warm_start: a new ``fit`` continues from the last front: a new search with seed
            ``seed_`` + 1, whose formulas join the previous ones re-scored on this fit's
            held-out rows (:mod:`symkan.warm_start`; other columns: a fresh start).

    Attributes (after fit): ``front_`` (:class:`symkan.pareto.ParetoFront`), ``equations_``
    (the front as a pandas DataFrame), ``best_``
    (the entry ``model_selection`` chooses, see :meth:`ParetoFront.best_index`), ``best_index_``,
    ``model_`` (the pruned, snapped KAN of the best formula, in standardised units),
    ``space_`` (:class:`symkan.discovery.SpaceTransform`: how ``model_``'s space maps
    the user's data to its units; its parts are also ``network_space_`` — "linear" or
    "log" —, ``output_sign_``, ``input_shift_``, ``input_scale_``, ``output_shift_``,
    ``output_scale_``), ``names_``, ``symbols_`` (the formulas' Symbols of the columns,
    named as :mod:`symkan.symbolic.names` says), ``target_name_``, ``seed_``, ``n_features_in_``,
    ``attempts_`` (per-architecture summary), ``plot_sample_`` (up to 500 training
    rows in network units, for ``plot``), ``fit_seconds_``, ``fit_evaluations_``,
    ``validation_`` (what the front's losses and R² measure: ``"held-out"`` rows, or
    ``"cross-validated"`` on small data).

    Several targets (``fit(X, Y)``, Y (n, m), :mod:`symkan.multi_target`): one independent
    search per column, kept as ``estimators_`` (fitted single-target clones, seed
    ``seed_ + k``, ``time_budget / m`` and ``max_evaluations // m`` each), ``n_targets_``, ``target_names_``;
    ``predict`` gives (n, m), ``sympy``/``latex``/``equations_`` lists; ``save`` and
    ``plot`` raise a ValueError (use ``estimators_[k]``).
    """

    def __init__(self, basis="bspline", hidden=None, grid_size=5, steps=50, lamb=1e-3, node_th=1e-2,
                 edge_th=3e-2, functions=None, complexity_weights=(0.3, 1.0, 3.0), log_space="auto",
                 val_fraction=0.2,
                 time_budget=None, variable_names=None, random_state=0, n_threads=1, progress=False,
                 basis_options=None, target_name=None, model_selection="best", loss="mse", max_evaluations=None,
                 warm_start=False, n_jobs=1):
        self.basis = basis
        self.hidden = hidden
        self.grid_size = grid_size
        self.steps = steps
        self.lamb = lamb
        self.node_th = node_th
        self.edge_th = edge_th
        self.functions = functions
        self.complexity_weights = complexity_weights
        self.log_space = log_space
        self.val_fraction = val_fraction
        self.time_budget = time_budget
        self.variable_names = variable_names
        self.random_state = random_state
        self.n_threads = n_threads
        self.progress = progress
        self.basis_options = basis_options
        self.target_name = target_name
        self.model_selection = model_selection
        self.loss = loss
        self.max_evaluations = max_evaluations
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    # --- scikit-learn plumbing -----------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = False
        tags.target_tags.multi_output = True  # Y (n, m): one search per column (symkan.multi_target)
        return tags

    _parameter_constraints = PARAMETER_CONSTRAINTS

    def _validate_params(self):
        validate_params(self)

    # --- fitting -------------------------------------------------------------------------
    def fit(self, X, y, X_units=None, y_units=None, sample_weight=None, on_formula=None):
        """Discover formulas for y ≈ f(X). X: (n, d) array, DataFrame or tensor; y: (n,),
        or (n, m) for m targets (one search per column, :mod:`symkan.multi_target`).

        ``X_units``: the units of the columns — a list (one per column) or a mapping
        {column name: unit}, each unit text (``"kg*m/s^2"``, ``"m s-1"``, ``"1"``) or a
        mapping of base-dimension exponents ({"m": 1, "s": -1}); ``y_units``: the
        target's. With both, the search runs first in the dimensionless groups of the
        columns (Buckingham π, :mod:`symkan.units`), then in the columns as given while
        time remains, and marks each formula's dimensional consistency (docs/units.md).

        ``sample_weight``: (n,) finite, non-negative weights of the rows, not all zero: every
        error the search measures (training, constant refits, held-out scores, ``loss`` and
        ``r2`` of ``equations_``) is weighted Σ w·r² / Σ w; rows of weight 0 are left out.
        ``on_formula(entries)``: called with each batch of formulas the search finds
        (:class:`~symkan.pareto.ParetoEntry` objects, :mod:`symkan.discovery.streaming`).
        With ``warm_start``, a refit continues from the last front (:mod:`symkan.warm_start`)."""
        self._validate_params()
        if y is None:
            raise ValueError("SymKANRegressor requires y to be passed, but the target y is None")
        if is_multi_target(y):
            return fit_targets(self, X, y, X_units, y_units, sample_weight)
        for key in MULTI_TARGET_STATE:
            self.__dict__.pop(key, None)
        target = target_label(self.target_name, y)
        X, y = checked_types(X, y, self.variable_names, target)
        X, y = validate_data(self, as_array(X), as_array(y), y_numeric=True, dtype=np.float64, ensure_min_samples=2)
        rows, weights = fit_weights(sample_weight, y, self.loss)  # loss="relative": weights 1/y²
        if rows is not None:  # rows of weight 0 count nowhere
            X, y, sample_weight = X[rows], y[rows], np.asarray(sample_weight, dtype=np.float64)[rows]
        names = column_names(self.variable_names, getattr(self, "feature_names_in_", None), X.shape[1])
        check_values(X, y, names, target)
        units = fit_units(X_units, y_units, names, target)
        budget = Budget(None if self.time_budget is None else float(self.time_budget),
                        None if self.max_evaluations is None else int(self.max_evaluations))
        seed = seed_of(self.random_state)
        if self.n_jobs != 1:
            require_joblib(f"n_jobs={self.n_jobs}")

        # a large table: a subsample; a small one (< SMALL_DATA_ROWS): every row, cross-validated
        split = split_rows(X.shape[0], self.val_fraction, seed, budget.seconds, small_data_rows=SMALL_DATA_ROWS,
                           weight=weights)
        previous = previous_fit(self, names)  # warm_start: the last front, continued with the next seed
        seed = seed if previous is None else previous.next_seed
        opts = dict(self.basis_options or {})
        size_option = get_basis(self.basis).size_option  # the basis' own name for grid_size
        if size_option is not None:
            opts.setdefault(size_option, int(self.grid_size))
        settings = SearchSettings(basis=self.basis, basis_options=opts, steps=int(self.steps),
                                  lamb=float(self.lamb), node_th=float(self.node_th), edge_th=float(self.edge_th),
                                  functions=None if self.functions is None else list(self.functions),
                                  complexity_weights=tuple(self.complexity_weights), seed=seed,
                                  n_threads=self.n_threads, n_jobs=int(self.n_jobs))
        # at most: train + snap per rung (both searches), and the other complexity weights at the end
        with StageProgress(self.progress, 2 * len(default_widths(X.shape[1])) + 8) as on_stage:
            try:
                result = discover(X, y, names, split, settings, hidden=self.hidden, log_space=self.log_space,
                                  budget=budget, on_stage=on_stage, analysis=units.analysis, on_formula=on_formula)
            except DiscoveryError as err:  # a search without a result is the user's FitError
                raise FitError(str(err)) from err
        result = continued(result, previous, split.final_rows(names, X, y) or split.search_rows(names, X, y))

        self.names_, self.target_name_, self.seed_ = names, target, seed
        self.X_units_, self.y_units_ = units.inputs, units.target
        if units.target is not None:
            problems = mark_consistency(result.front, units.inputs, units.target)
            log.info("%d of %d formulas are not dimensionally consistent: %s", len(problems), len(result.front),
                     "; ".join(problems))
        if self.loss == "relative":  # the front's losses as Σ s·((f − y)/y)² / Σ s
            scale = relative_loss_scale(y, None if sample_weight is None else np.asarray(sample_weight, np.float64),
                                        split.scored_val)
            for entry in result.front:
                entry.loss = entry.formula.loss = entry.loss * scale
        self.front_ = result.front
        self.front_.model_selection = self.model_selection  # marks the chosen row of its tables
        annotate_digits([e.formula for e in result.front], result.rows.X_val, result.rows.y_val)
        self.validation_ = "cross-validated" if split.small_data else "held-out"  # what loss and R² measure
        self.best_index_ = result.front.best_index()
        self.best_ = result.front[self.best_index_]
        remember_owners(self, result)
        attempt = result.attempt_of(self.best_.formula)
        # the snapped network behind the best formula (the numeric one if it has none),
        # and the transform of the data it works on
        self.model_ = getattr(self.best_.formula, "network", None) or attempt.model
        self.space_ = attempt.transform
        self.attempts_ = [a.summary() for a in result.attempts]
        self.plot_sample_ = self.space_.inputs(result.rows.X[:PLOT_SAMPLE_ROWS])
        self.fit_seconds_, self.fit_evaluations_ = budget.elapsed(), budget.evaluations_used
        self._build_predictor()
        return self

    # the parts of the fitted space transform, under the names of earlier versions
    network_space_ = property(lambda self: self.space_.name, doc='"linear" or "log": what ``model_`` takes')
    output_sign_ = property(lambda self: self.space_.sign, doc="s: the log space's network gives log(s·y)")
    input_shift_ = property(lambda self: self.space_.input_shift)
    input_scale_ = property(lambda self: self.space_.input_scale)
    output_shift_ = property(lambda self: self.space_.output_shift)
    output_scale_ = property(lambda self: self.space_.output_scale)
    symbols_ = property(lambda self: variable_symbols(self.names_), doc="the formulas' Symbols of the columns")

    @property
    def equations_(self):
        """The Pareto front as a pandas DataFrame, one row per formula from the simplest
        (PySR's ``equations_``): ``complexity``, ``loss``, ``r2``, ``score`` (PySR's:
        −Δlog loss / Δcomplexity against the previous row), ``equation`` (text), ``best``
        (the row of ``best_index_``), with units ``consistent``, and ``sympy_format`` (the
        expression). The formula objects are in ``front_``. Several targets: a list, one per target."""
        if has_several_targets(self):
            return [e.equations_ for e in self.estimators_]
        return self.front_.to_pandas()

    def _build_predictor(self):
        # numpy callables of the front's formulas by front position, built when first used
        # (lambdify costs ~ms per formula); the dict is created here so that predict
        # fills it without adding attributes
        self._callables = {self.best_index_: self.best_.formula.to_callable("numpy")}

    # --- using the result ----------------------------------------------------------------
    def predict(self, X, index=None) -> np.ndarray:
        """Evaluate the best formula, or ``front_[index]`` (an int; negative ones count
        from the end, as in a list). X: (n, d) -> (n,); several targets: (n, m)."""
        if has_several_targets(self):
            return predict_targets(self, X, index)
        position = self._position(index)
        X = validate_data(self, numeric_table(as_array(X), self.names_), reset=False, dtype=np.float64)
        if position not in self._callables:
            self._callables[position] = self.front_[position].formula.to_callable("numpy")
        return self._callables[position](X)

    def _position(self, index) -> int:
        """The front position of ``index`` (None: the best formula's), checked."""
        check_is_fitted(self, "best_")
        if index is None:
            return self.best_index_
        n = len(self.front_)
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise ValueError(f"index must be an integer in [-{n}, {n}) or None, got {plain(index)!r}")
        return int(index) % n

    def _entry(self, index):
        return self.front_[self._position(index)]

    # --- persistence ---------------------------------------------------------------------
    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_callables", None)  # lambdified functions: rebuilt on unpickling
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "best_" in state:
            # a model file's front comes back under the default rule, and set_params after
            # the fit may have changed the estimator's: the front's tables must mark
            # best_index_, so it takes the first rule that gives it — the estimator's, its
            # own, any
            rules = (getattr(self, "model_selection", None), self.front_.model_selection, *SELECTION_RULES)
            self.front_.model_selection = next((r for r in rules if r in SELECTION_RULES and
                                                self.front_.best_index(r) == self.best_index_),
                                               self.front_.model_selection)
            self._build_predictor()

    def save(self, path) -> None:
        """Write the fitted model (weights, config, symbolic state, custom functions,
        formulas) to ``path`` atomically; :meth:`load` reads it back on any device."""
        refuse_several(self, "saving")
        check_is_fitted(self, "best_")
        save_model(self, path)

    @classmethod
    def load(cls, path) -> SymKANRegressor:
        """Read a model written by :meth:`save` (onto the CPU).

        Raises ValueError for a missing, truncated, foreign, corrupt or incompatible file
        and for a custom function that conflicts with one registered in this session.
        Loading runs no code from the file (see :mod:`symkan.persistence`)."""
        return load_model(cls, path)


__all__ = ["FitError", "NotFittedError", "SymKANRegressor"]
