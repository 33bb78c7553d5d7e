"""Network diagrams (matplotlib) and a networkx export, for any basis.

Layout: inputs at the bottom, outputs at the top (as in pykan). Node layer l sits at
height l. In a layer with product nodes each product node (circled ×) sits above its
factors (small dots, the sub-nodes its incoming edges end on).

Edges: one ``Line2D`` per edge with alpha = tanh(β·score) and ``gid =
"edge:{l}:{i}:{o}"`` (layer l, input node i, sub-node o: the edge order of the API, see
:class:`symkan.nn.KANLayer`), so the drawn opacities can be read back; its inset, box,
label and range ticks (``xmin``, ``xmax``, ``ymin``, ``ymax``) have the same key.
Colours: black = numeric edge, red = symbolic edge, purple = numeric edge in a layer
where other edges are already symbolic (snapping unfinished there). Masked edges are
drawn with alpha 0.

Insets: each alive edge passes through a box showing its curve, sampled on a grid over
the min..max of that edge's input under X, with both axes' ranges written at the box's
ends (3 significant digits) where they fit. The units of the curves are those of
:mod:`symkan.plot_units`: with ``input_affine`` the first layer's x axes are the
inputs as the user gave them (or their logs, for a log-space network: what the input
labels say); with ``output_affine`` the last layer's y axes are contributions to the
user's y (a lone edge into an output shows y itself); hidden nodes have no user units
and are drawn in network units, each oriented so that its outgoing curves increase.
A snapped edge is labelled with its form c·f(a·x + b) + d in the same units (x is the
inset's horizontal axis), its constants rounded to 3 significant digits, on a white
box above its inset; where that text is wider than the room an edge has, the label is
the function's name. Text is at least 9 pt; the default figure is at least 8 inches
wide (1 200 px at the 150 dpi of the CLI's PNGs) and grows with the widest layer.

Above ``max_insets`` alive edges, edges are drawn as straight lines and only the
``max_insets`` strongest get an inset, placed on the edge (at its midpoint, or slid
along it — strongest edges first — to the nearest spot where it does not overlap an
inset already placed); a legend entry says how many edges have insets. Symbolic edges
without an inset still get their label, on the edge. Everything is vector artists in
one figure; nothing is written to disk.
"""
from __future__ import annotations

from typing import Sequence

import networkx as nx
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .checks import check_choice, check_int, check_kan, check_names, check_number, eval_mode
from .plot_insets import (
    LABEL_PT,
    LEGEND_PT,
    NAME_PT,
    Scale,
    draw_inset,
    draw_label,
    place_on_edge,
    text_inches,
)
from .plot_units import edge_maps, snapped_form
from .scores import EDGE_METHODS, attribution_scores, inout_scores, magnitude_scores, subnode_owner, trace

COLORS = {"numeric": "black", "symbolic": "tab:red", "mixed": "tab:purple"}
_SUB_DROP = 0.16  # how far below a product node its factors sit (layer units)
#: default figure: inches per inset slot of the widest layer, per node layer, and its width limits
SLOT_IN, LAYER_IN, FIG_W_IN = 2.7, 2.6, (8.0, 30.0)
#: largest inset box (inches) and the side margin kept for range ticks (inches)
BOX_IN, MARGIN_IN = (1.4, 0.85), 0.7
#: a thinned-out inset's box (data units)
THIN_H = 0.22


def _scores(model, tr, method: str):
    """(edge scores per layer, node scores per node layer) on the CPU, for 'attribution' or
    'magnitude' (nodes: in/out scores)."""
    if method == "attribution":
        edges, nodes = attribution_scores(model, tr)
    else:
        edges = magnitude_scores(tr)
        nodes = inout_scores(model, edges)
    return [e.cpu() for e in edges], [n.cpu() for n in nodes]


# --- layout ----------------------------------------------------------------------------------
def _layout(model):
    """Positions: nodes[l] (n_nodes, 2), subs[l] (n_subnodes, 2) for l >= 1, plot width."""
    specs = model.specs
    width = max(max(s.n_subnodes for s in specs), 1)
    nodes, subs = [], [None]
    for l, spec in enumerate(specs):
        slots = spec.n_subnodes
        xs = (np.arange(slots) + 0.5) * width / slots
        owner = subnode_owner(spec).numpy()
        node_x = np.array([xs[owner == j].mean() for j in range(spec.n_nodes)])
        nodes.append(np.stack([node_x, np.full(spec.n_nodes, float(l))], 1))
        if l > 0:
            sub_y = np.where(owner >= spec.n_sum, l - _SUB_DROP, float(l))
            subs.append(np.stack([xs, sub_y], 1))
    return nodes, subs, float(width)


