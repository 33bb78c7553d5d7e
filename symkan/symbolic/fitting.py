"""Batched edge fitting: y ≈ c·f(a·x + b) + d for many edges × many functions at once.

For each library function f, all edges are fitted together:

1. **Standardise** each edge's inputs, z = (x − μ)/σ, so one (α, β) grid in z-space
   (u = α·z + β) suits every edge whatever its input scale. The x-space parameters are
   a = α/σ, b = β − α·μ/σ.
2. **Coarse grid** over (α, β) chosen by the function's ``mode`` (see
   :mod:`symkan.functions.library`): a log-spaced α × a β grid covering one period or
   inflection points inside the data (``full``), shifts of a = ±1 that put the vertex
   inside the data or the singular point / domain boundary at log-spaced distances
   from the data range (``shift``), log-spaced α (``scale``). Grid points whose
   argument range a·[x_lo, x_hi] + b leaves the domain or touches a pole are
   infeasible and never chosen.
3. **(c, d) in closed form** for every (edge, grid point): least squares of y on f(u),
   giving R² = corr(f(u), y)² — only three sums over the samples per grid point.
4. **Levenberg–Marquardt** from the ``n_starts`` best grid points of every edge, batched
   over (edge, start): Marquardt-damped Gauss–Newton steps on (α, β, c, d) with the
   function's fixed parameters frozen, (c, d) re-solved in closed form after each
   step, and steps that leave the domain rejected.

Memory is bounded: every batched intermediate holds at most ``chunk_elements``
float64 numbers (edges and grid points are processed in chunks), so the peak extra
memory is about ``8 × chunk_elements × 8`` bytes (≈ 130 MB at the default 2²¹),
independent of the number of edges. Results do not depend on the chunk size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..checks import check_int
from ..functions.library import SymbolicFunction, resolve_functions

Tensor = torch.Tensor

#: default bound on the number of float64 elements of one batched intermediate
CHUNK_ELEMENTS = 2 ** 21
#: relative distance kept between the argument range and an open domain end or pole
DOMAIN_MARGIN = 1e-3

_FREE = {  # which of (alpha, beta, c, d) each mode fits
    "zero": (False, False, False, True),
    "linear": (False, False, True, True),
    "shift": (False, True, True, True),
    "scale": (True, False, True, True),
    "full": (True, True, True, True),
}


@dataclass
class EdgeFits:
    """Fits of E edges to F functions.

    ``params``: (E, F, 4) float64 (a, b, c, d) in x-space; ``r2``: (E, F) coefficient
    of determination on the edge's samples, −inf where the function is infeasible
    (argument range leaves its domain) — the zero function scores 0; ``variance``: (E,)
    variance of each edge's values; ``constant_input``: (E,) edges whose inputs do not
    vary (only the constant "0" edge is fitted to them).
    """

    functions: list[SymbolicFunction]
    params: Tensor
    r2: Tensor
    variance: Tensor
    constant_input: Tensor

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.functions]

    @property
    def complexity(self) -> Tensor:
        """(F,) complexity of each function."""
        return torch.tensor([float(f.complexity) for f in self.functions], dtype=torch.float64)

    def residual_variance(self) -> Tensor:
        """(E, F) mean squared residual (1 − R²)·Var(edge); inf where infeasible."""
        r2 = self.r2.clamp(max=1.0)
        res = (1.0 - r2) * self.variance[:, None]
        return torch.where(torch.isfinite(self.r2), res.clamp_min(0.0), torch.full_like(res, math.inf))



def free_constants(fn: SymbolicFunction) -> tuple[bool, bool, bool, bool]:
    """Which of (a, b, c, d) :func:`fit_edges` fits for ``fn`` (the others stay 1, 0, 1, 0)."""
    return _FREE[fn.mode]

def _check_xy(x: Tensor, y: Tensor):
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError("x and y must be torch tensors of shape (edges, samples)")
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must both have shape (edges, samples); got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[1] < 2:
        raise ValueError(f"fitting needs at least 2 samples per edge, got {x.shape[1]}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("x and y must be finite (no NaN or inf)")


def _geomspace(lo: float, hi: float, n: int) -> Tensor:
    return torch.logspace(math.log10(lo), math.log10(hi), n, dtype=torch.float64)


def _grid(fn: SymbolicFunction, mu: Tensor, sd: Tensor, x_lo: Tensor, x_hi: Tensor,
          n_alpha: int, n_beta: int) -> tuple[Tensor, Tensor]:
    """Candidate (α, β) per edge for ``fn``: two tensors (E, G) in z-space."""
    E = mu.shape[0]
    if fn.mode == "linear":
        return sd[:, None].clone(), mu[:, None].clone()
    if fn.mode == "shift":
        span = (x_hi - x_lo).clamp_min(1e-12)
        t = torch.cat([torch.linspace(-4.0, 4.0, 33, dtype=torch.float64),
                       _geomspace(5.0, 500.0, 8), -_geomspace(5.0, 500.0, 8)])
        deltas = _geomspace(1e-3, 1e2, 16)
        alphas, betas = [], []
        for s in fn.signs:
            zero_at = mu[:, None] + sd[:, None] * t[None]  # where u = s·x + b vanishes
            bs = [-s * zero_at]
            u_min = x_lo if s > 0 else -x_hi  # range of s·x
            u_max = x_hi if s > 0 else -x_lo
            for q in fn.boundaries():  # put the argument range just above / below q
                bs.append(q + deltas[None] * span[:, None] - u_min[:, None])
                bs.append(q - deltas[None] * span[:, None] - u_max[:, None])
            b = torch.cat(bs, dim=1)
            alphas.append((s * sd)[:, None].expand_as(b))
            betas.append(s * mu[:, None] + b)
        return torch.cat(alphas, 1), torch.cat(betas, 1)
    a = _geomspace(0.05, 16.0, n_alpha)
    a = torch.cat([s * a for s in fn.signs])
    if fn.mode == "scale":
        return a[None].expand(E, -1).clone(), torch.zeros(E, a.numel(), dtype=torch.float64)
    if fn.period is not None:
        beta = torch.linspace(0.0, fn.period, n_beta + 1, dtype=torch.float64)[:-1]
        aa, bb = torch.meshgrid(a, beta, indexing="ij")
    else:  # put the function's centre (u = 0) at z0 inside the data
        z0 = torch.linspace(-3.0, 3.0, n_beta, dtype=torch.float64)
        aa, zz = torch.meshgrid(a, z0, indexing="ij")
        bb = -aa * zz
    return aa.reshape(1, -1).expand(E, -1).clone(), bb.reshape(1, -1).expand(E, -1).clone()


def _feasible(fn: SymbolicFunction, alpha: Tensor, beta: Tensor, z_lo: Tensor, z_hi: Tensor) -> Tensor:
    """Whether u = α·z + β stays in fn's domain for z in [z_lo, z_hi]. Shapes broadcast."""
    u1, u2 = alpha * z_lo + beta, alpha * z_hi + beta
    lo, hi = torch.minimum(u1, u2), torch.maximum(u1, u2)
    ok = torch.isfinite(lo) & torch.isfinite(hi)
    if fn.restricted:
        ok = ok & fn.feasible(lo, hi, DOMAIN_MARGIN * (hi - lo))
    return ok


