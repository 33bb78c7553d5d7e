"""A tiny Kolmogorov–Arnold Transformer beside a ViT of the same architecture (GELU MLP) on
scikit-learn's bundled 8×8 digits (1797 images, no download).

    python examples/digits_kat.py                       # one process, CPU
    torchrun --nproc_per_node=2 examples/digits_kat.py  # data-parallel (gloo on CPU)

Three models of the same architecture: the ViT with its usual MLP init (truncated
N(0, 0.02²)), the same ViT with the KAT's variance-preserving MLP init (the control that
separates the init from the rational), and the KAT. Fixed split (25 % test, stratified,
random_state=0); all are built with the same seed and trained identically (AdamW, global batch 64) by :func:`symkan.distributed.fit_distributed`,
which makes the torchrun run train on the same global batches as the one-process run.
Prints parameters, test accuracy and training time per model and seed, and the accuracy of
the trained ViT converted to a KAT by ``kat_from_vit`` before any further training.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from symkan.distributed import fit_distributed, init_distributed
from symkan.models import build_kat, build_vit, kat_from_vit
from symkan.models.kat import count_parameters


def load(split_seed: int = 0):
    """-> (X_train, y_train, X_test, y_test): images (n, 1, 8, 8) standardised with the
    training pixels' mean and std, labels (n,) long."""
    digits = load_digits()
    X = torch.tensor(digits.images, dtype=torch.float32)[:, None]
    y = torch.tensor(digits.target, dtype=torch.long)
    tr, te = train_test_split(range(len(y)), test_size=0.25, stratify=digits.target, random_state=split_seed)
    tr, te = torch.tensor(tr), torch.tensor(te)
    mean, std = X[tr].mean(), X[tr].std()
    return (X[tr] - mean) / std, y[tr], (X[te] - mean) / std, y[te]


@torch.no_grad()
def accuracy(model, X, y) -> float:
    model.eval()
    return float((model(X).argmax(1) == y).float().mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=3, help="model seeds 0..seeds-1")
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ctx = init_distributed()
    X, y, X_test, y_test = load()
    steps = args.epochs * (len(y) // args.batch)
    arch = dict(img_size=8, patch_size=2, in_chans=1, num_classes=10, dim=args.dim, depth=args.depth,
                num_heads=args.heads, mlp_ratio=4.0, pool="mean")
    models = {"ViT (GELU MLP)": (build_vit, {}),
              "ViT, VP-init GELU MLP": (build_vit, {"mlp_init": "variance_preserving"}),
              "KAT (GR-KAN MLP)": (build_kat, {"groups": args.groups})}
    results = {name: [] for name in models} | {"ViT -> KAT, no training": []}
    params = {}
    for seed in range(args.seeds):
        for name, (build, extra) in models.items():
            model = build(seed=seed, **arch, **extra)
            params[name] = count_parameters(model)
            t0 = time.perf_counter()
            fit_distributed(model, X, y, steps=steps, batch_size=args.batch, loss="cross_entropy",
                            optimizer="adamw", lr=args.lr, weight_decay=0.05, seed=seed)
            seconds = time.perf_counter() - t0
            results[name].append((accuracy(model, X_test, y_test), seconds))
            if name == "ViT (GELU MLP)":
                kat = kat_from_vit(model, groups=args.groups)
                params["ViT -> KAT, no training"] = count_parameters(kat)
                with torch.no_grad():
                    logits = model(X_test)
                    gap = (float((kat(X_test) - logits).abs().max()), float(logits.abs().max()))
                results["ViT -> KAT, no training"].append((accuracy(kat, X_test, y_test), gap))
    if not ctx.is_main:
        return
    print(f"digits 8x8: {len(y)} train / {len(y_test)} test images; {args.epochs} epochs of batch {args.batch} "
          f"({steps} steps), {ctx.world_size} process(es), {args.threads} thread(s), seeds 0..{args.seeds - 1}")
    print(f"{'model':26s} {'params':>7s} {'test accuracy (per seed)':>34s} {'mean':>7s} {'train s':>8s}")
    for name, rows in results.items():
        accs = [a for a, _ in rows]
        if "no training" in name:
            tail = (f"  max |logit diff| {max(g for _, (g, _) in rows):.3f} "
                     f"(max |logit| {max(m for _, (_, m) in rows):.1f})")
        else:
            tail = f"{statistics.mean(s for _, s in rows):8.1f}"
        print(f"{name:26s} {params[name]:7d} {' '.join(f'{a:.4f}' for a in accs):>34s} "
              f"{statistics.mean(accs):7.4f} {tail}")


if __name__ == "__main__":
    main()
