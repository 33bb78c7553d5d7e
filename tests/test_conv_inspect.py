"""Scores, channel pruning and curve plots of KAN convolutions."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from symkan.conv_plot import plot_conv_functions
from symkan.conv_scores import conv_channel_scores, conv_edge_scores, prune_conv_channels
from symkan.nn import BottleneckKANConv2d, KANConv1d, KANConv2d


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _silence(layer, *, inp=None, out=None):
    """Make every edge from input channel ``inp`` (or into output ``out``) identically 0."""
    P = layer.kernel_positions
    with torch.no_grad():
        coef = layer.bases[0].coef.view(layer.out_channels, P, layer.in_channels, -1)
        if inp is not None:
            coef[:, :, inp] = 0
            layer.base_weight[:, inp] = 0
        if out is not None:
            coef[out] = 0
            layer.base_weight[out] = 0


def test_scores_find_silent_channels_and_pruning_is_exact():
    layer = KANConv2d(4, 5, 3, padding=1, basis="chebyshev", seed=0)
    _silence(layer, inp=1)
    _silence(layer, out=3)
    x = _rand(3, 4, 6, 6)
    edges = conv_edge_scores(layer, x)
    assert edges.shape == (5, 4) and edges.max() == 1
    assert torch.all(edges[:, 1] == 0) and torch.all(edges[3] == 0)
    s_in, s_out = conv_channel_scores(layer, x)
    assert s_in[1] == 0 and s_out[3] == 0 and (s_in[[0, 2, 3]] > 0.05).all() and (s_out[[0, 1, 2, 4]] > 0.05).all()
    result = prune_conv_channels(layer, x)
    assert result.kept_in == [0, 2, 3] and result.kept_out == [0, 1, 2, 4]
    torch.testing.assert_close(result.layer(x[:, result.kept_in]), layer(x)[:, result.kept_out])


def test_constant_input_channel_scores_zero_and_kernel_position_scores():
    layer = KANConv1d(3, 2, 3, basis="bspline", seed=1)
    x = _rand(4, 3, 10)
    x[:, 2] = 0.3  # constant on the data: every edge from it is flat there
    s_in, _ = conv_channel_scores(layer, x)
    assert s_in[2] == 0 and s_in[0] > 0
    per_pos = [conv_edge_scores(layer, x, kernel_position=p) for p in range(3)]
    assert all(s.shape == (2, 3) for s in per_pos) and not torch.equal(per_pos[0], per_pos[1])
    with pytest.raises(ValueError, match="kernel_position"):
        conv_edge_scores(layer, x, kernel_position=3)


def test_bad_inputs():
    layer = KANConv2d(2, 2, 3, basis="dog", groups=2)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2, 2 spatial\)"):
        conv_edge_scores(layer, _rand(1, 3, 5, 5))
    with pytest.raises(ValueError, match="groups=1"):
        prune_conv_channels(layer, _rand(1, 2, 5, 5))
    with pytest.raises(ValueError, match="KAN convolution"):
        conv_channel_scores(torch.nn.Conv2d(2, 2, 3), _rand(1, 2, 5, 5))
    with pytest.raises(ValueError, match="in_threshold"):
        prune_conv_channels(KANConv2d(2, 2, 3), _rand(1, 2, 5, 5), in_threshold=2)
    with pytest.raises(ValueError, match="NaN"):
        conv_edge_scores(layer, torch.full((1, 2, 5, 5), float("nan")))


def _curves(fig):
    return {line.get_gid(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()}


def test_plot_draws_one_curve_per_edge_with_score_opacity():
    layer = KANConv2d(4, 6, 3, padding=1, groups=2, basis="rbf", seed=0)
    x = _rand(2, 4, 7, 7)
    beta = 4.0
    fig = plot_conv_functions(layer, x, beta=beta)
    assert len(fig.axes) == 6 * 4
    lines = _curves(fig)
    assert len(lines) == 6 * 2  # only same-group pairs are edges
    scores = conv_edge_scores(layer, x)
    for o in range(6):
        for c in range(4):
            key = f"curve:{o}:{c}"
            if c // 2 != o // 3:
                assert key not in lines
                continue
            assert lines[key].get_alpha() == pytest.approx(float(np.tanh(beta * float(scores[o, c % 2]))))
    # the curve is the sum over kernel positions of the edge functions at its x values
    line = lines["curve:4:3"]
    xs = torch.as_tensor(line.get_xdata(), dtype=torch.float32)
    v = torch.zeros(len(xs), 4)
    v[:, 3] = xs
    expected = layer.edge_functions(v)[:, 4, 1].sum(-1).detach().numpy()
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-5, atol=1e-6)


def test_plot_selection_kernel_position_and_bottleneck():
    layer = KANConv2d(20, 16, 3, basis="legendre", seed=0)
    x = _rand(2, 20, 6, 6)
    fig = plot_conv_functions(layer, x, max_channels=5)
    assert len(fig.axes) == 25
    fig = plot_conv_functions(layer, x, in_channels=[0, 7], out_channels=[3], kernel_position=(1, 2))
    lines = _curves(fig)
    assert set(lines) == {"curve:3:0", "curve:3:7"}
    block = BottleneckKANConv2d(16, 16, 3, padding=1, basis="fourier")
    fig = plot_conv_functions(block, _rand(2, 16, 5, 5))
    assert len(_curves(fig)) == 16
    for bad in (dict(beta=-1), dict(n_grid=1), dict(in_channels=[0, 0]), dict(out_channels=[99])):
        with pytest.raises(ValueError):
            plot_conv_functions(layer, x, **bad)
