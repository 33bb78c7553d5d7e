"""Triton kernels vs their torch reference twins, compiled and run on a CUDA device.

The whole module skips (with the reason) without a CUDA device or without triton, so CI
and CPU machines skip it cleanly; ``benchmarks/gpu_check.sh`` runs it on a GPU. The
interpreter versions of these checks are in tests/test_kernels.py. That module imports
triton for the interpreter when it is collected, so in a pytest run that collects both
files these tests skip: run this file in its own process, without TRITON_INTERPRET.

Every comparison runs the kernel in the input dtype and the reference twin in float64 on
the same (rounded) inputs and the same output gradient, and compares the output and every
gradient. Tolerances are relative (``rtol``) plus a fraction of the reference tensor's
largest magnitude (``atol``): gradients are sums over the batch whose order differs
between the kernel and torch. float32 runs with TF32 off (torch's default for matmuls),
except in the one TF32 test.
"""
from __future__ import annotations

import os

import pytest
import torch

import symkan.kernels as K
from symkan.kernels import configs, ops
from symkan.nn import KANLayer

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA device (benchmarks/gpu_check.sh runs these on a GPU)"),
    pytest.mark.skipif(not K.triton_available(), reason="needs triton (pip install -e '.[cuda]')"),
]

CUDA = torch.device("cuda")
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
#: (rtol, atol as a fraction of the reference's largest magnitude) per kernel input dtype
TOL = {torch.float32: (2e-4, 2e-5), torch.float16: (5e-3, 2e-3), torch.bfloat16: (4e-2, 1.5e-2)}
TF32_TOL = (1e-2, 5e-3)


@pytest.fixture(scope="module", autouse=True)
def compiled_kernels():
    """The kernels must be the compiled ones (not the interpreter's), with TF32 off."""
    if os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes"):
        pytest.skip("TRITON_INTERPRET is set: these tests check the compiled kernels")
    import symkan.kernels.rational as kr
    import symkan.kernels.relukan as kk
    if kr.INTERPRETED or kk.INTERPRETED:
        pytest.skip("the kernels were imported for Triton's interpreter in this process (tests/test_kernels.py "
                    "was collected); run `python -m pytest tests/test_kernels_cuda.py` on its own")
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32 = tf32


# --- helpers -------------------------------------------------------------------------------
def run_with_grads(fn, inputs, gy):
    """[fn(*inputs), then the gradient of (fn · gy).sum() for each input that requires one].
    The leaves share storage and strides with ``inputs``, so layouts reach fn as given."""
    leaves = [t.detach().requires_grad_(t.requires_grad) for t in inputs]
    y = fn(*leaves)
    (y.double() * gy.to(y.dtype).double()).sum().backward()
    return [y.detach()] + [t.grad for t in leaves if t.requires_grad]


def as_float64(inputs):
    return [t.detach().double().requires_grad_(t.requires_grad) for t in inputs]


def assert_matches(got, want, tol, names):
    """Each kernel tensor against its float64 reference; names label the failures."""
    rtol, frac = tol
    assert len(got) == len(want) == len(names)
    for name, g, w in zip(names, got, want):
        assert g is not None and w is not None, name
        assert g.shape == w.shape, (name, g.shape, w.shape)
        assert torch.isfinite(g).all(), f"{name}: non-finite values"
        atol = frac * float(w.abs().max()) + 1e-6 if w.numel() else 0.0
        torch.testing.assert_close(g.double(), w, rtol=rtol, atol=atol, msg=lambda m, name=name: f"{name}: {m}")


def compare_with_reference(kernel_fn, ref_fn, inputs, gen, tol, names):
    """Kernel on ``inputs`` vs reference in float64 on the same values; gradients for every
    input that requires one. Returns the kernel's [y, grads...]."""
    with torch.no_grad():
        y_shape = ref_fn(*[t.detach().double() for t in inputs]).shape
    gy = torch.randn(y_shape, generator=gen).to(CUDA)
    got = run_with_grads(kernel_fn, inputs, gy)
    want = run_with_grads(ref_fn, as_float64(inputs), gy.to(got[0].dtype))
    assert_matches(got, want, tol, names)
    return got


