"""Kolmogorov–Arnold Transformer: GroupRational, GRKANMLP (VP init, gradients), KATBlock,
the ViT/KAT builder and kat_from_vit on a timm-shaped ViT built here."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
import torch.nn.functional as F

from symkan.bases.rational import init_coefficients
from symkan.kernels import rational_reference
from symkan.models import VisionTransformer, build_kat, build_vit, kat_from_vit
from symkan.models.kat import convertible_mlps, count_parameters
from symkan.nn.kat import DEFAULT_INIT_RANGE, MLP, GroupRational, GRKANMLP, KATBlock, gaussian_second_moment


def gelu_fit_error(init_range=DEFAULT_INIT_RANGE) -> float:
    """max |F − GELU| of the fitted rational on its fit range (dense grid, float64)."""
    a, b = init_coefficients("gelu", init_range)
    x = torch.linspace(*init_range, 20001, dtype=torch.float64)
    fit = rational_reference(x, a[None], b[None], torch.zeros(1, dtype=torch.long))
    return float((fit - F.gelu(x)).abs().max())


# --- a timm-shaped ViT, written here independently of symkan.models ------------------------
class TimmMlp(nn.Module):
    def __init__(self, dim, hidden, norm=False):
        super().__init__()
        self.fc1, self.act, self.drop1 = nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0)
        self.norm = nn.LayerNorm(hidden) if norm else nn.Identity()
        self.fc2, self.drop2 = nn.Linear(hidden, dim), nn.Dropout(0.0)

    def forward(self, x):
        return self.drop2(self.fc2(self.norm(self.drop1(self.act(self.fc1(x))))))


class TimmAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-2, -1) / math.sqrt(c // self.heads)).softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, n, c))


class TimmBlock(nn.Module):
    def __init__(self, dim, heads, hidden, norm=False):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), TimmAttention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim), TimmMlp(dim, hidden, norm)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TimmViT(nn.Module):
    """img 16×16×3, patch 4, cls token; torch's default (uniform ±1/√fan_in) Linear init,
    which gives pre-activations of order 1 (timm's 0.02 init would make them tiny)."""

    def __init__(self, dim=48, depth=3, heads=4, hidden=192, classes=7, norm=False):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, 4, stride=4)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 17, dim) * 0.02)
        self.blocks = nn.Sequential(*[TimmBlock(dim, heads, hidden, norm) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


def timm_vit(seed=0, **kw):
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # nn.Linear's default init draws from the global RNG; restored below
    try:
        return TimmViT(**kw).eval()
    finally:
        torch.random.set_rng_state(state)


# --- GroupRational ------------------------------------------------------------------------
def test_group_rational_shapes_and_groups():
    act = GroupRational(12, 3)
    assert act.numerator.shape == (3, 6) and act.denominator.shape == (3, 4)
    x = torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(0))
    assert act(x).shape == (2, 5, 12)
    with torch.no_grad():  # group 1 (channels 4..7) -> identity, others unchanged
        act.numerator[1] = torch.tensor([0.0, 1, 0, 0, 0, 0])
        act.denominator[1] = 0.0
    y = act(x)
    assert torch.equal(y[..., 4:8], x[..., 4:8])
    assert torch.allclose(y[..., :4], GroupRational(4, 1)(x[..., :4]))


def test_rational_init_is_a_close_gelu():
    err = gelu_fit_error()
    assert err < 5e-3, err  # measured 3.85e-3 on (-6, 6)
    act = GroupRational(8, 2).double()
    act.reset_parameters()  # refit in float64
    x = torch.linspace(-6, 6, 1001, dtype=torch.float64)[:, None].expand(-1, 8)
    assert (act(x) - F.gelu(x)).abs().max() <= err + 1e-12


@pytest.mark.parametrize("kwargs, match", [
    (dict(channels=10, groups=3), "must divide"), (dict(channels=0), "channels"),
    (dict(channels=8, groups=0), "groups"), (dict(channels=8, init="relu"), "init"),
    (dict(channels=8, init_range=(2, 1)), "init_range"), (dict(channels=8, init_range=3), "init_range"),
    (dict(channels=8, backend="cuda"), "backend")])
def test_group_rational_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupRational(**kwargs)


def test_group_rational_wrong_width():
    with pytest.raises(ValueError, match=r"\(\.\.\., 8\)"):
        GroupRational(8, 2)(torch.zeros(3, 6))


# --- GRKANMLP -----------------------------------------------------------------------------
def test_grkan_mlp_shapes_and_parameters():
    mlp = GRKANMLP(16, 32, 12, groups=4)
    assert mlp(torch.zeros(3, 7, 16)).shape == (3, 7, 12)
    assert (mlp.in_features, mlp.hidden_features, mlp.out_features) == (16, 32, 12)
    names = {n for n, _ in mlp.named_parameters()}
    assert names == {"fc1.weight", "fc1.bias", "act.numerator", "act.denominator", "fc2.weight", "fc2.bias"}
    # GR-KAN adds 10 parameters per group to the GELU MLP of the same widths
    assert count_parameters(mlp) == count_parameters(MLP(16, 32, 12)) + 4 * 10
    assert GRKANMLP(8).hidden_features == 32 and GRKANMLP(8).out_features == 8
    pre = GRKANMLP(16, 32, groups=4, pre_rational=True)
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(pre.pre_act(x), x)  # the paper's first rational starts as the identity


def test_grkan_mlp_gradcheck_float64():
    torch.manual_seed(0)  # gradcheck itself is deterministic; this only fixes the values below
    g = torch.Generator().manual_seed(3)
    mlp = GRKANMLP(2, 4, 3, groups=2, pre_rational=True, backend="torch", generator=g).double()
    with torch.no_grad():  # move coefficients off |b| = 0 (a kink of Q) and off the symmetric init
        for p in (mlp.act.numerator, mlp.act.denominator, mlp.pre_act.numerator, mlp.pre_act.denominator):
            p.add_(0.1 + 0.05 * torch.rand(p.shape, generator=g, dtype=torch.float64))
    names = [n for n, _ in mlp.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for _, p in mlp.named_parameters())
    x = torch.randn(2, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)

    def f(x, *ps):
        return torch.func.functional_call(mlp, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


def test_variance_preserving_init():
    """Var(out)/Var(in) for x ~ N(0, 1): measured 0.92-1.03 over 3 seeds × 4 targets × groups 1, 8."""
    x = torch.randn(4096, 64, generator=torch.Generator().manual_seed(1))
    ratios = []
    for act_init in ("gelu", "silu", "tanh", "identity"):
        for seed in range(2):
            mlp = GRKANMLP(64, 256, groups=8, act_init=act_init, generator=torch.Generator().manual_seed(seed))
            with torch.no_grad():
                ratios.append(float(mlp(x).var() / x.var()))
    assert all(0.8 < r < 1.25 for r in ratios), ratios
    with torch.no_grad():
        r2 = float(GRKANMLP(64, 256, init_scale=2.0)(x).var() / x.var())
    assert 0.8 * 4 < r2 < 1.25 * 4
    with torch.no_grad():
        # the same init for the GELU MLP (the control of the digits example)
        assert 0.8 < float(MLP(64, 256, init="variance_preserving")(x).var() / x.var()) < 1.25
        # the plain ViT init (0.02) does not preserve the variance: what VP init is for
        assert float(MLP(64, 256)(x).var() / x.var()) < 0.01


def test_gaussian_second_moment():
    assert float(gaussian_second_moment(lambda z: z, std=2.0)) == pytest.approx(4.0, rel=1e-12)
    z = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert float(gaussian_second_moment(F.gelu)) == pytest.approx(float(F.gelu(z).pow(2).mean()), rel=3e-3)
    act = GroupRational(6, 3, init="identity")
    assert torch.allclose(act.second_moment(), torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_features=0), "in_features"), (dict(in_features=8, hidden_features=30), "must divide"),
    (dict(in_features=8, drop=1.0), "drop"), (dict(in_features=8, init_scale=0), "init_scale"),
    (dict(in_features=8, act_init="relu"), "init"), (dict(in_features=8, out_features=-1), "out_features")])