def _grid_r2(fn: SymbolicFunction, z: Tensor, yc: Tensor, syy: Tensor, alpha: Tensor, beta: Tensor,
             feas: Tensor, chunk: int) -> Tensor:
    """R² of the closed-form (c, d) fit at every grid point. z, yc: (E, S) -> (E, G)."""
    E, G = alpha.shape
    S = z.shape[1]
    r2 = torch.full((E, G), -math.inf, dtype=torch.float64)
    ce = max(1, min(E, chunk // max(1, G * S)))
    cg = G if ce > 1 else max(1, min(G, chunk // S))
    for e0 in range(0, E, ce):
        e1 = min(E, e0 + ce)
        for g0 in range(0, G, cg):
            g1 = min(G, g0 + cg)
            u = alpha[e0:e1, g0:g1, None] * z[e0:e1, None, :] + beta[e0:e1, g0:g1, None]
            g = fn.torch_fn(u)
            g = g - g.mean(-1, keepdim=True)
            sgg = (g * g).sum(-1)
            sgy = (g * yc[e0:e1, None, :]).sum(-1)
            r = sgy * sgy / (sgg * syy[e0:e1, None])
            flat = (sgg <= 1e-300) & torch.isfinite(sgg)  # f(u) constant on the samples
            r = torch.where(flat, torch.zeros_like(r), r)
            ok = feas[e0:e1, g0:g1] & torch.isfinite(r)
            r2[e0:e1, g0:g1] = torch.where(ok, r.clamp(max=1.0), r2[e0:e1, g0:g1])
    return r2


def _value_and_slope(fn: SymbolicFunction, u: Tensor) -> tuple[Tensor, Tensor]:
    """f(u) and f'(u) elementwise (autograd, so custom functions work too)."""
    with torch.enable_grad():
        u = u.detach().requires_grad_(True)
        g = fn.torch_fn(u)
        if g.requires_grad:
            (slope,) = torch.autograd.grad(g.sum(), u)
        else:
            slope = torch.zeros_like(u)
    return g.detach(), slope


def _closed_form(g: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Least-squares (c, d) of y ≈ c·g + d per row and the mean squared residual. (P, S) -> (P,)×3."""
    gm, ym = g.mean(1), y.mean(1)
    gc = g - gm[:, None]
    sgg = (gc * gc).sum(1)
    c = torch.where(sgg > 1e-300, (gc * (y - ym[:, None])).sum(1) / sgg.clamp_min(1e-300), torch.zeros_like(sgg))
    d = ym - c * gm
    loss = ((c[:, None] * g + d[:, None] - y) ** 2).mean(1)
    loss = torch.where(torch.isfinite(loss), loss, torch.full_like(loss, math.inf))
    return c, d, loss


def _solve_spd(A: Tensor, b: Tensor) -> Tensor:
    """Solve A x = b for a batch of small symmetric positive definite systems
    A: (P, n, n), b: (P, n) by Gaussian elimination written with batched elementwise
    ops (LAPACK's per-matrix calls dominate for thousands of 4×4 systems)."""
    A = A.clone()
    b = b.clone()
    n = A.shape[-1]
    for k in range(n):
        piv = A[:, k, k].clamp_min(1e-300)
        f = A[:, k + 1:, k] / piv[:, None]  # (P, n-k-1)
        A[:, k + 1:, :] -= f[:, :, None] * A[:, k:k + 1, :]
        b[:, k + 1:] -= f * b[:, k:k + 1]
    x = torch.zeros_like(b)
    for k in range(n - 1, -1, -1):
        x[:, k] = (b[:, k] - (A[:, k, k + 1:] * x[:, k + 1:]).sum(-1)) / A[:, k, k].clamp_min(1e-300)
    return x


def _lm(fn: SymbolicFunction, z: Tensor, y: Tensor, alpha: Tensor, beta: Tensor, z_lo: Tensor, z_hi: Tensor,
        steps: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Batched Levenberg–Marquardt on P problems. z, y: (P, S); alpha, beta, z_lo, z_hi: (P,).
    Returns refined (alpha, beta, c, d, loss), each (P,)."""
    free = torch.tensor(_FREE[fn.mode], dtype=torch.float64)
    alpha, beta = alpha.clone(), beta.clone()
    g, slope = _value_and_slope(fn, alpha[:, None] * z + beta[:, None])
    c, d, loss = _closed_form(g, y)
    if not bool(free[:2].any()):
        return alpha, beta, c, d, loss
    lam = torch.full_like(alpha, 1e-3)
    eye = torch.eye(4, dtype=torch.float64)
    frozen_diag = torch.diag(1.0 - free)
    stalled = 0
    for _ in range(steps):
        r = c[:, None] * g + d[:, None] - y  # (P, S)
        cs = c[:, None] * slope
        J = torch.stack([cs * z, cs, g, torch.ones_like(g)], dim=-1) * free  # (P, S, 4)
        A = J.transpose(1, 2) @ J
        grad = (J * r[..., None]).sum(1)
        diag = torch.diagonal(A, dim1=1, dim2=2)
        # damping in each parameter's own scale (Marquardt): (a, b) and (c, d) scale
        # differently with the edge's values, so a shared absolute floor made fits
        # depend on that scale (_solve_spd's pivot clamp keeps zero columns solvable)
        damp = (lam[:, None] + 1e-12) * diag
        A = A + torch.diag_embed(damp) + frozen_diag
        A = torch.where(torch.isfinite(A), A, eye.expand_as(A))
        grad = torch.where(torch.isfinite(grad), grad, torch.zeros_like(grad))
        delta = -_solve_spd(A, grad)
        a_new, b_new = alpha + delta[:, 0], beta + delta[:, 1]
        g_new, s_new = _value_and_slope(fn, a_new[:, None] * z + b_new[:, None])
        c_new, d_new, loss_new = _closed_form(g_new, y)
        ok = (loss_new < loss) & _feasible(fn, a_new, b_new, z_lo, z_hi) & torch.isfinite(s_new).all(1)
        progress = ok & (loss - loss_new > 1e-10 * loss)
        stalled = 0 if bool(progress.any()) else stalled + 1
        alpha, beta = torch.where(ok, a_new, alpha), torch.where(ok, b_new, beta)
        c, d, loss = torch.where(ok, c_new, c), torch.where(ok, d_new, d), torch.where(ok, loss_new, loss)
        g = torch.where(ok[:, None], g_new, g)
        slope = torch.where(ok[:, None], s_new, slope)
        lam = torch.where(ok, lam / 3.0, lam * 4.0).clamp(1e-12, 1e12)
        if stalled >= 3:  # no problem improved for three steps: converged
            break
    return alpha, beta, c, d, loss


def canonical_params(fn: SymbolicFunction, a: Tensor, b: Tensor, c: Tensor, d: Tensor):
    """Equivalent parameters in a canonical form (a > 0 for odd/even functions, phases
    in one period, exp's b folded into c) so formulas read well and constants snap."""
    name = fn.name
    neg = a < 0
    if name in ("sin", "tan", "tanh", "arcsin", "arctan", "arctanh", "x^3", "1/x"):  # odd: f(-u) = -f(u)
        a, b, c = torch.where(neg, -a, a), torch.where(neg, -b, b), torch.where(neg, -c, c)
    elif name in ("cos", "gaussian", "x^2", "x^4", "abs", "1/x^2"):  # even
        a, b = torch.where(neg, -a, a), torch.where(neg, -b, b)
    if name in ("sin", "cos"):  # f(u + π) = -f(u): b into (-π/2, π/2], sign into c
        k = torch.ceil(b / math.pi - 0.5)
        b = b - math.pi * k
        c = torch.where(torch.remainder(k, 2) == 1, -c, c)
    elif fn.period is not None:  # b into (-period/2, period/2]
        p = fn.period
        b = b - p * torch.ceil(b / p - 0.5)
    if name == "exp":
        fold = b.abs() < 600.0
        c = torch.where(fold, c * torch.exp(b.clamp(-600.0, 600.0)), c)
        b = torch.where(fold, torch.zeros_like(b), b)
    return a, b, c, d


def fit_edges(x: Tensor, y: Tensor, functions=None, *, x_range: tuple[Tensor, Tensor] | None = None,
              n_starts: int = 2, lm_steps: int = 20, n_alpha: int = 32, n_beta: int = 24,
              grid_samples: int = 64, lm_samples: int = 256, chunk_elements: int = CHUNK_ELEMENTS) -> EdgeFits:
    """Fit every edge to every function: y_e ≈ c·f(a·x_e + b) + d.

    Args:
        x, y: (E, S) inputs and values of E edges at S samples.
        functions: library names (None = the default set,
            :func:`~symkan.functions.library.default_functions`); "0" is always included.
        x_range: (lo, hi), each (E,): the edges' full input ranges for the domain
            checks (default: min/max of x). Pass it when x is a subsample.
        n_starts: best grid points refined by Levenberg–Marquardt per edge.
        lm_steps: Levenberg–Marquardt iterations.
        n_alpha, n_beta: grid resolution of ``full``-mode functions (scale × shift).
        grid_samples: samples (evenly spaced subset) used by the coarse grid.
        lm_samples: samples used by the refinement ((c, d) and R² use all of them).
        chunk_elements: bound on the elements of one batched intermediate.

    Returns: :class:`EdgeFits` (float64, CPU-independent of chunking).
    """
    _check_xy(x, y)
    for name, v, lo in (("n_starts", n_starts, 1), ("lm_steps", lm_steps, 0), ("n_alpha", n_alpha, 2),
                        ("n_beta", n_beta, 2), ("grid_samples", grid_samples, 2), ("lm_samples", lm_samples, 2),
                        ("chunk_elements", chunk_elements, 1)):
        check_int(name, v, minimum=lo)
    fns = resolve_functions(functions)
    x = x.detach().to(torch.float64)
    y = y.detach().to(torch.float64)
    E, S = x.shape
    if x_range is None:
        x_lo, x_hi = x.min(1).values, x.max(1).values
    else:
        x_lo = torch.minimum(x_range[0].detach().to(torch.float64).reshape(E), x.min(1).values)
        x_hi = torch.maximum(x_range[1].detach().to(torch.float64).reshape(E), x.max(1).values)
    mu = x.mean(1)
    sd = x.std(1, unbiased=False)
    const_in = (sd <= 1e-12 * (1.0 + mu.abs())) | ((x_hi - x_lo) <= 1e-12 * (1.0 + mu.abs()))
    sd = torch.where(const_in, torch.ones_like(sd), sd)
    z = (x - mu[:, None]) / sd[:, None]
    z_lo, z_hi = (x_lo - mu) / sd, (x_hi - mu) / sd
    ym = y.mean(1)
    yc = y - ym[:, None]
    var = (yc * yc).mean(1)
    const_out = var <= 1e-30 * (1.0 + ym * ym)
    skip = const_in | const_out  # only the constant edge is fitted

    gidx = torch.linspace(0, S - 1, min(S, int(grid_samples))).round().long()
    zg, ycg = z[:, gidx], yc[:, gidx]
    lidx = torch.linspace(0, S - 1, min(S, int(lm_samples))).round().long()
    zl, yl = z[:, lidx], y[:, lidx]
    syy_g = (ycg * ycg).sum(1).clamp_min(1e-300)

    F = len(fns)
    params = torch.zeros(E, F, 4, dtype=torch.float64)
    params[..., 0] = 1.0
    params[..., 3] = ym[:, None]
    r2 = torch.full((E, F), -math.inf, dtype=torch.float64)
    active = torch.nonzero(~skip).flatten()
    chunk = int(chunk_elements)
    for k, fn in enumerate(fns):
        if fn.mode == "zero":
            r2[:, k] = torch.where(const_out, torch.ones_like(var), torch.zeros_like(var))
            continue
        if active.numel() == 0:
            continue
        ea = active
        alpha, beta = _grid(fn, mu[ea], sd[ea], x_lo[ea], x_hi[ea], int(n_alpha), int(n_beta))
        feas = _feasible(fn, alpha, beta, z_lo[ea, None], z_hi[ea, None])
        scores = _grid_r2(fn, zg[ea], ycg[ea], syy_g[ea], alpha, beta, feas, chunk)
        ns = min(int(n_starts), scores.shape[1])
        top = scores.topk(ns, dim=1)
        start_ok = torch.isfinite(top.values)  # (Ea, ns)
        a0 = alpha.gather(1, top.indices).reshape(-1)
        b0 = beta.gather(1, top.indices).reshape(-1)
        owner = ea.repeat_interleave(ns)  # edge of each problem
        P = owner.numel()
        best = torch.full((P,), math.inf, dtype=torch.float64)
        out = torch.zeros(P, 4, dtype=torch.float64)
        Sl = zl.shape[1]
        cp = max(1, chunk // (8 * max(S, Sl)))
        for p0 in range(0, P, cp):
            p1 = min(P, p0 + cp)
            o = owner[p0:p1]
            res = _lm(fn, zl[o], yl[o], a0[p0:p1], b0[p0:p1], z_lo[o], z_hi[o], int(lm_steps))
            al, be = res[0], res[1]
            if Sl < S:  # final (c, d) and loss on every sample
                g_all = fn.torch_fn(al[:, None] * z[o] + be[:, None])
                c_all, d_all, loss_all = _closed_form(g_all, y[o])
                ok = torch.isfinite(res[4])
                res = (al, be, c_all, d_all, torch.where(ok, loss_all, res[4]))
            out[p0:p1] = torch.stack(res[:4], dim=1)
            best[p0:p1] = res[4]
        best = torch.where(start_ok.reshape(-1), best, torch.full_like(best, math.inf))
        best = best.reshape(-1, ns)
        pick = best.argmin(1)
        loss = best.gather(1, pick[:, None])[:, 0]
        sel = out.reshape(-1, ns, 4)[torch.arange(ea.numel()), pick]  # (Ea, 4) z-space
        al, be, c, d = sel.unbind(1)
        a = al / sd[ea]
        b = be - al * mu[ea] / sd[ea]
        if fn.mode == "linear":
            a, b = torch.ones_like(a), torch.zeros_like(b)
        a, b, c, d = canonical_params(fn, a, b, c, d)
        fin = torch.isfinite(loss) & torch.isfinite(a) & torch.isfinite(b) & torch.isfinite(c) & torch.isfinite(d)
        params[ea, k] = torch.where(fin[:, None], torch.stack([a, b, c, d], 1), params[ea, k])
        r2[ea, k] = torch.where(fin, (1.0 - loss / var[ea]).clamp(max=1.0), torch.full_like(loss, -math.inf))
    return EdgeFits(fns, params, r2, var, const_in)


def fit_function(x: Tensor, y: Tensor, name: str, **kwargs) -> tuple[tuple[float, float, float, float], float]:
    """Fit one edge (x, y: (S,)) to one function: ((a, b, c, d), R²)."""
    x = torch.as_tensor(x, dtype=torch.float64).reshape(1, -1)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(1, -1)
    fits = fit_edges(x, y, [name], **kwargs)
    k = fits.names.index(resolve_functions([name])[-1].name)
    return tuple(float(v) for v in fits.params[0, k]), float(fits.r2[0, k])
