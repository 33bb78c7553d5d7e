"""Formulas as a search finds them, before it ends.

A search reports each batch of new formulas to an ``on_formula(entries)`` callback,
``entries`` being :class:`~symkan.pareto.ParetoEntry` objects in the user's columns
(loss: held-out MSE on the rows the search scores on; nmse: that loss over the
variance of the held-out target). Those losses are the search's: when a large table is
searched on a subsample, the final refit on all rows (:mod:`.final`) changes them, and
the front of a finished fit is the one to trust. :class:`LiveFront` keeps the Pareto
front of everything reported so far, e.g. to write it to a file as the search goes
(the CLI's ``--out``), so that an interrupted fit keeps what it found.

Where a search reports: after each snap of a network and each separability split
(:mod:`.searching`), after the direct fit of a one-input law (:mod:`.table_search`),
and, for the search in dimensionless groups, once its formulas are mapped back to the
user's columns (:mod:`.dimensionless`; the groups' own formulas are not reported).
"""
from __future__ import annotations

import copy
import logging
import math

from ..pareto import ParetoEntry, ParetoFront

log = logging.getLogger(__name__)


def report_formulas(on_formula, formulas: list, variance: float) -> None:
    """Call ``on_formula`` with the scored ``formulas`` as Pareto entries (nmse = loss /
    ``variance``); nothing without a callback or a formula with a loss. Each entry holds
    a copy of its formula as it is now: later stages that refit a formula's constants in
    place do not change what was reported."""
    if on_formula is None:
        return
    entries = [ParetoEntry(f.complexity, f.loss, f.loss / variance, copy.copy(f)) for f in formulas
               if f.loss is not None and math.isfinite(f.loss)]
    if entries:
        on_formula(entries)


class LiveFront:
    """The Pareto front of the entries reported so far; an ``on_formula`` callback.

    ``on_change(front)`` is called with the new :class:`~symkan.pareto.ParetoFront`
    whenever a report changes it (a formula joins it or displaces one)."""

    def __init__(self, on_change=None):
        self.front = ParetoFront()
        self.on_change = on_change

    def __call__(self, entries: list) -> None:
        front = ParetoFront([*self.front, *entries])
        if [id(e) for e in front] == [id(e) for e in self.front]:
            return
        self.front = front
        log.debug("live front: %d formulas", len(front))
        if self.on_change is not None:
            self.on_change(front)
