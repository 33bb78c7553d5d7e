"""The work meter: loss evaluations counted for a work budget.

A search with a work budget (``SymKANRegressor(max_evaluations=...)``) must stop at the
same point on every machine, so it counts work instead of seconds. The loops that
evaluate a loss on data report their evaluations here, and the steps that may stop
early ask here whether the work is spent; what the limits are is the meter's business
(:class:`symkan.discovery.Budget`), not theirs.

Each step is charged the evaluations it *may* make, decided before it runs, not the
ones it made: how many function evaluations a line search or a Levenberg–Marquardt
run takes depends on round-off (the same constant snap, repeated in one process, took
4962 or 4977 evaluations), and a count that wobbled would move the stop. Charged:

* a training step (:func:`symkan.train.fit`): an LBFGS step its ``max_eval`` (25 with
  the default 20 iterations) forward + backward passes, an Adam step 1;
* a joint refit of a snapped network (:func:`symkan.symbolic.refit.joint_refit`):
  its LBFGS run's ``max_eval``;
* a formula's constants (:class:`symkan.symbolic.constants.ConstantFit`): a
  least-squares refit of k constants ``max_nfev·(k + 1)`` (30·(k + 1) by default), a
  snap of k constants ``snap_charge(k)`` = (k + 1)·(60 + 10k) up front (how many snap
  attempts it makes depends on round-off);
* an ALS start of a separable product network: its ``sweeps`` (100).

Other steps (fitting library functions to edges, simplification, scoring) do a bounded
amount of work and are not counted.

The meter is active only inside :func:`metered` (a context variable, so concurrent
searches in other threads or tasks keep their own); without one, :func:`record` does
nothing and nothing is ever spent.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Protocol


class Meter(Protocol):
    """What counts and limits the evaluations (``symkan.discovery.Budget``)."""

    def count(self, n: int) -> None:
        """Add ``n`` evaluations."""

    def work_spent(self) -> bool:
        """No new step starts (training stops, later stages are skipped)."""

    def work_past_cutoff(self) -> bool:
        """The formula steps under way start no further refit, snap or pruning step."""


_active: ContextVar[Meter | None] = ContextVar("symkan_work_meter", default=None)


@contextmanager
def metered(meter: Meter) -> Iterator[Meter]:
    """Count the evaluations made inside the block on ``meter`` (nested blocks: the
    innermost meter counts)."""
    token = _active.set(meter)
    try:
        yield meter
    finally:
        _active.reset(token)


def record(n: int = 1) -> None:
    """Report ``n`` loss evaluations to the active meter (none: nothing happens)."""
    meter = _active.get()
    if meter is not None:
        meter.count(n)


def spent() -> bool:
    """Whether the active meter's limit is reached: start nothing new."""
    meter = _active.get()
    return meter is not None and meter.work_spent()


def past_cutoff() -> bool:
    """Whether the active meter's cutoff is passed: steps under way stop."""
    meter = _active.get()
    return meter is not None and meter.work_past_cutoff()
