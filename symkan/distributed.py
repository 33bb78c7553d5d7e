"""Data-parallel training on torch.distributed (DistributedDataParallel + DistributedSampler).

Run a script that calls :func:`fit_distributed` under ``torchrun``::

    torchrun --nproc_per_node=2 train.py          # CPU: gloo; one process per GPU: NCCL

>>> ctx = init_distributed()                     # reads torchrun's RANK/WORLD_SIZE/LOCAL_RANK
>>> history = fit_distributed(model, X, y, steps=200, batch_size=256, lamb=1e-3)

Every rank passes the same ``X`` and ``y``; :class:`torch.utils.data.DistributedSampler`
(shuffled with ``seed``, re-seeded per epoch with ``set_epoch``) gives each rank a disjoint
``batch_size / world_size`` share of every global batch, and DDP averages the gradients
(its all-reduce in backward). Without a process group (a plain ``python`` run) the same code
runs in one process, so one process with ``batch_size = B`` sees the same global batches,
and the same losses, as ``W`` processes with ``B / W`` rows each.

For symkan KANs two batch-level computations are made identical to one process on the
global batch:

* the sparsification penalty (:func:`symkan.regularize.sparsity_penalty`) is a nonlinear
  function of batch statistics (means, spreads, entropies), so the edge activations and
  layer inputs of the local batches are all-gathered (differentiably:
  ``torch.distributed.nn.functional.all_gather``) into the global batch, in the order one
  process would see it, and the penalty is computed on that — every rank gets the same
  value, and the gathers' backward plus DDP's averaging give exactly its gradient;
* grid updates (``update_grid_every``) all-gather the **inputs** of the global batch (not
  their quantiles: the B-spline/ReLU-KAN update also refits the curves by least squares on
  those points, which needs the points), so every rank moves its knots identically; DDP is
  then rebuilt because a grid update may replace parameter tensors.

Only torch.distributed collectives are used. Model parameters start identical on every
rank (DDP broadcasts rank 0's at construction); the global RNG is never touched.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn
import torch.distributed as dist
import torch.distributed.nn.functional as dist_autograd
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from .nn import SymbolicEdges, Trace
from .regularize import sparsity_penalty

LOSSES = ("mse", "cross_entropy")
OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass
class DistributedContext:
    """Where this process stands: ``rank`` of ``world_size``, ``local_rank`` on its node,
    the ``device`` its model belongs on, the process-group ``backend`` (None: single process)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current_context() -> DistributedContext:
    """The context of the initialised default process group (a single-process one if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistributedContext()
    backend = dist.get_backend()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    device = torch.device("cuda", local) if backend == "nccl" else torch.device("cpu")
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local, device, backend)


def init_distributed(backend: str | None = None) -> DistributedContext:
    """Initialise the default process group from torchrun's environment (``RANK``,
    ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``); ``backend`` defaults to "nccl" when CUDA
    is available, "gloo" otherwise (NCCL: the process is bound to GPU ``LOCAL_RANK``).
    Without that environment and without a group: a single-process context. Idempotent."""
    if dist.is_available() and dist.is_initialized():
        return current_context()
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistributedContext()
    if not dist.is_available():
        raise ValueError("this torch build has no torch.distributed support")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise ValueError("backend='nccl' needs CUDA; use backend='gloo' on CPU")
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend)
    return current_context()


@dataclass
class DistributedHistory:
    """Per step: ``loss`` (the data loss of the global batch), ``penalty`` (the sparsification
    penalty, 0 without ``lamb``); ``seconds``, ``world_size``, ``epochs`` (sampler epochs begun)."""

    loss: list[float] = field(default_factory=list)
    penalty: list[float] = field(default_factory=list)
    seconds: float = 0.0
    world_size: int = 1
    epochs: int = 0
    stopped_early: bool = False


class _TracedForward(nn.Module):
    """What DDP wraps when the penalty is on: forward returns the output and, per layer,
    the inputs and edge activations of a symkan KAN's ``trace``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        tr = self.model.trace(x)
        return tr.output, tuple(tr.inputs), tuple(tr.acts)