def rational_inputs(shape, groups, gen, dtype):
    """x spanning negatives, exact zeros and tiny magnitudes; coefficients with b = 0."""
    x = (torch.randn(shape, generator=gen) * 2.0).clamp(-6.0, 6.0)  # P(x) stays inside float16
    flat = x.view(-1)
    specials = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 3.5, -3.5])
    n = min(specials.numel(), flat.numel())
    flat[:n] = specials[:n]
    num = torch.randn(groups, 6, generator=gen) * 0.5
    den = torch.randn(groups, 4, generator=gen)
    den[0, 1] = 0.0  # |b| at its kink: the gradient uses sign(0) = 0, as torch.abs
    return (x.to(CUDA, dtype).requires_grad_(), num.to(CUDA).requires_grad_(), den.to(CUDA).requires_grad_())


def uneven_group_index(channels=159):
    """10 groups: group 0 owns most channels spread over the layer, groups 1..9 one each."""
    gi = torch.zeros(channels, dtype=torch.long)
    gi[torch.arange(3, channels, 17)[:9]] = torch.arange(1, 10)
    return gi


def rational_pair(group_index=None):
    """(kernel, reference) rational functions of (x, numerator, denominator)."""
    kwargs = {} if group_index is None else {"group_index": group_index.to(CUDA)}

    def kernel(x, n, d):
        return K.rational_activation(x, n, d, backend="triton", **kwargs)

    def ref(x, n, d):
        return K.rational_activation(x, n, d, backend="torch", **kwargs)

    return kernel, ref


def relukan_inputs(b, i, o, k_feat, gen, dtype, knot_grad=True):
    x = torch.rand(b, i, generator=gen) * 3.0 - 1.5
    start = torch.linspace(-2.0, 1.2, k_feat).repeat(i, 1) + 0.05 * torch.randn(i, k_feat, generator=gen)
    width = 0.8 + 0.4 * torch.rand(i, k_feat, generator=gen)
    weight = torch.randn(o, i * k_feat, generator=gen) / (i * k_feat) ** 0.5
    return (x.to(CUDA, dtype).requires_grad_(), weight.to(CUDA, dtype).requires_grad_(),
            start.to(CUDA).requires_grad_(knot_grad), width.to(CUDA).requires_grad_(knot_grad))


def relukan_kernel(*a):
    return K.relukan_linear(*a, backend="triton")


def relukan_ref(*a):
    return K.relukan_linear(*a, backend="torch")