# --- drawing ---------------------------------------------------------------------------------
def _edge_kind(layer, o: int, i: int, layer_mixed: bool) -> str:
    if bool(layer.symbolic.fixed[o, i]):
        return "symbolic"
    return "mixed" if layer_mixed else "numeric"


@torch.no_grad()
def _curves(model, tr, n_grid: int):
    """Per layer: (grid (n_grid, in_l), values (n_grid, out_l, in_l)) over each input's observed range."""
    out = []
    with eval_mode(model):
        for layer, x in zip(model.layers, tr.inputs):
            lo, hi = x.min(0).values, x.max(0).values
            t = torch.linspace(0.0, 1.0, n_grid, dtype=x.dtype, device=x.device)[:, None]
            grid = lo[None] + (hi - lo)[None] * t
            out.append((grid.cpu().numpy(), layer.edge_activations(grid).cpu().numpy()))
    return out


def _thin_box_w(width: float, in_features: int) -> float:
    return min(0.5, 0.35 * width / max(in_features, 1))


def _canvas(ax, figsize, width: float, n_layers: int, slots, title):
    """(figure, Axes, Scale, x margin): a new constrained-layout Figure sized for the
    diagram (``slots``: alive edges per layer when every edge has an inset, else None)
    unless ``ax`` or ``figsize`` is given. The x margin (data units) leaves room for the
    range ticks left of the first inset."""
    title_in = 0.45 if title else 0.0
    if ax is None:
        if figsize is None:
            content = SLOT_IN * max(slots) if slots else 2.0 + 1.1 * width
            fig_w = min(max(content + 2 * MARGIN_IN, FIG_W_IN[0]), FIG_W_IN[1])
            fig_h = 0.9 + LAYER_IN * n_layers + title_in
            figsize = (fig_w, fig_h if slots else max(fig_h, 0.4 * fig_w))
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
        ax_w, ax_h = figsize[0] - 0.15, figsize[1] - 0.15 - title_in
    else:
        fig = ax.figure
        pos = ax.get_position()
        ax_w, ax_h = pos.width * fig.get_figwidth(), pos.height * fig.get_figheight()
    ax_w, ax_h = max(ax_w, 0.5), max(ax_h, 0.5)
    margin = max(0.1, MARGIN_IN * width / max(ax_w - 2 * MARGIN_IN, 0.3 * ax_w))
    return fig, ax, Scale(ax_w / (width + 2 * margin), ax_h / (n_layers + 0.9)), margin


def _label_text(layer, maps, o: int, i: int, xs, ys, room_in: float) -> str:
    """A snapped edge's form in display units (its curve: xs, ys (n,)), or its
    function's name when the form is wider than ``room_in`` inches."""
    name = layer.symbolic.function_name(o, i)
    a, b, c, d = (float(v) for v in layer.symbolic.affine[o, i].detach().cpu())
    form = snapped_form(name, *maps.constants(a, b, c, d, o, i), x_range=(float(xs.min()), float(xs.max())),
                        y_span=float(np.ptp(ys)))
    return form if text_inches(form, LABEL_PT) + 0.08 <= room_in else name


