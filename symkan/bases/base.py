"""The contract every KAN basis honours.

A basis owns the learnable univariate functions on all edges of one layer
(``out_features × in_features`` edges). Two kinds exist:

* :class:`FeatureBasis` — the edge function is a linear combination of shared features,
  φ_oi(x_i) = Σ_k c_oik · B_k(u_i) with u = premap(x). The fast forward is one basis
  expansion ``(batch, in, K)`` and one ``F.linear`` — no ``(batch, out, in)`` tensor.
* plain :class:`Basis` — families that do not fit "features then matmul" (per-edge
  wavelets, group rationals) implement ``forward`` and ``edge_activations`` themselves.

Both return the same things:

* ``forward(x, mask) -> (batch, out)``: Σ_i mask_oi · φ_oi(x_i)
* ``edge_activations(x) -> (batch, out, in)``: φ_oi(x_i), unmasked, exact.

Every basis declares three abilities as class attributes, so callers ask the basis
instead of keeping lists of names; :func:`symkan.bases.register_basis` refuses a basis
that leaves one out (the defaults below are for unregistered helper classes only):

* ``premap_kind`` — the pre-map u = premap(x) (identity, tanh, running min-max; one of
  :data:`symkan.bases.premap.PREMAPS`) applied inside the basis, so the symbolic phase
  sees plain ``x -> φ(x)`` pairs. A property where an option chooses it.
* ``size_option`` — the name of the constructor option that sets the number of basis
  functions per edge ("grid_size", "num_centers", "degree", "num_frequencies",
  "num_wavelets"), or None where no option does (rational: fixed degrees). Generic
  callers (the regressor's ``grid_size``) pass their size under this name, and
  ``refine(n)``, where a family has it (grid and pre-mapped bases), sets it to n.
* ``has_grid`` — the edge functions live on a grid of knots or centres over the input
  range (the local bases, :class:`symkan.bases.grid.GridBasis`): ``update_grid(x)``
  moves it to the data and ``refine(n)`` changes its size, both keeping the curves. The
  per-instance ``supports_grid_update`` follows it (a pre-mapped basis also moves a
  min-max range).
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import torch
from torch import nn
import torch.nn.functional as F


class Basis(nn.Module):
    """Base class of every edge-function family.

    Subclasses set ``name`` and ``edge_axes``, declare ``premap_kind``, ``size_option``
    and ``has_grid`` (see the module docstring) and implement ``forward`` and
    ``edge_activations``. Constructor keyword options are kept in ``self.options`` so
    :meth:`subset` (used by pruning) and saving can rebuild an identical basis.
    """

    name: ClassVar[str] = "?"
    #: constructor option that sets the number of basis functions per edge, or None
    size_option: ClassVar[str | None] = None
    #: a grid of knots / centres that ``update_grid(x)`` moves and ``refine(n)`` resizes
    has_grid: ClassVar[bool] = False
    #: For each parameter/buffer: which axes index the layer's outputs ("out") and
    #: inputs ("in"); other axes are None. Entries not listed are copied whole by subset().
    edge_axes: ClassVar[dict[str, tuple]] = {}
    #: The pre-map u = premap(x) the edge functions are evaluated on, one of
    #: :data:`~symkan.bases.premap.PREMAPS` ("identity": φ sees raw x). A class attribute
    #: for a fixed pre-map, a property where an option chooses it. Declared explicitly
    #: (no default) because the symbolic phase must reproduce φ(x) exactly.
    premap_kind: ClassVar[str | None] = None

    def __init__(self, in_features: int, out_features: int, **options):
        super().__init__()
        if int(in_features) < 1 or int(out_features) < 1:
            raise ValueError(
                f"a basis needs in_features >= 1 and out_features >= 1, got {in_features}, {out_features}"
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.options = dict(options)

    # --- contract -------------------------------------------------------------------
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, in), mask: (out, in) or None -> (batch, out)."""
        raise NotImplementedError

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> φ_oi(x_i): (batch, out, in)."""
        raise NotImplementedError

    def domain(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Typical raw input range (lo, hi), each (in,), for probes and plots. Default [-1, 1]."""
        ref = next(self.parameters(), None)
        kw = {} if ref is None else {"dtype": ref.dtype, "device": ref.device}
        ones = torch.ones(self.in_features, **kw)
        return -ones, ones

    def probe_inputs(self, n: int = 257) -> torch.Tensor:
        """Inputs spanning the basis' typical domain, (n, in); used for init, refits and plots."""
        lo, hi = self.domain()
        t = torch.linspace(0.0, 1.0, n, dtype=lo.dtype, device=lo.device)[:, None]
        return lo[None, :] + (hi - lo)[None, :] * t

    @property
    def supports_grid_update(self) -> bool:
        """Whether ``update_grid(x)`` can move something to the data (see ``has_grid``)."""
        return self.has_grid

    def update_grid(self, x: torch.Tensor) -> None:
        raise NotImplementedError(f"basis {self.name!r} has no grid to update")

    def refine(self, num: int, x: torch.Tensor | None = None) -> None:
        raise NotImplementedError(f"basis {self.name!r} has no grid to refine")

    def extra_repr(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options.items() if k != "generator")
        return f"in={self.in_features}, out={self.out_features}" + (f", {opts}" if opts else "")

    # --- rebuilding -------------------------------------------------------------------
    def config(self) -> dict:
        """Constructor options (JSON-friendly) that rebuild this basis' hyper-parameters."""
        return {k: v for k, v in self.options.items() if k != "generator"}

    def subset(self, out_idx: Sequence[int], in_idx: Sequence[int]) -> "Basis":
        """A new basis on the edges ``out_idx × in_idx`` computing the same functions."""
        out_idx = torch.as_tensor(list(out_idx), dtype=torch.long)
        in_idx = torch.as_tensor(list(in_idx), dtype=torch.long)
        # a private generator: the fresh values are overwritten below; never draw from the global RNG
        new = type(self)(len(in_idx), len(out_idx), **self.config(), generator=torch.Generator())
        # follow the device and float dtype of this basis (load_state_dict keeps the target's dtype)
        ref = next((v for v in self.state_dict().values() if torch.is_tensor(v) and v.is_floating_point()), None)
        if ref is not None:
            new = new.to(device=ref.device, dtype=ref.dtype)
        state = {}
        for key, value in self.state_dict().items():
            axes = self.edge_axes.get(key)
            if axes is not None:
                for dim, kind in enumerate(axes):
                    if kind == "out":
                        value = value.index_select(dim, out_idx.to(value.device))
                    elif kind == "in":
                        value = value.index_select(dim, in_idx.to(value.device))
            state[key] = value.clone()
        new.load_state_dict(state)
        return new

    # --- helpers for subclasses -------------------------------------------------------
    @staticmethod
    def _randn(shape, generator: torch.Generator | None, std: float = 1.0) -> torch.Tensor:
        """Seeded normal draws that never touch the global RNG: without a generator a
        private one seeded 0 is used (deterministic, like an explicit seed of 0)."""
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        return torch.randn(*shape, generator=generator) * std


