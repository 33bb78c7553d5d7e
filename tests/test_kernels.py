"""Triton kernels vs their torch reference twins, run on CPU through Triton's interpreter.

Every test here needs triton; the module skips as a whole (with the reason) when it is
not installed. The Triton-free tests of the same entry points (argument errors, backend
dispatch, imports, launch geometry) are in tests/test_kernel_dispatch.py and always run.

Triton decides interpreted vs compiled when a kernel is defined and reads the flag again
while an interpreted kernel runs, so TRITON_INTERPRET=1 is set while symkan's kernel
modules are imported and during each test of this module, and restored in between (other
test modules never see it). If the kernels were already imported compiled (a GPU
session), the interpreter tests skip.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import symkan.kernels as K
from symkan.bases.rational import init_coefficients, INIT_TARGETS
from symkan.kernels import configs, ops, reference

# The flag must be set before triton itself is imported: triton.language's own jit
# helpers (tl.sum, ...) are built interpreted or compiled at that moment, too.
_saved = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"
try:
    triton = pytest.importorskip("triton", reason="triton is not installed: kernel tests need it")
    import symkan.kernels.rational as kr
    import symkan.kernels.relukan as kk
finally:
    if _saved is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = _saved

_INTERPRETED = kr.INTERPRETED and kk.INTERPRETED and not isinstance(triton.language.sum, triton.runtime.JITFunction)


@pytest.fixture(autouse=True)
def _interpret(monkeypatch):
    """Interpreted kernels also read TRITON_INTERPRET while they run; keep it set per test only."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")


needs_interpreter = pytest.mark.skipif(
    not _INTERPRETED,
    reason="triton was imported (compiled mode) before this module; run "
           "`TRITON_INTERPRET=1 python -m pytest tests/test_kernels.py` for the interpreter tests")

TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float16: dict(rtol=1e-2, atol=1e-2),
       torch.bfloat16: dict(rtol=5e-2, atol=5e-2)}


def closed_form(x, a, b):
    """P/Q written out term by term, independent of the package: x (...,), a (6,), b (4,)."""
    p = sum(a[k] * x ** k for k in range(6))
    q = 1 + sum(abs(b[j - 1]) * abs(x) ** j for j in range(1, 5))
    return p / q


def rational_inputs(shape, groups, gen, dtype=torch.float32):
    """x spanning negatives, exact zeros and |x| tiny; coefficients with zero and negative b."""
    x = torch.randn(shape, generator=gen) * 2.0
    flat = x.view(-1)
    specials = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 3.5, -3.5])
    flat[: specials.numel()] = specials
    num = torch.randn(groups, 6, generator=gen) * 0.5
    den = torch.randn(groups, 4, generator=gen)
    den[0, 1] = 0.0  # |b| at its kink: gradient uses sign(0) = 0, as torch.abs
    return x.to(dtype), num, den


def grads_of(fn, inputs, gen):
    """[fn(*inputs), d/d input for each input] for a random output gradient from gen.
    The leaves share storage and strides with ``inputs`` (a clone would make sliced
    inputs contiguous), so layouts reach the function as given."""
    leaves = [t.detach().requires_grad_(True) for t in inputs]
    assert all(a.stride() == t.stride() for a, t in zip(leaves, inputs))
    y = fn(*leaves)
    gy = torch.randn(y.shape, generator=gen).to(y.dtype)
    (y * gy).float().sum().backward()
    return [y.detach()] + [t.grad for t in leaves]


def compare(got, want, dtype, what):
    for name, g, w in zip(what, got, want):
        assert g.dtype == w.dtype, name
        torch.testing.assert_close(g.float(), w.float(), **TOL[dtype], msg=lambda m: f"{name}: {m}")


