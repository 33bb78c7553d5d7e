"""``symkan fit --out DIR`` keeps the front on disk as the search goes: DIR/equations.csv
is rewritten atomically whenever the Pareto front of the formulas found so far changes,
so that an interrupted fit (Ctrl-C, a killed job) leaves every formula it found in a
complete, readable file. The finished fit then writes its final front (constants refit,
units marked) over it with the other result files."""
from __future__ import annotations

import logging
from pathlib import Path

from ..discovery.streaming import LiveFront
from ..persistence import write_atomically

log = logging.getLogger("symkan.cli")

EQUATIONS = "equations.csv"


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`symkan.persistence.write_atomically`)."""
    write_atomically(Path(path), lambda fh: fh.write(text), binary=False)


class LiveEquations(LiveFront):
    """The ``on_formula`` callback of a CLI fit with ``--out``: the front so far, written
    to ``out/equations.csv`` whenever it changes. A failed write is logged once and the
    fit goes on (the final write reports the problem if it remains)."""

    def __init__(self, out: Path, model_selection: str = "best"):
        super().__init__(self.write)
        self.path = Path(out) / EQUATIONS
        self.failed = False
        self.model_selection = model_selection  # the rule that marks the "best" column

    def write(self, front) -> None:
        front.model_selection = self.model_selection
        try:
            write_text_atomic(self.path, front.to_csv())
        except OSError as err:
            if not self.failed:
                log.warning("could not write the formulas found so far to %s: %s", self.path, err)
            self.failed = True
