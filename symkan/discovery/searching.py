"""The search over the ladder: train each rung, snap the decent ones, stop early.

Snapping costs more than training, so each network whose numeric held-out fit is
decent (normalised loss below ``SNAP_NMSE``, or the last one tried) is snapped at one
complexity weight; the search stops at the first formula that reproduces the held-out
data to round-off (``EXACT_NMSE``), is far more accurate on it than its network
(``STOP_FACTOR``) or is within the noise of noisy data (:mod:`.noise`), or when the
budget is spent. Then the network behind the best
formula is snapped at the other weights too, for the Pareto front. With
``settings.n_jobs`` ≠ 1 the rungs run in worker processes under the same rules
(:mod:`.parallel`).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import sympy

from ..pareto import ParetoEntry, ParetoFront
from ..sample_weights import weighted_var
from .attempt import Attempt
from .budget import Budget
from .context import RungContext, SearchSettings, UserRows
from .errors import NoFormulaFound, TrainingDiverged
from .final import refit_and_score
from .noise import within_noise
from .oracle_split import split_formulas
from .rational import rational_formulas
from .snapping import snap_weights
from .spaces import space_functions
from .streaming import report_formulas
from .threads import torch_threads
from .training import EXACT_NMSE, ROUND_OFF_NMSE, train_pruned, trained_attempt

log = logging.getLogger(__name__)

#: stop the search when a formula's held-out nmse is below this fraction of its network's
STOP_FACTOR = 1e-2
#: numeric held-out nmse (1 − R²) below which a trained network is worth snapping
SNAP_NMSE = 1e-2
#: ... and below which a two-input network is accurate enough to test for separability
SPLIT_NMSE = 1e-2
#: numeric held-out nmse below which a network of three or more inputs is an oracle for
#: peeling (below 1e-4 for splits too: :data:`.peeling.SPLITS_NMSE`)
PEEL_NMSE = 1e-3
#: a snapped formula with no float left and within this factor of its network's loss
#: (2π·√(L/g) on noisy data) has nothing for a split to improve
SPLIT_GAIN = 1.5


@dataclass
class SearchResult:
    """Every attempt, in ladder order, and the Pareto front of their formulas."""

    attempts: list
    front: ParetoFront
    owners: dict = field(default_factory=dict, repr=False)  # id(formula) -> Attempt
    rows: UserRows | None = field(default=None, repr=False)  # the rows the formulas were scored on

    def attempt_of(self, formula) -> Attempt:
        """The attempt whose network gave ``formula``."""
        return self.owners[id(formula)]


def held_out_variance(rows: UserRows) -> float:
    """Variance of the held-out target (of all rows if it is constant), weighted as the
    rows are: nmse = loss / this."""
    every = None if rows.w is None else np.concatenate([rows.w, rows.w_val])
    return weighted_var(rows.y_val, rows.w_val) or weighted_var(np.concatenate([rows.y, rows.y_val]), every) or 1.0


def first_weight(weights) -> tuple:
    """The weight snapped first: the middle one (the default trade-off)."""
    ordered = sorted(weights)
    return (ordered[len(ordered) // 2],)


def search(spaces: dict, settings: SearchSettings, rows: UserRows, budget: Budget | None = None,
           on_stage=None, final_rows: UserRows | None = None, on_formula=None, peel=None) -> SearchResult:
    """Run the rungs of ``settings.ladder`` in order (see the module docstring).

    ``spaces``: name -> :class:`.spaces.Space` (standardised training and held-out
    tensors); ``rows``: the same rows in the user's units. The formulas' ``loss`` is the
    held-out MSE there. ``final_rows`` (when the search saw a subsample of the table,
    :mod:`.sampling`): the rows every formula's constants are refit on and its ``loss``
    scored on at the end (:mod:`.final`). ``on_stage(name)`` is called as each stage
    starts (progress); ``on_formula(entries)`` with the new formulas of each snap and split
    (:mod:`.streaming`). ``peel(model, transform, accuracy)``: formulas of a table of three
    or more inputs found with the first accurate network whose snap is not exact as the
    oracle (:mod:`.peeling`; None: not tried).
    Raises :class:`.errors.TrainingDiverged` when training diverged on every rung and
    :class:`.errors.NoFormulaFound` when no formula is finite on the held-out rows.
    """
    var = held_out_variance(rows)
    budget = budget or Budget()
    run = _run
    if settings.n_jobs != 1 and len(settings.ladder) > 1:
        from .parallel import parallel_runner  # joblib is imported only for n_jobs != 1
        run = parallel_runner(budget) or _run
    with torch_threads(settings.n_threads), budget.metering():
        attempts = run(spaces, settings, rows, budget, on_stage or (lambda name: None), var, on_formula, peel)
        for attempt in attempts:
            attempt.transform = spaces[attempt.space].transform
        if final_rows is not None:
            refit_and_score([f for a in attempts for f in a.formulas], final_rows, budget.cutoff)
            var = held_out_variance(final_rows)
    return front_of(attempts, var)


def _run(spaces, settings, rows, budget, on_stage, var, on_formula=None, peel=None) -> list:
    """The attempts of the rungs that ran (see :func:`search`); nmse = loss / ``var``."""
    attempts: list[Attempt] = []
    steps = RungSteps(spaces, settings, rows, budget, on_stage, var, on_formula, peel)
    for k, rung in enumerate(settings.ladder):
        if attempts and budget.skip(str(rung)):
            break
        ctx = RungContext(rung, spaces[rung.space], rows, settings, budget)
        on_stage(f"train {rung}")
        t0 = time.perf_counter()
        try:
            model = train_pruned(ctx)
        except FloatingPointError as err:  # diverged: record it and go on with the next rung
            log.warning("training %s diverged: %s", rung, err)
            continue
        attempt = trained_attempt(ctx, model, time.perf_counter() - t0)
        attempts.append(attempt)
        log.info("%s -> %s: numeric nmse %.3g (structure %.3g) after %.1f s", rung, model.width,
                 attempt.numeric_nmse, attempt.structure_nmse, attempt.seconds)
        last = k == len(settings.ladder) - 1 or budget.spent
        if attempt.numeric_nmse > SNAP_NMSE and not last:
            continue
        if steps.stops(attempt, steps.formulas(attempt)):
            break
    return finish_attempts(attempts, settings, budget, steps.snap, var)


class RungSteps:
    """What the search does with a trained network worth snapping, and what it remembers
    between rungs: a peel (before the snap: cheaper when it applies), the snap at the
    first complexity weight, and a split of a two-input network whose snap is not exact.
    The first accurate network is the oracle of a peel or split; a ten times more
    accurate one later, again (a separable network's stand-in for m·c²/√(1 − v²/c²) is
    a product of every input's function to 1e-4, and a peel that trusts it splits them
    all)."""

    def __init__(self, spaces, settings, rows, budget, on_stage, var, on_formula=None, peel=None):
        self.spaces, self.settings, self.rows, self.budget = spaces, settings, rows, budget
        self.on_stage, self.var, self.on_formula, self.peel = on_stage, var, on_formula, peel
        self.split_tried = 1.0  # the next split needs a network SPLIT_NMSE × this accurate
        self.peel_tried = 1.0  # the next peel, PEEL_NMSE × this
        self.rational_tried = False

    def stops(self, attempt: Attempt, best: float) -> bool:
        """Whether the search stops after ``attempt`` (best formula nmse ``best``): a
        formula exact to round-off or far better than its network (:func:`stops_search`),
        or one within the noise of the data (:mod:`.noise`)."""
        return stops_search(attempt, best) or \
            within_noise(attempt.formulas, self.rows, self.var, attempt.numeric_nmse) is not None

    def snap(self, attempt: Attempt, weights) -> float:
        """Snap ``attempt`` at ``weights``; its best held-out nmse."""
        self.on_stage(f"snap {attempt.space} {attempt.model.width}")
        ctx = RungContext(attempt.rung, self.spaces[attempt.space], self.rows, self.settings, self.budget)
        return snap_attempt(ctx, attempt, weights, self.var, self.on_formula)

    def formulas(self, attempt: Attempt) -> float:
        """Peel, snap and split ``attempt``'s network as they apply; its best held-out nmse."""
        best, closed = math.inf, False
        if self.peel is not None and may_peel(attempt, self.rows, self.peel_tried):
            self.on_stage(f"peel {attempt.space} {attempt.model.width}")
            self.peel_tried = attempt.accuracy / PEEL_NMSE / 10
            peeled = self.peel(attempt.model, self.spaces[attempt.space].transform, attempt.accuracy)
            best = add_formulas(attempt, peeled, best, self.var, self.on_formula)
            # a peeled formula exact saves the snap when no fitted number is left in it
            # (c·tanh(a·z + b) + d can match 1/(eᶻ − 1) to 1e-9) or when it is exact to
            # round-off, which no stand-in is
            closed = any(f.loss / self.var < ROUND_OFF_NMSE or
                         (f.loss / self.var < EXACT_NMSE and not f.expr.atoms(sympy.Float)) for f in peeled)
        if not closed:
            best = min(best, self.snap(attempt, first_weight(self.settings.complexity_weights)))
        return self.after_snap(attempt, best)

    def after_snap(self, attempt: Attempt, best: float, split: list | None = None) -> float:
        """The rational fit of the table (once per search, :mod:`.rational`) and the
        split of a snapped ``attempt`` (best nmse ``best``) where it applies (``split``:
        its formulas when a worker made them already); the best nmse."""
        if not self.rational_tried and best >= EXACT_NMSE:
            self.rational_tried = True
            best = add_formulas(attempt, rational_formulas(self.rows, self.budget), best, self.var, self.on_formula)
        if not wants_split(attempt, best, self.rows, self.split_tried):
            return best
        self.split_tried = attempt.accuracy / SPLIT_NMSE / 10
        if split is None:
            split = split_formulas(attempt.model, self.spaces[attempt.space].transform, self.rows,
                                   space_functions(self.settings.functions, "linear"), self.budget,
                                   accuracy=attempt.accuracy)
        return add_formulas(attempt, split, best, self.var, self.on_formula)