# --- group rational ------------------------------------------------------------------------
@needs_interpreter
@pytest.mark.parametrize("groups", [1, 3, 4, 12])
def test_rational_kernel_matches_reference(groups):
    gen = torch.Generator().manual_seed(groups)
    x, num, den = rational_inputs((5, 7, 12), groups, gen)
    fns = {be: (lambda x, n, d, be=be: K.rational_activation(x, n, d, backend=be)) for be in ("torch", "triton")}
    got = grads_of(fns["triton"], (x, num, den), torch.Generator().manual_seed(1))
    want = grads_of(fns["torch"], (x, num, den), torch.Generator().manual_seed(1))
    compare(got, want, torch.float32, ["y", "dx", "dnum", "dden"])
    assert torch.isfinite(got[1]).all()  # |x|^j derivative at x = 0 and |x| = 1e-30


def _uneven_group_index():
    """159 channels, 10 groups: group 0 owns 150 channels spread over the layer, groups
    1..9 one channel each (as pruning can leave them)."""
    gi = torch.zeros(159, dtype=torch.long)
    gi[torch.arange(3, 159, 17)[:9]] = torch.arange(1, 10)
    return gi


@needs_interpreter
@pytest.mark.parametrize("case", ["row_splits", "wide_group_two_blocks", "groups_per_program_partial",
                                  "one_channel_per_group", "uneven_scattered"])
def test_rational_kernel_launch_geometries(case):
    """Each branch of the launch geometry (configs.rational_launch) against the reference:
    several row programs with several row blocks each, a group wider than a channel block,
    several groups per program with a short last program, one channel per group, and an
    uneven scattered map whose groups straddle channel blocks."""
    rows, channels, groups = {"row_splits": (600, 16, 4), "wide_group_two_blocks": (40, 160, 1),
                              "groups_per_program_partial": (40, 160, 5), "one_channel_per_group": (40, 160, 160),
                              "uneven_scattered": (40, 159, 10)}[case]
    gi = _uneven_group_index() if case == "uneven_scattered" else torch.arange(channels) // (channels // groups)
    ln = configs.rational_launch(rows, channels, groups)
    meta = ln.meta
    expect = {"row_splits": ln.row_programs == 2 and ln.rows_per_program >= 2 * meta["BLOCK_R"],
              "wide_group_two_blocks": meta["BLOCK_G"] == 1 and channels > meta["BLOCK_C"],
              "groups_per_program_partial": ln.groups_per_program == 4 and ln.group_programs == 2,
              "one_channel_per_group": ln.groups_per_program == meta["BLOCK_G"] == meta["BLOCK_C"] == 128,
              "uneven_scattered": ln.groups_per_program == 8
              and int(torch.bincount(gi)[:8].sum()) > meta["BLOCK_C"]}[case]
    assert expect, (case, ln)  # the case still exercises the branch it is named after
    gen = torch.Generator().manual_seed(20)
    x, num, den = rational_inputs((rows, channels), groups, gen)
    f = {be: (lambda x, n, d, be=be: K.rational_activation(x, n, d, group_index=gi, backend=be))
         for be in ("torch", "triton")}
    got = grads_of(f["triton"], (x, num, den), torch.Generator().manual_seed(5))
    want = grads_of(f["torch"], (x, num, den), torch.Generator().manual_seed(5))
    compare(got, want, torch.float32, ["y", "dx", "dnum", "dden"])


@needs_interpreter
def test_rational_kernel_equals_independent_closed_form():
    gen = torch.Generator().manual_seed(3)
    x, num, den = rational_inputs((64, 2), 2, gen)
    y = K.rational_activation(x, num, den, backend="triton")
    for g in range(2):
        torch.testing.assert_close(y[:, g], closed_form(x[:, g], num[g], den[g]), rtol=1e-5, atol=1e-6)


@needs_interpreter
@pytest.mark.parametrize("layout", ["transposed", "nchw_viewed_as_nhwc", "channels_last_channel_slice",
                                    "channels_last_nchw", "strided", "expanded_grad"])