# --- group rational ------------------------------------------------------------------------
RATIONAL_CASES = {  # name: (x shape, groups, scattered group map?)
    "groups8": ((4096, 256), 8, False),
    "one_group_per_channel": ((2048, 160), 160, False),
    "one_group_odd_width": ((1000, 37), 1, False),
    "four_dims": ((3, 5, 7, 96), 12, False),
    "many_row_programs": ((65536, 64), 4, False),
    "scattered_uneven": ((2048, 159), 10, True),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", sorted(RATIONAL_CASES))
def test_rational_matches_reference(case, dtype):
    shape, groups, scattered = RATIONAL_CASES[case]
    gen = torch.Generator().manual_seed(len(case))
    inputs = rational_inputs(shape, groups, gen, dtype)
    kernel, ref = rational_pair(uneven_group_index(shape[-1]) if scattered else None)
    got = compare_with_reference(kernel, ref, inputs, gen, TOL[dtype], ["y", "dx", "dnum", "dden"])
    assert got[0].dtype == dtype and got[1].dtype == dtype
    assert got[2].dtype == torch.float32 and got[3].dtype == torch.float32


@pytest.mark.parametrize("layout", ["transposed", "strided_slice", "nchw_viewed_as_nhwc",
                                    "channels_last_channel_slice", "channels_last_nchw", "expanded_grad"])
def test_rational_strided_inputs(layout):
    """Layouts built on the device (a copy to it would make slices contiguous)."""
    gen = torch.Generator().manual_seed(4)

    def randn(*shape):
        return torch.randn(*shape, generator=gen).to(CUDA)

    if layout == "transposed":
        x = randn(64, 513).t()  # (513, 64), channel stride 513
    elif layout == "strided_slice":
        x = randn(600, 128)[::2, ::2]  # (300, 64), strides (256, 2)
    elif layout == "nchw_viewed_as_nhwc":
        x = randn(4, 64, 9, 11).permute(0, 2, 3, 1)  # channel stride 99: copied to rows
    elif layout == "channels_last_channel_slice":
        # a channels-last activation viewed as NHWC, half its channels: read in place, rows 2C apart
        x = randn(4, 128, 9, 11).to(memory_format=torch.channels_last).permute(0, 2, 3, 1)[..., :64]
        assert x.stride() == (128 * 99, 128 * 11, 128, 1)
    elif layout == "channels_last_nchw":
        x = randn(4, 6, 5, 64).to(memory_format=torch.channels_last)  # last axis (W) has stride C = 6
        assert x.stride(-1) == 6
    else:
        x = randn(300, 64)
    assert x.is_contiguous() == (layout == "expanded_grad")
    num, den = randn(8, 6) * 0.5, randn(8, 4)
    inputs = [t.requires_grad_() for t in (x, num, den)]
    kernel, ref = rational_pair()
    if layout != "expanded_grad":
        compare_with_reference(kernel, ref, inputs, gen, TOL[torch.float32], ["y", "dx", "dnum", "dden"])
        return
    kernel(*inputs).sum().backward()  # sum's backward hands the kernel a stride-0 gradient
    ref_inputs = as_float64(inputs)
    ref(*ref_inputs).sum().backward()
    assert_matches([t.grad for t in inputs], [t.grad for t in ref_inputs], TOL[torch.float32],
                   ["dx", "dnum", "dden"])


def test_rational_coefficient_gradients_are_deterministic():
    gen = torch.Generator().manual_seed(7)
    inputs = rational_inputs((65536, 64), 4, gen, torch.float32)
    gy = torch.randn(65536, 64, generator=gen).to(CUDA)
    kernel, _ = rational_pair()
    runs = [run_with_grads(kernel, inputs, gy) for _ in range(2)]
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_rational_empty_batch():
    gen = torch.Generator().manual_seed(8)
    x, num, den = rational_inputs((0, 16), 4, gen, torch.float32)
    kernel, _ = rational_pair()
    y = kernel(x, num, den)
    y.sum().backward()
    assert y.shape == (0, 16) and torch.equal(num.grad, torch.zeros_like(num))


# --- fused ReLU-KAN ------------------------------------------------------------------------
RELUKAN_SHAPES = [(1024, 64, 64, 8), (4096, 256, 256, 8), (37, 3, 5, 7), (300, 6, 17, 70), (513, 33, 100, 13)]


def _relukan_params():
    for shape in RELUKAN_SHAPES:
        for dtype in DTYPES:
            for knot_grad in ((True, False) if dtype == torch.float32 else (True,)):
                yield pytest.param(shape, dtype, knot_grad, id=f"{'x'.join(map(str, shape))}-{dtype}-"
                                                                f"{'knots' if knot_grad else 'frozen'}")


@pytest.mark.parametrize("shape,dtype,knot_grad", list(_relukan_params()))
def test_relukan_matches_reference(shape, dtype, knot_grad):
    b, i, o, k_feat = shape
    gen = torch.Generator().manual_seed(b + i + o + k_feat)
    inputs = relukan_inputs(b, i, o, k_feat, gen, dtype, knot_grad)
    names = ["y", "dx", "dweight"] + (["dstart", "dwidth"] if knot_grad else [])
    got = compare_with_reference(relukan_kernel, relukan_ref, inputs, gen, TOL[dtype], names)
    assert got[0].dtype == dtype and got[1].dtype == dtype and got[2].dtype == dtype


def test_relukan_tf32_follows_torch_flag():
    """With torch's TF32 switch on the kernel may use TF32 tensor cores: TF32 tolerance."""
    gen = torch.Generator().manual_seed(30)
    inputs = relukan_inputs(2048, 128, 128, 8, gen, torch.float32)
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        compare_with_reference(relukan_kernel, relukan_ref, inputs, gen, TF32_TOL,
                               ["y", "dx", "dweight", "dstart", "dwidth"])
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False


@pytest.mark.parametrize("layout", ["weight_transposed", "weight_strided", "all_strided"])
def test_relukan_strided_operands(layout):
    b, i, o, k_feat = 1000, 32, 48, 8
    gen = torch.Generator().manual_seed(31)
    x0, w0, start, width = (t.detach() for t in relukan_inputs(b, i, o, k_feat, gen, torch.float32))
    x = x0.t().contiguous().t()  # strides (1, B)
    if layout == "weight_transposed":
        weight = w0.t().contiguous().t()  # strides (1, O)
    else:  # every other column of a wider buffer: strides (2·I·K, 2)
        weight = torch.zeros(o, 2 * i * k_feat, device=CUDA)
        weight[:, ::2] = w0
        weight = weight[:, ::2]
    if layout == "all_strided":
        wide = torch.zeros(b, 3 * i, device=CUDA)
        wide[:, ::3] = x0
        x = wide[:, ::3]
        start, width = start.t().contiguous().t(), width.t().contiguous().t()
        assert not start.is_contiguous() and not width.is_contiguous()
    assert not x.is_contiguous() and not weight.is_contiguous()
    assert torch.equal(x, x0) and torch.equal(weight, w0)
    inputs = [t.requires_grad_() for t in (x, weight, start, width)]
    compare_with_reference(relukan_kernel, relukan_ref, inputs, gen, TOL[torch.float32],
                           ["y", "dx", "dweight", "dstart", "dwidth"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_relukan_batch_split_weight_gradient_is_deterministic(dtype):
    b, i, o, k_feat = 8192, 64, 64, 8
    _, n_split = configs.relukan_dweight_split(b, o, i * k_feat, configs.sm_count(CUDA))
    assert n_split > 1  # the batch-split dW path
    gen = torch.Generator().manual_seed(32)
    inputs = relukan_inputs(b, i, o, k_feat, gen, dtype)
    gy = torch.randn(b, o, generator=gen).to(CUDA)
    runs = [run_with_grads(relukan_kernel, inputs, gy) for _ in range(2)]
    for a, c in zip(*runs):
        assert torch.equal(a, c)


def test_relukan_empty_batch():
    gen = torch.Generator().manual_seed(33)
    x, weight, start, width = relukan_inputs(0, 4, 5, 8, gen, torch.float32)
    y = relukan_kernel(x, weight, start, width)
    y.sum().backward()
    assert y.shape == (0, 5) and torch.equal(weight.grad, torch.zeros_like(weight))


# --- dispatch ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_auto_picks_the_kernel_on_cuda(dtype, monkeypatch):
    monkeypatch.delenv(K.ENV_VAR, raising=False)
    assert K.resolve_backend("auto", torch.zeros(1, device=CUDA, dtype=dtype)) == "triton"
    assert K.resolve_backend("auto", torch.zeros(1, device=CUDA, dtype=torch.float64)) == "torch"
    monkeypatch.setenv(K.ENV_VAR, "torch")
    assert K.resolve_backend("auto", torch.zeros(1, device=CUDA, dtype=dtype)) == "torch"


def _count_calls(monkeypatch, name):
    calls = []
    original = getattr(ops, name)

    def counted(*args):
        calls.append(name)
        return original(*args)

    monkeypatch.setattr(ops, name, counted)
    return calls


@pytest.mark.parametrize("basis", ["relukan", "rational"])
def test_kan_layer_on_cuda_runs_the_kernel_and_matches_the_reference(basis, monkeypatch):
    """A KANLayer with the default backend="auto" on CUDA goes through the custom op, and
    agrees (output and parameter gradients) with the same layer forced to the reference."""
    monkeypatch.delenv(K.ENV_VAR, raising=False)
    calls = _count_calls(monkeypatch, "relukan_linear_op" if basis == "relukan" else "rational_op")
    layer = KANLayer(32, 16, basis, generator=torch.Generator().manual_seed(0)).to(CUDA)
    x = (torch.rand(512, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1).to(CUDA)
    params = [p for p in layer.parameters() if p.requires_grad]

    def forward_and_grads():
        for p in params:
            p.grad = None
        y = layer(x)
        y.square().mean().backward()
        return [y.detach()] + [p.grad.clone() for p in params]

    got = forward_and_grads()
    assert calls, "backend='auto' on CUDA did not run the kernel"
    n_calls = len(calls)
    monkeypatch.setenv(K.ENV_VAR, "torch")
    want = forward_and_grads()
    assert len(calls) == n_calls  # the reference path does not touch the op
    names = ["y"] + [f"d{n}" for n, p in layer.named_parameters() if p.requires_grad]
    assert_matches(got, [w.double() for w in want], TOL[torch.float32], names)
