"""Bottleneck KAN convolution and the reference networks in symkan.models."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from symkan.models import KANResNet, KANUNet, KANVGG
from symkan.nn import (BottleneckKANConv1d, BottleneckKANConv2d, BottleneckKANConv3d, KANConv2d, seeded_conv,
                       seeded_linear)


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("cls,ref,spatial", [(BottleneckKANConv1d, nn.Conv1d, (9,)),
                                             (BottleneckKANConv2d, nn.Conv2d, (7, 6)),
                                             (BottleneckKANConv3d, nn.Conv3d, (5, 4, 6))])
def test_bottleneck_shapes_and_parameter_saving(cls, ref, spatial):
    x = _rand(2, 16, *spatial)
    block = cls(16, 24, 3, stride=2, padding=1, basis="chebyshev", reduction=4, norm="batch", dropout=0.1)
    assert block(x).shape == ref(16, 24, 3, stride=2, padding=1)(x).shape
    assert (block.squeeze.out_channels, block.conv.in_channels, block.conv.out_channels) == (4, 4, 6)
    full = KANConv2d(16, 24, 3, basis="chebyshev")
    assert _count(block) * 4 < _count(full)
    block(x).square().mean().backward()
    assert block.squeeze.weight.grad is not None and block.kan_conv.bases[0].coef.grad is not None


def test_bottleneck_bad_arguments():
    with pytest.raises(ValueError, match="reduction"):
        BottleneckKANConv2d(8, 8, 3, reduction=0)
    with pytest.raises(ValueError, match="dropout"):
        BottleneckKANConv2d(8, 8, 3, dropout=2.0)
    with pytest.raises(ValueError, match="divisible by groups"):
        BottleneckKANConv2d(8, 8, 3, groups=3)


def test_seeded_plain_layers_are_reproducible_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = seeded_conv(2, 4, 8, 3, generator=torch.Generator().manual_seed(1))
    b = seeded_conv(2, 4, 8, 3, generator=torch.Generator().manual_seed(1))
    lin = seeded_linear(64, 32)
    m = KANResNet(1, 3, (8, 16), seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.weight, b.weight) and a.bias.abs().sum() == 0
    assert abs(lin.weight.var().item() * 64 - 1) < 0.2  # N(0, 1/fan_in)
    assert torch.equal(m.head.weight, KANResNet(1, 3, (8, 16), seed=4).head.weight)


@pytest.mark.parametrize("basis", ["bspline", "rational", None])
def test_reference_networks_shapes_and_gradients(basis):
    x = _rand(3, 2, 8, 8)
    for model, shape in ((KANVGG(2, 5, (4, 8), basis=basis), (3, 5)),
                         (KANVGG(2, 5, (8, 8), 2, basis=basis, bottleneck=True, dropout=0.2), (3, 5)),
                         (KANResNet(2, 5, (8, 16), blocks=2, basis=basis), (3, 5)),
                         (KANUNet(2, 3, (4, 8, 8), basis=basis), (3, 3, 8, 8))):
        y = model(x)
        assert y.shape == shape and torch.isfinite(y).all()
        y.square().mean().backward()
        assert all(p.grad is not None for p in model.parameters())


def test_models_use_kan_units_and_bottlenecks():
    vgg = KANVGG(1, 10, (8, 16))
    assert sum(isinstance(m, KANConv2d) for m in vgg.modules()) == 2
    res = KANResNet(1, 10, (16, 32))
    assert sum(isinstance(m, BottleneckKANConv2d) for m in res.modules()) == 3  # 2 residual + 1 downsample
    assert _count(KANResNet(1, 10, (16, 32), bottleneck=False)) > 4 * _count(res)
    with pytest.raises(ValueError, match="divisible by 4"):
        KANUNet(1, 1, (4, 4, 4))(_rand(1, 1, 6, 8))
    with pytest.raises(ValueError, match="at least 2"):
        KANUNet(1, 1, (4,))
    with pytest.raises(ValueError, match="plain unit"):
        KANVGG(1, 2, basis=None, grid_size=3)


@pytest.mark.slow
def test_a_few_adam_steps_lower_the_loss():
    """8 full-batch Adam steps on a fixed toy task: the KAN VGG learns (loss falls)."""
    x = _rand(32, 1, 8, 8)
    y = (x[:, 0, :4].mean((1, 2)) > x[:, 0, 4:].mean((1, 2))).long()
    model = KANVGG(1, 2, (4, 8), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize("basis", ["chebyshev", None])
def test_separable_units_mix_by_1x1_then_filter_each_channel(basis):
    """separable: plain 1×1 mixing (no bias) then a depthwise 3×3 (groups = out), shapes as the full unit."""
    x = _rand(2, 6, 8, 8)
    kw = {"degree": 3} if basis else {}
    vgg = KANVGG(6, 4, (8, 16), basis=basis, separable=True, **kw)
    res = KANResNet(6, 4, (8, 16), basis=basis, bottleneck=False, separable=True, **kw)
    for model in (vgg, res):
        y = model(x)
        assert y.shape == (2, 4) and torch.isfinite(y).all()
    mix = vgg.features[0][0]
    assert isinstance(mix, nn.Conv2d) and mix.kernel_size == (1, 1) and mix.bias is None
    depthwise = vgg.features[0][1]
    assert depthwise.groups == depthwise.in_channels == depthwise.out_channels == 8
    if basis:  # the KAN part costs out·9·(K + 1), not in·out·9·(K + 1)
        assert isinstance(depthwise, KANConv2d)
        assert _count(depthwise.bases) == 8 * 9 * 4 and depthwise.base_weight.numel() == 8 * 9
        assert _count(KANVGG(6, 4, (8, 16), basis=basis, **kw)) > 3 * _count(vgg)
    strided = res.features[2]  # the stride-2 unit between the stages
    assert strided(_rand(2, 8, 8, 8)).shape == (2, 16, 4, 4)


def test_separable_and_bottleneck_exclude_each_other():
    with pytest.raises(ValueError, match="separable and bottleneck"):
        KANResNet(1, 2, (4, 8), separable=True)  # bottleneck=True is the ResNet's default
    with pytest.raises(ValueError, match="separable and bottleneck"):
        KANVGG(1, 2, (4, 8), basis=None, separable=True, bottleneck=True)