def test_rational_kernel_non_contiguous(layout):
    gen = torch.Generator().manual_seed(4)
    rows_view_stride = None  # row stride of the (rows, C) view the kernel reads, when it is a view
    if layout == "transposed":
        x = torch.randn(8, 33, generator=gen).t()  # (33, 8), channel stride 33
        rows_view_stride = (1, 33)
    elif layout == "nchw_viewed_as_nhwc":
        x = torch.randn(2, 8, 3, 5, generator=gen).permute(0, 2, 3, 1)  # channel stride 15: rows are copied
    elif layout == "channels_last_channel_slice":
        # a channels-last activation of 16 channels viewed as NHWC, first 8 channels taken
        # (as torch.chunk would): channel stride 1, rows 16 apart, read in place
        x = torch.randn(2, 16, 3, 5, generator=gen).to(memory_format=torch.channels_last)
        x = x.permute(0, 2, 3, 1)[..., :8]
        assert x.stride() == (240, 80, 16, 1)
        rows_view_stride = (16, 1)
    elif layout == "channels_last_nchw":
        # a channels-last tensor in its NCHW shape: the last axis (W = 8 here) has stride C = 6
        x = torch.randn(2, 6, 3, 8, generator=gen).to(memory_format=torch.channels_last)
        assert x.stride() == (144, 1, 48, 6)
    else:
        x = torch.randn(10, 16, generator=gen)[::2, ::2]  # (5, 8), strides (32, 2)
        rows_view_stride = (32, 2)
    assert not x.is_contiguous()
    if rows_view_stride is not None:  # the kernel gets the strided storage itself, not a copy
        rows = kr._as_rows(x)
        assert rows.data_ptr() == x.data_ptr() and rows.stride() == rows_view_stride
    _, num, den = rational_inputs((1, 8), 4, gen)
    ref = [t.detach().clone().requires_grad_() for t in (x, num, den)]
    tri = [t.detach().requires_grad_() for t in (x, num, den)]  # same storage and strides as x
    assert tri[0].stride() == x.stride()
    y_ref = K.rational_activation(*ref, backend="torch")
    y_tri = K.rational_activation(*tri, backend="triton")
    if layout == "expanded_grad":  # sum's backward hands the kernel a stride-0 gradient
        y_ref.sum().backward()
        y_tri.sum().backward()
    else:
        gy = torch.randn(y_ref.shape, generator=gen)
        (y_ref * gy).sum().backward()
        (y_tri * gy).sum().backward()
    torch.testing.assert_close(y_tri, y_ref)
    for name, a, b in zip(["x", "numerator", "denominator"], tri, ref):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-5, msg=lambda m: f"d{name}: {m}")


@needs_interpreter
def test_rational_kernel_scattered_group_index():
    """An arbitrary channel -> group map (what a pruned layer keeps), with an empty group."""
    gen = torch.Generator().manual_seed(5)
    gi = torch.tensor([2, 0, 2, 2, 0, 3, 0])  # group 1 unused
    x, num, den = rational_inputs((9, 7), 4, gen)
    f = {be: (lambda x, n, d, be=be: K.rational_activation(x, n, d, group_index=gi, backend=be))
         for be in ("torch", "triton")}
    got = grads_of(f["triton"], (x, num, den), torch.Generator().manual_seed(2))
    want = grads_of(f["torch"], (x, num, den), torch.Generator().manual_seed(2))
    compare(got, want, torch.float32, ["y", "dx", "dnum", "dden"])
    assert torch.all(got[2][1] == 0) and torch.all(got[3][1] == 0)  # the unused group gets no gradient


@needs_interpreter
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_rational_kernel_half_inputs(dtype):
    gen = torch.Generator().manual_seed(6)
    x, num, den = rational_inputs((16, 8), 2, gen, dtype=dtype)
    got = grads_of(lambda x, n, d: K.rational_activation(x, n, d, backend="triton"), (x, num, den),
                   torch.Generator().manual_seed(3))
    # reference in float32 on the same (rounded) inputs, cast like the kernel's outputs
    want = grads_of(lambda x, n, d: K.rational_activation(x.float(), n, d, backend="torch"), (x, num, den),
                    torch.Generator().manual_seed(3))
    assert got[0].dtype == dtype and got[1].dtype == dtype
    assert got[2].dtype == torch.float32 and got[3].dtype == torch.float32  # float32 coefficient grads
    compare(got, [want[0].to(dtype), want[1].to(dtype), want[2], want[3]], dtype, ["y", "dx", "dnum", "dden"])


