"""The F-test of snapped constants against the noise of small tables
(:mod:`symkan.discovery.small_data`), used by :class:`.constants.ConstantFit`."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache


@lru_cache(maxsize=256)
def f_critical(dfn: int, dfd: int, significance: float) -> float:
    """The (1 − significance) quantile of the F distribution with (dfn, dfd) degrees of freedom."""
    from scipy.stats import f

    return float(f.ppf(1.0 - significance, dfn, dfd))


@dataclass(frozen=True)
class NoiseTest:
    """An F-test of snaps against the noise of the data: ``variance`` is σ̂², the variance
    of one (weighted) residual, estimated with ``dof`` degrees of freedom (the residuals
    of a good fit: RSS/(n − k)); ``significance`` the test's level."""

    variance: float
    dof: int
    significance: float = 0.05

    def margin(self, n_snapped: int) -> float:
        """The extra residual sum of squares ``n_snapped`` fixed constants may cost before
        it is significant: m·F(m, dof)·σ̂²."""
        return n_snapped * f_critical(n_snapped, max(int(self.dof), 1), self.significance) * self.variance

    def limit(self, base: float, n_snapped: int, n_rows: int) -> float:
        """The largest loss (mean squared residual on ``n_rows`` rows) a fit with
        ``n_snapped`` constants fixed may have when the free fit's loss is ``base``."""
        return base + self.margin(n_snapped) / n_rows if n_snapped > 0 else math.inf
