"""A memo for values derived from a module's buffers (knot reciprocals, edge masks).

The hot path of training calls the same layer thousands of times with unchanged buffers;
recomputing what depends only on them costs several tiny ops per call. A
:class:`TensorMemo` recomputes its value whenever one of the source tensors

* is replaced by another tensor (``update_grid``, ``refine``, ``module.to(...)``),
* is edited in place (``copy_``, ``load_state_dict``, ``mask[o, i] = 0``: every in-place
  op moves the tensor's version counter), or
* gets new storage (``set_``).

So it cannot go stale through torch's ordinary APIs. The one way around it is writing
through ``tensor.data`` (which has its own version counter): edit buffers in place under
``torch.no_grad()`` instead. Copies (``copy.deepcopy``) and pickles start empty.
"""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import torch

T = TypeVar("T")


class TensorMemo:
    """``memo.get(sources, compute)``: ``compute()``'s value, cached until a source changes."""

    __slots__ = ("_sources", "_key", "_value")

    def __init__(self):
        self._sources: tuple[torch.Tensor, ...] = ()
        self._key = None
        self._value = None

    def get(self, sources: Sequence[torch.Tensor], compute: Callable[[], T]) -> T:
        try:
            key = tuple((t._version, t.data_ptr()) for t in sources)
        except RuntimeError:  # inference-mode tensors have no version counter: no caching
            return compute()
        if (key == self._key and len(sources) == len(self._sources)
                and all(a is b for a, b in zip(sources, self._sources))):
            return self._value
        value = compute()
        # strong references: a freed source's id / address could be reused by a new tensor
        self._sources, self._key, self._value = tuple(sources), key, value
        return value

    def clear(self) -> None:
        self._sources, self._key, self._value = (), None, None

    def __deepcopy__(self, memo) -> "TensorMemo":
        return TensorMemo()

    def __reduce__(self):
        return (TensorMemo, ())


def module_memo(module: torch.nn.Module, name: str) -> TensorMemo:
    """The memo ``name`` of ``module``, created on first use (also for modules unpickled
    from before the memo existed)."""
    memo = module.__dict__.get(name)
    if memo is None:
        memo = module.__dict__[name] = TensorMemo()
    return memo


__all__ = ["TensorMemo", "module_memo"]
