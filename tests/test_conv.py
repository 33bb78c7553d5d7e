"""KAN convolutions: output shapes against nn.Conv*d, gradcheck for every basis × 1d/2d/3d,
and equality with a direct loop over output positions that evaluates every edge by the
basis' own edge_activations."""
from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
import torch.nn.functional as F

from symkan.bases import available_bases
from symkan.nn import KANConv1d, KANConv2d, KANConv3d

KAN_CONV = {1: KANConv1d, 2: KANConv2d, 3: KANConv3d}
TORCH_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
#: small sizes so that every basis is cheap (K = 3 or 4 functions per edge)
SMALL = {"bspline": {"grid_size": 2, "order": 2}, "relukan": {"grid_size": 2, "k": 1},
         "rbf": {"num_centers": 3}, "fourier": {"num_frequencies": 2}, "mexican_hat": {"num_wavelets": 2},
         "morlet": {"num_wavelets": 2}, "dog": {"num_wavelets": 2}, "chebyshev": {"degree": 3},
         "legendre": {"degree": 3}, "gram": {"degree": 3}, "jacobi": {"degree": 3}, "bernstein": {"degree": 3}}
SPATIAL = {1: (7,), 2: (5, 6), 3: (4, 5, 3)}


def _rand(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- output shapes -----------------------------------------------------------------------------
SETTINGS = [  # (kernel_size, stride, padding, dilation, groups, padding_mode)
    (3, 1, 0, 1, 1, "zeros"),
    (3, 2, 1, 1, 2, "zeros"),
    (2, 1, "same", 1, 1, "zeros"),
    (3, 1, "same", 2, 1, "reflect"),
    (1, 3, "valid", 1, 4, "zeros"),
    (3, 1, 2, 1, 1, "circular"),
    (2, 2, 1, 2, 2, "replicate"),
    (4, 3, 2, 1, 1, "reflect"),
]


@pytest.mark.parametrize("n_dims", [1, 2, 3])
@pytest.mark.parametrize("setting", SETTINGS)
def test_output_shape_matches_torch_conv(n_dims, setting):
    k, s, p, d, g, mode = setting
    spatial = {1: (11,), 2: (9, 8), 3: (7, 6, 8)}[n_dims]
    x = _rand(2, 4, *spatial)
    ref = TORCH_CONV[n_dims](4, 8, k, stride=s, padding=p, dilation=d, groups=g, padding_mode=mode)
    layer = KAN_CONV[n_dims](4, 8, k, stride=s, padding=p, dilation=d, groups=g, padding_mode=mode,
                             basis="chebyshev", degree=2)
    assert layer(x).shape == ref(x).shape
    assert layer(x[0]).shape == ref(x[0]).shape  # unbatched input, as nn.Conv


def test_output_shape_with_tuple_arguments():
    x = _rand(1, 2, 10, 9)
    args = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 3))
    ref = nn.Conv2d(2, 3, **args)
    assert KANConv2d(2, 3, basis="fourier", **args)(x).shape == ref(x).shape


@pytest.mark.parametrize("name", available_bases())
@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_every_basis_every_dimension_shape_and_finite(name, n_dims):
    x = _rand(2, 4, *SPATIAL[n_dims])
    layer = KAN_CONV[n_dims](4, 6, 2, stride=1, padding=1, groups=2, basis=name, **SMALL.get(name, {}))
    y = layer(x)
    ref = TORCH_CONV[n_dims](4, 6, 2, padding=1, groups=2)(x)
    assert y.shape == ref.shape
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters() if p.requires_grad)


# --- gradcheck -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", available_bases())
@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_gradcheck_float64(name, n_dims):
    """d(output)/d(input and every parameter) against finite differences, float64, tiny
    sizes; padding 1 so that the zero-padding border term is checked too."""
    torch.manual_seed(0)  # gradcheck's random projections (not used for fast_mode=False, kept stable)
    layer = KAN_CONV[n_dims](2, 2, 2, padding=1, dilation=1, basis=name, **SMALL.get(name, {})).double()
    spatial = {1: (3,), 2: (2, 3), 3: (2, 2, 2)}[n_dims]
    x = (_rand(1, 2, *spatial, seed=1, dtype=torch.float64) * 0.8).requires_grad_()
    names = [n for n, p in layer.named_parameters() if p.requires_grad]
    params = [p.detach().clone().requires_grad_() for n, p in layer.named_parameters() if p.requires_grad]

    def f(inp, *ps):
        return torch.func.functional_call(layer, dict(zip(names, ps)), (inp,))

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5, rtol=1e-4)


# --- direct loop reference -------------------------------------------------------------------------
def _pairs(padding, kernel, dilation):
    if padding == "same":
        return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
    return [(padding, padding)] * len(kernel)


