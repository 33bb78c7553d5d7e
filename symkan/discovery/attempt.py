"""What one rung of a search produced (:class:`Attempt`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..nn import KAN
from .ladder import Rung


@dataclass
class Attempt:
    """What one rung produced: the pruned numeric network, its formulas, timings."""

    rung: Rung
    model: KAN
    formulas: list = field(default_factory=list)
    numeric_nmse: float = math.inf
    seconds: float = 0.0
    error: str | None = None
    transform: object = None  # the SpaceTransform of the data the network was trained on
    #: the share of numeric_nmse that is the network's own error, not the data's noise
    #: (:func:`.training.structure_nmse`); None: not measured, all of it
    structure_nmse: float | None = None

    @property
    def accuracy(self) -> float:
        """How closely the network follows the law (not the noise): its normalised
        held-out error as an oracle of peels and splits."""
        return self.numeric_nmse if self.structure_nmse is None else self.structure_nmse

    @property
    def space(self) -> str:
        return self.rung.space

    @property
    def width(self) -> list:
        return self.rung.layers

    def summary(self) -> dict:
        """Plain-data summary (the estimator's ``attempts_``)."""
        return {"space": self.space, "width": self.width, "pruned_width": self.model.width,
                "numeric_nmse": self.numeric_nmse, "n_formulas": len(self.formulas), "seconds": self.seconds,
                "error": self.error}
