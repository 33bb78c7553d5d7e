"""Univariate fits that tie within the noise: which of them to refit first.

On noisy samples of a one-input law over a short range, dozens of direct fits
c·f(a·g(x) + b) + d predict y equally well (the Lorentz factor 1/√(1 − z²) for z in
[0.1, 0.67] against (z − 0.09)², e^{4z}, cosh 3z, … at σ = 0.01). Ranked by complexity
alone the cheapest stand-ins are kept and the law is not; what sets the law apart is
that its constants are simple numbers. So, when the best fit leaves only noise:

* a fit *ties* when its error exceeds the best one's by less than the noise could
  make it (:func:`noise_tie_spread`), and
* tied fits are ranked by how many of their constants stay floats once each is moved to
  the nearest simple value while the fit still ties (:func:`snap_constants`), then by
  complexity, counting constants other than 0 and ±1 (:func:`constants_cost`).

Everything here is numeric and batched over the fit's rows (a millisecond per fit), so
all tied fits can be ranked before the few best are refit and snapped symbolically.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..functions.library import get_function
from ..symbolic.fitting import free_constants
from .noise import white

#: a fit ties with the best when their mean squared errors differ by less than what noise
#: gives two fits this many standard errors apart: (2·k)²/n of the noise variance
NOISE_TIE_SIGMAS = 3.0
#: the values a constant is moved to: small integers and halves. Few on purpose: with four
#: constants per fit, a richer set lets stand-ins close too (5·sin(2z² − 1)/4 + 4 for γ(z))
SIMPLE_VALUES = np.arange(-10.0, 11.0) / 2


def to_target(y: np.ndarray, x: np.ndarray, power: int, outer_power: int) -> np.ndarray:
    """The target a fit with these powers is fitted to: y^outer_power / x^power."""
    with np.errstate(all="ignore"):
        return (y ** outer_power if outer_power != 1 else y) / (x ** power if power else 1.0)


def from_target(values: np.ndarray, x: np.ndarray, power: int, outer_power: int) -> np.ndarray:
    """y from a fit's values of its target (the inverse of :func:`to_target`): (x^power·values)^(1/outer_power),
    nan where a fractional power meets a negative base. values: (..., n), x: (n,)."""
    with np.errstate(all="ignore"):
        base = values * (x ** power if power else 1.0)
        return base if outer_power == 1 else base ** (1.0 / outer_power)


def predict(fit, x: np.ndarray, params=None) -> np.ndarray:
    """A univariate fit's values at x (n,): (x^p·(c·f(a·g(x) + b) + d))^(1/k), nan where a
    fractional power meets a negative base. ``params``: (a, b, c, d) instead of the fit's."""
    a, b, c, d = fit.params if params is None else params
    with np.errstate(all="ignore"):
        g = get_function(fit.inner).torch_fn(torch.as_tensor(x, dtype=torch.float64))
        values = (c * get_function(fit.outer).torch_fn(a * g + b) + d).numpy()
    return from_target(values, x, fit.power, fit.outer_power)


def noise_tie_spread(x: np.ndarray, y: np.ndarray, best_fit) -> float | None:
    """The factor on the best fit's error within which fits tie, when the best fit's
    residuals on the rows x, y (n,) are noise (:func:`.noise.white`); None when they are
    not (a systematic misfit, or noise-free samples).

    Two fits compared on the same rows differ in mean squared error by mean(δ²) ± 2σ·rms(δ)/√n
    (δ: the difference of their predictions, σ: the noise); the difference is below k
    standard errors while rms(δ) < 2kσ/√n, i.e. mean(δ²) < (2k)²σ²/n."""
    order = np.argsort(x, kind="stable")
    residual = predict(best_fit, x[order]) - y[order]
    n = len(y)
    if n < 3 or not white(x[order, None], residual):
        return None
    return 1.0 + (2.0 * NOISE_TIE_SIGMAS) ** 2 / n


def constants_cost(params) -> int:
    """What a fit's constants add to its complexity when ranking ties: nothing for 0 and ±1
    (a plain x, a fixed a or b), 1 for any other simple value or float."""
    return sum(p not in (0.0, 1.0, -1.0) for p in params)


def _linear_refit(f_values: np.ndarray, target: np.ndarray, free_c: bool, free_d: bool, c: float, d: float):
    """Least-squares c, d (those free) of target ≈ c·f + d (n,)."""
    if free_c and free_d:
        fc, tc = f_values - f_values.mean(), target - target.mean()
        ff = float(fc @ fc)
        c = float(fc @ tc) / ff if ff > 0 else 0.0
        return c, float(target.mean() - c * f_values.mean())
    if free_c:
        ff = float(f_values @ f_values)
        return (float(f_values @ (target - d)) / ff if ff > 0 else c), d
    if free_d:
        return c, float(np.mean(target - c * f_values))
    return c, d


def snap_constants(fit, x: np.ndarray, y: np.ndarray, limit: float) -> tuple[int, tuple]:
    """Move the fit's constants (a, b, then c, then d) one at a time to the nearest simple
    value, refitting the free linear ones (c, d) after each, and keep every move after which
    the fit's normalised error on x, y (n,) is still at most ``limit``. -> (constants left
    as floats, the constants (a, b, c, d))."""
    var = float(np.var(y)) or 1.0
    free = list(free_constants(get_function(fit.outer)))
    with np.errstate(all="ignore"):
        target = to_target(y, x, fit.power, fit.outer_power)
        g = get_function(fit.inner).torch_fn(torch.as_tensor(x, dtype=torch.float64))

    def error(params) -> float:
        with np.errstate(all="ignore"):
            e = float(np.mean((predict(fit, x, params) - y) ** 2)) / var
        return e if math.isfinite(e) else math.inf

    def refit(params, free_c, free_d):
        a, b, c, d = params
        with np.errstate(all="ignore"):
            f_values = get_function(fit.outer).torch_fn(a * g + b).numpy()
        if not np.all(np.isfinite(f_values)):
            return None
        return (a, b, *_linear_refit(f_values, target, free_c, free_d, c, d))

    params = tuple(float(p) for p in fit.params)
    simple = [not free[i] or bool(np.any(SIMPLE_VALUES == params[i])) for i in range(4)]
    for i in range(4):
        if simple[i]:
            continue
        trial = list(params)
        trial[i] = float(SIMPLE_VALUES[np.argmin(np.abs(SIMPLE_VALUES - params[i]))])
        # the linear constants not yet moved are refit to the new value
        trial = refit(trial, free[2] and not simple[2] and i != 2, free[3] and not simple[3] and i != 3)
        if trial is not None and error(trial) <= limit:
            params, simple[i] = tuple(trial), True
    return sum(not s for s in simple), params


def distinct(fits: list, x: np.ndarray, kept: int) -> list:
    """The first ``kept`` of ``fits`` whose values at x (n,) differ from every earlier one's
    (snapped constants often make two families one formula: (1 − x²)^(−1/2) as 1/√(u) of
    u = 1 − x² and as the −1/2 power of a parabola)."""
    out, seen = [], []
    for fit in fits:
        values = predict(fit, x)
        scale = float(np.sqrt(np.mean(values * values))) if np.all(np.isfinite(values)) else math.inf
        if any(np.allclose(values, other, rtol=0.0, atol=1e-9 * max(scale, 1e-300)) for other in seen):
            continue
        out.append(fit)
        seen.append(values)
        if len(out) == kept:
            break
    return out


__all__ = ["to_target", "from_target", "NOISE_TIE_SIGMAS", "SIMPLE_VALUES", "constants_cost", "distinct", "noise_tie_spread", "predict", "snap_constants"]
