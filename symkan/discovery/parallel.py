"""The rungs of a ladder in parallel processes (``n_jobs``), through joblib.

Each rung of :func:`.searching.search` is independent of the others: its seeds are fixed
per stage and its data are the same, so a worker process (joblib's loky backend, or the
backend of the caller's ``joblib.parallel_config``, e.g. Dask) trains, prunes and snaps
it with one torch thread — and, for two inputs, tries the split a sequential search
could try there. The parent takes the workers' results **in rung order** and replays the
sequential loop's rules on them: the same split rule, the same stop at the first rung
that ends the search (later rungs' results are discarded, the workers still running are
cancelled), then the same last steps. Without a time budget the front is therefore the
one ``n_jobs=1`` gives. With a time budget every worker measures the same deadline (a
rung started later gets what is left of it); a work budget (``max_evaluations``) cannot
be shared between processes, so such a search runs one rung after the other.

joblib is imported inside these functions only: ``n_jobs=1`` never imports it.
"""
from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

from ..functions.library import custom_functions, restore_custom_functions
from .attempt import Attempt
from .budget import Budget
from .context import RungContext, SearchSettings, UserRows
from .oracle_split import split_formulas
from .searching import (
    SNAP_NMSE,
    RungSteps,
    finish_attempts,
    first_weight,
    may_peel,
    snap_attempt,
    wants_split,
)
from .spaces import space_functions
from .streaming import report_formulas
from .threads import torch_threads
from .training import train_pruned, trained_attempt

log = logging.getLogger(__name__)

#: what to install for n_jobs > 1, a list of problems in parallel or a Dask scheduler
INSTALL_HINT = "pip install symkan[parallel]"


def require_joblib(what: str):
    """The ``joblib`` module, or an ImportError naming the extra that provides it."""
    try:
        import joblib
    except ImportError:
        raise ImportError(f"{what} needs joblib: {INSTALL_HINT}") from None
    return joblib


@dataclass
class RungOutcome:
    """What a worker did with one rung: ``skipped`` (the budget was spent before it
    started), ``attempt`` (None: training diverged, ``diverged`` says how), ``best``
    (the best formula's nmse after the first snap; None: not snapped) and ``split``
    (the formulas of the split a sequential search could try here; None: not tried)."""

    skipped: bool = False
    attempt: Attempt | None = None
    diverged: str = ""
    best: float | None = None
    split: list | None = None
    pending: bool = False  # not snapped: the parent peels first (RungSteps.formulas)
    evaluations: int = 0  # the loss evaluations the worker counted (charged to the fit's budget)


@dataclass(frozen=True)
class SharedClock:
    """A budget as a worker process sees it: its limit in ``seconds`` and when it started,
    in wall-clock seconds (``time.time()``: the same on every process and, with synced
    clocks, every machine of a cluster)."""

    seconds: float | None
    started: float

    @classmethod
    def of(cls, budget: Budget) -> SharedClock:
        return cls(budget.seconds, time.time() - budget.elapsed())

    def budget(self) -> Budget:
        """The same deadline and cutoff, on this process's monotonic clock."""
        return Budget(self.seconds, None, start=time.monotonic() - (time.time() - self.started))


def parallel_runner(budget: Budget):
    """The parallel loop for :func:`.searching.search`, or None when its budget must run
    sequentially (a work budget)."""
    if budget.evaluations is not None:
        log.info("a work budget (max_evaluations) is counted in one process: the rungs run one after the other")
        return None
    require_joblib("n_jobs != 1")
    return run_parallel


def run_rung(k: int, space, rows: UserRows, settings: SearchSettings, var: float, clock: SharedClock,
             functions: dict, peels: bool = False) -> RungOutcome:
    """Rung ``k`` of ``settings.ladder`` in a worker process: what the sequential loop
    of :func:`.searching.search` does with it before it looks at the other rungs.
    ``functions``: the user's registered library functions (:func:`custom_functions`);
    ``peels``: the search may peel (a network that would be peeled is left to the parent)."""
    if functions:
        restore_custom_functions(functions)
    budget = clock.budget()
    with torch_threads(1), budget.metering():
        outcome = _rung_outcome(k, space, rows, settings, var, budget, peels)
    outcome.evaluations = budget.evaluations_used
    return outcome