def test_grkan_mlp_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GRKANMLP(**kwargs)


# --- KATBlock and the model builder -------------------------------------------------------
def test_kat_block_shape_and_pre_norm_residual():
    block = KATBlock(16, 4, mlp_ratio=2.0, groups=4)
    x = torch.randn(2, 9, 16, generator=torch.Generator().manual_seed(0))
    assert block(x).shape == (2, 9, 16)
    assert isinstance(block.mlp, GRKANMLP) and block.mlp.hidden_features == 32
    assert isinstance(KATBlock(16, 4, mlp="gelu").mlp, MLP)
    with torch.no_grad():  # attention and MLP outputs zero -> the block is the identity
        for lin in (block.attn.proj, block.mlp.fc2):
            lin.weight.zero_()
            lin.bias.zero_()
    assert torch.equal(block(x), x)


@pytest.mark.parametrize("kwargs, match", [
    (dict(dim=10, num_heads=4), "divide"), (dict(dim=16, mlp="relu"), "mlp"),
    (dict(dim=16, mlp_ratio=0), "mlp_ratio"), (dict(dim=16, num_heads=0), "num_heads"),
    (dict(dim=16, mlp_init="trunc_normal"), "variance-preserving"), (dict(dim=16, mlp="gelu", mlp_init="he"), "init")])
def test_kat_block_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        KATBlock(**kwargs)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_vision_transformer_shapes(pool):
    kat = build_kat(img_size=8, patch_size=2, in_chans=1, num_classes=10, dim=16, depth=2, num_heads=2,
                    pool=pool, groups=4)
    assert kat(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert kat.pos_embed.shape == (1, 16 + (pool == "cls"), 16)
    vit = build_vit(img_size=8, patch_size=4, in_chans=3, num_classes=5, dim=16, depth=1, num_heads=2, pool=pool)
    assert vit(torch.zeros(2, 3, 8, 8)).shape == (2, 5)


def test_builder_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = build_kat(dim=16, depth=1, seed=3), build_kat(dim=16, depth=1, seed=3)
    c = build_kat(dim=16, depth=1, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    sa, sc = a.state_dict(), c.state_dict()
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in sa.items())
    assert not torch.equal(sa["blocks.0.attn.qkv.weight"], sc["blocks.0.attn.qkv.weight"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(img_size=8, patch_size=3), "divide"), (dict(pool="max"), "pool"), (dict(depth=0), "depth"),
    (dict(mlp="relu"), "mlp"), (dict(num_classes=1.5), "num_classes")])
