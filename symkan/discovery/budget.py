"""The time budget of one search: the only place that does deadline arithmetic."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: share of the budget that steps under way when it runs out may still take: formula
#: steps (joint refits, constant snapping, simplification, term pruning) and the final
#: refit on all rows stop at ``deadline + GRACE·seconds`` (:attr:`Budget.cutoff`)
GRACE = 0.15


@dataclass(frozen=True)
class Budget:
    """``seconds`` of wall time from ``start`` (a ``time.monotonic()`` value); None: no
    limit, the search does a fixed amount of work (results do not depend on machine
    speed). A soft limit with a hard edge: no stage starts after the :attr:`deadline`
    and training (ALS included) stops there; the formula steps under way then finish
    by the :attr:`cutoff`, each keeping its best state so far."""

    seconds: float | None = None
    start: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float | None:
        """The ``time.monotonic()`` value at which the budget is spent (None: never)."""
        return None if self.seconds is None else self.start + float(self.seconds)

    @property
    def cutoff(self) -> float | None:
        """The ``time.monotonic()`` value at which steps under way stop (``GRACE`` of the
        budget after the deadline; None: never)."""
        return None if self.seconds is None else self.start + (1.0 + GRACE) * float(self.seconds)

    def left(self) -> float:
        """Seconds left (inf without a limit; ≤ 0 once spent)."""
        return math.inf if self.seconds is None else self.deadline - time.monotonic()

    @property
    def spent(self) -> bool:
        return self.left() <= 0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def skip(self, what: str) -> bool:
        """True (and logged) once the budget is spent: the caller skips ``what``."""
        if not self.spent:
            return False
        log.info("time budget spent; skipping %s", what)
        return True

    def stop_callbacks(self) -> list:
        """Callbacks for :func:`symkan.train.fit` that stop training once the budget is
        spent (none without a limit)."""
        if self.seconds is None:
            return []
        return [lambda step, history, model: self.spent]

    def snap_seconds(self, cap: float = 10.0, floor: float = 1.0) -> float:
        """Seconds for one constant snap: ``cap``, or the time left but at least ``floor``
        (past the deadline each formula still gets a short snap)."""
        return cap if self.seconds is None else min(cap, max(floor, self.left()))
