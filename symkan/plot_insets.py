"""One edge's inset in a network diagram (:func:`symkan.plot.plot_network`): its box,
its curve, the ranges of both axes at the box's ends and the label of a snapped edge;
and where a box or a label goes on an edge without covering the others.

Sizes are in the diagram's data units; :class:`Scale` converts inches to them (the
diagram's Axes has no aspect lock, so x and y units differ)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath

#: font sizes (points): snapped-form labels, axis-range ticks, node names, legend
LABEL_PT, TICK_PT, NAME_PT, LEGEND_PT = 10.0, 9.0, 12.0, 9.0
#: positions along an edge (0 = its input node, 1 = its output) tried for a box or label
SLIDE = (0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8)
#: a box fainter than this gets no range ticks (its edge barely matters)
MIN_TICK_ALPHA = 0.15
_TEXT_PATHS = TextToPath()
_LABEL_BOX = dict(boxstyle="round,pad=0.18", facecolor="white", edgecolor="none", alpha=0.92)


@dataclass
class Scale:
    """Inches per data unit of a diagram's Axes, along x and y."""

    x: float
    y: float

    def text_width(self, text: str, points: float) -> float:
        """Rough width of one line of ``text`` at ``points`` in data units (x)."""
        return text_inches(text, points) / self.x

    def text_height(self, points: float) -> float:
        return 1.35 * points / 72 / self.y


def text_inches(text: str, points: float) -> float:
    """Width in inches of one line of ``text`` in matplotlib's default font at ``points``
    (measured on the glyphs' outlines: no renderer needed)."""
    return _TEXT_PATHS.get_text_width_height_descent(text, FontProperties(size=points), ismath=False)[0] / 72


def fmt(v: float) -> str:
    """A range end: 3 significant digits."""
    return f"{v:.3g}"


def draw_inset(ax, box, xs, ys, alpha, color, gid, scale: Scale, left_room: float | None):
    """Box (cx, cy, w, h) with the curve ys(xs) normalised into it, the x range under its
    bottom corners where both numbers fit in the box's width, and the y range left of its
    top and bottom where they fit in ``left_room`` inches (None: no ranges at all). The
ranges fade with the box (alpha), and a box fainter than ``MIN_TICK_ALPHA`` has none.
    xs, ys: (n,) in display units (xs need not be increasing: a mirrored axis)."""
    cx, cy, w, h = box
    ax.add_patch(Rectangle((cx - w / 2, cy - h / 2), w, h, facecolor="white", edgecolor=color,
                           linewidth=0.7, alpha=alpha, zorder=3, gid=f"box:{gid}"))
    x_lo, x_hi, y_lo, y_hi = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    span_y = y_hi - y_lo
    u = (xs - x_lo) / max(x_hi - x_lo, 1e-300)
    flat = not span_y > 1e-9 * max(1.0, abs(y_hi), abs(y_lo))
    v = np.full_like(ys, 0.5) if flat else (ys - y_lo) / span_y
    px, py = cx - w / 2 + w * (0.08 + 0.84 * u), cy - h / 2 + h * (0.1 + 0.8 * v)
    ax.add_line(Line2D(px, py, color=color, linewidth=1.1, alpha=alpha, zorder=4, gid=f"inset:{gid}"))
    if left_room is None or alpha < MIN_TICK_ALPHA:
        return
    style = dict(fontsize=TICK_PT, color="0.3", alpha=alpha, zorder=5)  # they fade with their box
    pad_x, pad_y = 0.04 / scale.x, 0.03 / scale.y
    bottom, left = cy - h / 2 - pad_y, cx - w / 2 - pad_x
    x_text = (fmt(x_lo), fmt(x_hi))
    if sum(text_inches(t, TICK_PT) for t in x_text) + 0.12 <= w * scale.x:
        ax.text(cx - w / 2, bottom, x_text[0], ha="left", va="top", gid=f"xmin:{gid}", **style)
        ax.text(cx + w / 2, bottom, x_text[1], ha="right", va="top", gid=f"xmax:{gid}", **style)
    y_text = (fmt(y_lo),) if flat else (fmt(y_lo), fmt(y_hi))
    if max(text_inches(t, TICK_PT) for t in y_text) + 0.08 > left_room or h * scale.y < 2.6 * TICK_PT / 72:
        return
    if flat:
        ax.text(left, cy, y_text[0], ha="right", va="center", gid=f"ymin:{gid}", **style)
        return
    ax.text(left, cy + h / 2, y_text[1], ha="right", va="top", gid=f"ymax:{gid}", **style)
    ax.text(left, cy - h / 2, y_text[0], ha="right", va="bottom", gid=f"ymin:{gid}", **style)


def draw_label(ax, x, y, text, alpha, color, gid, va="bottom"):
    """A snapped edge's form on a white box (it covers the line it sits on)."""
    ax.text(x, y, text, fontsize=LABEL_PT, color=color, alpha=max(alpha, 0.45), ha="center", va=va,
            zorder=5, gid=f"label:{gid}", bbox=_LABEL_BOX)


def overlap(a, b) -> float:
    """Overlap area of two boxes (cx, cy, w, h)."""
    dx = min(a[0] + a[2] / 2, b[0] + b[2] / 2) - max(a[0] - a[2] / 2, b[0] - b[2] / 2)
    dy = min(a[1] + a[3] / 2, b[1] + b[3] / 2) - max(a[1] - a[3] / 2, b[1] - b[3] / 2)
    return dx * dy if dx > 0 and dy > 0 else 0.0


def place_on_edge(p0, p1, w: float, h: float, placed: list) -> tuple[float, float]:
    """Centre of a (w, h) box on the segment p0 -> p1 that overlaps the boxes in ``placed``
    least (the midpoint if it is free; otherwise the free position nearest to it; without a
    free one, the least overlapping). Greedy and O(len(placed)) per try: cheap for the
    few dozen insets a thinned diagram has. The chosen box is appended to ``placed``."""
    best, best_cost = None, math.inf
    for t in SLIDE:
        c = (p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1]))
        cost = sum(overlap((c[0], c[1], w, h), b) for b in placed)
        if cost < best_cost:
            best, best_cost = c, cost
        if cost == 0.0:
            break
    placed.append((best[0], best[1], w, h))
    return best


__all__ = ["LABEL_PT", "LEGEND_PT", "NAME_PT", "Scale", "TICK_PT", "draw_inset", "draw_label",
           "fmt", "overlap", "place_on_edge", "text_inches"]
