"""Why a search ended without a result: raised where it happens, caught by type.

:class:`symkan.regressor.FitError` (what a user of the estimator catches) subclasses
:class:`DiscoveryError`.
"""
from __future__ import annotations


class DiscoveryError(RuntimeError):
    """The search ran but produced no usable formula."""


class TrainingDiverged(DiscoveryError):
    """Training diverged (non-finite loss) on every rung of the ladder."""


class NoFormulaFound(DiscoveryError):
    """Networks were trained, but no formula read from them is finite on the held-out rows."""