def _patch_edges(layer, patch: torch.Tensor) -> torch.Tensor:
    """Σ over the edges of every output channel for one patch (P, C) -> (O,), each edge
    φ_{o,c,p} evaluated by the basis' edge_activations (plus residual and bias)."""
    P, C = patch.shape
    O, G = layer.out_channels, layer.groups
    Og, Cg = O // G, C // G
    y = torch.zeros(O, dtype=patch.dtype)
    for o in range(O):
        g = o // Og
        chans = slice(g * Cg, (g + 1) * Cg)
        if layer.feature_basis:  # basis edge (o'·P + p, channel)
            acts = layer.bases[0].edge_activations(patch)  # (P rows: position p, Og·P, C)
            acts = acts.reshape(P, Og, P, C)
            y[o] = sum(acts[p, o % Og, p, chans].sum() for p in range(P))
        else:  # basis of group g, input c·P + p
            inputs = patch[:, chans].T.reshape(1, -1)
            y[o] = layer.bases[g].edge_activations(inputs)[0, o % Og].sum()
        if layer.residual:
            y[o] += (layer.base_weight[o].reshape(Cg, P) * F.silu(patch[:, chans].T)).sum()
        if layer.bias is not None:
            y[o] += layer.bias[o]
    return y


@torch.no_grad()
def reference_conv(layer, x, padding, padding_mode):
    """The definition, one output position at a time."""
    kernel, stride, dilation = layer.kernel_size, layer.stride, layer.dilation
    flat = [v for pair in reversed(_pairs(padding, kernel, dilation)) for v in pair]
    xp = F.pad(x, flat, mode="constant" if padding_mode == "zeros" else padding_mode)
    out = [(s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(xp.shape[2:], kernel, stride, dilation)]
    offsets = list(itertools.product(*[range(k) for k in kernel]))  # row-major kernel positions
    y = x.new_zeros(x.shape[0], layer.out_channels, *out)
    for n in range(x.shape[0]):
        for pos in itertools.product(*[range(o) for o in out]):
            patch = torch.stack([xp[(n, slice(None), *[q * st + p * d for q, p, st, d in
                                                        zip(pos, off, stride, dilation)])] for off in offsets])
            y[(n, slice(None), *pos)] = _patch_edges(layer, patch)
    return y


REFERENCE_CASES = [  # (basis, options, n_dims, kernel, stride, padding, dilation, groups, mode)
    ("bspline", {"grid_size": 3}, 2, 3, 2, 1, 1, 2, "zeros"),
    ("bspline", {}, 2, (2, 3), (1, 2), "same", (1, 2), 1, "zeros"),  # "same" padding (0, 1) and (2, 2)
    ("chebyshev", {"degree": 3}, 2, 3, 1, 2, 2, 2, "reflect"),
    ("chebyshev", {"degree": 3}, 1, 3, 2, 1, 1, 3, "circular"),
    ("rbf", {"num_centers": 4}, 3, 2, 1, 1, 1, 1, "zeros"),
    ("relukan", {"grid_size": 3}, 2, 2, 1, 1, 2, 1, "replicate"),
    ("mexican_hat", {"num_wavelets": 2}, 2, 3, 2, 1, 1, 1, "zeros"),
    ("morlet", {"num_wavelets": 2}, 2, 2, 1, "same", 2, 2, "zeros"),
    ("rational", {}, 2, 3, 1, 1, 2, 2, "reflect"),
    ("rational", {}, 1, 2, 2, 1, 1, 1, "zeros"),
    ("dog", {}, 3, 2, 1, 1, 1, 3, "circular"),
]


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=lambda c: f"{c[0]}-{c[2]}d-{c[8]}")
def test_matches_direct_loop_reference(case):
    name, opts, n_dims, k, s, p, d, g, mode = case
    if p == "same":
        s = 1
    layer = KAN_CONV[n_dims](6, 6, k, stride=s, padding=p, dilation=d, groups=g, padding_mode=mode,
                             basis=name, seed=3, **opts)
    with torch.no_grad():  # non-zero bias, so that the reference checks where it goes
        layer.bias.copy_(_rand(6, seed=4) * 0.1)
    x = _rand(2, 6, *{1: (9,), 2: (7, 6), 3: (5, 4, 5)}[n_dims], seed=5)
    expected = reference_conv(layer, x, p, mode)
    torch.testing.assert_close(layer(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["bspline", "relukan", "legendre", "fourier"])
@pytest.mark.parametrize("mode", ["zeros", "reflect"])
def test_expand_and_shift_formulations_agree(name, mode):
    """The grouped convolution over the expanded input and the strided sum of the basis'
    own per-pixel outputs are the same function (groups = 1)."""
    args = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), padding_mode=mode,
                basis=name, seed=1)
    a = KANConv2d(3, 5, formulation="expand", **args)
    b = KANConv2d(3, 5, formulation="shift", **args)
    b.load_state_dict(a.state_dict())
    x = _rand(2, 3, 9, 8)
    torch.testing.assert_close(a(x), b(x), rtol=1e-5, atol=1e-5)
    assert a.resolved_formulation(x) == "expand" and b.resolved_formulation(x) == "shift"


def test_edge_functions_sum_to_output_on_constant_input():
    """A constant image without padding: every patch is the same, so each output pixel is
    Σ_{c,p} φ_{o,c,p}(v_c) + bias."""
    for name in ("bspline", "dog", "rational"):
        layer = KANConv2d(4, 6, 3, groups=2, basis=name, seed=2)
        v = _rand(1, 4, seed=7)
        x = v[:, :, None, None].expand(1, 4, 5, 5)
        y = layer(x)
        expected = layer.edge_functions(v).sum((2, 3)) + layer.bias
        torch.testing.assert_close(y, expected[:, :, None, None].expand_as(y), rtol=1e-5, atol=1e-5)
