"""The fast wavelet path: envelope clamp, row × output chunks, power-of-two gradient gain.

The closed forms themselves are checked in tests/test_bases.py (test_wavelets_match_closed_forms).
"""
import math

import pytest
import torch

from symkan.bases.wavelet_sum import chunk_plan, envelope_cap, power_of_two_gain
from symkan.nn import KANLayer

WAVELETS = ["mexican_hat", "morlet", "dog"]


def wavelet_layer(name: str, n_in: int, n_out: int, dtype, k: int = 3, seed: int = 0) -> KANLayer:
    layer = KANLayer(n_in, n_out, name, generator=torch.Generator().manual_seed(seed), num_wavelets=k).to(dtype)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # move away from the symmetric init so every parameter matters
        basis = layer.basis
        basis.translation.add_(0.3 * torch.randn(basis.translation.shape, generator=g).to(dtype))
        basis.scale_raw.add_(0.3 * torch.randn(basis.scale_raw.shape, generator=g).to(dtype))
    return layer


def unclamped_reference(basis, x: torch.Tensor) -> torch.Tensor:
    """Σ_ik w ψ((x − t)/s) by plain autograd on the closed form, without the clamp: (batch, out)."""
    z = (x[:, None, :, None] - basis.translation) / basis.scale
    return (basis.mother(z) * basis.weight).sum((-1, -2))


def grads(y: torch.Tensor, x: torch.Tensor, basis) -> list[torch.Tensor]:
    return list(torch.autograd.grad(y.square().sum(), [x, basis.weight, basis.translation, basis.scale_raw]))


def test_envelope_cap_keeps_the_envelope_normal():
    for dtype in (torch.float32, torch.float64):
        cap = envelope_cap(dtype)
        env = torch.exp(torch.tensor(-0.5 * cap * cap, dtype=dtype))
        assert env >= torch.finfo(dtype).tiny  # a normal number, not a subnormal
    assert envelope_cap(torch.float32) == pytest.approx(12.5, abs=0.1)
    assert envelope_cap(torch.float64) == pytest.approx(35.7, abs=0.1)


@pytest.mark.parametrize("name", WAVELETS)
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_clamped_layer_equals_unclamped_formula_on_normal_points(name, dtype, rtol):
    """Inputs within a few scales of every wavelet: no point reaches the cap, so the fast
    path (clamp, chunk kernels, gain) must give the closed form's value and gradients."""
    layer = wavelet_layer(name, n_in=4, n_out=5, dtype=dtype)
    basis = layer.basis
    x = (torch.rand(9, 4, generator=torch.Generator().manual_seed(3), dtype=dtype) * 2 - 1).requires_grad_()
    z = (x[:, None, :, None] - basis.translation) / basis.scale
    assert z.abs().max() < envelope_cap(dtype)
    fast, ref = basis(x), unclamped_reference(basis, x)
    torch.testing.assert_close(fast, ref, rtol=rtol, atol=rtol * ref.abs().max().item())
    for a, b in zip(grads(fast, x, basis), grads(ref, x, basis)):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * b.abs().max().item())
    z_in = torch.linspace(-0.99, 0.99, 101, dtype=dtype) * envelope_cap(dtype)
    psi, exact = basis.psi(z_in), basis.mother(z_in)
    torch.testing.assert_close(psi, exact, rtol=1e-6 if dtype == torch.float32 else 1e-12, atol=0.0)


@pytest.mark.parametrize("name", WAVELETS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_psi_far_tail_is_tiny_and_finite(name, dtype):
    layer = wavelet_layer(name, n_in=2, n_out=3, dtype=dtype)
    basis = layer.basis
    big = torch.tensor([20.0, 1e3, 1e6, 1e20, 1e30, -1e30, -1e6, -20.0], dtype=dtype)
    psi = basis.psi(big)
    assert torch.isfinite(psi).all() and psi.abs().max() < 1e-30
    # inputs far outside the wavelets: output ~0, every gradient finite
    x = torch.tensor([[1e30, -1e6], [-1e20, 1e3]], dtype=dtype, requires_grad=True)
    y = basis(x)
    assert torch.isfinite(y).all() and y.abs().max() < 1e-25
    for g in grads(y, x, basis):
        assert torch.isfinite(g).all()


@pytest.mark.parametrize("name", WAVELETS)
def test_row_blocks_and_ragged_chunks_match_one_chunk(name):
    layer = wavelet_layer(name, n_in=3, n_out=5, dtype=torch.float64, k=2)
    basis = layer.basis
    x = (torch.rand(7, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1).requires_grad_()
    basis.max_chunk_elements = 10 ** 6
    y_one = basis(x)
    g_one = grads(y_one, x, basis)
    basis.max_chunk_elements = 3 * 2 * 3  # 3 rows of one output per chunk: row blocks 3, 3, 1
    assert [r.stop - r.start for r in chunk_plan(7, 5, 6, basis.max_chunk_elements)[0]] == [3, 3, 1]
    y_rows = basis(x)
    torch.testing.assert_close(y_rows, y_one, rtol=1e-13, atol=1e-13)
    for a, b in zip(grads(y_rows, x, basis), g_one):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    basis.max_chunk_elements = 1  # less than one row: still one row of one output per chunk
    torch.testing.assert_close(basis(x), y_one, rtol=1e-13, atol=1e-13)


def test_chunk_plan_covers_every_row_and_output_once():
    for n_rows, n_out, per_row, budget in [(7, 5, 6, 18), (7, 5, 6, 100), (1, 1, 4, 1), (10, 3, 2, 1000)]:
        rows, cols = chunk_plan(n_rows, n_out, per_row, budget)
        assert sum(r.stop - r.start for r in rows) == n_rows and sum(c.stop - c.start for c in cols) == n_out
        biggest = (rows[0].stop - rows[0].start) * (cols[0].stop - cols[0].start) * per_row
        assert biggest <= max(budget, per_row)


def test_power_of_two_gain_is_exact_and_bounded():
    g = torch.tensor([3e-9, -7e-8, 0.0])
    gain = power_of_two_gain(g)
    assert math.frexp(gain)[0] == 0.5  # a power of two
    assert 0.5 <= (g * gain).abs().max() < 1.0
    assert power_of_two_gain(torch.zeros(3)) == 1.0
    assert power_of_two_gain(torch.tensor([float("nan")])) == 1.0
    assert power_of_two_gain(torch.tensor([1e-38])) == 2.0 ** 100


@pytest.mark.parametrize("name", WAVELETS)
def test_tiny_incoming_gradient_gives_scaled_gradients(name):
    """The gain is undone exactly: a gradient 1e-30 times smaller gives 1e-30 times smaller
    parameter gradients (float64, so the unscaled path has no subnormals either)."""
    layer = wavelet_layer(name, n_in=3, n_out=4, dtype=torch.float64)
    basis = layer.basis
    x = (torch.rand(6, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 2 - 1).requires_grad_()
    params = [x, basis.weight, basis.translation, basis.scale_raw]
    y = basis(x)
    seed = torch.randn(y.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    unit = torch.autograd.grad(y, params, seed, retain_graph=True)
    tiny = torch.autograd.grad(y, params, seed * 1e-30)
    for a, b in zip(tiny, unit):
        torch.testing.assert_close(a, b * 1e-30, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("name", WAVELETS)
def test_empty_batch(name):
    layer = wavelet_layer(name, n_in=3, n_out=2, dtype=torch.float32)
    y = layer.basis(torch.zeros(0, 3))
    assert y.shape == (0, 2)
    y.sum().backward()
    assert layer.basis.weight.grad is not None and not layer.basis.weight.grad.any()
