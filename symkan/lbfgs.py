"""L-BFGS with a strong-Wolfe line search on one flat CPU parameter vector, in NumPy.

The algorithm and its settings are those of ``torch.optim.LBFGS(line_search_fn=
"strong_wolfe")`` (Nocedal & Wright, Algorithms 7.4 and 3.5–3.6: the two-loop recursion
over the last ``history_size`` pairs, a bracketing phase and a zoom by safeguarded cubic
interpolation with c₁ = 1e-4, c₂ = 0.9, at most 25 trials): a ``step(closure)`` runs up
to ``max_iter`` iterations and ``max_eval`` evaluations and keeps its history for the
next call. What differs is the cost: a small network's parameters are a few hundred
numbers, where each torch op costs microseconds of dispatch and NumPy's a fraction of
that, so the optimiser's own work drops from ~40 % of a [2, 5, 1] fit to a few percent.

The closure evaluates the loss at the current parameters and writes the gradient into
``flat.grad``; the vectors here are NumPy views of ``flat`` and ``flat.grad`` (no copies).

A trial step whose loss is not finite is treated as too long (the zoom bisects towards
the last finite point) rather than derailing the interpolation.
"""
from __future__ import annotations

import math

import numpy as np
import torch

C1, C2 = 1e-4, 0.9
MAX_LINE_SEARCH = 25


def usable(flat: torch.Tensor) -> bool:
    """Whether :class:`FlatLBFGS` can drive ``flat``: a real floating CPU tensor."""
    return flat.device.type == "cpu" and flat.dtype in (torch.float32, torch.float64)


class FlatParameters:
    """While an LBFGS runs: the trainable parameters as views of one flat tensor (``flat``)
    and their gradients as views of one flat gradient (``flat.grad``).

    torch's LBFGS flattens parameters and gradients at every function evaluation with
    per-parameter loops (gather, add, clone, copy: ~50 tiny ops per evaluation); on one
    tensor each is a single op — ~10 % of a [2, 5, 1] fit. The values are the same bit for
    bit. :meth:`release` gives every parameter (and gradient) its own storage back.
    """

    def __init__(self, params: list[torch.Tensor]):
        self.params = params
        with torch.no_grad():
            self.flat = torch.cat([p.detach().reshape(-1) for p in params]).requires_grad_()
        self.flat.grad = torch.zeros_like(self.flat)
        values, grads = self.flat.detach(), self.flat.grad
        offset = 0
        for p in params:
            n = p.numel()
            p.data = values[offset:offset + n].view_as(p)
            # backward accumulates in place into an existing gradient: it lands in flat.grad
            p.grad = grads[offset:offset + n].view_as(p)
            offset += n

    @staticmethod
    def usable(params: list[torch.Tensor]) -> bool:
        return (len(params) > 1 and len({(p.dtype, p.device) for p in params}) == 1
                and all(p.layout == torch.strided and not p.is_complex() for p in params))

    def zero_grad(self) -> None:
        self.flat.grad.zero_()

    def release(self) -> None:
        with torch.no_grad():
            for p in self.params:
                p.data = p.data.clone()
                if p.grad is not None:
                    p.grad = p.grad.clone()


def _finite_or_inf(value: float) -> float:
    """A loss for comparisons: a non-finite one counts as worse than any finite one."""
    return value if math.isfinite(value) else math.inf