def _rung_outcome(k: int, space, rows: UserRows, settings: SearchSettings, var: float, budget: Budget,
                  peels: bool) -> RungOutcome:
    """:func:`run_rung` under the worker's torch thread and work meter."""
    rung = settings.ladder[k]
    if k and budget.spent:
        return RungOutcome(skipped=True)
    ctx = RungContext(rung, space, rows, settings, budget)
    t0 = time.perf_counter()
    try:
        model = train_pruned(ctx)
    except FloatingPointError as err:
        return RungOutcome(diverged=str(err))
    attempt = trained_attempt(ctx, model, time.perf_counter() - t0)
    last = k == len(settings.ladder) - 1 or budget.spent
    if attempt.numeric_nmse > SNAP_NMSE and not last:
        return RungOutcome(attempt=attempt)
    if peels and may_peel(attempt, rows):
        return RungOutcome(attempt=attempt, pending=True)
    best = snap_attempt(ctx, attempt, first_weight(settings.complexity_weights), var)
    split = None
    if wants_split(attempt, best, rows):  # the loosest split rule: the parent applies the exact one
        split = split_formulas(model, space.transform, rows, space_functions(settings.functions, "linear"),
                               budget, accuracy=attempt.accuracy)
    return RungOutcome(attempt=attempt, best=best, split=split)


def run_parallel(spaces, settings, rows, budget, on_stage, var, on_formula=None, peel=None) -> list:
    """:func:`.searching.search`'s loop with the rungs in ``settings.n_jobs`` processes
    (see the module docstring); returns the attempts of the rungs kept, in order."""
    joblib = require_joblib("n_jobs != 1")
    ladder, clock, functions = settings.ladder, SharedClock.of(budget), custom_functions()
    tasks = (joblib.delayed(run_rung)(k, spaces[rung.space], rows, settings, var, clock, functions, peel is not None)
             for k, rung in enumerate(ladder))
    # pre_dispatch "n_jobs": a rung starts only when a worker is free, so it measures the
    # deadline from then; results come back in rung order
    outcomes = joblib.Parallel(n_jobs=settings.n_jobs, return_as="generator", pre_dispatch="n_jobs",
                               batch_size=1)(tasks)
    attempts: list[Attempt] = []
    steps = RungSteps(spaces, settings, rows, budget, on_stage, var, on_formula, peel)
    try:
        for rung, outcome in zip(ladder, outcomes):
            budget.count(outcome.evaluations)  # fit_evaluations_ covers the workers' work too
            if outcome.skipped:
                log.info("time budget spent; skipping %s", rung)
                break
            on_stage(f"train {rung}")
            if outcome.attempt is None:
                log.warning("training %s diverged: %s", rung, outcome.diverged)
                continue
            # past the deadline with a network in hand, the parent does no more work on a
            # rung (the sequential loop skips it): a worker's formulas are kept as they are
            late = bool(attempts) and budget.left() <= 0
            if late and outcome.pending and budget.skip(str(rung)):
                break
            attempt = outcome.attempt
            attempts.append(attempt)
            log.info("%s -> %s: numeric nmse %.3g (structure %.3g) after %.1f s", rung, attempt.model.width,
                     attempt.numeric_nmse, attempt.structure_nmse, attempt.seconds)
            if outcome.pending:  # peel (once), snap and split here, as the sequential loop does
                best = steps.formulas(attempt)
            elif outcome.best is None:
                continue
            else:
                on_stage(f"snap {attempt.space} {attempt.model.width}")
                report_formulas(on_formula, attempt.formulas, var)
                best = outcome.best if late else steps.after_snap(attempt, outcome.best, outcome.split)
            if steps.stops(attempt, best):
                break
    finally:
        with warnings.catch_warnings():  # joblib warns of the discarded rungs: the stopping rule's intent
            warnings.filterwarnings("ignore", message=r".*tasks .*(not used|cancelled)", category=UserWarning)
            outcomes.close()  # cancels the rungs still queued or running

    return finish_attempts(attempts, settings, budget, steps.snap, var)