def plot_network(model, X, beta: float = 3.0, in_names: Sequence[str] | None = None,
                 out_names: Sequence[str] | None = None, ax=None, *, method: str = "attribution",
                 max_insets: int = 64, n_grid: int = 48, title: str | None = None,
                 figsize: tuple[float, float] | None = None, input_affine=None, output_affine=None) -> Figure:
    """Draw the network; returns the matplotlib Figure (nothing is shown or saved).

    Args:
        model: a :class:`symkan.KAN`.
        X: (batch, n_inputs) data for the scores and the ranges of the inset curves.
        beta: edge opacity is tanh(beta · score).
        in_names / out_names: labels under the inputs / over the outputs.
        ax: draw into this Axes (its figure is returned); default: a new Figure.
        method: edge scores, ``"attribution"`` or ``"magnitude"``.
        max_insets: above this many alive edges only the strongest ``max_insets`` get
            a curve inset (0: none), placed on their edges without overlapping where
            possible; a legend entry says so, and symbolic edges keep their labels.
        n_grid: points per inset curve.
        title: drawn above the diagram (wrapped to the figure's width).
        figsize: (width, height) inches of a new figure; default: sized for the diagram.
        input_affine: (shift, scale), scalars or (n_inputs,) each, of the inputs'
            standardisation (the network takes (x − shift) / scale): the first layer's
            curves and labels are then in the units of x. Edges of later layers stay in
            network units (hidden nodes have no user units).
        output_affine: (shift, scale), scalars or (n_outputs,), of the output's
            standardisation (y = shift + scale · network output): edges into a sum
            output node then show their contribution to y in y's units.
    """
    check_kan(model)
    check_choice("method", method, EDGE_METHODS)
    beta = check_number("beta", beta)
    max_insets = check_int("max_insets", max_insets, minimum=0)
    n_grid = check_int("n_grid", n_grid, minimum=2)
    in_names = check_names(in_names, model.n_inputs, "in_names")
    out_names = check_names(out_names, model.n_outputs, "out_names", of="outputs")
    tr = trace(model, X)
    edge_sc, node_sc = _scores(model, tr, method)
    maps = edge_maps(model, tr, input_affine, output_affine)
    curves = _curves(model, tr, n_grid)
    nodes, subs, width = _layout(model)
    n_layers = len(model.layers)

    alive_edges = []  # (score, l, o, i)
    for l, layer in enumerate(model.layers):
        s = edge_sc[l].cpu()
        alive_edges += [(float(s[o, i]), l, o, i) for o, i in torch.nonzero(layer.mask.cpu() > 0).tolist()]
    full = len(alive_edges) <= max_insets
    slots = [max(int((layer.mask > 0).sum()), 1) for layer in model.layers] if full else None
    fig, ax, scale, margin = _canvas(ax, figsize, width, n_layers, slots, title)
    if full:
        with_inset = {(l, o, i) for _, l, o, i in alive_edges}
    else:
        with_inset = {(l, o, i) for _, l, o, i in sorted(alive_edges, key=lambda e: -e[0])[:max_insets]}
    kinds_used = _draw_edges(ax, model, edge_sc, maps, curves, nodes, subs, width, beta, scale, with_inset,
                             full, [e for e in sorted(alive_edges, key=lambda e: -e[0])
                                    if (e[1], e[2], e[3]) in with_inset])
    node_kinds_used = _draw_nodes(ax, model, nodes, subs, node_sc, beta)
    if in_names:
        for j, name in enumerate(in_names):
            ax.text(nodes[0][j][0], -0.14, name, ha="center", va="top", fontsize=NAME_PT)
    if out_names:
        for j, name in enumerate(out_names):
            ax.text(nodes[-1][j][0], n_layers + 0.12, name, ha="center", va="bottom", fontsize=NAME_PT)
    has_legend = _legend(ax, kinds_used, node_kinds_used, full, len(with_inset), len(alive_edges))
    ax.set_xlim(-margin, width + margin)
    ax.set_ylim(-0.45, n_layers + (0.7 if has_legend else 0.45))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=NAME_PT, wrap=True)
    return fig