class FeatureBasis(Basis):
    """Bases of the form φ_oi(x) = Σ_k coef[o, i, k] · B_k(premap(x_i)).

    Subclasses implement :meth:`features` and set ``num_features``; the coefficient
    tensor, its variance-preserving initialisation, the fast forward and the exact edge
    activations live here.
    """

    edge_axes: ClassVar[dict[str, tuple]] = {"coef": ("out", "in", None)}

    def __init__(self, in_features: int, out_features: int, num_features: int, *,
                 init_scale: float = 1.0, generator: torch.Generator | None = None, **options):
        super().__init__(in_features, out_features, init_scale=init_scale, **options)
        self.num_features = int(num_features)
        self.coef = nn.Parameter(torch.zeros(out_features, in_features, self.num_features))
        self._init_generator = generator

    def reset_coefficients(self, generator: torch.Generator | None = None, gain: float | None = None):
        """Variance-preserving init: Var(Σ_i φ_oi) ≈ gain² · E[u²] given E[B_k(u)²].

        E[B_k(u)²] and E[u²] are measured on a fixed grid over the basis' typical input
        range, so no random numbers are used for the estimate itself.
        """
        gain = self.options.get("init_scale", 1.0) if gain is None else gain
        probe = self.probe_inputs()  # (n, in)
        with torch.no_grad():
            feats = self.features(probe)  # (n, in, K)
            power = feats.pow(2).mean(dim=(0, 2)).clamp_min(1e-12)  # (in,)
            var_in = probe.pow(2).mean(0).clamp_min(1e-12)  # (in,)
            std = gain * torch.sqrt(var_in / (self.in_features * self.num_features * power))
            draws = self._randn(self.coef.shape, generator)
            self.coef.copy_(draws * std[None, :, None])

    def domain(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Typical input range (lo, hi), each (in,). Default [-1, 1]."""
        ones = torch.ones(self.in_features, dtype=self.coef.dtype, device=self.coef.device)
        return -ones, ones

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in) -> B_k(premap(x_i)): (batch, in, K)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        feats = self.features(x)  # (batch, in, K)
        weight = self.coef if mask is None else self.coef * mask[:, :, None]
        return F.linear(feats.reshape(x.shape[0], -1), weight.reshape(self.out_features, -1))

    def edge_activations(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.features(x)  # (batch, in, K)
        if self.out_features <= 16:
            # few outputs: (in, out, K) @ (in, K, batch) keeps batch innermost, so the elementwise
            # ops and batch reductions that follow (penalty, scores) run over long contiguous rows
            # (measured 10-30 % faster fwd + bwd up to 16 outputs, slower from 32 on)
            return torch.matmul(self.coef.transpose(0, 1), feats.permute(1, 2, 0)).permute(2, 1, 0)
        return torch.einsum("bik,oik->boi", feats, self.coef)

    def fit_coefficients(self, x: torch.Tensor, target: torch.Tensor, ridge: float = 1e-6) -> None:
        """Least-squares refit of ``coef`` so that edge_activations(x) ≈ target.

        x: (n, in), target: (n, out, in). Solved per input as a ridge-regularised normal
        equation, so rank-deficient systems (empty grid cells) cannot crash.
        """
        feats = self.features(x).to(torch.float64)  # (n, in, K)
        a = feats.permute(1, 0, 2)  # (in, n, K)
        rhs = target.to(torch.float64).permute(2, 0, 1)  # (in, n, out)
        ata = a.transpose(1, 2) @ a  # (in, K, K)
        scale = ata.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-12)  # (in,)
        eye = torch.eye(self.num_features, dtype=torch.float64, device=x.device)
        ata = ata + ridge * scale[:, None, None] * eye
        sol = torch.linalg.solve(ata, a.transpose(1, 2) @ rhs)  # (in, K, out)
        with torch.no_grad():
            self.coef.copy_(sol.permute(2, 0, 1).to(self.coef.dtype))


def inverse_softplus(w: torch.Tensor) -> torch.Tensor:
    """ρ with softplus(ρ) = w, for w > 0 (stable for small and large w); sets a
    positive quantity kept as softplus(ρ) (wavelet scales, ReLU-KAN cell widths)."""
    return w + torch.log(-torch.expm1(-w))


__all__ = ["Basis", "FeatureBasis", "inverse_softplus"]