def add_formulas(attempt: Attempt, formulas: list, best: float, var: float, on_formula=None) -> float:
    """Add ``formulas`` (of a split or a peel of ``attempt``'s network) to the attempt and
    report them; returns the attempt's best held-out nmse (``best`` before them)."""
    attempt.formulas += formulas
    report_formulas(on_formula, formulas, var)
    return min([best, *(f.loss / var for f in formulas)])


def snap_attempt(ctx: RungContext, attempt: Attempt, weights, var: float, on_formula=None) -> float:
    """Snap ``attempt``'s network at ``weights`` and add its new formulas (reported to
    ``on_formula``); returns the attempt's best held-out nmse (loss / ``var``)."""
    t0 = time.perf_counter()
    formulas, error = snap_weights(ctx, attempt.model, weights)
    known = {str(g.expr) for g in attempt.formulas}
    new = [f for f in formulas if str(f.expr) not in known]
    attempt.formulas += new
    report_formulas(on_formula, new, var)
    attempt.error = attempt.error or error if not attempt.formulas else None
    attempt.seconds += time.perf_counter() - t0
    best = min((f.loss for f in attempt.formulas), default=math.inf) / var
    log.info("%s: best formula nmse %.3g, %.1f s in all", attempt.rung, best, attempt.seconds)
    return best