def _global_rows(t: torch.Tensor, ctx: DistributedContext, group, differentiable: bool) -> torch.Tensor:
    """The global batch from each rank's local rows, in the single-process order: rank r's
    j-th row is row W·j + r of the global batch (DistributedSampler deals indices round robin)."""
    if ctx.world_size == 1:
        return t
    if differentiable:
        with warnings.catch_warnings():  # deprecated for a private successor; public through torch 2.13
            warnings.filterwarnings("ignore", message=".*all_gather is deprecated", category=FutureWarning)
            parts = dist_autograd.all_gather(t, group=group)
    else:
        parts = [torch.empty_like(t) for _ in range(ctx.world_size)]
        dist.all_gather(parts, t.contiguous(), group=group)
    return torch.stack(parts, dim=1).reshape(-1, *t.shape[1:])


def _loss_fn(loss):
    if callable(loss):
        return loss
    if loss == "mse":
        def mse(out, target):
            if out.shape != target.shape:  # (n,) against (n, 1) would broadcast to (n, n)
                raise ValueError(f"model output {tuple(out.shape)} and target {tuple(target.shape)} differ in "
                                 "shape (a 1-D y is read as (n, 1))")
            return torch.mean((out - target) ** 2)
        return mse
    if loss == "cross_entropy":
        return F.cross_entropy
    raise ValueError(f"loss must be one of {LOSSES} or a callable (output, target) -> mean over rows, got {loss!r}")


def _check_number(name, value, low=0.0):
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= low):
        raise ValueError(f"{name} must be a finite number >= {low}, got {value!r}")


