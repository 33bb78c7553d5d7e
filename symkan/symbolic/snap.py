"""Snapping a trained KAN to symbolic edges: :func:`auto_snap`, :func:`fix`, :func:`unfix`,
:func:`suggest`.

Edges are addressed as in pykan: layer ``l``, input node ``i``, output (sub-)node ``j``
(the layer's tensors are indexed ``[j, i]``).

auto_snap, layer by layer (inner layers first, so outer edges are fitted on the
*snapped* values of the layers before them):

1. trace the current network on X; fit every alive, not yet symbolic edge of the layer
   to every library function at once (:func:`symkan.symbolic.fitting.fit_edges`);
2. rank candidates per edge (:mod:`symkan.symbolic.select`), snap each edge to its
   best one and move its offset into the node bias;
3. refit jointly, in float64 with LBFGS on the whole-network loss, every symbolic
   constant and bias so far plus the numeric parameters of the later layers (they
   adapt to their new inputs before being snapped in turn);
4. if the loss is worse than the numeric network's by more than ``retry_tol``, find
   the edges whose snap hurts most (the loss gain when that edge alone gets its
   numeric shape back) and try their next candidates, each judged by the
   whole-network loss after a joint refit; keep the best.

A final joint refit of all constants follows. Edges whose inputs are constant on X
(e.g. fed by a dead node) are snapped to the constant "0" edge (their value goes to
the bias). An untrained network snaps like any other (to whatever its random edges
resemble); the result is always finite.
"""
from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..checks import check_edge, check_int, check_kan, check_model_data, check_number, eval_mode
from ..functions.library import get_function, resolve_functions
from ..nn.kan import combine_nodes
from ..sample_weights import torch_mean_square, torch_weighted_var
from .fitting import CHUNK_ELEMENTS, fit_edges
from .refit import domain_violations, fold_offsets, joint_refit, mse
from .select import ACCURACY_FLOOR, COMPLEXITY_WEIGHT, Suggestions, candidates_for, ranking, selection_scores

log = logging.getLogger(__name__)


@dataclass
class EdgeChoice:
    """The function an edge was snapped to, with its final constants."""

    layer: int
    i: int
    j: int
    name: str
    params: tuple[float, float, float, float]
    r2: float
    candidates: Suggestions

    def __repr__(self) -> str:
        a, b, c, d = self.params
        return f"EdgeChoice(({self.layer},{self.i},{self.j}) {self.name}: a={a:.4g} b={b:.4g} c={c:.4g} d={d:.4g})"