def wants_split(attempt: Attempt, best: float, rows: UserRows, split_tried: float = 1.0) -> bool:
    """Whether a two-input rung whose snap is not exact (best nmse ``best``) is split:
    its network is ``SPLIT_NMSE × split_tried`` accurate (``split_tried`` < 1 once an
    earlier rung was split) and its best formula leaves something to improve."""
    return (best >= EXACT_NMSE and rows.X.shape[1] == 2 and attempt.accuracy < SPLIT_NMSE * split_tried
            and not _closed_and_accurate(attempt, best))


def may_peel(attempt: Attempt, rows: UserRows, peel_tried: float = 1.0) -> bool:
    """Whether the network of a rung of three or more inputs is the oracle of a peel
    (:mod:`.peeling`): it is ``PEEL_NMSE × peel_tried`` accurate (``peel_tried`` < 1 once
    an earlier network was peeled)."""
    return rows.X.shape[1] >= 3 and attempt.accuracy < PEEL_NMSE * peel_tried


def stops_search(attempt: Attempt, best: float) -> bool:
    """Whether the search stops after this rung (best formula nmse ``best``)."""
    # Done when a formula reproduces the held-out data to round-off, or beats the
    # network it came from by a wide margin (then it has found structure the network
    # only approximates: a wider network has nothing more to offer). A formula merely
    # as good as its network may be a smooth stand-in (x·exp(c·e^(−y²)) for
    # x/(1 + y²)), so the search goes on.
    return best < EXACT_NMSE or best <= STOP_FACTOR * attempt.numeric_nmse