def _cubic_minimum(t1, f1, g1, t2, f2, g2, lo=None, hi=None) -> float:
    """Minimiser of the cubic through (t1, f1, slope g1) and (t2, f2, slope g2), kept in
    [lo, hi] (default: between t1 and t2); the midpoint when the cubic has no minimum."""
    if lo is None:
        lo, hi = min(t1, t2), max(t1, t2)
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (t1 - t2)
    disc = d1 * d1 - g1 * g2
    if not disc >= 0.0:  # also NaN
        return 0.5 * (lo + hi)
    d2 = math.sqrt(disc)
    if t1 <= t2:
        t = t2 - (t2 - t1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
    else:
        t = t1 - (t1 - t2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
    if not math.isfinite(t):
        return 0.5 * (lo + hi)
    return min(max(t, lo), hi)


class FlatLBFGS:
    """``FlatLBFGS(flat, lr=1, max_iter=20, history_size=10)``; ``step(closure) -> loss``.

    flat: the parameter vector (a leaf with ``.grad``), float32 or float64, on the CPU.
    ``max_eval`` defaults to 1.25 · ``max_iter`` as in torch.
    """

    def __init__(self, flat: torch.Tensor, lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 history_size: int = 10, tolerance_grad: float = 1e-32, tolerance_change: float = 1e-32):
        if not usable(flat):
            raise ValueError("FlatLBFGS needs a float32/float64 CPU tensor")
        self.flat = flat
        self.lr, self.max_iter = float(lr), int(max_iter)
        self.max_eval = int(max_iter * 5 // 4) if max_eval is None else int(max_eval)
        self.history_size = int(history_size)
        self.tolerance_grad, self.tolerance_change = float(tolerance_grad), float(tolerance_change)
        self.x = flat.detach().numpy()  # views: writing them moves the parameters
        self.n_iter = 0
        self.func_evals = 0
        self._dirs, self._steps, self._rho = [], [], []  # y, s, 1 / (y·s), oldest first
        self._h_diag = 1.0
        self._d = self._prev_g = None
        self._t = self.lr
        self._prev_loss = None

    # --- evaluation -------------------------------------------------------------------
    def _evaluate(self, closure) -> tuple[float, np.ndarray]:
        loss = closure()
        loss = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        return loss, self.flat.grad.detach().numpy()

    def _trial(self, closure, x0: np.ndarray, t: float, d: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and a copy of the gradient at x0 + t·d (the parameters are left there)."""
        np.add(x0, (t * d).astype(x0.dtype, copy=False), out=self.x)
        loss, g = self._evaluate(closure)
        return loss, g.copy()

    # --- direction ---------------------------------------------------------------------
    def _direction(self, g: np.ndarray) -> np.ndarray:
        """−H·g by the two-loop recursion over the stored pairs."""
        q = -g
        alphas = []
        for s, y, rho in zip(reversed(self._steps), reversed(self._dirs), reversed(self._rho)):
            a = rho * float(s @ q)
            q -= a * y
            alphas.append(a)
        r = q * self._h_diag
        for s, y, rho, a in zip(self._steps, self._dirs, self._rho, reversed(alphas)):
            b = rho * float(y @ r)
            r += (a - b) * s
        return r

    def _remember(self, g: np.ndarray) -> None:
        y = g - self._prev_g
        s = self._d * self._t
        ys = float(y @ s)
        if ys > 1e-10:
            if len(self._dirs) == self.history_size:
                del self._dirs[0], self._steps[0], self._rho[0]
            self._dirs.append(y)
            self._steps.append(s)
            self._rho.append(1.0 / ys)
            self._h_diag = ys / float(y @ y)

    # --- the step ----------------------------------------------------------------------
    def step(self, closure) -> float:
        """Up to ``max_iter`` iterations; returns the loss at the parameters on entry."""
        loss, g = self._evaluate(closure)
        g = g.copy()
        first_loss = loss
        evals = 1
        self.func_evals += 1
        if float(np.abs(g).max()) <= self.tolerance_grad:
            return first_loss
        local_iter = 0
        while local_iter < self.max_iter:
            local_iter += 1
            self.n_iter += 1
            if self.n_iter == 1:
                self._d = -g
                self._dirs, self._steps, self._rho, self._h_diag = [], [], [], 1.0
            else:
                self._remember(g)
                self._d = self._direction(g)
            self._prev_g, self._prev_loss = g, loss
            d = self._d
            t = min(1.0, 1.0 / float(np.abs(g).sum())) * self.lr if self.n_iter == 1 else self.lr
            gtd = float(g @ d)
            if gtd > -self.tolerance_change:
                break
            x0 = self.x.copy()
            loss, g, t, ls_evals = self._line_search(closure, x0, t, d, loss, g, gtd)
            np.add(x0, (t * d).astype(x0.dtype, copy=False), out=self.x)
            self._t = t
            evals += ls_evals
            self.func_evals += ls_evals
            if local_iter == self.max_iter or evals >= self.max_eval:
                break
            if float(np.abs(g).max()) <= self.tolerance_grad:
                break
            if float(np.abs(d).max()) * abs(t) <= self.tolerance_change:
                break
            if abs(loss - self._prev_loss) < self.tolerance_change:
                break
        return first_loss

    def _line_search(self, closure, x0, t, d, f0, g0, gtd0):
        """Strong-Wolfe search along d from x0: (loss, gradient, t, evaluations)."""
        d_norm = float(np.abs(d).max())
        f_new, g_new = self._trial(closure, x0, t, d)
        evals, trials = 1, 0
        gtd_new = float(g_new @ d)
        t_prev, f_prev, g_prev, gtd_prev = 0.0, f0, g0, gtd0
        done = False
        while trials < MAX_LINE_SEARCH:
            if not math.isfinite(f_new) or f_new > f0 + C1 * t * gtd0 or (trials > 1 and f_new >= f_prev):
                bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
                break
            if abs(gtd_new) <= -C2 * gtd0:
                bracket, done = [[t, f_new, g_new, gtd_new]], True
                break
            if gtd_new >= 0:
                bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
                break
            t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                    lo=t + 0.01 * (t - t_prev), hi=10.0 * t)
            t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
            t = t_next
            f_new, g_new = self._trial(closure, x0, t, d)
            evals += 1
            trials += 1
            gtd_new = float(g_new @ d)
        else:
            bracket = [[0.0, f0, g0, gtd0], [t, f_new, g_new, gtd_new]]
        if not done:
            done, trials, evals, bracket = self._zoom(closure, x0, d, d_norm, f0, gtd0, bracket, trials, evals)
        low = 0 if len(bracket) == 1 or _finite_or_inf(bracket[0][1]) <= _finite_or_inf(bracket[1][1]) else 1
        t, f_new, g_new, _ = bracket[low]
        return f_new, g_new, t, evals

    def _zoom(self, closure, x0, d, d_norm, f0, gtd0, bracket, trials, evals):
        """Shrink the bracket [(t, f, g, gtd), (t, f, g, gtd)] until a strong-Wolfe point."""
        insufficient = False
        low, high = (0, 1) if _finite_or_inf(bracket[0][1]) <= _finite_or_inf(bracket[1][1]) else (1, 0)
        done = False
        while trials < MAX_LINE_SEARCH:
            t_a, t_b = bracket[0][0], bracket[1][0]
            if abs(t_b - t_a) * d_norm < self.tolerance_change:
                break
            a, b = bracket
            if math.isfinite(a[1]) and math.isfinite(b[1]):
                t = _cubic_minimum(a[0], a[1], a[3], b[0], b[1], b[3])
            else:
                t = 0.5 * (t_a + t_b)
            top, bottom = max(t_a, t_b), min(t_a, t_b)
            margin = 0.1 * (top - bottom)
            if min(top - t, t - bottom) < margin:
                # too close to an end: move inside unless the last try already did
                if insufficient or t >= top or t <= bottom:
                    t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                    insufficient = False
                else:
                    insufficient = True
            else:
                insufficient = False
            f_new, g_new = self._trial(closure, x0, t, d)
            evals += 1
            trials += 1
            gtd_new = float(g_new @ d)
            point = [t, f_new, g_new, gtd_new]
            if not math.isfinite(f_new) or f_new > f0 + C1 * t * gtd0 or f_new >= _finite_or_inf(bracket[low][1]):
                bracket[high] = point
            else:
                if abs(gtd_new) <= -C2 * gtd0:
                    done = True
                elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                    bracket[high] = bracket[low]
                bracket[low] = point
            low, high = (0, 1) if _finite_or_inf(bracket[0][1]) <= _finite_or_inf(bracket[1][1]) else (1, 0)
            if done:
                break
        return done, trials, evals, bracket


__all__ = ["FlatLBFGS", "FlatParameters", "usable"]
