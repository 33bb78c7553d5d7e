"""The staged discovery pipeline behind :class:`symkan.SymKANRegressor`.

For each rung of a ladder of (space, architecture) pairs, smallest first — the space
being the data as given or, for positive data, (log x, log|y|):

    train → sparsify (L1 + entropy) → prune (checked on held-out rows) → refit
    → snap → joint refit of the constants → formulas in the user's units → score

Every formula is scored on held-out rows; the result keeps the Pareto front. The
search stops early once a formula reproduces the held-out data to round-off, or
explains it far better than the network it was read from, or when the time budget is
spent. The tensors the networks see are standardised ("network units"); each space's
transform maps formulas back to the user's variables.

Modules: :mod:`.ladder` (the rungs), :mod:`.spaces` (data spaces and their
transforms), :mod:`.budget` (the time budget), :mod:`.context` (settings and what a
stage sees), :mod:`.training` and :mod:`.snapping` (the stages), :mod:`.separable`
(the ALS start of separable rungs), :mod:`.searching` (the loop and its stopping rules),
:mod:`.sampling` (the rows a search works on: a subsample of a large table) and
:mod:`.final` (the constants refit on all rows afterwards), :mod:`.small_data` (tables of
fewer than ``SMALL_DATA_ROWS`` rows: snapping within the noise, cross-validated scores),
:mod:`.table_search` (one search on one table), :mod:`.dimensionless` (the search in the
Buckingham π groups of columns with units) and :mod:`.units_first` (both searches, one front), :mod:`.errors`,
:mod:`.threads`, :mod:`.streaming` (formulas reported as they are found), :mod:`.parallel`
(the rungs in worker processes, ``n_jobs``).
"""
from .budget import Budget
from .context import RungContext, SearchSettings, UserRows
from .errors import DiscoveryError, NoFormulaFound, TrainingDiverged
from .ladder import SEPARABLE, Rung, build_ladder, build_width, default_widths
from .sampling import SMALL_DATA_ROWS, RowSplit, split_rows
from .searching import Attempt, SearchResult, search
from .spaces import SpaceTransform, make_space, space_names
from .streaming import LiveFront, report_formulas
from .table_search import search_table
from .units_first import discover, mark_consistency

__all__ = ["Attempt", "Budget", "DiscoveryError", "LiveFront", "NoFormulaFound", "RowSplit", "Rung", "RungContext",
           "SEPARABLE", "SMALL_DATA_ROWS", "SearchResult", "SearchSettings", "SpaceTransform", "TrainingDiverged",
           "UserRows", "build_ladder", "build_width", "default_widths", "discover", "make_space", "mark_consistency",
           "report_formulas", "search", "search_table", "space_names", "split_rows"]
