"""KAN convolutions: argument checks, norm / dropout, seeding, dtype, grid updates, subsets."""
from __future__ import annotations

import pytest
import torch

from symkan.nn import KANConv1d, KANConv2d, KANConv3d


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


BAD = [  # (keyword arguments, words the message must contain)
    (dict(kernel_size=0), ["kernel_size", ">= 1"]),
    (dict(kernel_size=(3,)), ["kernel_size", "tuple of 2"]),
    (dict(kernel_size=2.5), ["kernel_size"]),
    (dict(stride=(1, 0)), ["stride"]),
    (dict(dilation=True), ["dilation"]),
    (dict(padding=-1), ["padding", ">= 0"]),
    (dict(padding="full"), ["padding", "same", "valid"]),
    (dict(padding="same", stride=2), ["padding='same'", "stride"]),
    (dict(groups=3), ["groups=3", "divisible"]),
    (dict(groups=0), ["groups"]),
    (dict(in_channels=0), ["in_channels"]),
    (dict(out_channels=-2), ["out_channels"]),
    (dict(padding_mode="mirror"), ["padding_mode", "reflect"]),
    (dict(basis="nope"), ["unknown basis", "bspline"]),
    (dict(basis=object()), ["basis"]),
    (dict(grid_sizee=4), ["grid_sizee"]),
    (dict(grid_size=0), ["grid_size"]),
    (dict(dropout=1.0), ["dropout"]),
    (dict(norm="weird"), ["norm", "batch"]),
    (dict(formulation="fast"), ["formulation"]),
    (dict(formulation="shift", basis="dog"), ["formulation='shift'", "feature basis"]),
    (dict(formulation="shift", groups=2), ["formulation='shift'", "groups=1"]),
    (dict(seed=1, generator=torch.Generator()), ["generator or seed"]),
    (dict(seed="a"), ["seed"]),
    (dict(basis="rational", basis_kwargs={"groups": 5}), ["groups"]),
    (dict(basis="bspline", grid_size=3, basis_kwargs={"grid_size": 4}), ["grid_size", "basis_kwargs"]),
]


@pytest.mark.parametrize("kwargs,words", BAD, ids=lambda v: str(v)[:40] if isinstance(v, dict) else "")
def test_bad_arguments_raise_value_error_naming_them(kwargs, words):
    args = dict(in_channels=4, out_channels=6, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(ValueError) as err:
        KANConv2d(**args)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_the_shared_base_class_is_not_a_layer():
    from symkan.nn import BottleneckKANConvNd, KANConvNd
    with pytest.raises(ValueError, match="KANConv2d"):
        KANConvNd(2, 2, 3)
    with pytest.raises(ValueError, match="BottleneckKANConv1d"):
        BottleneckKANConvNd(8, 8, 3)


def test_bad_inputs_raise_value_error():
    layer = KANConv2d(3, 4, 3, basis="chebyshev")
    with pytest.raises(ValueError, match="in_channels=3"):
        layer(_rand(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, C, 2 spatial\)"):
        layer(_rand(8, 8))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        layer(_rand(1, 3, 2, 8))
    with pytest.raises(ValueError, match="in_channels=3"):
        layer.edge_functions(_rand(5, 4))


def test_seed_and_generator_are_reproducible_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = KANConv2d(3, 4, 3, basis="bspline", seed=5)
    b = KANConv2d(3, 4, 3, basis="bspline", generator=torch.Generator().manual_seed(5))
    c = KANConv2d(3, 4, 3, basis="bspline", seed=6)
    d = KANConv3d(2, 2, 2, basis="morlet", seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert d.bases[0].weight.abs().sum() > 0
    for (ka, va), (kb, vb), (_, vc) in zip(a.state_dict().items(), b.state_dict().items(), c.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    assert not torch.equal(a.bases[0].coef, c.bases[0].coef)


@pytest.mark.parametrize("name", ["legendre", "bspline", "mexican_hat", "rational"])
def test_initial_output_variance_is_of_order_of_the_input_variance(name):
    """Variance-preserving init with fan-in C_g·P: no blow-up or collapse with kernel size."""
    x = torch.rand(8, 16, 12, 12, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for k in (1, 3, 5):
        y = KANConv2d(16, 16, k, padding=k // 2, basis=name, seed=0)(x)
        ratio = (y.var() / x.var()).item()
        assert 0.1 < ratio < 3.0, (name, k, ratio)


def test_norms_and_dropout():
    x = _rand(4, 3, 6, 6) * 3 + 1
    for norm in ("batch", "instance", "layer"):
        layer = KANConv2d(3, 5, 3, padding=1, basis="fourier", norm=norm)
        y = layer(x)
        dims = {"batch": (0, 2, 3), "instance": (2, 3), "layer": (1, 2, 3)}[norm]
        assert y.mean(dims).abs().max() < 1e-4, norm  # normalised in training mode
    layer = KANConv1d(3, 5, 3, basis="chebyshev", dropout=0.5)
    x1 = _rand(8, 3, 10)
    layer.eval()
    assert torch.equal(layer(x1), layer(x1))
    layer.train()
    torch.manual_seed(0)  # nn.Dropout draws from the global RNG
    assert not torch.allclose(layer(x1), layer.eval()(x1))
    assert isinstance(KANConv3d(2, 2, 1, dropout=0.1).dropout, torch.nn.Dropout3d)


@pytest.mark.parametrize("name", ["bspline", "dog"])
def test_float64_and_state_dict_round_trip(name):
    a = KANConv1d(2, 3, 3, padding=1, basis=name, seed=0).double()
    x = _rand(2, 2, 7).double()
    assert a(x).dtype == torch.float64
    b = KANConv1d(2, 3, 3, padding=1, basis=name, seed=9).double()
    b.load_state_dict(a.state_dict())
    assert torch.equal(a(x), b(x))


def test_update_grid_moves_the_grid_and_keeps_the_curves():
    layer = KANConv2d(3, 4, 3, padding=1, basis="bspline", grid_size=8, seed=0)
    x = (torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1) * 0.5
    before = layer(x)
    grid = layer.bases[0].grid.clone()
    layer.update_grid(x)
    assert not torch.equal(grid, layer.bases[0].grid)
    after = layer(x)
    rel = (after - before).abs().max() / before.abs().max()
    assert rel < 0.02, rel.item()  # the basis' least-squares refit (measured 0.5 %)
    with pytest.raises(ValueError, match="no grid"):
        KANConv2d(3, 4, 3, basis="dog").update_grid(x)


@pytest.mark.parametrize("name", ["chebyshev", "mexican_hat", "rational"])
def test_subset_keeps_the_kept_edges(name):
    layer = KANConv2d(4, 5, 3, padding=1, basis=name, norm="batch", seed=0)
    x = _rand(3, 4, 6, 6)
    layer.train()
    layer(x)  # move the batch-norm statistics away from their initial values
    layer.eval()
    keep_in, keep_out = [0, 2, 3], [4, 1]
    small = layer.subset(keep_in, keep_out)
    assert (small.in_channels, small.out_channels) == (3, 2)
    v = _rand(7, 4, seed=3)
    torch.testing.assert_close(small.edge_functions(v[:, keep_in]),
                               layer.edge_functions(v)[:, keep_out][:, :, keep_in])
    full_in = layer.subset(range(4), keep_out)
    torch.testing.assert_close(full_in(x), layer(x)[:, keep_out])
    with pytest.raises(ValueError, match="groups=1"):
        KANConv2d(4, 4, 3, groups=2).subset([0], [0])
    with pytest.raises(ValueError, match="in_idx"):
        layer.subset([0, 0], [1])
