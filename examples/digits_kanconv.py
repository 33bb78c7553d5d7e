"""KAN convolution networks on scikit-learn's bundled 8×8 digits, beside plain CNNs of similar size.

    python examples/digits_kanconv.py                   # 3 seeds, 40 epochs, 1 thread
    python examples/digits_kanconv.py --out out/ --epochs 5 --seeds 0
    python examples/digits_kanconv.py --select                    # the validation sweep
    python examples/digits_kanconv.py --cv 5 --seeds 0            # 5-fold CV on the training images

Data: ``sklearn.datasets.load_digits`` (1797 images, 8×8, 10 classes; shipped with
scikit-learn, no download), a fixed stratified split (25 % test, ``random_state=0``),
pixels standardised by the training set's mean and standard deviation (one scalar each).

Models (``symkan.models``; ``basis=None`` is the same layout with plain conv → norm → ReLU):

* KAN VGG: two 3×3 KANConv2d stages (10, 20 channels, Chebyshev degree 3, batch norm,
  2×2 max-pool), global average pool, linear head; beside a plain VGG with wider stages
  of about as many parameters;
* bottleneck KAN ResNet: a 3×3 KAN stem, residual bottleneck KAN units (1×1 squeeze →
  3×3 KAN conv → 1×1 expand), a strided bottleneck between two stages (22, 44 channels;
  Chebyshev degree 2, layer norm); beside a plain bottleneck ResNet of about as many
  parameters;
* separable KAN ResNet: the same layout with separable units (plain 1×1 mixing →
  depthwise 3×3 KAN conv, 22, 44 channels); beside the plain separable ResNet.

The KAN configurations were chosen with ``--select``: every candidate (and the plain
models) trained on the training images less 270 held out for validation, seeds 0, 1, 2;
the test images are used only by the default run.

Training: Adam (lr 3e-3), each epoch's shuffled images split into ⌈N/64⌉ mini-batches of
near-equal size (no tiny last batch for batch norm), cross-entropy, ``--epochs`` epochs, the same
data order for every model (a generator seeded by the run's seed), CPU with ``--threads``
intra-op threads. ``--lr``, ``--batch``, ``--weight-decay`` (AdamW), ``--label-smoothing``
and ``--cosine`` change the protocol for every model alike (the defaults were kept after
the validation sweep). The table reports test accuracy (mean and range over the seeds),
parameters and training seconds per run. With ``--out``, the learned functions of the KAN
VGG's second convolution (10 → 20 channels, last seed; the 6 strongest of each) are drawn to
``out/digits_kanconv_functions.png``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from symkan.conv_plot import plot_conv_functions  # noqa: E402
from symkan.models import KANResNet, KANVGG  # noqa: E402

#: the reported models; the plain widths give about as many parameters as the KAN model
#: beside them. The KAN configurations were chosen with ``--select`` (validation split of the
#: training images, never the test images) among CANDIDATES.
MODELS = {
    "KAN VGG (Chebyshev, degree 3)": (KANVGG, dict(widths=(10, 20), basis="chebyshev", degree=3)),
    "plain VGG": (KANVGG, dict(widths=(22, 45), basis=None)),
    "bottleneck KAN ResNet (Chebyshev, degree 2, layer norm)": (KANResNet, dict(widths=(22, 44), basis="chebyshev",
                                                                                degree=2, norm="layer")),
    "plain bottleneck ResNet": (KANResNet, dict(widths=(35, 70), basis=None)),
    "separable KAN ResNet (Chebyshev, degree 3)": (KANResNet, dict(widths=(22, 44), basis="chebyshev", degree=3,
                                                                   bottleneck=False, separable=True)),
    "plain separable ResNet": (KANResNet, dict(widths=(32, 64), basis=None, bottleneck=False, separable=True)),
}
_CHEB3 = dict(basis="chebyshev", degree=3)
_SEPARABLE = dict(bottleneck=False, separable=True)  # plain 1×1 mixing + depthwise KAN units
CANDIDATES = {
    "KAN VGG bspline G=5 on (-2, 2), widths 8, 16": (KANVGG, dict(widths=(8, 16), basis="bspline",
                                                                   grid_range=(-2.0, 2.0))),
    "KAN VGG bspline G=5, widths 8, 16": (KANVGG, dict(widths=(8, 16), basis="bspline")),
    "KAN VGG bspline G=3 on (-2, 2), widths 10, 20": (KANVGG, dict(widths=(10, 20), basis="bspline", grid_size=3,
                                                                    grid_range=(-2.0, 2.0))),
    "KAN VGG bspline G=3 on (-2, 2), widths 9, 17": (KANVGG, dict(widths=(9, 17), basis="bspline", grid_size=3,
                                                                   grid_range=(-2.0, 2.0))),
    "KAN VGG bspline G=3, order 2, on (-2, 2), widths 9, 18": (KANVGG, dict(widths=(9, 18), basis="bspline",
                                                                            grid_size=3, order=2,
                                                                            grid_range=(-2.0, 2.0))),
    "KAN VGG rbf on (-2, 2), widths 8, 16": (KANVGG, dict(widths=(8, 16), basis="rbf", grid_range=(-2.0, 2.0))),
    "KAN VGG chebyshev degree 3, widths 10, 20": MODELS["KAN VGG (Chebyshev, degree 3)"],
    "KAN VGG chebyshev degree 3, widths 8, 24": (KANVGG, dict(widths=(8, 24), **_CHEB3)),
    "KAN VGG chebyshev degree 3, widths 12, 16": (KANVGG, dict(widths=(12, 16), **_CHEB3)),
    "KAN VGG chebyshev degree 4, widths 9, 18": (KANVGG, dict(widths=(9, 18), basis="chebyshev", degree=4)),
    "KAN VGG chebyshev degree 2, widths 12, 24": (KANVGG, dict(widths=(12, 24), basis="chebyshev", degree=2)),
    "KAN VGG chebyshev degree 1, widths 13, 28": (KANVGG, dict(widths=(13, 28), basis="chebyshev", degree=1)),
    "KAN VGG gram degree 3, widths 10, 20": (KANVGG, dict(widths=(10, 20), basis="gram", degree=3)),
    "KAN VGG legendre degree 3, widths 10, 20": (KANVGG, dict(widths=(10, 20), basis="legendre", degree=3)),
    "KAN VGG chebyshev degree 3, widths 10, 20, head dropout 0.2": (KANVGG, dict(widths=(10, 20), dropout=0.2,
                                                                                 **_CHEB3)),
    "KAN VGG chebyshev degree 3, widths 10, 20, head dropout 0.3": (KANVGG, dict(widths=(10, 20), dropout=0.3,
                                                                                 **_CHEB3)),
    "KAN VGG chebyshev degree 3, widths 10, 20, layer norm": (KANVGG, dict(widths=(10, 20), norm="layer", **_CHEB3)),
    "KAN VGG chebyshev degree 3, widths 10, 20, instance norm": (KANVGG, dict(widths=(10, 20), norm="instance",
                                                                              **_CHEB3)),
    "KAN VGG chebyshev degree 3, widths 11, 22, no residual": (KANVGG, dict(widths=(11, 22), residual=False,
                                                                            **_CHEB3)),
    "KAN VGG chebyshev degree 3, 2 convs per stage, widths 6, 12": (KANVGG, dict(widths=(6, 12), convs_per_stage=2,
                                                                                 **_CHEB3)),
    "KAN VGG bottleneck (reduction 2) chebyshev degree 3, widths 18, 36": (
        KANVGG, dict(widths=(18, 36), bottleneck=True, reduction=2, **_CHEB3)),
    "KAN VGG separable chebyshev degree 3, widths 40, 80": (KANVGG, dict(widths=(40, 80), separable=True, **_CHEB3)),
    "KAN VGG separable chebyshev degree 3, 2 convs per stage, widths 22, 44": (
        KANVGG, dict(widths=(22, 44), convs_per_stage=2, separable=True, **_CHEB3)),
    "KAN ResNet bspline G=5 on (-2, 2), widths 16, 32": (KANResNet, dict(widths=(16, 32), basis="bspline",
                                                                         grid_range=(-2.0, 2.0))),
    "KAN ResNet chebyshev degree 3, widths 16, 32": (KANResNet, dict(widths=(16, 32), **_CHEB3)),
    "KAN ResNet chebyshev degree 3, widths 20, 40": (KANResNet, dict(widths=(20, 40), **_CHEB3)),
    "KAN ResNet chebyshev degree 3, reduction 2, widths 11, 22": (KANResNet, dict(widths=(11, 22), reduction=2,
                                                                                  **_CHEB3)),
    "KAN ResNet chebyshev degree 3, no bottleneck, widths 6, 11": (KANResNet, dict(widths=(6, 11), bottleneck=False,
                                                                                   **_CHEB3)),
    "KAN ResNet chebyshev degree 2, widths 22, 44": (KANResNet, dict(widths=(22, 44), basis="chebyshev", degree=2)),
    "KAN ResNet gram degree 2, widths 22, 44": (KANResNet, dict(widths=(22, 44), basis="gram", degree=2)),
    "KAN ResNet chebyshev degree 1, widths 24, 48": (KANResNet, dict(widths=(24, 48), basis="chebyshev", degree=1)),
    "KAN ResNet chebyshev degree 1, widths 24, 48, layer norm": (KANResNet, dict(widths=(24, 48), basis="chebyshev",
                                                                                 degree=1, norm="layer")),
    "KAN ResNet chebyshev degree 2, widths 22, 44, layer norm": MODELS[
        "bottleneck KAN ResNet (Chebyshev, degree 2, layer norm)"],
    "KAN ResNet separable chebyshev degree 3, widths 20, 40": (KANResNet, dict(widths=(20, 40), **_SEPARABLE,
                                                                               **_CHEB3)),
    "KAN ResNet separable chebyshev degree 3, widths 22, 44": MODELS["separable KAN ResNet (Chebyshev, degree 3)"],
    "plain VGG separable, 2 convs per stage, widths 32, 64": (KANVGG, dict(widths=(32, 64), convs_per_stage=2,
                                                                           separable=True, basis=None)),
}
#: validation images split off the training images by --select
N_VALIDATION = 270


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, digits.target, test_size=0.25, random_state=0,
                                              stratify=digits.target)
    mean, std = x_tr.mean(), x_tr.std()
    prep = lambda a: torch.from_numpy((a - mean) / std)[:, None]  # noqa: E731  (N, 1, 8, 8)
    return prep(x_tr), torch.from_numpy(y_tr), prep(x_te), torch.from_numpy(y_te)


def train(model, x, y, epochs: int, seed: int, batch: int = 64, lr: float = 3e-3, weight_decay: float = 0.0,
          label_smoothing: float = 0.0, cosine: bool = False) -> float:
    """Adam on ⌈N/batch⌉ mini-batches of near-equal size per epoch (AdamW on every parameter
    with ``weight_decay`` > 0; the learning rate annealed to 0 on a cosine with ``cosine``);
    returns the wall-clock seconds."""
    opt = (torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay) if weight_decay > 0
           else torch.optim.Adam(model.parameters(), lr=lr))
    # equal-size batches (at most ``batch``): 1347 = 21·64 + 3 would end every epoch on 3
    # images, whose batch-norm statistics can spoil the running averages used at test time
    n_batches = -(-len(x) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * n_batches) if cosine else None
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for idx in torch.tensor_split(order, n_batches):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx], label_smoothing=label_smoothing).backward()
            opt.step()
            if schedule is not None:
                schedule.step()
    return time.perf_counter() - t0


@torch.no_grad()
def accuracy(model, x, y) -> float:
    model.eval()
    return (model(x).argmax(1) == y).float().mean().item()


def run(models: dict, x_tr, y_tr, x_te, y_te, epochs: int, seeds: list[int], what: str, **protocol) -> list:
    """Train every model on every seed (``protocol``: the options of :func:`train`); print one
    table row per model; return the last models."""
    print(f"| model | parameters | {what} accuracy, mean (min–max) | train seconds per run |")
    print("|---|---:|---:|---:|")
    last = []
    for name, (cls, kwargs) in models.items():
        accs, secs = [], []
        for seed in seeds:
            model = cls(1, 10, seed=seed, **kwargs)
            secs.append(train(model, x_tr, y_tr, epochs, seed, **protocol))
            accs.append(accuracy(model, x_te, y_te))
        last.append(model)
        n_par = sum(p.numel() for p in model.parameters())
        print(f"| {name} | {n_par:,} | {100 * np.mean(accs):.1f} % ({100 * min(accs):.1f}–{100 * max(accs):.1f}) "
              f"| {np.mean(secs):.1f} |", flush=True)
    return last


def cross_validate(x, y, folds: int, epochs: int, seed: int, **protocol) -> None:
    """MODELS under ``folds``-fold cross-validation on the training images (x, y) only: one
    permutation (seed 7) cut into disjoint folds, each held out once, model seed ``seed``;
    prints held-out accuracy per fold, its mean and the errors over all folds per model."""
    parts = torch.tensor_split(torch.randperm(len(x), generator=torch.Generator().manual_seed(7)), folds)
    print(f"# digits: {folds}-fold cross-validation on the {len(x)} training images; {epochs} epochs, model seed "
          f"{seed}, protocol {protocol}\n")
    print(f"| model | parameters | held-out accuracy, mean over {folds} folds (per fold) | errors of {len(x)} |")
    print("|---|---:|---:|---:|")
    for name, (cls, kwargs) in MODELS.items():
        accs = []
        for k, held in enumerate(parts):
            fit = torch.cat([p for j, p in enumerate(parts) if j != k])
            model = cls(1, 10, seed=seed, **kwargs)
            train(model, x[fit], y[fit], epochs, seed, **protocol)
            accs.append(accuracy(model, x[held], y[held]))
        errors = sum(round((1 - a) * len(p)) for a, p in zip(accs, parts))
        n_par = sum(p.numel() for p in model.parameters())
        print(f"| {name} | {n_par:,} | {100 * np.mean(accs):.2f} % ({' '.join(f'{100 * a:.1f}' for a in accs)}) "
              f"| {errors} |", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay on every parameter")
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--cosine", action="store_true", help="cosine learning-rate decay to 0 over the run")
    ap.add_argument("--select", action="store_true",
                    help=f"score the CANDIDATES and the plain models on {N_VALIDATION} validation images split off "
                         "the training images (the test images are not used)")
    ap.add_argument("--cv", type=int, default=0, metavar="K",
                    help="K-fold cross-validation of MODELS on the training images (first seed only; no test images)")
    ap.add_argument("--out", default=None, help="folder for the curve plot of the KAN VGG's second convolution")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    x_tr, y_tr, x_te, y_te = load_data()
    protocol = dict(lr=args.lr, batch=args.batch, weight_decay=args.weight_decay,
                    label_smoothing=args.label_smoothing, cosine=args.cosine)
    if args.cv:
        if args.cv < 2:
            ap.error(f"--cv needs at least 2 folds, got {args.cv}")
        cross_validate(x_tr, y_tr, args.cv, args.epochs, seeds[0], **protocol)
        return
    if args.select:
        perm = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(123))
        va, tr = perm[:N_VALIDATION], perm[N_VALIDATION:]
        x_tr, y_tr, x_te, y_te = x_tr[tr], y_tr[tr], x_tr[va], y_tr[va]
    print(f"# digits: {len(x_tr)} train / {len(x_te)} {'validation' if args.select else 'test'} images, 8×8; "
          f"{args.epochs} epochs, seeds {seeds}, {args.threads} thread(s), torch {torch.__version__}")
    print(f"# protocol (every model): lr {args.lr}, batch {args.batch}, weight decay {args.weight_decay}, "
          f"label smoothing {args.label_smoothing}, cosine {args.cosine}")
    print()
    plain = {k: v for k, v in MODELS.items() if k.startswith("plain")}
    models = run({**CANDIDATES, **plain} if args.select else MODELS, x_tr, y_tr, x_te, y_te, args.epochs, seeds,
                 "validation" if args.select else "test", **protocol)
    if args.out and not args.select:
        vgg = models[0]
        conv, pool = vgg.features[2], vgg.features[:2]
        with torch.no_grad():
            vgg.eval()
            inputs = pool(x_tr[:256])  # what the second KAN convolution sees
        fig = plot_conv_functions(conv, inputs, max_channels=6, title="KAN VGG (last seed), second convolution, "
                                  "the 6 strongest input and output channels: sum over the 3×3 kernel positions; "
                                  "opacity tanh(3·score)")
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "digits_kanconv_functions.png")
        fig.savefig(path, dpi=80)
        print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