@needs_interpreter
def test_rational_kernel_deterministic_coefficient_gradients():
    gen = torch.Generator().manual_seed(7)
    x, num, den = rational_inputs((600, 16), 4, gen)  # two row programs
    runs = [grads_of(lambda x, n, d: K.rational_activation(x, n, d, backend="triton"), (x, num, den),
                     torch.Generator().manual_seed(4)) for _ in range(2)]
    for a, b in zip(*runs):
        assert torch.equal(a, b)


@needs_interpreter
@pytest.mark.parametrize("target", sorted(INIT_TARGETS))
def test_kernel_and_init_fit_evaluate_the_same_function(target):
    """The init fit's coefficients reproduce the target *through the kernel* to the fit
    tolerance: the kernel and the fit use the same denominator Q."""
    a, b = init_coefficients(target)
    x = torch.linspace(-3, 3, 601)[:, None]
    y_kernel = K.rational_activation(x, a[None].float(), b[None].float(), backend="triton")[:, 0]
    y_fit = reference.rational_reference(x.double()[:, 0], a[None], b[None], torch.zeros(601, dtype=torch.long))
    torch.testing.assert_close(y_kernel.double(), y_fit, rtol=1e-5, atol=1e-5)
    tol = 5e-3 if target == "gelu" else 1e-5
    assert (y_kernel.double() - INIT_TARGETS[target](x.double()[:, 0])).abs().max() < tol


# --- fused ReLU-KAN ------------------------------------------------------------------------
def relukan_inputs(b, i, o, k_feat, gen, dtype=torch.float32):
    x = torch.rand(b, i, generator=gen) * 3.0 - 1.5
    start = torch.linspace(-2.0, 1.2, k_feat).repeat(i, 1) + 0.05 * torch.randn(i, k_feat, generator=gen)
    width = 0.8 + 0.4 * torch.rand(i, k_feat, generator=gen)
    weight = torch.randn(o, i * k_feat, generator=gen)
    return x.to(dtype), weight.to(dtype), start, width


@needs_interpreter
@pytest.mark.parametrize("b,i,o,k_feat", [(37, 3, 5, 7), (70, 6, 17, 8), (5, 1, 1, 13), (33, 4, 40, 3),
                                         (9, 2, 3, 70)])  # K = 70 > 64: dx loops over feature chunks
@pytest.mark.parametrize("knots", [True, False])
def test_relukan_kernel_matches_reference(b, i, o, k_feat, knots):
    gen = torch.Generator().manual_seed(b + i + o + k_feat)
    x, weight, start, width = relukan_inputs(b, i, o, k_feat, gen)
    leaves = [t.clone().requires_grad_(knots or n < 2) for n, t in enumerate((x, weight, start, width))]
    ref = [t.detach().clone().requires_grad_(t.requires_grad) for t in leaves]
    gy = torch.randn(b, o, generator=gen)
    (K.relukan_linear(*leaves, backend="triton") * gy).sum().backward()
    y_ref = K.relukan_linear(*ref, backend="torch")
    (y_ref * gy).sum().backward()
    torch.testing.assert_close(K.relukan_linear(*leaves, backend="triton"), y_ref, rtol=1e-4, atol=1e-4)
    for name, a, r in zip(["x", "weight", "start", "width"], leaves, ref):
        if r.requires_grad:
            torch.testing.assert_close(a.grad, r.grad, rtol=1e-4, atol=1e-4, msg=lambda m: f"d{name}: {m}")
        else:
            assert a.grad is None