def _draw_edges(ax, model, edge_sc, maps, curves, nodes, subs, width, beta, scale, with_inset, full, ranked):
    """Every edge's line, and for alive edges its inset and label. Returns the kinds of
    the alive edges ("numeric", "symbolic", "mixed")."""
    thin_pos, placed = {}, []  # thinned mode: (l, o, i) -> inset centre on the edge
    if not full:
        for _, l, o, i in ranked:  # strongest first: they get the midpoints
            w = _thin_box_w(width, model.layers[l].in_features)
            thin_pos[(l, o, i)] = place_on_edge(nodes[l][i], subs[l + 1][o], w, THIN_H, placed)
    kinds_used, no_inset_labels = set(), []  # symbolic edges drawn without an inset
    for l, layer in enumerate(model.layers):
        alive = layer.mask.cpu() > 0
        fixed = layer.symbolic.fixed.cpu() & alive
        layer_mixed = bool(fixed.any()) and bool((alive & ~fixed).any())
        # pykan-style row of boxes between the layers, one slot per alive edge ordered by (in, out)
        order = sorted((i, o) for o, i in torch.nonzero(alive).tolist())
        slot = {(o, i): k for k, (i, o) in enumerate(order)}
        slot_w = width / max(len(order), 1)
        if full:
            bw = min(0.62 * slot_w * scale.x, BOX_IN[0]) / scale.x
            bh = min(BOX_IN[1], 0.33 * scale.y) / scale.y
            room_in = slot_w * scale.x - 0.1
            tick_room = (slot_w - bw) * scale.x  # the gap to the box on the left
        else:  # thinned insets sit anywhere on their edges: no room kept for range ticks
            bw, bh, room_in, tick_room = _thin_box_w(width, layer.in_features), THIN_H, 2.4, None
        grid, vals = curves[l]
        for o in range(layer.out_features):
            for i in range(layer.in_features):
                is_alive = bool(alive[o, i])
                alpha = float(np.tanh(beta * float(edge_sc[l][o, i]))) if is_alive else 0.0
                kind = _edge_kind(layer, o, i, layer_mixed)
                color = COLORS[kind]
                (x0, y0), (x1, y1) = nodes[l][i], subs[l + 1][o]
                gid = f"{l}:{i}:{o}"
                if full and is_alive:
                    cx, cy = (slot[(o, i)] + 0.5) * slot_w, l + 0.5
                    # broken at the box (NaN) so the line does not show through it
                    px, py = [x0, cx, np.nan, cx, x1], [y0, cy - bh / 2, np.nan, cy + bh / 2, y1]
                else:
                    cx, cy = thin_pos.get((l, o, i), ((x0 + x1) / 2, (y0 + y1) / 2))
                    px, py = [x0, x1], [y0, y1]
                ax.add_line(Line2D(px, py, color=color, linewidth=1.0, alpha=alpha, zorder=1,
                                   gid=f"edge:{gid}", solid_capstyle="round"))
                if not is_alive:
                    continue
                kinds_used.add(kind)
                xs, ys = maps[l].curve(grid[:, i], vals[:, o, i], o, i)
                label = _label_text(layer, maps[l], o, i, xs, ys, room_in) if kind == "symbolic" else None
                if (l, o, i) in with_inset:
                    draw_inset(ax, (cx, cy, bw, bh), xs, ys, alpha, color, gid, scale, tick_room)
                    if label:
                        draw_label(ax, cx, cy + bh / 2 + 0.05 / scale.y, label, alpha, COLORS["symbolic"], gid)
                elif label:  # no room for a curve, but a snapped edge always says what it is
                    no_inset_labels.append((l, o, i, label, alpha))
    # labels of symbolic edges without an inset: on the edge, clear of the insets if possible
    for l, o, i, text, alpha in no_inset_labels:
        x, y = place_on_edge(nodes[l][i], subs[l + 1][o], scale.text_width(text + "  ", LABEL_PT),
                             scale.text_height(LABEL_PT), placed)
        draw_label(ax, x, y, text, alpha, COLORS["symbolic"], f"{l}:{i}:{o}", va="center")
    return kinds_used


def _draw_nodes(ax, model, nodes, subs, node_sc, beta) -> set:
    """Node markers (sum: dot, product: circled ×) and product factors; returns the
    node kinds drawn."""
    used = set()
    for l, spec in enumerate(model.specs):
        for j in range(spec.n_nodes):
            x, y = nodes[l][j]
            is_prod = j >= spec.n_sum
            kind = "input" if l == 0 else ("product" if is_prod else "sum")
            used.add("product" if is_prod else "sum")
            # unimportant nodes fade (never fully: the structure stays visible)
            n_alpha = max(float(np.tanh(beta * float(node_sc[l][j]))), 0.2)
            if is_prod:
                ax.add_line(Line2D([x], [y], marker="o", markersize=13, markerfacecolor="white",
                                   markeredgecolor="black", linestyle="none", alpha=n_alpha, zorder=6,
                                   gid=f"node:{l}:{j}", label=kind))
                ax.text(x, y, "×", ha="center", va="center", fontsize=11, alpha=n_alpha, zorder=7)
            else:
                ax.add_line(Line2D([x], [y], marker="o", markersize=6, color="black", linestyle="none",
                                   alpha=n_alpha, zorder=6, gid=f"node:{l}:{j}", label=kind))
        if l > 0 and spec.arities:
            owner = subnode_owner(spec).numpy()
            for o in range(spec.n_subnodes):
                if owner[o] < spec.n_sum:
                    continue
                (sx, sy), (nx_, ny) = subs[l][o], nodes[l][owner[o]]
                ax.add_line(Line2D([sx, nx_], [sy, ny], color="0.4", linewidth=0.8, zorder=5))
                ax.add_line(Line2D([sx], [sy], marker="o", markersize=3, color="0.3", linestyle="none",
                                   zorder=6, gid=f"subnode:{l}:{o}"))
    return used


