"""Kernel entry points without Triton: argument checks, backend dispatch, imports, launch
geometry. Nothing here imports triton, so these tests run (and must pass) whether or not
triton is installed; the kernel-vs-reference tests are in tests/test_kernels.py.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import symkan.kernels as K
from symkan.kernels import configs, ops


class _CudaLike:
    """Stands in for a CUDA tensor: resolve_backend only asks ``is_cuda``."""
    is_cuda = True


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch):
    monkeypatch.delenv(K.ENV_VAR, raising=False)


# --- argument checks --------------------------------------------------------------------
def test_rational_groups_must_divide_channels():
    x = torch.randn(4, 10)
    with pytest.raises(ValueError, match="groups"):
        K.rational_activation(x, torch.randn(3, 6), torch.randn(3, 4))
    with pytest.raises(ValueError, match="groups"):
        K.contiguous_group_index(10, 4)
    with pytest.raises(ValueError, match="groups=2 but numerator holds 3"):
        K.rational_activation(torch.randn(4, 9), torch.randn(3, 6), torch.randn(3, 4), groups=2)


def test_rational_bad_shapes_raise_value_error():
    x = torch.randn(4, 8)
    with pytest.raises(ValueError, match="numerator"):
        K.rational_activation(x, torch.randn(2, 5), torch.randn(2, 4))
    with pytest.raises(ValueError, match="denominator"):
        K.rational_activation(x, torch.randn(2, 6), torch.randn(2, 3))
    with pytest.raises(ValueError, match="group_index"):
        K.rational_activation(x, torch.randn(2, 6), torch.randn(2, 4), group_index=torch.zeros(7, dtype=torch.long))


def test_relukan_bad_shapes_raise_value_error():
    x = torch.randn(4, 3)
    s, w = torch.zeros(3, 5), torch.ones(3, 5)
    with pytest.raises(ValueError, match="weight"):
        K.relukan_linear(x, torch.randn(2, 14), s, w)
    with pytest.raises(ValueError, match="start and width"):
        K.relukan_linear(x, torch.randn(2, 15), s[:2], w[:2])
    with pytest.raises(ValueError, match="2-D"):
        K.relukan_linear(torch.randn(4), torch.randn(2, 15), s, w)


def test_group_layout_sorts_channels_by_group():
    order, ptr = K.group_layout(torch.tensor([2, 0, 2, 2, 0, 3, 0]), 4)
    assert order.tolist() == [1, 4, 6, 0, 2, 3, 5]  # stable within a group
    assert ptr.tolist() == [0, 3, 3, 6, 7]  # group 1 is empty


# --- dispatch ---------------------------------------------------------------------------
def test_auto_backend_uses_torch_on_cpu(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the kernel must not run for CPU tensors under backend='auto'")

    monkeypatch.setattr(ops, "rational_op", boom)
    monkeypatch.setattr(ops, "relukan_linear_op", boom)
    x = torch.randn(3, 4)
    num, den = torch.randn(2, 6), torch.randn(2, 4)
    gi = torch.arange(4) // 2
    torch.testing.assert_close(K.rational_activation(x, num, den), K.rational_reference(x, num, den, gi))
    xr, weight, s, w = torch.randn(3, 2), torch.randn(4, 10), torch.zeros(2, 5) - 0.5, torch.ones(2, 5)
    torch.testing.assert_close(K.relukan_linear(xr, weight, s, w), K.relukan_linear_reference(xr, weight, s, w))
    assert K.resolve_backend("auto", torch.zeros(1)) == "torch"


def test_auto_backend_rules_on_cuda_tensors(monkeypatch):
    """auto = the kernel on CUDA with a supported dtype when triton is installed; the
    environment variable replaces "auto" but never an explicit argument."""
    x = _CudaLike()
    monkeypatch.setattr(K, "_HAS_TRITON", True)
    assert K.resolve_backend("auto", x) == "triton"
    assert K.resolve_backend("auto", x, dtype_ok=False) == "torch"  # e.g. float64
    assert K.resolve_backend("torch", x) == "torch"
    monkeypatch.setenv(K.ENV_VAR, "torch")
    assert K.resolve_backend("auto", x) == "torch"
    monkeypatch.setenv(K.ENV_VAR, "triton")
    assert K.resolve_backend("auto", x) == "triton"
    assert K.resolve_backend("torch", x) == "torch"  # an explicit argument wins
    monkeypatch.delenv(K.ENV_VAR)
    monkeypatch.setattr(K, "_HAS_TRITON", False)
    assert K.resolve_backend("auto", x) == "torch"


def test_bad_backend_names_are_clear_errors(monkeypatch):
    x = torch.zeros(1)
    with pytest.raises(ValueError, match="backend"):
        K.resolve_backend("fast", x)
    monkeypatch.setenv(K.ENV_VAR, "cuda-please")
    with pytest.raises(ValueError, match=K.ENV_VAR):
        K.resolve_backend("auto", x)


def test_forced_triton_errors_without_triton_or_interpreter(monkeypatch):
    monkeypatch.setattr(K, "_HAS_TRITON", False)
    with pytest.raises(ValueError, match="needs the triton package"):
        K.rational_activation(torch.randn(3, 4), torch.randn(2, 6), torch.randn(2, 4), backend="triton")
    monkeypatch.setattr(K, "_HAS_TRITON", True)
    with pytest.raises(ValueError, match="float64"):
        K.resolve_backend("triton", torch.zeros(1, dtype=torch.float64), dtype_ok=False)
    monkeypatch.setattr(K, "_interpreter_active", lambda module: False)
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        K.relukan_linear(torch.randn(3, 2), torch.randn(4, 10), torch.zeros(2, 5), torch.ones(2, 5),
                         backend="triton")
    assert K.resolve_backend("triton", _CudaLike()) == "triton"  # CUDA needs no interpreter


def test_torch_backend_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    gen = torch.Generator().manual_seed(12)
    x = torch.randn(4, 4, generator=gen)
    K.rational_activation(x, torch.randn(2, 6, generator=gen), torch.randn(2, 4, generator=gen), backend="torch")
    K.relukan_linear(x, torch.randn(3, 16, generator=gen), torch.zeros(4, 4), torch.ones(4, 4), backend="torch")
    assert torch.equal(state, torch.random.get_rng_state())


def test_import_symkan_and_cpu_bases_do_not_import_triton():
    code = ("import sys, torch, symkan\n"
            "from symkan.nn import KAN\n"
            "import symkan.kernels.configs\n"
            "for b in ('relukan', 'rational'):\n"
            "    m = KAN([2, 3, 1], basis=b)\n"
            "    m(torch.zeros(4, 2)).sum().backward()\n"
            "assert 'triton' not in sys.modules, 'triton was imported'\n")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr



# --- launch geometry (symkan.kernels.configs) ---------------------------------------------
def test_block_size_enumerations_are_exhaustive():
    """aot compiles the *_variants lists; every shape must pick one of them."""
    gen = torch.Generator().manual_seed(0)
    rational = configs.rational_variants()
    for c in torch.randint(1, 200_000, (300,), generator=gen).tolist() + [1, 32, 33, 128, 129, 4096]:
        for g in {1, c, max(1, c // 3), int(torch.randint(1, c + 1, (1,), generator=gen))}:
            assert configs.rational_blocks(c, g)[0] in rational, (c, g)
    fwd, dw, dx = (configs.relukan_forward_variants(), configs.relukan_dweight_variants(),
                   configs.relukan_dinput_variants())
    for n in torch.randint(1, 100_000, (200,), generator=gen).tolist() + [1, 16, 17, 64, 65]:
        assert configs.relukan_forward_blocks(n) in fwd
        assert configs.relukan_dweight_blocks(n) in dw
        assert configs.relukan_dinput_blocks(n) in dx
    # each is a handful of compiles, not one per shape
    assert len(rational) <= 12 and len(fwd) == len(dw) == 3 and len(dx) == 4


@pytest.mark.parametrize("n_rows,n_tiles", [(0, 1), (1, 1), (37, 1), (1000, 3), (65536, 128), (10**6, 1),
                                            (4096, 10_000)])
def test_split_rows_covers_every_row_once(n_rows, n_tiles):
    block, min_rows, sms = 32, 128, configs.NOMINAL_SMS
    rows, n_split = configs.split_rows(n_rows, n_tiles, block, min_rows, sms)
    assert rows % block == 0 and rows >= block
    assert n_split == max(1, -(-n_rows // rows))  # splits [k·rows, (k+1)·rows) tile [0, n_rows)
    if n_split > 1:
        assert rows >= min_rows  # no program is left with too little work
        assert n_tiles * (n_split - 1) < configs.PROGRAMS_PER_SM * sms  # no more splits than the GPU needs


def test_relukan_weight_gradient_gets_enough_programs():
    """dW used to run one program per (O, I·K) tile, each over the whole batch: 8 programs
    at batch 1024, in = out = 64, K = 8, and 128 at batch 65536, in = out = 256."""
    sms = configs.NOMINAL_SMS
    for batch, width, before in [(1024, 64, 8), (65536, 256, 128)]:
        meta = configs.relukan_dweight_blocks(width)
        tiles = -(-width // meta["BLOCK_N"]) * -(-(width * 8) // meta["BLOCK_K"])
        assert tiles == before
        rows, n_split = configs.relukan_dweight_split(batch, width, width * 8, sms)
        assert rows * (n_split - 1) < batch <= rows * n_split
    assert configs.relukan_dweight_split(65536, 256, 2048, sms)[1] * 128 >= configs.PROGRAMS_PER_SM * sms
    assert configs.relukan_dweight_split(1024, 64, 512, sms)[1] == 8  # 64 programs of 128 rows


def test_rational_tiles_are_wide_for_one_channel_groups():
    """The basis default (one group per channel) used to launch one program per channel
    with a 1-wide tile at stride C; now a program covers 128 adjacent channels."""
    ln = configs.rational_launch(65536, 1024, 1024, configs.NOMINAL_SMS)
    assert ln.meta["BLOCK_C"] == 128 and ln.groups_per_program == 128 and ln.group_programs == 8
    assert ln.row_programs * ln.rows_per_program >= 65536 > (ln.row_programs - 1) * ln.rows_per_program
    assert ln.rows_per_program >= configs.RATIONAL_MIN_ROW_BLOCKS * ln.meta["BLOCK_R"]
    # wide groups: one group per program, the group's channels in 128-wide blocks
    ln = configs.rational_launch(4096, 1024, 8, configs.NOMINAL_SMS)
    assert ln.meta["BLOCK_G"] == 1 and ln.groups_per_program == 1 and ln.group_programs == 8
