"""Pictures of a search's result: the Pareto front (loss against complexity) and the
residuals of a formula on data. Each function returns a matplotlib Figure (nothing is
shown or written); text is at least 9 pt, and a new figure is 8 inches wide (1 200 px
in a PNG at 150 dpi).

The front is any sequence of entries with ``complexity``, ``loss`` and ``formula`` (a
:class:`symkan.pareto.ParetoFront` or a list of its entries): this module sits below
:mod:`symkan.pareto` and reads the entries by those names only.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .checks import check_int, check_names

FONT_PT, TICK_PT, TITLE_PT = 11.0, 10.0, 12.0
#: text of the chosen formula beyond this many characters is cut (with "...")
FORMULA_CHARS = 70
#: inputs shown in their own residual panel, at most
MAX_INPUT_PANELS = 6


def _new_axes(ax, n_panels: int = 1, height: float = 5.0):
    """(figure, list of Axes): ``ax`` (one panel) or a new constrained-layout Figure of
    ``n_panels`` side by side, 8 inches wide (wider above 3 panels)."""
    if ax is not None:
        return ax.figure, [ax]
    fig = Figure(figsize=(max(8.0, 3.2 * n_panels), height), layout="constrained")
    return fig, list(np.atleast_1d(fig.subplots(1, n_panels)))


def _style(ax, xlabel: str, ylabel: str, title: str | None = None):
    ax.set_xlabel(xlabel, fontsize=FONT_PT)
    ax.set_ylabel(ylabel, fontsize=FONT_PT)
    ax.tick_params(labelsize=TICK_PT)
    if title:
        ax.set_title(title, fontsize=TITLE_PT, wrap=True)


def _plain(text) -> str:
    """User text as matplotlib draws it literally ("$" would start mathtext)."""
    return str(text).replace("$", r"\$")


def _formula_text(entry) -> str:
    formula = getattr(entry, "formula", None)
    text = str(getattr(formula, "expr", formula))
    return _plain(text if len(text) <= FORMULA_CHARS else text[:FORMULA_CHARS - 3] + "...")


def plot_front(front, best_index: int, ax=None) -> Figure:
    """The Pareto front: held-out loss (log axis) against complexity, a step line
    through the formulas (each is better than every simpler one), the formula at
    ``best_index`` marked with a star and labelled with its text. A loss of 0 (a
    formula exact on the held-out rows) cannot sit on a log axis: it is drawn at a tenth
    of the smallest positive loss (1e-16 when none is positive) and its label says
    "loss 0".

    Args:
        front: entries with ``complexity``, ``loss``, ``formula`` (at least one).
        best_index: index of the chosen formula in ``front`` (negative counts from the end).
        ax: draw into this Axes; default: a new Figure.
    Artists: the points have gid ``"front"``, the star ``"best"``, its label ``"best_label"``.
    """
    entries = list(front)
    if not entries:
        raise ValueError("front is empty: there is no formula to plot")
    best_index = check_int("best_index", best_index, minimum=-len(entries))
    if best_index >= len(entries):
        raise ValueError(f"best_index must be in [{-len(entries)}, {len(entries)}), got {best_index}")
    best = entries[best_index]
    complexity = np.array([float(e.complexity) for e in entries])
    loss = np.array([float(e.loss) for e in entries])
    if not np.all(np.isfinite(loss)) or np.any(loss < 0):
        raise ValueError("front losses must be finite and >= 0")
    positive = loss[loss > 0]
    floor = positive.min() / 10 if positive.size else 1e-16
    shown = np.where(loss > 0, loss, floor)
    fig, (ax,) = _new_axes(ax)
    ax.step(complexity, shown, where="post", color="0.6", linewidth=1.0, zorder=1)
    ax.plot(complexity, shown, "o", color="tab:blue", markersize=6, zorder=2, gid="front")
    bx, by = float(best.complexity), float(shown[best_index])
    ax.plot([bx], [by], "*", color="tab:red", markersize=16, zorder=3, gid="best", label="chosen formula")
    exact = " (loss 0)" if float(best.loss) == 0 else ""
    # label on the side with more room, so a formula at either end stays inside the axes
    left = bx > (complexity.min() + complexity.max()) / 2
    ax.annotate(f"{_formula_text(best)}{exact}", (bx, by), xytext=(-12 if left else 12, 14),
                textcoords="offset points", ha="right" if left else "left", va="bottom", fontsize=FONT_PT,
                color="tab:red", gid="best_label",
                bbox=dict(boxstyle="round,pad=0.25", facecolor="white", edgecolor="tab:red", alpha=0.9),
                arrowprops=dict(arrowstyle="-", color="tab:red", linewidth=0.8))
    ax.set_yscale("log")
    lo, hi = shown.min(), shown.max()
    ax.set_ylim(lo / 3, hi * 30)  # room above the points for the label
    pad = max(1.0, 0.08 * (complexity.max() - complexity.min()))
    ax.set_xlim(complexity.min() - pad, complexity.max() + pad)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _style(ax, "complexity", "held-out loss (MSE, log scale)", "Pareto front")
    ax.legend(fontsize=TICK_PT, loc="lower left")
    return fig


def _finite_pairs(y_true, y_pred, X):
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"y_true and y_pred must be 1-D of the same non-zero length, got {y_true.size} "
                         f"and {y_pred.size} values")
    if X is not None:
        X = np.asarray(X, dtype=np.float64)
        X = X[:, None] if X.ndim == 1 else X
        if X.ndim != 2 or X.shape[0] != y_true.size:
            raise ValueError(f"X must have one row per value of y ({y_true.size}), got shape {X.shape}")
    keep = np.isfinite(y_true) & np.isfinite(y_pred)
    return y_true[keep], y_pred[keep], None if X is None else X[keep], int((~keep).sum())


def plot_residuals(y_true, y_pred, X=None, names: Sequence[str] | None = None, target: str = "y",
                   bins: int = 30) -> Figure:
    """Residuals y_true − y_pred: against the prediction, as a histogram and — with
    ``X`` — against each input (the first 6). Rows where either value is not finite
    are left out, and the title says how many.

    Args:
        y_true, y_pred: (n,) values.
        X: (n, d) inputs, optional; ``names``: their d names (default x0, x1, ...).
        target: name of y, for the axis labels.
        bins: histogram bins.
    Artists: each scatter has gid ``"residuals"`` (vs prediction) or ``"residuals:k"``
    (vs input k), with one point per finite row.
    """
    bins = check_int("bins", bins, minimum=1)
    y_true, y_pred, X, dropped = _finite_pairs(y_true, y_pred, X)
    if y_true.size == 0:
        raise ValueError("no row has a finite value and a finite prediction")
    if X is not None:
        names = check_names(names, X.shape[1], "names", of="columns") or [f"x{k}" for k in range(X.shape[1])]
    else:
        names = []
    names, target = [_plain(n) for n in names], _plain(target)
    shown = min(len(names), MAX_INPUT_PANELS)
    fig, axes = _new_axes(None, 2 + shown, height=4.2)
    res = y_true - y_pred
    style = dict(s=9, alpha=0.6, color="tab:blue", linewidths=0)
    axes[0].scatter(y_pred, res, gid="residuals", **style)
    _style(axes[0], f"predicted {target}", f"residual ({target} − prediction)")
    axes[1].hist(res, bins=bins, color="tab:blue", alpha=0.8)
    _style(axes[1], "residual", "rows")
    for k in range(shown):
        axes[2 + k].scatter(X[:, k], res, gid=f"residuals:{k}", **style)
        _style(axes[2 + k], names[k], "residual")
    for ax in axes[:1] + axes[2:]:
        ax.axhline(0.0, color="0.4", linewidth=0.8, zorder=0)
    rms = float(np.sqrt(np.mean(res ** 2)))
    note = f"; {dropped} row(s) without a finite prediction left out" if dropped else ""
    more = f"; {len(names) - shown} more input(s) not shown" if len(names) > shown else ""
    fig.suptitle(f"residuals of {target}: {res.size} rows, RMS {rms:.3g}{note}{more}", fontsize=TITLE_PT)
    return fig


__all__ = ["plot_front", "plot_residuals"]