def fit_distributed(model: nn.Module, X, y, *, steps: int = 100, batch_size: int | None = None,
                    loss: str | Callable = "mse", optimizer: str = "adam", lr: float | None = None,
                    weight_decay: float = 0.0, lamb: float = 0.0, lamb_l1: float = 1.0, lamb_entropy: float = 2.0,
                    update_grid_every: int | None = None, stop_grid_update_step: int | None = None,
                    seed: int = 0, find_unused_parameters: bool | None = None,
                    callbacks: Iterable[Callable] = ()) -> DistributedHistory:
    """Train ``model`` in place, data-parallel over the default process group (or in one
    process when there is none). Call it on every rank with the same arguments.

    Args:
        model: any ``nn.Module``; moved to the context's device under NCCL.
        X: (n, ...) inputs; y: (n,) or (n, outputs) targets (class indices for cross-entropy).
            The same full tensors on every rank.
        steps: optimiser steps; each uses the next global batch (a new sampler epoch when
            one runs out).
        batch_size: global batch (rows over all ranks; must be divisible by the world size);
            None = all n rows (then n must be divisible by the world size).
        loss: "mse", "cross_entropy" or ``f(output, target)`` returning the mean over rows.
        optimizer, lr, weight_decay: "adam" (default lr 1e-2), "adamw" (1e-3) or "sgd" (1e-2).
        lamb, lamb_l1, lamb_entropy: the KAN sparsification ``lamb·(λ_l1·Σ|φ|₁ + λ_ent·ΣS)``
            on the global batch (needs a model with ``trace``, i.e. a symkan KAN).
        update_grid_every, stop_grid_update_step: move a KAN's knots to the global batch
            every this many steps, before step ``stop_grid_update_step`` (default steps // 2).
        seed: the sampler's shuffling seed (identical on all ranks).
        find_unused_parameters: passed to DDP; default True when the model has symbolic-edge
            parameters (unused until an edge is fixed), else False.
        callbacks: ``cb(step, history, model)`` after every step; any rank's True stops all.

    Returns: :class:`DistributedHistory`.
    """
    ctx = current_context()
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    for name, value in (("lamb", lamb), ("lamb_l1", lamb_l1), ("lamb_entropy", lamb_entropy),
                        ("weight_decay", weight_decay)):
        _check_number(name, value)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS} (LBFGS's line search does not fit "
                         f"data-parallel mini-batches), got {optimizer!r}")
    loss_fn = _loss_fn(loss)
    callbacks = list(callbacks)
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    if X.ndim < 1 or y.ndim < 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X and y need the same number of rows (> 0), got shapes {tuple(X.shape)} and "
                         f"{tuple(y.shape)}")
    n = X.shape[0]
    if batch_size is None:
        batch_size = n
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an integer in [1, {n}] (the rows of X), got {batch_size!r}")
    if batch_size % ctx.world_size:
        raise ValueError(f"the global batch ({batch_size} rows) must be divisible by the world size "
                         f"({ctx.world_size}): every rank takes an equal share")
    if lamb > 0 and not callable(getattr(model, "trace", None)):
        raise ValueError("lamb > 0 needs a symkan KAN (a model with .trace); set lamb=0 for other models")
    grid_every = 0 if not update_grid_every else int(update_grid_every)
    if grid_every and not getattr(model, "supports_grid_update", False):
        raise ValueError("update_grid_every needs a model whose bases support grid updates")
    stop_grid = steps // 2 if stop_grid_update_step is None else int(stop_grid_update_step)

    if ctx.backend == "nccl":
        model.to(ctx.device)
    ref = next(model.parameters())
    X = X.to(device=ref.device, dtype=ref.dtype if X.is_floating_point() else X.dtype)
    if loss == "cross_entropy":
        y = y.to(device=ref.device, dtype=torch.long)
    else:
        y = y.to(device=ref.device, dtype=ref.dtype)
        if loss == "mse" and y.ndim == 1:
            y = y[:, None]
    if find_unused_parameters is None:
        find_unused_parameters = any(isinstance(m, SymbolicEdges) for m in model.modules())
    group = dist.new_group(backend=ctx.backend) if ctx.world_size > 1 and (lamb > 0 or grid_every) else None
    traced = _TracedForward(model) if lamb > 0 else model

    def wrap():
        if ctx.world_size == 1:
            return traced
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        return DistributedDataParallel(traced, device_ids=ids, find_unused_parameters=find_unused_parameters)

    def make_optimizer():
        params = [p for p in model.parameters() if p.requires_grad]
        if optimizer == "sgd":
            return torch.optim.SGD(params, lr=1e-2 if lr is None else lr, weight_decay=weight_decay)
        cls, default = (torch.optim.Adam, 1e-2) if optimizer == "adam" else (torch.optim.AdamW, 1e-3)
        return cls(params, lr=default if lr is None else lr, weight_decay=weight_decay)

    sampler = DistributedSampler(range(n), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                 seed=int(seed), drop_last=True)
    local = batch_size // ctx.world_size
    per_epoch = len(sampler) // local
    net, opt = wrap(), make_optimizer()
    history = DistributedHistory(world_size=ctx.world_size)
    batches: list[torch.Tensor] = []
    t0 = time.perf_counter()
    model.train()
    try:
        for step in range(steps):
            if not batches:
                sampler.set_epoch(history.epochs)
                order = torch.as_tensor(list(sampler), device=X.device)
                batches = list(order[:per_epoch * local].split(local))[::-1]
                history.epochs += 1
            idx = batches.pop()
            xb, yb = X[idx], y[idx]
            if grid_every and step % grid_every == 0 and step < stop_grid:
                with torch.no_grad():
                    model.update_grid(_global_rows(xb, ctx, group, differentiable=False))
                net, opt = wrap(), make_optimizer()  # knots moved (maybe new tensors): fresh DDP and moments
            opt.zero_grad(set_to_none=True)
            if lamb > 0:
                out, inputs, acts = net(xb)
                glob = Trace(inputs=[_global_rows(t, ctx, group, True) for t in inputs],
                             acts=[_global_rows(t, ctx, group, True) for t in acts])
                pen = sparsity_penalty(glob, lamb_l1=lamb_l1, lamb_entropy=lamb_entropy)
            else:
                out, pen = net(xb), None
            data_loss = loss_fn(out, yb)
            (data_loss if pen is None else data_loss + lamb * pen).backward()
            opt.step()
            record = data_loss.detach().reshape(1)
            if ctx.world_size > 1:  # the global batch's mean loss (equal shares: the mean of the means)
                dist.all_reduce(record)
                record /= ctx.world_size
            if not math.isfinite(float(record)):
                raise FloatingPointError(f"training diverged at step {step} (loss {float(record)}); lower lr")
            history.loss.append(float(record))
            history.penalty.append(0.0 if pen is None else float(pen.detach()))
            if callbacks:
                stop = record.new_tensor([float(any([bool(cb(step, history, model)) for cb in callbacks]))])
                if ctx.world_size > 1:  # every rank stops at the same step, or the collectives hang
                    dist.all_reduce(stop, op=dist.ReduceOp.MAX)
                if float(stop) > 0:
                    history.stopped_early = True
                    break
    finally:
        model.eval()
        if group is not None:
            dist.destroy_process_group(group)
    history.seconds = time.perf_counter() - t0
    return history


__all__ = ["DistributedContext", "DistributedHistory", "current_context", "init_distributed", "fit_distributed",
           "LOSSES", "OPTIMIZERS"]