def _legend(ax, kinds_used, node_kinds_used, full: bool, n_insets: int, n_alive: int) -> bool:
    """The legend of edge colours, node kinds and thinned insets; whether one was drawn."""
    handles = [Line2D([], [], color=COLORS[k], label=k if k != "mixed" else "numeric (layer partly symbolic)")
               for k in ("numeric", "symbolic", "mixed") if k in kinds_used]
    if "product" in node_kinds_used:
        handles += [Line2D([], [], marker="o", color="black", linestyle="none", markersize=6, label="sum node"),
                    Line2D([], [], marker=r"$\otimes$", color="black", linestyle="none", markersize=10,
                           label="product node")]
    note = None
    if not full:  # say in the legend that insets were thinned out
        note = (f"insets thinned: curves for the {n_insets} strongest of {n_alive} edges"
                if n_insets else f"insets off: {n_alive} edges (max_insets=0)")
        handles.append(Patch(facecolor="white", edgecolor="0.4", linewidth=0.6, label=note))
    if len(handles) <= 1 and not note:
        return False
    leg = ax.legend(handles=handles, loc="upper left", fontsize=LEGEND_PT, frameon=False)
    if note:
        leg.get_texts()[-1].set_gid("note")
    return True


def to_networkx(model, X, method: str = "attribution", in_names: Sequence[str] | None = None,
                out_names: Sequence[str] | None = None) -> nx.DiGraph:
    """The network as a ``networkx.DiGraph``.

    Nodes: ``(l, j)`` for node j of node layer l, with attributes ``layer``, ``kind``
    ("input", "sum" or "product"), ``score`` (node score: attribution, or the KAN
    paper's in/out score for ``method="magnitude"``), ``output`` (bool), ``name`` for
    named inputs/outputs and ``arity`` for product nodes. A product node's factors are
    extra nodes ``(l, j, k)`` (k-th factor) of kind "subnode", linked to it by edges of
    kind "factor".

    Edges (kind "edge"): one per KAN edge, alive or not, from ``(l, i)`` to the node
    (or factor) fed by sub-node o of layer l, with attributes ``layer``, ``out`` (=o),
    ``in`` (=i), ``score``, ``alive`` (mask) and ``symbolic`` (function name or None).
    """
    check_kan(model)
    check_choice("method", method, EDGE_METHODS)
    in_names = check_names(in_names, model.n_inputs, "in_names")
    out_names = check_names(out_names, model.n_outputs, "out_names", of="outputs")
    tr = trace(model, X)
    edge_sc, node_sc = _scores(model, tr, method)
    g = nx.DiGraph()
    last = len(model.specs) - 1
    targets = []  # per node layer l >= 1: graph key of each sub-node
    for l, spec in enumerate(model.specs):
        owner = subnode_owner(spec).tolist()
        for j in range(spec.n_nodes):
            attrs = {"layer": l, "index": j, "score": float(node_sc[l][j]), "output": l == last,
                     "kind": "input" if l == 0 else ("product" if j >= spec.n_sum else "sum")}
            if j >= spec.n_sum:
                attrs["arity"] = spec.arities[j - spec.n_sum]
            if l == 0 and in_names:
                attrs["name"] = in_names[j]
            if l == last and out_names:
                attrs["name"] = out_names[j]
            g.add_node((l, j), **attrs)
        keys, seen = [], {}
        for o, j in enumerate(owner):
            if j < spec.n_sum:
                keys.append((l, j))
                continue
            k = seen.get(j, 0)
            seen[j] = k + 1
            g.add_node((l, j, k), layer=l, index=j, factor=k, kind="subnode", score=float(node_sc[l][j]),
                       output=False)
            g.add_edge((l, j, k), (l, j), kind="factor", alive=True, score=float(node_sc[l][j]), symbolic=None)
            keys.append((l, j, k))
        targets.append(keys)
    for l, layer in enumerate(model.layers):
        mask = layer.mask.cpu() > 0
        for o in range(layer.out_features):
            for i in range(layer.in_features):
                g.add_edge((l, i), targets[l + 1][o], kind="edge", layer=l, out=o, **{"in": i},
                           score=float(edge_sc[l][o, i]), alive=bool(mask[o, i]),
                           symbolic=layer.symbolic.function_name(o, i))
    return g


__all__ = ["plot_network", "to_networkx"]
