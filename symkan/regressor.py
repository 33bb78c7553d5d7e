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
from .functions.expression_data import expr_from_data, expr_to_data
from .persistence import load_payload, save_payload

log = logging.getLogger(__name__)

#: rows of training inputs kept in a fitted model, for diagrams (``plot``)
PLOT_SAMPLE_ROWS = 500
MIN_ROWS = 5
#: data are fitted in float64: squares of values beyond this overflow, and values below
#: its inverse underflow, in the losses and variances of the search
MAX_MAGNITUDE = 1e100
#: random_state must be below this (seeds of numpy and torch generators)
MAX_SEED = 2 ** 63


class FitError(RuntimeError):
    """The search ran but found no usable formula (e.g. training diverged everywhere)."""


def _plain(v):
    """numpy scalars as plain Python numbers, for error messages (3.0, not np.float64(3.0))."""
    return v.item() if isinstance(v, np.generic) else v


def _num(v) -> str:
    return f"{float(v):.6g}"


def _check_numeric_columns(X, names=None) -> None:
    """Raise ValueError naming the first column of X whose cells are not numbers.

    Only text cells are reported here (a ValueError such as "could not convert string to
    float"); other objects are left to scikit-learn's checks."""
    if hasattr(X, "columns") and hasattr(X, "dtypes"):  # pandas DataFrame
        cols = [(str(c), X[c].to_numpy()) for c in X.columns]
    else:
        arr = np.asarray(X) if isinstance(X, (list, tuple, np.ndarray)) else None
        if arr is None or arr.ndim != 2 or arr.dtype.kind not in "OUS":
            return
        cols = [(names[k] if names and k < len(names) else f"x{k}", arr[:, k]) for k in range(arr.shape[1])]
    for name, col in cols:
        if getattr(col, "dtype", None) is not None and col.dtype.kind in "biuf":
            continue
        for row, cell in enumerate(col):
            try:
                float(cell)
            except ValueError:
                raise ValueError(f"column {name!r} is not numeric (row {row} has {_plain(cell)!r})") from None
            except TypeError:
                return  # not text: scikit-learn reports it


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
        progress: show a progress bar over the stages.
        basis_options: extra keyword options for the basis.

    Attributes (after fit): ``equations_`` (:class:`symkan.pareto.ParetoFront`), ``best_``
    (the chosen entry, see :meth:`ParetoFront.best_index`), ``best_index_``,
    ``model_`` (the pruned, snapped KAN of the best formula, in standardised units),
    ``network_space_`` ("linear" or "log": what ``model_`` takes as input),
    ``names_``, ``target_name_``, ``seed_``, ``n_features_in_``, ``input_shift_``, ``input_scale_``,
    ``output_shift_``, ``output_scale_`` (``model_``'s standardisation in its space),
    ``attempts_`` (per-architecture summary), ``plot_sample_`` (up to 500 training
    rows in network units, for ``plot``), ``fit_seconds_``.
    """

    def __init__(self, basis="bspline", hidden=None, grid_size=5, steps=50, lamb=1e-3, node_th=1e-2,
                 edge_th=3e-2, functions=None, complexity_weights=(0.3, 1.0, 3.0), log_space="auto",
                 val_fraction=0.2,
                 time_budget=None, variable_names=None, random_state=0, n_threads=1, progress=False,
                 basis_options=None, target_name=None):
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
                raise ValueError(f"{name} must be a positive integer, got {_plain(v)!r}")
        for name in ("lamb", "node_th", "edge_th"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {_plain(v)!r}")
        if self.log_space not in ("auto", True, False):
            raise ValueError(f"log_space must be 'auto', True or False, got {self.log_space!r}")
        if isinstance(self.val_fraction, bool) or not (isinstance(self.val_fraction, (int, float))
                                                       and 0 < self.val_fraction < 0.9):
            raise ValueError(f"val_fraction must lie in (0, 0.9), got {_plain(self.val_fraction)!r}")
        if self.n_threads is not None and (isinstance(self.n_threads, bool) or
                                           not isinstance(self.n_threads, (int, np.integer)) or self.n_threads < 1):
            raise ValueError(f"n_threads must be a positive integer or None, got {_plain(self.n_threads)!r}")
        if self.time_budget is not None and (isinstance(self.time_budget, bool) or not (
                isinstance(self.time_budget, (int, float)) and self.time_budget > 0)):
            raise ValueError(f"time_budget must be a positive number of seconds or None, got "
                             f"{_plain(self.time_budget)!r}")
        cw = self.complexity_weights
        weights = tuple(cw) if isinstance(cw, (list, tuple, np.ndarray)) else ()
        if not weights or any(isinstance(w, bool) or not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0)
                              for w in weights):
            shown = [_plain(w) for w in cw] if isinstance(cw, (list, tuple, np.ndarray)) else cw
            raise ValueError(f"complexity_weights must be a non-empty list of non-negative numbers, got {shown!r}")
        if self.target_name is not None and (not isinstance(self.target_name, str) or not self.target_name.strip()):
            raise ValueError(f"target_name must be a non-empty string or None, got {self.target_name!r}")
        self._seed_source()  # validates random_state
        if self.functions is not None:
            from .functions.library import resolve_functions

            resolve_functions(list(self.functions))

    def _seed_source(self):
        """Check random_state; returns a function that gives the integer seed of one fit."""
        rs = self.random_state
        if rs is None:
            return lambda: int(np.random.SeedSequence().generate_state(1, np.uint64)[0] % MAX_SEED)
        if isinstance(rs, (int, np.integer)) and not isinstance(rs, (bool, np.bool_)):
            if not 0 <= int(rs) < MAX_SEED:
                raise ValueError(f"random_state must be a non-negative integer below 2**63, got {_plain(rs)!r}")
            return lambda: int(rs)
        if isinstance(rs, np.random.RandomState):
            return lambda: int(rs.randint(0, 2 ** 31 - 1))
        if isinstance(rs, np.random.Generator):
            return lambda: int(rs.integers(0, MAX_SEED))
        raise ValueError(f"random_state must be None, a non-negative integer, a numpy RandomState or a numpy "
                         f"Generator, got {rs!r}")

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
        y_name = getattr(y, "name", None)
        _check_numeric_columns(X, None if self.variable_names is None else [str(n) for n in self.variable_names])
        X, y = validate_data(self, _as_array(X), _as_array(y), y_numeric=True, dtype=np.float64,
                             ensure_min_samples=2)
        if X.shape[0] < MIN_ROWS:
            raise ValueError(f"X has {X.shape[0]} rows; at least {MIN_ROWS} are needed to fit a formula")
        if np.ptp(y) == 0:
            raise ValueError(f"y is constant (every value is {_num(y[0])}): there is no relationship to discover")
        names = self._names(X.shape[1])
        target = self.target_name or (y_name if isinstance(y_name, str) and y_name.strip() else "y")
        self._check_values(X, y, names, target)
        t_start = time.monotonic()
        deadline = None if self.time_budget is None else t_start + float(self.time_budget)
        seed = self._seed_source()()

        gen = np.random.default_rng(seed)
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
                                  seed=seed, deadline=deadline)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            # at most: train + snap per rung, and the other complexity weights at the end;
            # the total is set to what really ran when the search is over
            bar = tqdm(total=2 * len(ladder) + 1, desc="symkan", leave=False)

        started = []

        def on_stage(name):  # called when a stage starts: the previous one is done
            if bar is not None:
                if started:
                    bar.update(1)
                bar.set_description(name)
            started.append(name)
            log.info("stage: %s", name)

        try:
            with torch_threads(self.n_threads):
                attempts = search(spaces, settings, names, X[train], y[train], X[val], y[val], on_stage=on_stage)
            if bar is not None:
                bar.total = len(started)  # the stages that ran: the bar ends full
                bar.update(len(started) - bar.n)
                bar.set_description("symkan: done")
                bar.refresh()
        except RuntimeError as err:
            # discovery's "training diverged for every architecture" is a result, not a bug
            if str(err).startswith("training diverged for every architecture"):
                raise FitError(str(err)) from None
            raise
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
            raise FitError(f"symkan found no usable formula ({errors})")
        self.names_ = names
        self.target_name_ = target
        self.seed_ = seed
        self.equations_ = front
        self.best_index_ = front.best_index()
        self.best_ = front[self.best_index_]
        best_attempt = owner[id(self.best_.formula)]
        # the snapped network behind the best formula (the numeric one if it has none),
        # and the space it works in
        self.model_ = getattr(self.best_.formula, "network", None) or best_attempt.model
        space = spaces[best_attempt.space]
        self.network_space_ = space.name
        self.output_sign_ = float(space.sign)
        self.input_shift_, self.input_scale_ = space.input_transform
        self.output_shift_, self.output_scale_ = space.output_transform
        self.attempts_ = [{"space": a.space, "width": a.width, "pruned_width": a.model.width,
                           "numeric_nmse": a.numeric_nmse, "n_formulas": len(a.formulas), "seconds": a.seconds,
                           "error": a.error} for a in attempts]
        self.plot_sample_ = space.inputs(X[train][:PLOT_SAMPLE_ROWS])
        self.fit_seconds_ = time.monotonic() - t_start
        self._build_predictor()
        return self

    @staticmethod
    def _check_values(X, y, names, target) -> None:
        """Magnitudes the float64 search can handle, and inputs that vary."""
        for col, name in [(y, target), *((X[:, k], names[k]) for k in range(X.shape[1]))]:
            big = float(np.max(np.abs(col)))
            if big > MAX_MAGNITUDE:
                raise ValueError(f"column {name!r} has values up to {big:.3g} in magnitude; symkan needs values "
                                 f"below {MAX_MAGNITUDE:g} (their squares overflow) — rescale it, e.g. by changing "
                                 f"its units")
            if 0 < big < 1 / MAX_MAGNITUDE:
                raise ValueError(f"column {name!r} has values of at most {big:.3g} in magnitude; symkan needs values "
                                 f"above {1 / MAX_MAGNITUDE:g} (their squares underflow) — rescale it, e.g. by "
                                 f"changing its units")
        constant = [names[k] for k in range(X.shape[1]) if np.ptp(X[:, k]) == 0]
        if len(constant) == X.shape[1]:
            which = "the input column" if len(constant) == 1 else "every input column"
            values = ", ".join(f"{n} = {_num(X[0, k])}" for k, n in enumerate(names))
            raise ValueError(f"{which} is constant ({values}): there is nothing to explain {target} with")
        if constant:
            log.warning("input column(s) %s are constant; a formula cannot depend on them", ", ".join(constant))

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
        if (isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer))
                or not -len(self.equations_) <= index < len(self.equations_)):
            raise ValueError(f"index must be an integer in [0, {len(self.equations_)}) or None, got {_plain(index)!r}")
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
        target = getattr(self, "target_name_", "y")
        if self.network_space_ == "log":
            # the network's edges act on log x and its output is log(s·y): say so
            kwargs.setdefault("in_names", [f"log({n})" for n in self.names_])
            inner = target if getattr(self, "output_sign_", 1.0) > 0 else f"-{target}"
            kwargs.setdefault("out_names", [f"log({inner})"])
            kwargs.setdefault("title", f"network in log space: {target} = "
                                       f"{'' if getattr(self, 'output_sign_', 1.0) > 0 else '-'}exp(output)")
        else:
            kwargs.setdefault("in_names", self.names_)
            kwargs.setdefault("out_names", [target])
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
        from .functions.library import custom_functions

        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params(deep=False).items()}
        payload = {
            "params": params,
            "names": list(self.names_),
            "feature_names_in": None if not hasattr(self, "feature_names_in_") else
            [str(n) for n in self.feature_names_in_],
            "n_features_in": int(self.n_features_in_),
            "network_space": self.network_space_,
            "output_sign": float(getattr(self, "output_sign_", 1.0)),
            "target_name": str(getattr(self, "target_name_", "y")),
            "seed": getattr(self, "seed_", None),
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
        """Read a model written by :meth:`save` (onto the CPU).

        Raises ValueError for a missing, truncated, foreign, corrupt or incompatible file
        and for a custom function that conflicts with one registered in this session.
        Loading runs no code from the file (see :mod:`symkan.persistence`)."""
        from .functions.library import restore_custom_functions

        data = load_payload(path)
        try:
            restore_custom_functions(data.get("custom_functions") or {})
        except ValueError as err:
            raise ValueError(f"refusing to load {str(path)!r}: {err}") from None
        try:
            return cls._from_payload(data)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as err:
            detail = f"missing entry {err}" if isinstance(err, KeyError) else str(err).splitlines()[0] if str(err) else ""
            raise ValueError(f"{str(path)!r} is a corrupt or incompatible symkan model file "
                             f"({type(err).__name__}: {detail})") from None

    @classmethod
    def _from_payload(cls, data: dict) -> "SymKANRegressor":
        from .nn import KAN
        from .symbolic.formula import Formula

        params = dict(data["params"])
        if isinstance(params.get("complexity_weights"), list):
            params["complexity_weights"] = tuple(params["complexity_weights"])
        est = cls(**params)
        names = [str(n) for n in data["names"]]
        symbols = [sympy.Symbol(n) for n in names]
        entries = []
        for row in data["equations"]:
            expr = expr_from_data(row["expr"], names)
            entries.append(ParetoEntry(int(row["complexity"]), float(row["loss"]), float(row["nmse"]),
                                       Formula(expr, symbols, float(row["loss"]))))
        if not entries:
            raise ValueError("the model has no formulas")
        front = ParetoFront.__new__(ParetoFront)
        front.entries = entries  # already a front, in saved order
        dtype = data["model_dtype"]
        if dtype not in ("float32", "float64"):
            raise ValueError(f"unsupported network dtype {dtype!r}")
        model = KAN.from_config(data["model_config"]).to(getattr(torch, dtype))
        model.load_state_dict(data["model_state"])
        model.eval()
        t = data["transforms"]
        est.names_ = names
        est.n_features_in_ = int(data["n_features_in"])
        if est.n_features_in_ != len(names) or model.n_inputs != len(names):
            raise ValueError(f"the model has {len(names)} variable names, {est.n_features_in_} features and a "
                             f"network of {model.n_inputs} inputs")
        if data["feature_names_in"] is not None:
            est.feature_names_in_ = np.asarray(data["feature_names_in"], dtype=object)
        est.network_space_ = str(data.get("network_space", "linear"))
        if est.network_space_ not in ("linear", "log"):
            raise ValueError(f"unknown network space {est.network_space_!r}")
        est.output_sign_ = float(data.get("output_sign", 1.0))
        est.target_name_ = str(data.get("target_name", params.get("target_name") or "y"))
        est.seed_ = data.get("seed")
        est.input_shift_ = t["input_shift"].numpy()
        est.input_scale_ = t["input_scale"].numpy()
        est.output_shift_, est.output_scale_ = float(t["output_shift"]), float(t["output_scale"])
        est.equations_ = front
        est.best_index_ = int(data["best_index"])
        est.best_ = front[est.best_index_]
        est.model_ = model
        est.attempts_ = list(data["attempts"])
        est.plot_sample_ = data["plot_sample"].numpy()
        est.fit_seconds_ = float(data["fit_seconds"])
        est._build_predictor()
        return est


__all__ = ["SymKANRegressor", "FitError", "NotFittedError"]