def finish_attempts(attempts: list, settings: SearchSettings, budget: Budget, snap, var: float) -> list:
    """After the ladder: the best numeric fit snapped when nothing was, then the other
    complexity weights for the network of the best formula (``snap(attempt, weights)``)
    unless that formula is exact to round-off (nmse = loss / ``var``); returns ``attempts``."""
    first = first_weight(settings.complexity_weights)
    if not attempts:
        raise TrainingDiverged("training diverged for every architecture; check the data for outliers")
    snapped = [a for a in attempts if a.formulas]
    if not snapped:  # nothing decent: snap the best numeric fit anyway
        best_attempt = min(attempts, key=lambda a: a.numeric_nmse)
        snap(best_attempt, first)
        snapped = [best_attempt]
    # the Pareto front: the other complexity weights for the network of the best formula
    best_loss = {id(a): min((f.loss for f in a.formulas), default=math.inf) for a in snapped}
    best_attempt = min(snapped, key=lambda a: best_loss[id(a)])
    rest = tuple(w for w in settings.complexity_weights if w not in first)
    if best_loss[id(best_attempt)] / var < ROUND_OFF_NMSE:
        log.info("the best formula is exact to round-off: no snap at complexity weights %s", rest)
    elif rest and not budget.skip(f"complexity weights {rest}"):
        snap(best_attempt, rest)
    return attempts


def _closed_and_accurate(attempt: Attempt, best_nmse: float) -> bool:
    """Whether the attempt's best formula has every constant snapped and is about as
    accurate as its network (then a split is not tried)."""
    formula = min(attempt.formulas, key=lambda f: f.loss, default=None)
    return formula is not None and not formula.constants and best_nmse <= SPLIT_GAIN * attempt.numeric_nmse


def front_of(attempts: list, var: float) -> SearchResult:
    """The result of ``attempts``: the Pareto front of all their formulas (nmse =
    held-out loss / ``var``); raises :class:`.errors.NoFormulaFound` when it is empty."""
    entries, owners = [], {}
    for attempt in attempts:
        for f in attempt.formulas:
            entries.append(ParetoEntry(f.complexity, f.loss, f.loss / var, f))
            owners[id(f)] = attempt
    front = ParetoFront(entries)
    if not len(front):
        errors = "; ".join(a.error for a in attempts if a.error) or "no finite formula"
        raise NoFormulaFound(f"symkan found no usable formula ({errors})")
    return SearchResult(attempts, front, owners)
