"""SymKANRegressor: from a table of measurements to a checked closed-form formula.

scikit-learn conventions: parameters are stored untouched by ``__init__``; everything
learned by :meth:`fit` ends with an underscore; ``get_params``/``set_params``,
``clone`` and ``Pipeline`` work.

>>> m = SymKANRegressor().fit(X, y)      # X: array (n, d), DataFrame or tensor
>>> m.sympy(), m.latex(), m.equations_   # best formula, LaTeX, Pareto front
>>> m.predict(X_new); m.score(X, y); m.save("model.skan")
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np
import sympy
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted, validate_data

from .discovery import SearchSettings, build_width, default_ladder, search
from .spaces import log_space_applies, make_space
from .pareto import ParetoEntry, ParetoFront
from .threads import torch_threads
from .persistence import expr_from_data, expr_to_data, load_payload, save_payload

log = logging.getLogger(__name__)

#: rows of training inputs kept in a fitted model, for diagrams (``plot``)
PLOT_SAMPLE_ROWS = 500
MIN_ROWS = 5


def _as_array(data):
    """torch tensors -> numpy (CPU); anything else unchanged (validate_data handles it)."""
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return data


class SymKANRegressor(RegressorMixin, BaseEstimator):
    """Symbolic regression with Kolmogorov–Arnold Networks.

    ``fit`` standardises the data, tries architectures from small to large (train →
    sparsify → prune → refit → snap every edge → joint refit of all constants), scores
    every formula on held-out rows and keeps the Pareto front over complexity.

    Parameters:
        basis: KAN basis name (see ``symkan.bases.available_bases()``).
        hidden: hidden node layers to use, e.g. ``[5]``, ``[[4, 2]]`` (4 sum + 2 product
            nodes) or ``[5, 3]``; None searches ``symkan.discovery.default_widths``.
        grid_size: B-spline/local-basis grid cells (ignored by other bases).
        steps: LBFGS steps per training stage (three stages per architecture).
        lamb: sparsification strength (L1 + entropy of edge magnitudes).
        node_th, edge_th: pruning thresholds (attribution scores).
        functions: library function names to snap to (None: the whole library).
        complexity_weights: snapping trade-offs tried per architecture (larger =
            simpler formulas); each gives candidates for the Pareto front.
        log_space: also train networks on (log x, log|y|) — where products of powers
            are sums — when every input is positive and y never changes sign ("auto"),
            always (True; an error if the data do not allow it) or never (False).
        val_fraction: held-out share of rows used to score formulas.
        time_budget: seconds, a soft limit: architectures not started before it runs out
            are skipped, and a snap under way finishes with shortened constant snapping
            (a budget makes results depend on machine speed; None = fixed work).
        variable_names: names of the columns (default: DataFrame columns or x0, x1, ...).
        random_state: seed of every random choice (private generators only).
        n_threads: torch intra-op threads during fit (restored afterwards); 1 is fastest
            for the small networks of a formula search. None leaves torch's setting.
        progress: show a progress bar over the stages.
        basis_options: extra keyword options for the basis.

    Attributes (after fit): ``equations_`` (:class:`symkan.pareto.ParetoFront`), ``best_``
    (the chosen entry, see :meth:`ParetoFront.best_index`), ``best_index_``,
    ``model_`` (the pruned, snapped KAN of the best formula, in standardised units),
    ``network_space_`` ("linear" or "log": what ``model_`` takes as input),
    ``names_``, ``n_features_in_``, ``input_shift_``, ``input_scale_``,
    ``output_shift_``, ``output_scale_`` (``model_``'s standardisation in its space),
    ``attempts_`` (per-architecture summary).
    """

    def __init__(self, basis="bspline", hidden=None, grid_size=5, steps=50, lamb=1e-3, node_th=1e-2,
                 edge_th=3e-2, functions=None, complexity_weights=(0.3, 1.0, 3.0), log_space="auto",
                 val_fraction=0.2,
                 time_budget=None, variable_names=None, random_state=0, n_threads=1, progress=False,
                 basis_options=None):
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

    # --- scikit-learn plumbing -----------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = False
        return tags

    def _check_params(self):
        from .bases import get_basis

        get_basis(self.basis)
        for name in ("steps", "grid_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("lamb", "node_th", "edge_th"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.log_space not in ("auto", True, False):
            raise ValueError(f"log_space must be 'auto', True or False, got {self.log_space!r}")
        if not (isinstance(self.val_fraction, (int, float)) and 0 < self.val_fraction < 0.9):
            raise ValueError(f"val_fraction must lie in (0, 0.9), got {self.val_fraction!r}")
        if self.n_threads is not None and (isinstance(self.n_threads, bool) or
                                           not isinstance(self.n_threads, (int, np.integer)) or self.n_threads < 1):
            raise ValueError(f"n_threads must be a positive integer or None, got {self.n_threads!r}")
        if self.time_budget is not None and not (isinstance(self.time_budget, (int, float))
                                                 and self.time_budget > 0):
            raise ValueError(f"time_budget must be a positive number of seconds or None, got {self.time_budget!r}")
        weights = tuple(self.complexity_weights)
        if not weights or any(not (isinstance(w, (int, float)) and w >= 0) for w in weights):
            raise ValueError(f"complexity_weights must be non-negative numbers, got {self.complexity_weights!r}")
        if self.functions is not None:
            from .symbolic.library import resolve_functions

            resolve_functions(list(self.functions))

    def _names(self, n_features: int) -> list[str]:
        if self.variable_names is not None:
            names = [str(n) for n in self.variable_names]
            if len(names) != n_features:
                raise ValueError(f"variable_names has {len(names)} entries but X has {n_features} columns")
        elif hasattr(self, "feature_names_in_"):
            names = [str(n) for n in self.feature_names_in_]
        else:
            names = [f"x{k}" for k in range(n_features)]
        if len(set(names)) != len(names) or any(not n.strip() for n in names):
            raise ValueError(f"variable names must be distinct and non-empty, got {names}")
        return names

    # --- fitting -------------------------------------------------------------------------
    def fit(self, X, y):
        """Discover formulas for y ≈ f(X). X: (n, d) array, DataFrame or tensor; y: (n,)."""
        self._check_params()
        if y is None:
            raise ValueError("SymKANRegressor requires y to be passed, but the target y is None")
        X, y = validate_data(self, _as_array(X), _as_array(y), y_numeric=True, dtype=np.float64,
                             ensure_min_samples=2)
        if X.shape[0] < MIN_ROWS:
            raise ValueError(f"X has {X.shape[0]} rows; at least {MIN_ROWS} are needed to fit a formula")
        if np.ptp(y) == 0:
            raise ValueError(f"y is constant (every value is {y[0]!r}): there is no relationship to discover")
        names = self._names(X.shape[1])
        t_start = time.monotonic()
        deadline = None if self.time_budget is None else t_start + float(self.time_budget)

        gen = np.random.default_rng(self.random_state)
        perm = gen.permutation(X.shape[0])
        n_val = max(1, int(round(self.val_fraction * X.shape[0])))
        val, train = perm[:n_val], perm[n_val:]
        use_log = log_space_applies(X, y) if self.log_space == "auto" else bool(self.log_space)
        if use_log and not log_space_applies(X, y):
            raise ValueError("log_space=True needs every input > 0 and a target that never changes sign")
        # each space standardises its own way (inputs to [-1, 1], the bases' working range)
        spaces = {name: make_space(name, X, y, train, val) for name in (("linear", "log") if use_log else ("linear",))}
        if self.hidden is None:
            ladder = default_ladder(X.shape[1], use_log)
        else:
            ladder = [("log" if self.log_space is True else "linear", build_width(X.shape[1], self.hidden))]
        opts = dict(self.basis_options or {})
        if self.basis in ("bspline", "rbf", "relukan"):
            opts.setdefault("grid_size", int(self.grid_size))
        settings = SearchSettings(basis=self.basis, basis_options=opts, ladder=ladder, steps=int(self.steps),
                                  lamb=float(self.lamb), node_th=float(self.node_th), edge_th=float(self.edge_th),
                                  functions=None if self.functions is None else list(self.functions),
                                  complexity_weights=tuple(self.complexity_weights),
                                  seed=int(self.random_state or 0), deadline=deadline)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=2 * len(ladder), desc="symkan", leave=False)

        def on_stage(name):
            if bar is not None:
                bar.set_description(name)
                bar.update(1)
            log.info("stage: %s", name)

        try:
            with torch_threads(self.n_threads):
                attempts = search(spaces, settings, names, X[train], y[train], X[val], y[val], on_stage=on_stage)
        finally:
            if bar is not None:
                bar.close()

        var_val = float(np.var(y[val])) or float(np.var(y)) or 1.0
        entries, owner = [], {}
        for attempt in attempts:
            for f in attempt.formulas:
                entries.append(ParetoEntry(f.complexity, f.loss, f.loss / var_val, f))
                owner[id(f)] = attempt
        front = ParetoFront(entries)
        if not len(front):
            errors = "; ".join(a.error for a in attempts if a.error) or "no finite formula"
            raise RuntimeError(f"symkan found no usable formula ({errors})")
        self.names_ = names
        self.equations_ = front
        self.best_index_ = front.best_index()
        self.best_ = front[self.best_index_]
        best_attempt = owner[id(self.best_.formula)]
        # the snapped network behind the best formula (the numeric one if it has none),
        # and the space it works in
        self.model_ = getattr(self.best_.formula, "network", None) or best_attempt.model
        space = spaces[best_attempt.space]
        self.network_space_ = space.name
        self.input_shift_, self.input_scale_ = space.input_transform
        self.output_shift_, self.output_scale_ = space.output_transform
        self.attempts_ = [{"space": a.space, "width": a.width, "pruned_width": a.model.width,
                           "numeric_nmse": a.numeric_nmse, "n_formulas": len(a.formulas), "seconds": a.seconds,
                           "error": a.error} for a in attempts]
        self.plot_sample_ = space.inputs(X[train][:PLOT_SAMPLE_ROWS])
        self.fit_seconds_ = time.monotonic() - t_start
        self._build_predictor()
        return self

    def _build_predictor(self):
        self._predict_fn = self.best_.formula.to_callable("numpy")

    # --- using the result ----------------------------------------------------------------
    def predict(self, X) -> np.ndarray:
        """Evaluate the best formula. X: (n, d) -> (n,)."""
        check_is_fitted(self, "best_")
        X = validate_data(self, _as_array(X), reset=False, dtype=np.float64)
        return self._predict_fn(X)

    def _entry(self, index):
        check_is_fitted(self, "best_")
        if index is None:
            return self.best_
        if not isinstance(index, (int, np.integer)) or not -len(self.equations_) <= index < len(self.equations_):
            raise ValueError(f"index must be an integer in [0, {len(self.equations_)}) or None, got {index!r}")
        return self.equations_[int(index)]

    def sympy(self, index=None) -> sympy.Expr:
        """The best formula (or ``equations_[index]``) as a sympy expression."""
        return self._entry(index).formula.expr

    def latex(self, index=None) -> str:
        return sympy.latex(self.sympy(index))

    def plot(self, X=None, beta: float = 3.0, **kwargs):
        """Diagram of the pruned, snapped network of the best formula (a matplotlib Figure).
        X (user units) defaults to a sample of the training inputs."""
        check_is_fitted(self, "best_")
        from .plot import plot_network

        if X is None:
            Xn = self.plot_sample_
        else:
            X = validate_data(self, _as_array(X), reset=False, dtype=np.float64)
            if self.network_space_ == "log" and np.any(X <= 0):
                raise ValueError("this model's network works on log(x): plot it with positive inputs")
            Xn = ((np.log(X) if self.network_space_ == "log" else X) - self.input_shift_) / self.input_scale_
        p = next(iter(self.model_.parameters()))
        kwargs.setdefault("in_names", self.names_)
        return plot_network(self.model_, torch.as_tensor(Xn, dtype=p.dtype), beta=beta, **kwargs)

    # --- persistence ---------------------------------------------------------------------
    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_predict_fn", None)  # a lambdified function: rebuilt on unpickling
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "best_" in state:
            self._build_predictor()

    def save(self, path) -> None:
        """Write the fitted model (weights, config, symbolic state, custom functions,
        formulas) to ``path`` atomically; :meth:`load` reads it back on any device."""
        check_is_fitted(self, "best_")
        from .symbolic.library import custom_functions

        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params(deep=False).items()}
        payload = {
            "params": params,
            "names": list(self.names_),
            "feature_names_in": None if not hasattr(self, "feature_names_in_") else
            [str(n) for n in self.feature_names_in_],
            "n_features_in": int(self.n_features_in_),
            "network_space": self.network_space_,
            "transforms": {"input_shift": torch.as_tensor(self.input_shift_), "input_scale":
                           torch.as_tensor(self.input_scale_), "output_shift": float(self.output_shift_),
                           "output_scale": float(self.output_scale_)},
            "model_config": self.model_.config(),
            "model_state": {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v
                            for k, v in self.model_.state_dict().items()},
            "model_dtype": str(next(iter(self.model_.parameters())).dtype).replace("torch.", ""),
            "equations": [{"complexity": int(e.complexity), "loss": float(e.loss), "nmse": float(e.nmse),
                           "expr": expr_to_data(e.formula.expr)} for e in self.equations_],
            "best_index": int(self.best_index_),
            "custom_functions": custom_functions(),
            "plot_sample": torch.as_tensor(self.plot_sample_),
            "attempts": self.attempts_,
            "fit_seconds": float(self.fit_seconds_),
        }
        save_payload(path, payload)

    @classmethod
    def load(cls, path) -> "SymKANRegressor":
        """Read a model written by :meth:`save` (onto the CPU)."""
        from .nn import KAN
        from .symbolic.formula import Formula
        from .symbolic.library import restore_custom_functions

        data = load_payload(path)
        try:
            restore_custom_functions(data["custom_functions"])
            params = dict(data["params"])
            if isinstance(params.get("complexity_weights"), list):
                params["complexity_weights"] = tuple(params["complexity_weights"])
            est = cls(**params)
            names = list(data["names"])
            symbols = [sympy.Symbol(n) for n in names]
            entries = []
            for row in data["equations"]:
                expr = expr_from_data(row["expr"], names)
                entries.append(ParetoEntry(row["complexity"], row["loss"], row["nmse"],
                                           Formula(expr, symbols, row["loss"])))
            front = ParetoFront.__new__(ParetoFront)
            front.entries = entries  # already a front, in saved order
            model = KAN.from_config(data["model_config"]).to(getattr(torch, data["model_dtype"]))
            model.load_state_dict(data["model_state"])
            model.eval()
            t = data["transforms"]
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"{str(path)!r} is not a valid symkan model: {type(err).__name__}: {err}") from None
        est.names_ = names
        est.n_features_in_ = int(data["n_features_in"])
        if data["feature_names_in"] is not None:
            est.feature_names_in_ = np.asarray(data["feature_names_in"], dtype=object)
        est.network_space_ = str(data.get("network_space", "linear"))
        est.input_shift_ = t["input_shift"].numpy()
        est.input_scale_ = t["input_scale"].numpy()
        est.output_shift_, est.output_scale_ = float(t["output_shift"]), float(t["output_scale"])
        est.equations_ = front
        est.best_index_ = int(data["best_index"])
        est.best_ = front[est.best_index_]
        est.model_ = model
        est.attempts_ = data["attempts"]
        est.plot_sample_ = data["plot_sample"].numpy()
        est.fit_seconds_ = float(data["fit_seconds"])
        est._build_predictor()
        return est


__all__ = ["SymKANRegressor", "NotFittedError"]