@needs_interpreter
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_relukan_weight_gradient_split_over_the_batch(dtype):
    """dW = gyᵀ·R with the batch split over programs (float32 partials, torch sum):
    equal to the reference and bitwise deterministic."""
    b, i, o, k_feat = 300, 3, 5, 8
    rows, n_split = configs.relukan_dweight_split(b, o, i * k_feat)
    assert n_split == 2 and rows % configs.relukan_dweight_blocks(o)["BLOCK_M"] == 0 and rows < b
    gen = torch.Generator().manual_seed(21)
    x, weight, start, width = relukan_inputs(b, i, o, k_feat, gen, dtype=dtype)
    weight = weight * 0.1
    runs = [grads_of(lambda *a: K.relukan_linear(*a, backend="triton"), (x, weight, start, width),
                     torch.Generator().manual_seed(6)) for _ in range(2)]
    want = grads_of(lambda x, w, s, d: K.relukan_linear(x.float(), w.float(), s, d, backend="torch"),
                    (x, weight, start, width), torch.Generator().manual_seed(6))
    assert runs[0][2].dtype == dtype
    for a, c in zip(*runs):
        assert torch.equal(a, c)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else TOL[dtype]
    for name, g, w in zip(["y", "dx", "dweight", "dstart", "dwidth"], runs[0], want):
        torch.testing.assert_close(g.float(), w.float(), **tol, msg=lambda m: f"{name}: {m}")


@needs_interpreter
@pytest.mark.parametrize("layout", ["weight_transposed", "weight_strided", "all_strided"])
def test_relukan_kernel_non_contiguous_operands(layout):
    """Non-contiguous weight and input (and knots) against the reference: y and every gradient."""
    b, i, o, k_feat = 20, 4, 6, 8
    gen = torch.Generator().manual_seed(8)
    x0, w0, start, width = relukan_inputs(b, i, o, k_feat, gen)
    x = x0.t().contiguous().t()  # (20, 4) with strides (1, 20)
    if layout == "weight_transposed":
        weight = w0.t().contiguous().t()  # (O, I·K) with strides (1, O)
    else:  # every other column of a wider buffer: strides (2·I·K, 2)
        weight = torch.zeros(o, 2 * i * k_feat).index_copy(1, torch.arange(0, 2 * i * k_feat, 2), w0)[:, ::2]
    if layout == "all_strided":
        x = torch.zeros(b, 3 * i).index_copy(1, torch.arange(0, 3 * i, 3), x0)[:, ::3]  # strides (12, 3)
        start, width = start.t().contiguous().t(), width.t().contiguous().t()
        assert not start.is_contiguous() and not width.is_contiguous()
    assert not x.is_contiguous() and not weight.is_contiguous()
    assert torch.equal(x, x0) and torch.equal(weight, w0)
    inputs = (x, weight, start, width)
    got = grads_of(lambda *a: K.relukan_linear(*a, backend="triton"), inputs, torch.Generator().manual_seed(1))
    want = grads_of(lambda *a: K.relukan_linear(*a, backend="torch"), inputs, torch.Generator().manual_seed(1))
    for name, g, w in zip(["y", "dx", "dweight", "dstart", "dwidth"], got, want):
        assert g.shape == w.shape, name
        assert w.abs().max() > 0, name  # a gradient that is really exercised
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4, msg=lambda m: f"{name}: {m}")


@needs_interpreter
@pytest.mark.parametrize("dtype", [torch.float16, pytest.param(torch.bfloat16, marks=pytest.mark.skip(
    reason="Triton 3.9's interpreter runs tl.dot on bfloat16 as a numpy matmul of the raw 16-bit patterns "
           "(interpreter.py create_dot); the bf16 variant is only compile-checked (test_kernels_compile_for_gpu)"))])
def test_relukan_kernel_half_inputs(dtype):
    gen = torch.Generator().manual_seed(9)
    x, weight, start, width = relukan_inputs(24, 3, 5, 8, gen, dtype=dtype)
    weight = weight * 0.1
    got = grads_of(lambda *a: K.relukan_linear(*a, backend="triton"), (x, weight, start, width), torch.Generator().manual_seed(2))
    want = grads_of(lambda x, w, s, d: K.relukan_linear(x.float(), w.float(), s, d, backend="torch"),
                    (x, weight, start, width), torch.Generator().manual_seed(2))
    assert got[0].dtype == dtype
    for name, g, w in zip(["y", "x", "weight", "start", "width"], got, want):
        torch.testing.assert_close(g.float(), w.float(), **TOL[dtype], msg=lambda m: f"{name}: {m}")


