"""Data-adaptive grids shared by the local bases (B-spline, RBF, ReLU-KAN).

A grid basis evaluates its edge functions on a per-input grid of knots or centres over
the input range. :class:`GridBasis` holds what these families share:

* the options ``grid_range`` (the initial grid's range) and ``grid_eps`` (the blend of
  a uniform grid and per-input quantiles that ``update_grid`` places: 1 = uniform);
* ``update_grid(x)``: the grid moves to the data (:func:`data_grid`);
* ``refine(n)``: the size option becomes n (a uniform grid over the current range, or a
  data grid on x);

both keeping the learned curves by a least-squares refit of the coefficients on x (or on
dense points over the current range). A family says how many grid points a size needs
(``points_per_size``), how many features a size gives (:meth:`GridBasis.features_for`)
and how to install new grid points (:meth:`GridBasis.set_grid`).
"""
from __future__ import annotations

from typing import ClassVar

import torch

from ..checks import check_int, check_range
from .base import FeatureBasis


def regrid_floors(lo: torch.Tensor, hi: torch.Tensor, num: int,
                  rel_gap: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Floors for placing data-adaptive knots (or centres) on [lo, hi], lo and hi (in,).

    Returns (span (in,), min_gap (in, 1)): the data span, at least 1e-4, and the smallest
    gap between neighbouring knots, ``rel_gap·span/num``. Both are also at least 64 ulps of
    the data's magnitude: a constant input far from 0 (float32, x = 100) otherwise got
    knots closer than its precision, which coincided, and 1/(t_{j+1} − t_j) made the
    curves NaN after ``update_grid`` (measured for B-splines and RBF).
    """
    resolution = 64 * torch.finfo(lo.dtype).eps * torch.maximum(lo.abs(), hi.abs()).clamp_min(1.0)
    span = torch.maximum((hi - lo).clamp_min(1e-4), 4 * num * resolution)
    return span, torch.maximum(rel_gap * span / num, resolution)[:, None]


def data_grid(x: torch.Tensor, num: int, points: int, grid_eps: float, rel_gap: float,
              pin_top: bool) -> torch.Tensor:
    """Strictly increasing grid points on the data, x: (batch, in) -> (in, points).

    Point j is ``grid_eps`` · (uniform point j over the data span) + (1 − grid_eps) ·
    (quantile j of x); neighbours are at least the :func:`regrid_floors` gap apart (for
    ``num`` cells or centres), so repeated values (a constant column) cannot make them
    coincide. ``pin_top``: the last point is the top of the floored span, so the grid
    covers it whole even where the data's own range is below the floor (B-splines).
    """
    xs = torch.sort(x, dim=0).values
    idx = torch.linspace(0, xs.shape[0] - 1, points, device=x.device).round().long()
    quant = xs[idx].T  # (in, points)
    lo = xs[0]
    span, min_gap = regrid_floors(lo, xs[-1], num, rel_gap=rel_gap)
    hi = lo + span
    uniform = lo[:, None] + (hi - lo)[:, None] * torch.linspace(0, 1, points, dtype=x.dtype, device=x.device)
    grid = grid_eps * uniform + (1 - grid_eps) * quant
    if pin_top:
        grid[:, -1] = torch.maximum(grid[:, -1], hi)
    gaps = torch.maximum(torch.diff(grid, dim=1), min_gap)
    return torch.cat([grid[:, :1], grid[:, :1] + torch.cumsum(gaps, dim=1)], dim=1)


def extend_knots(inner: torch.Tensor, k: int) -> torch.Tensor:
    """Inner knots (in, G + 1), increasing -> (in, G + 2k + 1): k more cells each side,
    as wide as the outermost inner cells."""
    steps = torch.arange(1, k + 1, dtype=inner.dtype, device=inner.device)[None]
    h_lo = (inner[:, 1] - inner[:, 0])[:, None]
    h_hi = (inner[:, -1] - inner[:, -2])[:, None]
    return torch.cat([inner[:, :1] - h_lo * steps.flip(-1), inner, inner[:, -1:] + h_hi * steps], dim=1)


class GridBasis(FeatureBasis):
    """A feature basis on a per-input grid: options, ``update_grid`` and ``refine``.

    Subclasses declare ``size_option`` (and keep the size in the attribute of that name),
    ``points_per_size``, ``min_size``, ``regrid_min_gap``, ``regrid_pins_top``, and
    implement :meth:`features_for` and :meth:`set_grid`; they check their size with
    :meth:`check_size` and read the parsed range from ``options["grid_range"]``.
    """

    has_grid: ClassVar[bool] = True
    #: grid points for a size n: n + 1 knots bound n cells (1), n centres (0)
    points_per_size: ClassVar[int] = 1
    #: the smallest size the family accepts
    min_size: ClassVar[int] = 1
    #: smallest gap between neighbouring points after ``update_grid``, as a fraction of
    #: the mean spacing (see :func:`regrid_floors`)
    regrid_min_gap: ClassVar[float] = 1e-2
    #: ``update_grid`` pins the last point at the top of the floored data span (see
    #: :func:`data_grid`)
    regrid_pins_top: ClassVar[bool] = False

    def __init__(self, in_features: int, out_features: int, num_features: int, *, grid_range=(-1.0, 1.0),
                 grid_eps: float = 0.02, init_scale: float = 1.0, generator: torch.Generator | None = None,
                 **options):
        lo, hi = check_range("grid_range", grid_range)
        if not 0.0 <= grid_eps <= 1.0:
            raise ValueError(f"grid_eps must lie in [0, 1], got {grid_eps!r}")
        super().__init__(in_features, out_features, num_features, init_scale=init_scale, generator=generator,
                         **options, grid_range=[lo, hi], grid_eps=float(grid_eps))
        self.grid_eps = float(grid_eps)

    @classmethod
    def check_size(cls, value) -> int:
        """The size option as an int >= ``min_size``, else ValueError."""
        return check_int(cls.size_option, value, minimum=cls.min_size)

    @property
    def size(self) -> int:
        """The current value of the size option."""
        return getattr(self, self.size_option)

    def features_for(self, size: int) -> int:
        """Number of features per input at ``size``."""
        raise NotImplementedError

    def set_grid(self, points: torch.Tensor) -> None:
        """Install new grid points, (in, size + points_per_size), increasing per input."""
        raise NotImplementedError

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Move the grid to the data x: (batch, in), keeping the curves (least squares)."""
        self._regrid(x, self.size)

    @torch.no_grad()
    def refine(self, num: int, x: torch.Tensor | None = None) -> None:
        """Change the size to ``num`` keeping the curves: a data grid on x (batch, in), or
        without data a uniform grid over the current range, refit on dense points there."""
        self._regrid(x, self.check_size(num), adaptive=x is not None)

    def _regrid(self, x: torch.Tensor | None, num: int, adaptive: bool = True) -> None:
        if x is None:
            x = self.probe_inputs(max(64, 8 * self.features_for(num)))
        x = x.to(self.coef.dtype)
        target = self.edge_activations(x)  # old curves, (n, out, in)
        points = num + self.points_per_size
        if adaptive:
            grid = data_grid(x, num, points, self.grid_eps, self.regrid_min_gap, self.regrid_pins_top)
        else:
            lo, hi = self.domain()
            grid = lo[:, None] + (hi - lo)[:, None] * torch.linspace(0, 1, points, dtype=x.dtype, device=x.device)
        if num != self.size:
            setattr(self, self.size_option, num)
            self.options[self.size_option] = num
            self.num_features = self.features_for(num)
            self.coef = torch.nn.Parameter(self.coef.new_zeros(self.out_features, self.in_features,
                                                               self.num_features))
        self.set_grid(grid)
        self.fit_coefficients(x, target)


__all__ = ["GridBasis", "data_grid", "extend_knots", "regrid_floors"]
