"""The budget of one search, in seconds and in loss evaluations: the only place that
does deadline and work arithmetic."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

from .. import work

log = logging.getLogger(__name__)

#: share of a time budget kept for the steps under way when the search's own time runs
#: out: no stage starts after ``(1 − TIME_RESERVE)·seconds`` (:attr:`Budget.deadline`);
#: the formula steps under way (joint refits, constant snapping, simplification, term
#: pruning) and the final refit on all rows stop at ``seconds`` (:attr:`Budget.cutoff`),
#: so that a fit returns close to the budget the user set, not past it
TIME_RESERVE = 0.1
#: share of a work budget the steps under way may still use: they stop at
#: ``(1 + GRACE)·evaluations`` (work is counted, so it cannot be reserved beforehand)
GRACE = 0.15


class EvaluationCount:
    """The loss evaluations a search has made so far (:mod:`symkan.work` says what one
    is); shared by a budget and the shares of it (:meth:`Budget.share`)."""

    def __init__(self) -> None:
        self.n = 0

    def __repr__(self) -> str:
        return f"EvaluationCount({self.n})"


@dataclass(frozen=True)
class Budget:
    """``seconds`` of wall time from ``start`` (a ``time.monotonic()`` value) and
    ``evaluations`` loss evaluations (counted on ``used``, see :mod:`symkan.work`);
    None: no limit of that kind. Without a time limit the search stops at the same point
    on every machine (a work budget counts work, not seconds). A soft limit with a hard
    edge: no stage starts once either is spent (the time ``TIME_RESERVE`` before its
    end) and training (ALS included) stops there; the formula steps under way then
    finish by the :attr:`cutoff` in time (the end of ``seconds``) and by
    ``(1 + GRACE)·evaluations`` in work, each keeping its best state so far.

    The work is counted while the budget is the active meter (:meth:`metering`); the
    stages of :mod:`symkan.discovery` install it for the search."""

    seconds: float | None = None
    evaluations: int | None = None
    start: float = field(default_factory=time.monotonic)
    used: EvaluationCount = field(default_factory=EvaluationCount, compare=False)

    # --- time -------------------------------------------------------------------------
    @property
    def deadline(self) -> float | None:
        """The ``time.monotonic()`` value at which the search's time is spent and no stage
        starts: ``TIME_RESERVE`` of the budget before its end (None: never)."""
        return None if self.seconds is None else self.start + (1.0 - TIME_RESERVE) * float(self.seconds)

    @property
    def cutoff(self) -> float | None:
        """The ``time.monotonic()`` value at which steps under way stop: the end of the
        budget (None: never)."""
        return None if self.seconds is None else self.start + float(self.seconds)

    def left(self) -> float:
        """Seconds left (inf without a limit; ≤ 0 once spent)."""
        return math.inf if self.seconds is None else self.deadline - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def snap_seconds(self, cap: float = 10.0, floor: float = 1.0) -> float:
        """Seconds for one constant snap: ``cap``, or the time left but at least ``floor``
        (past the deadline each formula still gets a short snap)."""
        return cap if self.seconds is None else min(cap, max(floor, self.left()))

    # --- work (the symkan.work.Meter protocol) -----------------------------------------
    @property
    def evaluations_used(self) -> int:
        """Loss evaluations counted so far (also without a limit)."""
        return self.used.n

    def count(self, n: int) -> None:
        self.used.n += int(n)

    def work_spent(self) -> bool:
        return self.evaluations is not None and self.used.n >= self.evaluations

    def work_past_cutoff(self) -> bool:
        return self.evaluations is not None and self.used.n >= (1.0 + GRACE) * self.evaluations

    def metering(self):
        """A context in which the loss evaluations made are counted on this budget
        (and the formula steps stop by its work cutoff)."""
        return work.metered(self)

    # --- both -------------------------------------------------------------------------
    @property
    def spent(self) -> bool:
        """Either limit reached."""
        return self.left() <= 0 or self.work_spent()

    @property
    def past_cutoff(self) -> bool:
        """Past the cut-off (:attr:`cutoff`, in time or work): steps under way stop, with
        or without a result."""
        cutoff = self.cutoff
        return (cutoff is not None and time.monotonic() >= cutoff) or self.work_past_cutoff()

    def skip(self, what: str) -> bool:
        """True (and logged) once the budget is spent: the caller skips ``what``."""
        if self.left() <= 0:
            log.info("time budget spent; skipping %s", what)
            return True
        if self.work_spent():
            log.info("work budget spent (%d of %d evaluations); skipping %s", self.used.n, self.evaluations, what)
            return True
        return False

    def stop_callbacks(self) -> list:
        """Callbacks for :func:`symkan.train.fit` that stop training once the budget is
        spent (none without a limit). Training counts its evaluations on the active
        meter; a work budget stops it after the step that spends it."""
        if self.seconds is None and self.evaluations is None:
            return []
        return [lambda step, history, model: self.spent]

    def share(self, fraction: float) -> "Budget":
        """``fraction`` of this budget from the same start, counting on the same
        evaluations (a part of the search that may use only some of it)."""
        return Budget(None if self.seconds is None else self.seconds * fraction,
                      None if self.evaluations is None else max(1, int(self.evaluations * fraction)),
                      start=self.start, used=self.used)

    def rest_share(self, fraction: float) -> "Budget":
        """A budget that ends once ``fraction`` of what is left of this one is used, in
        time and in work, from the same start and counting on the same evaluations."""
        # its deadline (TIME_RESERVE before its end) falls after that fraction of the time left
        seconds = None if self.seconds is None else \
            (self.elapsed() + fraction * max(0.0, self.left())) / (1.0 - TIME_RESERVE)
        evaluations = None if self.evaluations is None else \
            self.used.n + max(1, int(fraction * max(0, self.evaluations - self.used.n)))
        return Budget(seconds, evaluations, start=self.start, used=self.used)
