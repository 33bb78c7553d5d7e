"""``warm_start=True``: a second ``fit`` of a SymKANRegressor continues from its last front.

What "continue" means here (the simple, honest version): the new fit runs a whole new
search with the next seed (the previous ``seed_`` + 1: other initial networks, other
random draws), and every formula of the previous ``front_`` joins that search's
formulas as a candidate, re-scored on this fit's held-out rows so that the losses are
comparable. The new front is the Pareto front of both sets: on the current data it is
never worse than the previous front re-scored, and a second fit never repeats the first
fit's random draws. It is not a resume of the ladder where the first search stopped:
every rung runs again, from new starting points. The held-out split still comes from
``random_state`` (the same rows as the first fit for an int seed and the same data, so
earlier formulas are not scored on rows their constants were fitted to); the earlier
formulas' constants are kept as they were, not refit.

A previous fit with other columns (their number or their names) is not continued: the
fit starts afresh with a logged warning. The formulas of a model read back from a file
(``SymKANRegressor.load``) are continued too; as the file holds only the best formula's
network, the earlier formulas other than the best one are credited to that network
(``model_``, ``plot``) if one of them becomes the best.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np

from .discovery import Attempt, Rung, SearchResult
from .discovery.searching import held_out_variance
from .discovery.spaces import finite_mse
from .pareto import ParetoEntry, ParetoFront
from .regressor_checks import MAX_SEED

log = logging.getLogger("symkan.regressor")


@dataclass(frozen=True)
class PreviousFit:
    """What a warm fit continues from: the previous front's ``entries``, the attempt
    behind each (``owners``: its network and space), the previous ``seed``."""

    entries: list
    owners: list
    seed: int

    @property
    def next_seed(self) -> int:
        """The seed of the continued search."""
        return (int(self.seed) + 1) % MAX_SEED


def previous_fit(est, names: list) -> PreviousFit | None:
    """The fit ``est`` continues from (None: warm_start is off, ``est`` was never
    fitted, or its columns ``names`` are not those of the previous fit, with a
    warning)."""
    if not est.warm_start or not hasattr(est, "front_"):
        return None
    if list(est.names_) != list(names):
        log.warning("warm_start: X has the columns %s but the previous fit had %s; starting a new search "
                    "instead of continuing", list(names), list(est.names_))
        return None
    entries = list(est.front_)
    owners = getattr(est, "_warm_owners", None)
    if owners is None or len(owners) != len(entries):  # a model read from a file: one network is known
        owners = [_stand_in(est, entry.formula) for entry in entries]
    return PreviousFit(entries, list(owners), int(est.seed_))


def _stand_in(est, formula) -> Attempt:
    """The attempt a formula of a loaded model is credited to: its own network if it
    kept one, else the model's, in the model's space."""
    model = getattr(formula, "network", None) or est.model_
    return Attempt(Rung(est.space_.name, model.width), model, [formula], transform=est.space_)


def continued(result: SearchResult, previous: PreviousFit | None, rows) -> SearchResult:
    """``result`` with the formulas of ``previous`` re-scored on ``rows`` (the
    :class:`~symkan.discovery.UserRows` the new formulas were scored on) and merged into
    its front; ``result`` itself when there is nothing to continue from."""
    if previous is None:
        return result
    variance = held_out_variance(rows)
    owners = dict(result.owners)
    earlier = []
    for entry, owner in zip(previous.entries, previous.owners):
        formula = copy.copy(entry.formula)  # the previous front keeps its own losses
        with np.errstate(all="ignore"):
            formula.loss = finite_mse(formula.evaluate(rows.X_val), rows.y_val, rows.w_val)
        # units are marked again by this fit (a fit without units has none)
        earlier.append(ParetoEntry(formula.complexity, formula.loss, formula.loss / variance, formula))
        owners[id(formula)] = owner
    front = ParetoFront([*result.front, *earlier])  # a new formula wins a tie: it is listed first
    kept = sum(1 for e in front if id(e.formula) in {id(x.formula) for x in earlier})
    log.info("warm_start: %d of %d earlier formulas stay on the front of %d", kept, len(earlier), len(front))
    return SearchResult(result.attempts, front, owners, result.rows)


def remember_owners(est, result: SearchResult) -> None:
    """Keep, with the fitted ``est``, the attempt behind each formula of its front (for a
    later warm fit)."""
    est._warm_owners = [result.attempt_of(entry.formula) for entry in est.front_]
