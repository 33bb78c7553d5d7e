"""Temporarily set torch's intra-op thread count (restored afterwards)."""
from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` intra-op threads; ``None`` leaves the setting alone.

    The networks a formula search trains are tiny (tens of edges): every op is too small
    to split, so extra threads only add synchronisation — on a busy 2-core machine
    LBFGS on a [2, 5, 1] network ran 10× slower with 2 threads than with 1.
    """
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)
