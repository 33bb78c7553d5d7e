"""The optional progress bar of a fit (tqdm), over the stages a search reports."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class StageProgress:
    """The optional progress bar of a fit, over the stages the search reports; a context
    manager whose value is the ``on_stage(name)`` callback. ``total``: the most stages
    the search may run; on success the bar ends full at the stages that ran."""

    def __init__(self, show: bool, total: int):
        self.started: list[str] = []
        self.bar = None
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="symkan", leave=False)

    def __enter__(self):
        return self.stage

    def stage(self, name: str) -> None:  # called when a stage starts: the previous one is done
        if self.bar is not None:
            if self.started:
                self.bar.update(1)
            self.bar.set_description(name)
        self.started.append(name)
        log.info("stage: %s", name)

    def __exit__(self, kind, err, tb):
        if self.bar is None:
            return
        if kind is None:
            self.bar.total = len(self.started)  # the stages that ran: the bar ends full
            self.bar.update(len(self.started) - self.bar.n)
            self.bar.set_description("symkan: done")
            self.bar.refresh()
        self.bar.close()
