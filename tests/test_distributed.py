"""Data-parallel training: 2 gloo processes (spawned here, CPU) end with the parameters of one
process on the same global batches — for a KAN with the sparsification penalty and grid
updates, and for a tiny KAT with cross-entropy — plus argument checks."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from symkan.distributed import current_context, fit_distributed, init_distributed
from symkan.models import build_kat
from symkan.nn import KAN

#: float64 training; the only differences are the order of the gradient sums (DDP sums two
#: half-batch gradients, one process sums the whole batch): measured max |Δparameter| 3.5e-14
#: (KAN, parameters of size ~1) and 4.1e-15 (KAT) after the runs below
RTOL, ATOL = 1e-9, 1e-12


def kan_run():
    """[2, 3, 1] B-spline KAN, 64 rows, global batch 32 (two epochs in 4 steps), penalty on,
    grid updates at steps 0 and 3."""
    g = torch.Generator().manual_seed(0)
    X = torch.rand(64, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.exp(torch.sin(math.pi * X[:, 0]) + X[:, 1] ** 2)
    model = KAN([2, 3, 1], basis="bspline", seed=0).double()
    hist = fit_distributed(model, X, y, steps=6, batch_size=32, lr=2e-2, lamb=1e-2, update_grid_every=3,
                           stop_grid_update_step=6, seed=1)
    return model, hist


def kat_run():
    """A one-block KAT on 4×4 one-channel images, 3 classes, global batch 16, cross-entropy."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(32, 1, 4, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=g)
    model = build_kat(img_size=4, patch_size=2, in_chans=1, num_classes=3, dim=8, depth=1, num_heads=2,
                      groups=2).double()
    hist = fit_distributed(model, X, y, steps=4, batch_size=16, loss="cross_entropy", lr=1e-2, seed=2)
    return model, hist


def _worker(rank: int, world: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        ctx = init_distributed()  # already initialised: returns the context
        assert (ctx.rank, ctx.world_size, ctx.backend) == (rank, world, "gloo")
        for name, run in (("kan", kan_run), ("kat", kat_run)):
            model, hist = run()
            torch.save({"state": model.state_dict(), "loss": hist.loss, "penalty": hist.penalty,
                        "world": hist.world_size}, Path(out) / f"{name}_{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    """Spawns 2 processes (~10 s on a busy 2-core machine, mostly imports)."""
    mp.spawn(_worker, args=(2, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2, join=True)
    for name, run in (("kan", kan_run), ("kat", kat_run)):
        model, hist = run()  # no process group: one process, the whole global batch
        ranks = [torch.load(tmp_path / f"{name}_{r}.pt") for r in range(2)]
        assert hist.world_size == 1 and all(r["world"] == 2 for r in ranks)
        for r in ranks:
            assert r["loss"] == pytest.approx(hist.loss, rel=RTOL)
            assert r["penalty"] == pytest.approx(hist.penalty, rel=RTOL)
            for key, value in model.state_dict().items():
                torch.testing.assert_close(r["state"][key], value, rtol=RTOL, atol=ATOL, msg=f"{name}: {key}")
        if name == "kan":  # the grid updates and the penalty did run
            fresh = KAN([2, 3, 1], basis="bspline", seed=0).double()
            assert not torch.equal(model.layers[0].basis.grid, fresh.layers[0].basis.grid)
            assert min(hist.penalty) > 0


# --- single process -----------------------------------------------------------------------
def test_single_process_context_and_training():
    ctx = current_context()
    assert (ctx.rank, ctx.world_size, ctx.backend, ctx.is_main) == (0, 1, None, True)
    model, hist = kat_run()
    assert len(hist.loss) == 4 and hist.epochs == 2 and hist.world_size == 1
    assert all(math.isfinite(v) for v in hist.loss) and hist.penalty == [0.0] * 4


def test_single_process_is_fit_on_the_sampler_batches():
    """One process, batch B: step k trains on rows perm[kB:(k+1)B] of the sampler's
    permutation — checked against a hand-written Adam loop on those rows."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(12, 3, generator=g, dtype=torch.float64)
    y = torch.randn(12, generator=g, dtype=torch.float64)
    a = torch.nn.Linear(3, 1).double()
    b = torch.nn.Linear(3, 1).double()
    b.load_state_dict(a.state_dict())
    fit_distributed(a, X, y, steps=5, batch_size=4, lr=1e-2, seed=7)
    opt = torch.optim.Adam(b.parameters(), lr=1e-2)
    step = 0
    for epoch in range(2):
        perm = torch.randperm(12, generator=torch.Generator().manual_seed(7 + epoch))
        for k in range(3):
            if step == 5:
                break
            idx = perm[4 * k:4 * k + 4]
            opt.zero_grad()
            torch.mean((b(X[idx]) - y[idx, None]) ** 2).backward()
            opt.step()
            step += 1
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_callback_stops():
    model = torch.nn.Linear(2, 1)
    hist = fit_distributed(model, torch.randn(8, 2), torch.randn(8), steps=10,
                           callbacks=[lambda step, h, m: step == 2])
    assert len(hist.loss) == 3 and hist.stopped_early


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=-1), "steps"), (dict(batch_size=0), "batch_size"), (dict(batch_size=9), "batch_size"),
    (dict(optimizer="lbfgs"), "optimizer"), (dict(loss="hinge"), "loss"), (dict(lamb=-1.0), "lamb"),
    (dict(lamb=1e-3), "trace"), (dict(update_grid_every=2), "grid"), (dict(weight_decay=float("nan")), "weight_decay")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_distributed(torch.nn.Linear(2, 1), torch.randn(8, 2), torch.randn(8), **kwargs)


def test_mismatched_rows_and_shapes():
    with pytest.raises(ValueError, match="same number of rows"):
        fit_distributed(torch.nn.Linear(2, 1), torch.randn(8, 2), torch.randn(7))
    with pytest.raises(ValueError, match="differ in shape"):
        fit_distributed(torch.nn.Linear(2, 2), torch.randn(8, 2), torch.randn(8), steps=1)