# --- registration, dispatch, imports -------------------------------------------------------
@needs_interpreter
def test_custom_ops_pass_opcheck():
    """Schema, fake (meta) impls and autograd registration as torch.library checks them."""
    gen = torch.Generator().manual_seed(10)
    x, num, den = rational_inputs((6, 8), 2, gen)
    order, ptr = K.group_layout(torch.arange(8) // 4, 2)
    args = [t.requires_grad_() for t in (x, num, den)]
    torch.library.opcheck(ops.rational_op, (*args, order, ptr))
    xr, weight, start, width = relukan_inputs(20, 3, 4, 5, gen)
    torch.library.opcheck(ops.relukan_linear_op, tuple(t.requires_grad_() for t in (xr, weight, start, width)))


@needs_interpreter
def test_kernels_trace_under_torch_compile():
    gen = torch.Generator().manual_seed(11)
    x, num, den = rational_inputs((6, 8), 2, gen)
    xr, weight, start, width = relukan_inputs(20, 3, 4, 5, gen)

    def f(x, num, den, xr, weight, start, width):
        return (K.rational_activation(x, num, den, backend="triton").sum()
                + K.relukan_linear(xr, weight, start, width, backend="triton").sum())

    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    inputs = [t.requires_grad_() for t in (x, num, den, xr, weight, start, width)]
    y = compiled(*inputs)
    grads = torch.autograd.grad(y, inputs)
    ref = [t.detach().clone().requires_grad_() for t in inputs]
    y_ref = f(*ref)
    torch.testing.assert_close(y, y_ref)
    for g, r in zip(grads, torch.autograd.grad(y_ref, ref)):
        torch.testing.assert_close(g, r)


@needs_interpreter
def test_env_var_forces_kernel_on_cpu_under_the_interpreter(monkeypatch):
    x = torch.zeros(1)
    monkeypatch.setenv(K.ENV_VAR, "triton")
    assert K.resolve_backend("auto", x) == "triton"
    assert K.resolve_backend("torch", x) == "torch"  # an explicit argument wins


def test_forced_triton_on_cpu_without_interpreter_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(kr, "INTERPRETED", False)
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        K.rational_activation(torch.randn(3, 4), torch.randn(2, 6), torch.randn(2, 4), backend="triton")
    with pytest.raises(ValueError, match="float64|dtype"):
        K.resolve_backend("triton", torch.zeros(1, dtype=torch.float64), dtype_ok=False)


@needs_interpreter
def test_kernel_calls_leave_global_rng_alone():
    state = torch.random.get_rng_state()
    gen = torch.Generator().manual_seed(12)
    x, num, den = rational_inputs((4, 4), 2, gen)
    K.rational_activation(x, num, den, backend="triton")
    xr, weight, start, width = relukan_inputs(6, 2, 3, 5, gen)
    K.relukan_linear(xr, weight, start, width, backend="triton")
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.slow
def test_kernels_compile_for_gpu_without_a_gpu(tmp_path):
    """Interpreter runs check the math; this checks the kernels lower to a cubin for sm_90
    (types, dot shapes, layouts), in a process without TRITON_INTERPRET. To keep the test
    short it compiles aot's covering subset (every dtype, precision and block-size value
    of every kernel at least once); `python -m symkan.kernels.aot` compiles them all."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    env["TRITON_CACHE_DIR"] = str(tmp_path)  # Triton's compile cache goes to a temporary folder
    code = ("from symkan.kernels import aot\n"
            "every = aot.variants()\n"
            "cover = aot.covering_subset(every)\n"
            "assert set().union(*map(aot._features, cover)) == set().union(*map(aot._features, every))\n"
            "lines = aot.compile_all(90, cover=True)\n"
            "print(len(every), len(cover), len(lines))\n")
    # ~30 s on an idle 2-core VM; the limit only guards against a hang on a loaded machine
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    n_every, n_cover, n_compiled = map(int, res.stdout.strip().splitlines()[-1].split())
    assert n_compiled == n_cover and 0 < n_cover < n_every