@dataclass
class SnapResult:
    """What :func:`auto_snap` returns.

    ``model``: the snapped network (a float64 copy; the input model is untouched);
    ``choices``: one :class:`EdgeChoice` per snapped edge; ``loss_numeric`` /
    ``loss_snapped``: mean squared error on (X, y) of the numeric network and of the
    snapped one after the final joint refit; ``formula``: the :class:`Formula`
    (None when ``formula=False``); ``history``: (stage, loss) pairs; ``seconds``.
    """

    model: torch.nn.Module
    choices: list[EdgeChoice]
    loss_numeric: float
    loss_snapped: float
    formula: object = None
    history: list[tuple[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def choice(self, l: int, i: int, j: int) -> EdgeChoice:
        for c in self.choices:
            if (c.layer, c.i, c.j) == (l, i, j):
                return c
        raise KeyError(f"edge ({l}, {i}, {j}) was not snapped")

    def __repr__(self) -> str:
        lines = [f"SnapResult(loss numeric={self.loss_numeric:.4g}, snapped={self.loss_snapped:.4g}, "
                 f"{len(self.choices)} edges, {self.seconds:.2f} s)"]
        for c in self.choices:
            lines.append(f"  {c!r}")
        if self.formula is not None:
            lines.append(f"  formula: {self.formula}")
        return "\n".join(lines)


# --- helpers ---------------------------------------------------------------------------
def _node_scale(sub: torch.Tensor, spec) -> torch.Tensor:
    """(out,) variance of sum sub-nodes, mean square of product factors."""
    scale = sub.var(0, unbiased=False)
    if spec.arities:
        scale[spec.n_sum:] = sub[:, spec.n_sum:].pow(2).mean(0)
    return scale


def _rows(n: int, max_samples: int) -> torch.Tensor:
    return torch.linspace(0, n - 1, min(n, max_samples)).round().long()


def _fit_layer(model, l, edges, X, functions, k, complexity_weight, floor, max_samples, chunk_elements):
    """Fit the numeric edges ``edges`` ([(o, i)]) of layer l on the current network's values.
    Returns a list of Suggestions (one per edge)."""
    layer, spec = model.layers[l], model.specs[l + 1]
    with torch.no_grad():
        tr = model.trace(X)
        xin = tr.inputs[l]
        num = layer.numeric_edge_activations(xin)
        scale = _node_scale(tr.subnodes[l], spec)
    o_idx = torch.tensor([e[0] for e in edges], dtype=torch.long, device=xin.device)
    i_idx = torch.tensor([e[1] for e in edges], dtype=torch.long, device=xin.device)
    rows = _rows(xin.shape[0], max_samples).to(xin.device)
    xe = xin[rows][:, i_idx].T.detach().to("cpu", torch.float64)
    ye = num[rows][:, o_idx, i_idx].T.detach().to("cpu", torch.float64)
    rng = (xin.min(0).values[i_idx].detach().to("cpu", torch.float64),
           xin.max(0).values[i_idx].detach().to("cpu", torch.float64))
    fits = fit_edges(xe, ye, functions, x_range=rng, chunk_elements=chunk_elements)
    scores = selection_scores(fits, scale[o_idx].detach().to("cpu", torch.float64), complexity_weight, floor)
    order = ranking(scores, fits.complexity)
    return [candidates_for(fits, scores, order, e, k, (l, i, o)) for e, (o, i) in enumerate(edges)]


def _set_edge(layer, o, i, cand) -> None:
    layer.symbolic.set(o, i, cand.name, *cand.params)


def _tail_loss(model, l, sub, y, w=None) -> float:
    x = combine_nodes(sub, model.specs[l + 1])
    for layer, spec in zip(model.layers[l + 1:], model.specs[l + 2:]):
        x = combine_nodes(layer(x), spec)
    val = float(torch_mean_square(x - y, w))
    return val if math.isfinite(val) else math.inf


@torch.no_grad()
def _edge_damage(model, l, edges, X, y, w=None) -> list[float]:
    """Loss reduction when each snapped edge of layer l alone gets its numeric shape back
    (centred, so only the shape counts: offsets live in the bias)."""
    tr = model.trace(X)
    layer = model.layers[l]
    x = tr.inputs[l]
    sym = layer.symbolic.edge_activations(x)
    num = layer.numeric_edge_activations(x)
    base = _tail_loss(model, l, tr.subnodes[l], y, w)
    out = []
    for o, i in edges:
        sub = tr.subnodes[l].clone()
        s, n = sym[:, o, i], num[:, o, i]
        sub[:, o] += (n - n.mean()) - (s - s.mean())
        out.append(base - _tail_loss(model, l, sub, y, w))
    return out


# --- public API ------------------------------------------------------------------------
def auto_snap(model, X, y=None, *, functions=None, complexity_weight: float = COMPLEXITY_WEIGHT,
              accuracy_floor: float | None = None, k: int = 5, max_samples: int = 512,
              refit: bool = True, refit_steps: int = 100, refit_tail: bool = True,
              retry_tol: float = 1.0, max_retries: int = 2, retry_edges: int = 3, polish: bool = True,
              polish_margin: float = 2.0, polish_max_edges: int = 40, keep_fixed: bool = True,
              formula: bool = True, names=None, input_transform=None, output_transform=None,
              formula_options: dict | None = None, chunk_elements: int = CHUNK_ELEMENTS,
              deadline: float | None = None, sample_weight=None) -> SnapResult:
    """Snap every alive edge of ``model`` to a library function and refit all constants.

    Args:
        model: a trained (ideally pruned) :class:`symkan.nn.KAN`; it is not modified.
        X: (n, n_inputs) inputs as the network sees them; y: (n,) or (n, n_outputs)
            targets in network units (default: the numeric network's own outputs).
        functions: library names to choose from (default: every entry but the opt-in
            log-space ones, :func:`~symkan.functions.library.default_functions`).
        complexity_weight: decades of relative error one unit of complexity must buy
            (larger = simpler formulas; see :mod:`symkan.symbolic.select`).
        accuracy_floor: relative error regarded as exact when ranking candidates;
            default: the numeric network's normalised loss (at least 1e-7, at most 1e-3),
            since edge shapes are no more accurate than the network that learned them.
        k: candidates kept per edge (for retries and reporting).
        max_samples: rows used to fit edge shapes (evenly spaced subset of X).
        refit, refit_steps, refit_tail: joint LBFGS refit after each layer (with the
            later layers' numeric parameters when ``refit_tail``), its iterations.
        retry_tol: retry the next candidates of the worst edges while the snapped loss
            exceeds ``(1 + retry_tol)`` × the numeric network's loss.
        max_retries, retry_edges: retry rounds per layer and edges tried per round.
        polish, polish_margin, polish_max_edges: after the final refit, try for every
            edge the candidates whose edge score is within ``polish_margin`` of the
            chosen one, keeping a swap when the network score
            log10(max(NMSE, 1e-13)) + complexity_weight·Σ complexity improves after a
            joint refit and the loss grows by at most 10 % (networks with at most
            ``polish_max_edges`` symbolic edges).
        keep_fixed: keep edges already made symbolic (by :func:`fix`) as they are.
        formula: also build the :class:`Formula` (``names``, ``input_transform``,
            ``output_transform`` and ``formula_options`` go to :func:`model_formula`;
            X and y are mapped back to the user's units for it).
        chunk_elements: memory bound of the batched edge fits.
        deadline: a ``time.monotonic()`` value at which joint refits, simplification and
            constant snapping stop, each keeping its best state so far.
        sample_weight: (n,) weights of the rows in every loss (refits, retries, polish,
            the formula's constants; :mod:`symkan.sample_weights`); None: the plain mean.

    Returns: :class:`SnapResult`.
    """
    t0 = time.perf_counter()
    check_kan(model)
    k, max_samples = check_int("k", k), check_int("max_samples", max_samples, minimum=2)
    refit_steps = check_int("refit_steps", refit_steps, minimum=0)
    max_retries = check_int("max_retries", max_retries, minimum=0)
    retry_edges = check_int("retry_edges", retry_edges)
    retry_tol = check_number("retry_tol", retry_tol, finite=False)
    resolve_functions(functions)  # unknown names fail before any work
    X, y = check_model_data(model, X, y, min_rows=2)
    snapped = copy.deepcopy(model).to(torch.float64).eval()
    Xd = X.to(torch.float64)
    with torch.no_grad():
        yd = snapped(Xd) if y is None else y.to(torch.float64)
    wd = None if sample_weight is None else torch.as_tensor(sample_weight, dtype=torch.float64, device=Xd.device)
    loss_numeric = mse(snapped, Xd, yd, wd)
    history = [("numeric", loss_numeric)]
    var_y = torch_weighted_var(yd, wd) if yd.numel() > 1 else 0.0
    target = loss_numeric * (1.0 + retry_tol) + 1e-14 * var_y
    if accuracy_floor is None:  # edges cannot be trusted beyond the network's own accuracy
        accuracy_floor = min(max(ACCURACY_FLOOR, loss_numeric / var_y if var_y > 0 else 0.0), 1e-3)
    candidates: dict[tuple[int, int, int], Suggestions] = {}
    L = len(snapped.layers)
    for l in range(L):
        layer = snapped.layers[l]
        sym = layer.symbolic
        todo = (layer.mask > 0) & (~sym.fixed if keep_fixed else torch.ones_like(sym.fixed))
        edges = [tuple(e) for e in torch.nonzero(todo).tolist()]  # (o, i)
        if not edges:
            continue
        sugg = _fit_layer(snapped, l, edges, Xd, functions, k, complexity_weight, accuracy_floor,
                          max_samples, chunk_elements)
        for (o, i), s in zip(edges, sugg):
            candidates[(l, i, o)] = s
            _set_edge(layer, o, i, s.best)
        fold_offsets(snapped)
        tail = tuple(range(l + 1, L)) if refit_tail else ()
        loss = joint_refit(snapped, Xd, yd, numeric_layers=tail, max_iter=refit_steps, deadline=deadline,
                           weight=wd) if refit else mse(snapped, Xd, yd, wd)
        history.append((f"layer {l}", loss))
        current = {e: 0 for e in edges}  # index of the chosen candidate per edge
        for round_ in range(max_retries):
            if loss <= target:
                break
            damage = _edge_damage(snapped, l, edges, Xd, yd, wd)
            worst = [edges[e] for e in np.argsort(damage)[::-1][:retry_edges] if damage[e] > 0]
            improved = False
            for o, i in worst:
                s = candidates[(l, i, o)]
                best_state, best_loss = copy.deepcopy(snapped.state_dict()), loss
                for alt in range(len(s)):
                    if alt == current[(o, i)]:
                        continue
                    snapped.load_state_dict(copy.deepcopy(best_state))
                    _set_edge(layer, o, i, s[alt])
                    fold_offsets(snapped)
                    trial = joint_refit(snapped, Xd, yd, numeric_layers=tail, max_iter=max(20, refit_steps // 2),
                                        deadline=deadline, weight=wd) if refit else mse(snapped, Xd, yd, wd)
                    if trial < best_loss * (1 - 1e-9):
                        best_state, best_loss = copy.deepcopy(snapped.state_dict()), trial
                        current[(o, i)] = alt
                        improved = True
                snapped.load_state_dict(best_state)
                loss = best_loss
                if loss <= target:
                    break
            history.append((f"layer {l} retry {round_ + 1}", loss))
            if not improved:
                break
    if refit:
        loss = joint_refit(snapped, Xd, yd, max_iter=2 * refit_steps, deadline=deadline, weight=wd)
        n_fixed = sum(int((layer.symbolic.fixed & (layer.mask > 0)).sum()) for layer in snapped.layers)
        if polish and n_fixed <= int(polish_max_edges):
            loss = _polish(snapped, candidates, Xd, yd, complexity_weight, polish_margin,
                           max(20, refit_steps // 2), var_y, deadline, wd)
            history.append(("polish", loss))
    loss_snapped = mse(snapped, Xd, yd, wd)
    history.append(("final", loss_snapped))
    choices = _choices(snapped, candidates)
    result = SnapResult(snapped, choices, loss_numeric, loss_snapped, None, history)
    if formula:
        from .compose import to_user_units
        from .network_formula import model_formula
        Xu, yu = to_user_units(Xd, yd, input_transform, output_transform)
        result.formula = model_formula(snapped, names=names, input_transform=input_transform,
                                       output_transform=output_transform, X=Xu, y=yu, sample_weight=sample_weight,
                                       **{"deadline": deadline, **(formula_options or {})})
    result.seconds = time.perf_counter() - t0
    log.info("auto_snap: %d edges in %.2f s, loss %.3g -> %.3g", len(choices), result.seconds,
             loss_numeric, loss_snapped)
    return result


#: normalised losses below this count as exact when networks are compared
NETWORK_FLOOR = 1e-13


def _network_score(model, loss: float, var_y: float, w: float) -> float:
    nmse = loss / var_y if var_y > 0 else loss
    comp = 0
    for layer in model.layers:
        sym = layer.symbolic
        for o, i in torch.nonzero(sym.fixed & (layer.mask > 0)).tolist():
            comp += get_function(sym.names[int(sym.func_index[o, i])]).complexity
    return math.log10(max(nmse, NETWORK_FLOOR)) + w * comp


def _polish(model, candidates, X, y, w, margin, steps, var_y, deadline=None, weight=None) -> float:
    """One pass over the snapped edges trying near-best alternatives, judged by the
    network score after a joint refit (see auto_snap's ``polish``)."""
    loss = mse(model, X, y, weight)
    score = _network_score(model, loss, var_y, w)
    for (l, i, o), sugg in candidates.items():
        layer = model.layers[l]
        current = layer.symbolic.function_name(o, i)
        ref = next((c.score for c in sugg if c.name == current), None)
        if current is None or ref is None:
            continue
        best_state = copy.deepcopy(model.state_dict())
        for cand in sugg:
            if cand.name == current or cand.score > ref + margin:
                continue
            model.load_state_dict(copy.deepcopy(best_state))
            _set_edge(layer, o, i, cand)
            fold_offsets(model)
            trial = joint_refit(model, X, y, max_iter=steps, deadline=deadline, weight=weight)
            trial_score = _network_score(model, trial, var_y, w)
            # simpler-but-worse swaps are the complexity weight's business at selection
            # time; polishing only accepts fits at least about as good as the current one
            if trial_score < score - 1e-9 and trial <= 1.1 * loss + NETWORK_FLOOR * var_y:
                best_state, score, loss, current = copy.deepcopy(model.state_dict()), trial_score, trial, cand.name
        model.load_state_dict(best_state)
    return loss


def _choices(model, candidates) -> list[EdgeChoice]:
    out = []
    for l, layer in enumerate(model.layers):
        sym = layer.symbolic
        for o, i in torch.nonzero(sym.fixed & (layer.mask > 0)).tolist():
            name = sym.names[int(sym.func_index[o, i])]
            params = tuple(float(v) for v in sym.affine[o, i].detach())
            s = candidates.get((l, i, o), Suggestions([], (l, i, o)))
            r2 = next((c.r2 for c in s if c.name == name), float("nan"))
            out.append(EdgeChoice(l, i, o, name, params, r2, s))
    return out


def suggest(model, l: int, i: int, j: int, X, k: int = 5, *, functions=None,
            complexity_weight: float = COMPLEXITY_WEIGHT, accuracy_floor: float = ACCURACY_FLOOR,
            max_samples: int = 512) -> Suggestions:
    """The k best library functions for edge (l, i, j) on inputs X, best first.

    The edge's numeric shape (ignoring any symbolic override) is fitted on the values
    the network produces for X. Returns :class:`Suggestions` (a list of
    :class:`Candidate` with a table repr: function, params, R², complexity, score).
    """
    _, l, i, j = check_edge(model, l, i, j)
    k, max_samples = check_int("k", k), check_int("max_samples", max_samples, minimum=2)
    X, _ = check_model_data(model, X, min_rows=2)
    with eval_mode(model):
        return _fit_layer(model, l, [(j, i)], X, functions, k, complexity_weight, accuracy_floor,
                          max_samples, CHUNK_ELEMENTS)[0]


def fix(model, l: int, i: int, j: int, name: str, X=None, *, params=None, max_samples: int = 512):
    """Make edge (l, i, j) symbolic, in place: c·f(a·x + b) + d with f = library[name].

    With ``X`` the constants are fitted to the edge's numeric shape on the values the
    network produces for X; with ``params=(a, b, c, d)`` they are set; otherwise
    a=1, b=0, c=1, d=0. Returns the :class:`Candidate` that was set (R² is nan
    without X). Unknown names raise ValueError listing the library.
    """
    layer, l, i, j = check_edge(model, l, i, j)
    fn = get_function(name)
    if float(layer.mask[j, i]) == 0:
        raise ValueError(f"edge ({l}, {i}, {j}) is pruned (masked); it cannot be made symbolic")
    if X is not None and params is not None:
        raise ValueError("pass X (to fit the constants) or params, not both")
    from .select import Candidate
    if params is not None:
        vals = [float(v) for v in params]
        if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
            raise ValueError(f"params must be four finite numbers (a, b, c, d), got {params!r}")
        cand = Candidate(fn.name, *vals, float("nan"), fn.complexity, float("nan"))
    elif X is not None:
        X, _ = check_model_data(model, X, min_rows=2)
        with eval_mode(model), torch.no_grad():
            tr = model.trace(X)
            x = tr.inputs[l][:, i]
            target = layer.numeric_edge_activations(tr.inputs[l])[:, j, i]
        rows = _rows(x.shape[0], max_samples).to(x.device)
        xe = x[rows].detach().to("cpu", torch.float64)[None]
        ye = target[rows].detach().to("cpu", torch.float64)[None]
        rng = (x.min().detach().to("cpu", torch.float64).reshape(1), x.max().detach().to("cpu", torch.float64).reshape(1))
        fits = fit_edges(xe, ye, [fn.name], x_range=rng)
        kf = fits.names.index(fn.name)
        r2 = float(fits.r2[0, kf])
        if not math.isfinite(r2):
            raise ValueError(f"cannot fit {fn.name!r} to edge ({l}, {i}, {j}): its inputs "
                             f"[{float(x.min()):.4g}, {float(x.max()):.4g}] cannot be mapped into the "
                             f"function's domain" + (" (the inputs are constant)" if bool(fits.constant_input[0]) else ""))
        cand = Candidate(fn.name, *(float(v) for v in fits.params[0, kf]), r2, fn.complexity, float("nan"))
    else:
        cand = Candidate(fn.name, 1.0, 0.0, 1.0, 0.0, float("nan"), fn.complexity, float("nan"))
    _set_edge(layer, j, i, cand)
    return cand


def unfix(model, l: int, i: int, j: int) -> None:
    """Give edge (l, i, j) its numeric shape back (in place)."""
    layer, l, i, j = check_edge(model, l, i, j)
    layer.symbolic.clear(j, i)


__all__ = ["auto_snap", "fix", "unfix", "suggest", "SnapResult", "EdgeChoice", "domain_violations"]