def test_vision_transformer_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VisionTransformer(**kwargs)
    with pytest.raises(ValueError, match="mlp"):
        build_kat(mlp="gelu")


def test_vision_transformer_wrong_image_shape():
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\)"):
        build_vit(dim=16, depth=1)(torch.zeros(2, 1, 6, 6))


# --- kat_from_vit -------------------------------------------------------------------------
def test_kat_from_vit_matches_the_vit():
    """Tolerance: logits within 3e-2 of the ViT's with the default fit range (−6, 6) (measured
    max 1.42e-2 over 64 images; the logits have std 0.55, max 1.75), within 1e-2 with a fit on
    (−3, 3) (measured 3.9e-3: the pre-activations here lie within ±3.1, where that fit is
    closer to GELU). Each converted MLP obeys |ΔMLP| ≤ max_o Σ_h |fc2_oh| · max|F − GELU|
    (measured 7.2e-3 against a bound of 3.0e-2)."""
    vit = timm_vit()
    kat = kat_from_vit(vit)
    assert convertible_mlps(vit) == [f"blocks.{i}.mlp" for i in range(3)] and convertible_mlps(kat) == []
    assert all(isinstance(b.mlp, GRKANMLP) for b in kat.blocks)
    assert all(isinstance(b.mlp, TimmMlp) for b in vit.blocks)  # the original is untouched
    x = torch.randn(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref, out = vit(x), kat(x)
        narrow = kat_from_vit(vit, init_range=(-3.0, 3.0))(x)
    diff = float((out - ref).abs().max())
    assert diff < 3e-2, diff
    assert float((narrow - ref).abs().max()) < 1e-2
    assert float(ref.abs().max()) > 0.3  # the logits are not trivially small
    err = gelu_fit_error()
    h = torch.randn(4096, 48, generator=torch.Generator().manual_seed(1))
    for old, new in zip(vit.blocks, kat.blocks):
        with torch.no_grad():
            assert float(old.mlp.fc1(h).abs().max()) < DEFAULT_INIT_RANGE[1]  # within the fit range
            bound = float(old.mlp.fc2.weight.abs().sum(1).max()) * err
            assert float((new.mlp(h) - old.mlp(h)).abs().max()) <= bound
    # everything but the MLPs is copied unchanged
    kat_state = kat.state_dict()
    for key, value in vit.state_dict().items():
        assert torch.equal(kat_state[key], value), key
    assert count_parameters(kat) == count_parameters(vit) + 3 * 8 * 10


def test_kat_from_vit_on_the_builders_vit_and_inplace():
    vit = build_vit(dim=16, depth=2, num_heads=2)
    x = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = vit(x)
        kat = kat_from_vit(vit, groups=4, pre_rational=True)
        assert float((kat(x) - ref).abs().max()) < 1e-2
    same = kat_from_vit(vit, inplace=True)
    assert same is vit and isinstance(vit.blocks[0].mlp, GRKANMLP)


def test_kat_from_vit_keeps_dtype():
    vit = timm_vit(dim=16, depth=1, heads=2, hidden=32).double()
    kat = kat_from_vit(vit, groups=4)
    assert kat.blocks[0].mlp.act.numerator.dtype == torch.float64
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert float((kat(x) - vit(x)).abs().max()) < 1e-2


def test_kat_from_vit_errors():
    with pytest.raises(ValueError, match="no MLP"):
        kat_from_vit(nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 3)))
    with pytest.raises(ValueError, match="must divide the hidden width 192"):
        kat_from_vit(timm_vit(), groups=5)
    with pytest.raises(ValueError, match="normalisation"):
        kat_from_vit(timm_vit(norm=True))
    with pytest.raises(ValueError, match="nn.Module"):
        kat_from_vit("vit")


@pytest.mark.slow
def test_digits_example_runs():
    """examples/digits_kat.py end to end with tiny settings (~15 s)."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "examples" / "digits_kat.py"), "--epochs", "1", "--seeds", "1",
                           "--dim", "16", "--depth", "1", "--heads", "2"],
                          capture_output=True, text=True, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = {line.split("  ")[0]: line for line in proc.stdout.splitlines()}
    for name in ("ViT (GELU MLP)", "ViT, VP-init GELU MLP", "KAT (GR-KAN MLP)", "ViT -> KAT, no training"):
        assert name in lines, proc.stdout
    accuracy = float(lines["KAT (GR-KAN MLP)"].split()[-2])
    assert 0.2 < accuracy <= 1.0  # one epoch (21 steps): above chance (0.1); measured 0.37
