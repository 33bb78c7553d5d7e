"""Training: LBFGS or Adam, mini-batches, validation split, early stopping, grid updates,
L1 + entropy sparsification, callbacks and an optional progress bar.

>>> history = fit(model, X, y, steps=50, optimizer="lbfgs", lamb=1e-3)

Deterministic for a given ``seed`` (batches and splits come from a private generator);
the global RNG state is never touched.
"""
from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch

from .checks import check_choice, check_int, check_model_data, check_number
from .regularize import sparsity_penalty
from . import analytic_backward
from .lbfgs import FlatLBFGS, FlatParameters, usable as flat_lbfgs_usable
from . import work
from .sample_weights import check_sample_weight, torch_mean_square

log = logging.getLogger(__name__)

OPTIMIZERS = ("lbfgs", "adam")


@dataclass
class History:
    """Per-step record of a :func:`fit` run. Losses are mean squared errors (no penalty)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    penalty: list[float] = field(default_factory=list)
    seconds: float = 0.0
    best_step: int | None = None
    stopped_early: bool = False

    @property
    def train_rmse(self) -> float:
        return math.sqrt(self.train_loss[-1]) if self.train_loss else float("nan")

    @property
    def val_rmse(self) -> float:
        return math.sqrt(self.val_loss[-1]) if self.val_loss else float("nan")

    def __repr__(self) -> str:
        parts = [f"steps={len(self.train_loss)}", f"train_rmse={self.train_rmse:.3g}"]
        if self.val_loss:
            parts.append(f"val_rmse={self.val_rmse:.3g}")
        return f"History({', '.join(parts)}, seconds={self.seconds:.2f})"


Callback = Callable[[int, History, torch.nn.Module], "bool | None"]


def fit(model, X, y, *, steps: int = 100, optimizer: str = "lbfgs", lr: float | None = None,
        batch_size: int | None = None, lamb: float = 0.0, lamb_l1: float = 1.0, lamb_entropy: float = 2.0,
        val_fraction: float = 0.0, X_val=None, y_val=None, early_stopping: int | None = None,
        update_grid_every: int | None = None, stop_grid_update_step: int | None = None,
        lbfgs_max_iter: int = 20, weight_decay: float = 0.0, seed: int = 0, progress: bool = False,
        callbacks: Iterable[Callback] = (), sample_weight=None, analytic: bool = True) -> History:
    """Train ``model`` in place to map X -> y with the mean squared error.

    Args:
        X: (n, n_inputs) array/tensor/DataFrame; y: (n,) or (n, n_outputs).
        steps: optimiser steps (an LBFGS step runs up to ``lbfgs_max_iter`` iterations).
        optimizer: "lbfgs" (full batch or one fixed mini-batch per step) or "adam".
        lr: learning rate; default 1.0 for LBFGS, 1e-2 for Adam.
        batch_size: mini-batch size; None = full batch.
        lamb, lamb_l1, lamb_entropy: sparsification ``lamb·(λ_l1·Σ|φ|₁ + λ_ent·ΣS)``,
            computed only when lamb > 0.
        val_fraction: hold out this fraction of rows (seeded split) unless X_val/y_val given.
        early_stopping: stop after this many steps without a better validation loss and
            restore the best parameters (needs validation data).
        update_grid_every: for bases with grids, move knots to the data every this many
            steps until ``stop_grid_update_step`` (default: half of ``steps``).
        seed: seeds the private generator for the split and the mini-batches.
        progress: show a tqdm progress bar.
        callbacks: ``cb(step, history, model)`` after every step (all of them, in order);
            any returning True stops training after that step.
        sample_weight: (n,) non-negative weights of the rows of X: every loss (training,
            and validation on rows split off by ``val_fraction``) is the weighted mean
            Σ w·r² / Σ w (:mod:`symkan.sample_weights`); ``X_val``/``y_val`` rows count
            equally. None: the plain mean, as without weights.
        analytic: evaluate the loss and its gradients by the hand-written backward of
            :mod:`symkan.analytic_backward` where the model allows it (B-spline KANs
            without fixed symbolic edges: 2-3x faster for small networks, equal to
            autograd to round-off); False: always autograd.

    Each step is charged on the active work meter (:mod:`symkan.work`), if any, the
    forward + backward passes it may make: an LBFGS step its ``max_eval`` (25 with
    ``lbfgs_max_iter=20``), an Adam step 1.

    Returns: :class:`History`.
    """
    steps = check_int("steps", steps, minimum=0)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    for name, value in (("lamb", lamb), ("lamb_l1", lamb_l1), ("lamb_entropy", lamb_entropy),
                        ("weight_decay", weight_decay)):
        check_number(name, value)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction!r}")
    X, y = check_model_data(model, X, y)
    device = X.device
    w = w_val = None
    if sample_weight is not None:
        if isinstance(sample_weight, torch.Tensor):
            sample_weight = sample_weight.detach().cpu().numpy()
        w = torch.as_tensor(check_sample_weight(sample_weight, X.shape[0]), dtype=X.dtype, device=device)
    gen = torch.Generator().manual_seed(int(seed))

    if X_val is not None or y_val is not None:
        if X_val is None or y_val is None:
            raise ValueError("pass both X_val and y_val, or neither")
        X_val, y_val = check_model_data(model, X_val, y_val, x_name="X_val", y_name="y_val")
    elif val_fraction > 0:
        n_val = int(round(val_fraction * X.shape[0]))
        if n_val < 1 or X.shape[0] - n_val < 1:
            raise ValueError(f"val_fraction={val_fraction} leaves no rows for training or validation "
                             f"with {X.shape[0]} rows")
        perm = torch.randperm(X.shape[0], generator=gen).to(device)
        X_val, y_val = X[perm[:n_val]], y[perm[:n_val]]
        X, y = X[perm[n_val:]], y[perm[n_val:]]
        if w is not None:
            w, w_val = w[perm[n_val:]], w[perm[:n_val]]
    if early_stopping is not None and X_val is None:
        raise ValueError("early_stopping needs validation data (val_fraction > 0 or X_val/y_val)")
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size)

    grid_every = int(update_grid_every) if update_grid_every else 0
    if grid_every and not getattr(model, "supports_grid_update", False):
        log.info("basis %s has no grid; update_grid_every ignored", getattr(model, "basis_name", "?"))
        grid_every = 0
    stop_grid = steps // 2 if stop_grid_update_step is None else int(stop_grid_update_step)

    flat = None  # FlatParameters while LBFGS runs
    max_eval = int(lbfgs_max_iter) * 5 // 4  # torch's default for LBFGS

    def make_optimizer():
        nonlocal flat
        params = [p for p in model.parameters() if p.requires_grad]
        if optimizer == "lbfgs":
            if flat is not None:
                flat.release()
            flat = FlatParameters(params) if FlatParameters.usable(params) else None
            if flat is not None and flat_lbfgs_usable(flat.flat):
                return FlatLBFGS(flat.flat, lr=1.0 if lr is None else lr, max_iter=int(lbfgs_max_iter),
                                 max_eval=max_eval, history_size=10)
            return torch.optim.LBFGS([flat.flat] if flat is not None else params, lr=1.0 if lr is None else lr,
                                     max_iter=int(lbfgs_max_iter), max_eval=max_eval, history_size=10,
                                     line_search_fn="strong_wolfe",
                                     tolerance_grad=1e-32, tolerance_change=1e-32)
        # the fused kernel: one op per parameter instead of ~10 (500 steps of [2, 5, 1]: -0.15 s)
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params) or None
        return torch.optim.Adam(params, lr=1e-2 if lr is None else lr, weight_decay=weight_decay, fused=fused)

    opt = make_optimizer()
    history = History()
    best = (float("inf"), None)
    since_best = 0
    n = X.shape[0]
    use_batches = batch_size is not None and int(batch_size) < n

    engine = None
    if analytic and analytic_backward.supports(model):
        engine = analytic_backward.AnalyticObjective(model, lamb, lamb_l1=lamb_l1, lamb_entropy=lamb_entropy)

    def objective(xb, yb, wb):
        if lamb > 0:
            tr = model.trace(xb)
            mse = torch_mean_square(tr.output - yb, wb)
            pen = sparsity_penalty(tr, lamb_l1=lamb_l1, lamb_entropy=lamb_entropy)
            return mse + lamb * pen, mse, pen
        mse = torch_mean_square(model(xb) - yb, wb)
        return mse, mse, None

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc=f"fit ({optimizer})", leave=False)
    t0 = time.perf_counter()
    model.train()
    try:
        for step in range(steps):
            if grid_every and step % grid_every == 0 and step < stop_grid:
                with torch.no_grad():
                    model.update_grid(X)
                opt = make_optimizer()  # the old curvature/moments refer to the old knots
            if use_batches:
                idx = torch.randperm(n, generator=gen)[: int(batch_size)].to(device)
                xb, yb, wb = X[idx], y[idx], None if w is None else w[idx]
            else:
                xb, yb, wb = X, y, w
            record = {}

            def closure():
                if flat is not None:
                    flat.zero_grad()
                else:
                    opt.zero_grad(set_to_none=True)
                if engine is not None:
                    total, mse, pen = engine(xb, yb, wb)  # gradients written by hand
                else:
                    total, mse, pen = objective(xb, yb, wb)
                    total.backward()
                record["mse"], record["pen"] = mse.detach(), pen
                return total

            # a step is charged what it may evaluate, not what it did: the count stays
            # the same on every machine (the line search's evaluations depend on round-off)
            work.record(max_eval if optimizer == "lbfgs" else 1)
            if optimizer == "lbfgs":
                try:
                    opt.step(closure)
                except IndexError:  # torch's strong-Wolfe search after a non-finite trial loss
                    raise FloatingPointError(f"training diverged at step {step} (the LBFGS line search met a "
                                             "non-finite loss); lower lr or check the data") from None
            else:
                closure()
                opt.step()
            with torch.no_grad():
                train_mse = float(torch_mean_square(model(X) - y, w)) if use_batches else float(record["mse"])
                if not math.isfinite(train_mse):
                    raise FloatingPointError(
                        f"training diverged at step {step} (loss is {train_mse}); lower lr or use optimizer='lbfgs'")
                history.train_loss.append(train_mse)
                history.penalty.append(float(record["pen"]) if record.get("pen") is not None else 0.0)
                if X_val is not None:
                    pred = engine.predict(X_val) if engine is not None else model(X_val)
                    val = float(torch_mean_square(pred - y_val, w_val))
                    history.val_loss.append(val)
                    if val < best[0]:
                        best, since_best = (val, copy.deepcopy(model.state_dict()) if early_stopping else None), 0
                        history.best_step = step
                    else:
                        since_best += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{train_mse:.3e}")
            # every callback sees every step, also the one on which another asks to stop
            stop = any([bool(cb(step, history, model)) for cb in callbacks])
            if early_stopping is not None and since_best >= int(early_stopping):
                history.stopped_early = True
                stop = True
            if stop:
                break
    finally:
        if flat is not None:
            flat.release()
        if bar is not None:
            bar.close()
        model.eval()
    if early_stopping is not None and best[1] is not None:
        model.load_state_dict(best[1])
    history.seconds = time.perf_counter() - t0
    log.debug("fit finished: %s", history)
    return history


def rmse(model, X, y) -> float:
    """Root mean squared error of ``model`` on (X, y)."""
    X, y = check_model_data(model, X, y)
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((model(X) - y) ** 2)))
