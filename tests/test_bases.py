"""Property tests of every KAN basis: the layer contract, declared pre-maps and abilities.

The tests are parametrised over ``available_bases()``, so a basis registered later is
held to the same contract automatically. Family-specific tests (each family against
independent references) are in test_basis_families.py.
"""
from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest
import sympy
import torch

from symkan.bases import available_bases, get_basis
from symkan.bases.premap import PREMAPS
from symkan.nn import KAN, KANLayer

from basis_helpers import gen, inputs, make_layer

BASES = available_bases()
#: names this module must find registered (the rest of the registry is optional here)
OWN_BASES = ["bspline", "mexican_hat", "morlet", "dog", "chebyshev", "legendre", "gram", "jacobi", "bernstein",
             "rbf", "fourier"]


def test_own_bases_registered():
    missing = sorted(set(OWN_BASES) - set(BASES))
    assert not missing, f"bases missing from the registry: {missing}"


# --- the layer contract, for every registered basis ---------------------------------------

@pytest.mark.parametrize("name", BASES)
def test_edge_activations_sum_to_forward(name):
    layer = make_layer(name)
    with torch.no_grad():
        layer.mask[1, 2] = 0.0  # a pruned edge must vanish from both paths
        layer.mask[3, 0] = 0.0
    x = inputs(64, 3, scale=1.5)  # partly outside the typical domain on purpose
    acts = layer.edge_activations(x)
    assert acts.shape == (64, 4, 3)
    assert torch.all(acts[:, 1, 2] == 0) and torch.all(acts[:, 3, 0] == 0)
    torch.testing.assert_close(acts.sum(-1) + layer.bias, layer(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", BASES)
def test_kan_trace_matches_forward(name):
    model = KAN([2, 3, 2], basis=name, seed=0).double().eval()
    x = inputs(50, 2)
    tr = model.trace(x)
    torch.testing.assert_close(tr.output, model(x), rtol=1e-10, atol=1e-10)
    for layer, acts, xin, sub in zip(model.layers, tr.acts, tr.inputs, tr.subnodes):
        torch.testing.assert_close(acts.sum(-1) + layer.bias, layer(xin), rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(sub, layer(xin), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", BASES)
def test_gradcheck_float64(name):
    layer = make_layer(name, n_in=2, n_out=2)
    x = inputs(5, 2, seed=3).requires_grad_()
    params = tuple(p for p in layer.parameters() if p.requires_grad)
    assert torch.autograd.gradcheck(lambda x_, *_: layer(x_), (x,) + params, eps=1e-6, atol=1e-5)
    # the exact edge path too (used by the sparsity penalty and by symbolic fitting)
    assert torch.autograd.gradcheck(lambda x_, *_: layer.edge_activations(x_), (x,) + params, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", BASES)
def test_subset_reproduces_kept_edges(name):
    layer = make_layer(name, n_in=4, n_out=5)
    x = inputs(40, 4)
    out_idx, in_idx = [4, 0, 2], [3, 1]
    sub = layer.subset(out_idx, in_idx)
    assert (sub.in_features, sub.out_features) == (2, 3)
    full = layer.edge_activations(x)[:, out_idx][:, :, in_idx]
    torch.testing.assert_close(sub.edge_activations(x[:, in_idx]), full, rtol=1e-12, atol=1e-12)
    basis_full = layer.basis.edge_activations(x)[:, out_idx][:, :, in_idx]
    torch.testing.assert_close(sub.basis.edge_activations(x[:, in_idx]), basis_full, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", BASES)
def test_state_dict_round_trip_and_deepcopy(name):
    layer = make_layer(name, seed=0)
    x = inputs(30, 3)
    ref = layer(x)
    # rebuild from config() with a *different* init seed, then load the state
    basis = layer.basis
    rebuilt = KANLayer(3, 4, type(basis)(3, 4, generator=gen(99), **basis.config())).double().eval()
    assert not torch.equal(rebuilt(x), ref)  # the load below is what makes them agree
    rebuilt.load_state_dict(layer.state_dict())
    torch.testing.assert_close(rebuilt(x), ref, rtol=0, atol=0)
    twin = copy.deepcopy(layer)
    torch.testing.assert_close(twin(x), ref, rtol=0, atol=0)
    torch.testing.assert_close(twin.edge_activations(x), layer.edge_activations(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", BASES)
def test_construction_is_seeded_and_leaves_global_rng_alone(name):
    state = torch.random.get_rng_state()
    a = KANLayer(3, 4, name, generator=gen(5))
    b = KANLayer(3, 4, name, generator=gen(5))
    c = KANLayer(3, 4, name, generator=gen(6))
    KAN([2, 3, 1], basis=name, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    sa, sb, sc = ({k: v for k, v in m.state_dict().items() if torch.is_tensor(v)} for m in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("name", BASES)
def test_construction_without_generator_leaves_global_rng_alone(name):
    state = torch.random.get_rng_state()
    get_basis(name)(3, 4)
    KANLayer(3, 4, name)
    KAN([2, 3, 1], basis=name, seed=None)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("name", BASES)
def test_dtypes_and_device_move(name):
    layer32 = KANLayer(3, 4, name, generator=gen(0)).eval()
    x = inputs(20, 3, dtype=torch.float32)
    assert layer32(x).dtype == torch.float32
    layer64 = copy.deepcopy(layer32).to(torch.float64)
    y64 = layer64(x.double())
    assert y64.dtype == torch.float64
    torch.testing.assert_close(y64.float(), layer32(x), rtol=1e-4, atol=1e-5)
    moved = copy.deepcopy(layer64).to("cpu")
    assert all(t.device.type == "cpu" for t in moved.state_dict().values() if torch.is_tensor(t))
    assert all(t.dtype == torch.float64 for t in moved.state_dict().values() if torch.is_tensor(t) and t.is_floating_point())
    torch.testing.assert_close(moved(x.double()), y64, rtol=0, atol=0)


@pytest.mark.parametrize("name", BASES)
def test_initial_output_scale_is_variance_preserving(name):
    # KANLayer + basis init aims at Var(y) ≈ Var(x): allow a wide band, catch 0 or 100x
    layer = KANLayer(16, 32, name, generator=gen(0)).eval()
    x = inputs(2000, 16, dtype=torch.float32)
    with torch.no_grad():
        ratio = (layer(x).var(0).mean() / x.var(0).mean()).item()
    assert 0.1 < ratio < 10.0, f"{name}: Var(out)/Var(in) = {ratio:.3g} at init"


@pytest.mark.parametrize("name", BASES)
def test_large_inputs_give_finite_outputs(name):
    layer = make_layer(name)
    x = inputs(20, 3, scale=50.0)
    assert torch.isfinite(layer(x)).all()
    assert torch.isfinite(layer.edge_activations(x)).all()


@pytest.mark.parametrize("name", BASES)
def test_domain_shape_and_order(name):
    basis = make_layer(name).basis
    lo, hi = basis.domain()
    assert lo.shape == hi.shape == (3,)
    assert torch.all(hi > lo)


# --- every basis through the estimator -------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", BASES)
def test_regressor_fits_with_every_basis(name):
    # the estimator passes grid_size under the basis' own size option (rbf: num_centers)
    from symkan import SymKANRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = X[:, 0] * X[:, 1] + X[:, 1]
    reg = SymKANRegressor(basis=name, time_budget=5, random_state=0).fit(X, y)
    expr = reg.sympy()
    assert {str(s) for s in expr.free_symbols} <= {"x0", "x1"}
    assert not expr.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan)
    assert np.isfinite(reg.predict(X)).all()


# --- declared pre-maps --------------------------------------------------------------------

def takes_premap_option(name: str) -> bool:
    return "premap" in inspect.signature(get_basis(name).__init__).parameters


#: every registered basis with its default options, and once per pre-map where it has the option
PREMAP_CASES = [(name, {}) for name in BASES] + [
    (name, {"premap": kind}) for name in BASES if takes_premap_option(name) for kind in PREMAPS]
#: identity bases with a location parameter: shifting it and x by the same d keeps φ
LOCATION = {"bspline": "grid", "rbf": "centers", "relukan": "knot_start",
            "mexican_hat": "translation", "morlet": "translation", "dog": "translation"}


def reference_premap(kind: str, x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """u = premap(x) from the formulas in docs/bases.md, independent of symkan.bases.premap."""
    if kind == "tanh":
        return torch.tanh(x)
    if kind == "minmax":
        return (2 * (x - lo) / (hi - lo) - 1).clamp(-1, 1)
    return x


def check_identity_premap(name: str, basis, x: torch.Tensor) -> None:
    """φ sees raw x: shown per family by a property a non-identity pre-map would break."""
    acts = basis.edge_activations(x)
    if name in LOCATION:  # translation equivariance: φ_{loc + d}(x + d) = φ_loc(x)
        shifted = copy.deepcopy(basis)
        with torch.no_grad():
            getattr(shifted, LOCATION[name]).add_(0.37)
        torch.testing.assert_close(shifted.edge_activations(x + 0.37), acts, rtol=1e-9, atol=1e-12)
    elif name == "rational":  # init="identity" is P/Q = x exactly: φ_oi = w_oi·x, unsquashed
        torch.testing.assert_close(acts, basis.weight[None] * x[:, None, :], rtol=1e-12, atol=1e-12)
    elif hasattr(basis, "features_of"):  # pre-mapped family with the identity pre-map
        torch.testing.assert_close(basis.features(x), basis.features_of(x), rtol=0, atol=0)
    else:
        pytest.fail(f"no check that basis {name!r} applies the identity pre-map it declares; add one")


@pytest.mark.parametrize("name,opts", PREMAP_CASES, ids=lambda v: v if isinstance(v, str) else
                         ",".join(f"{k}={o}" for k, o in v.items()) or "default")
def test_declared_premap_is_what_the_basis_applies(name, opts):
    basis = get_basis(name)(2, 3, generator=gen(0), **opts).double().eval()
    kind = basis.premap_kind
    assert kind in PREMAPS
    if "premap" in opts:
        assert kind == opts["premap"] == basis.config()["premap"]
    if isinstance(getattr(basis, "premap", None), torch.nn.Module):
        assert basis.premap.kind == kind
    x = inputs(60, 2, scale=3.0)  # past [-1, 1]: tanh saturates and min-max clamps there
    if kind == "identity":
        check_identity_premap(name, basis, x)
        return
    lo, hi = torch.tensor([-2.0, -0.5], dtype=torch.float64), torch.tensor([1.0, 2.5], dtype=torch.float64)
    if kind == "minmax":
        basis.update_grid(torch.stack([torch.linspace(-2, 1, 50), torch.linspace(-0.5, 2.5, 50)], 1).double())
    # the same coefficients on the identity pre-map, fed the reference u: the same edge functions
    twin = get_basis(name)(2, 3, **{**basis.config(), "premap": "identity"}).double().eval()
    twin.load_state_dict(basis.state_dict())
    u = reference_premap(kind, x, lo, hi)
    torch.testing.assert_close(basis.edge_activations(x), twin.edge_activations(u), rtol=1e-10, atol=1e-12)


def test_register_basis_requires_a_premap_declaration():
    from symkan.bases import register_basis
    from symkan.bases.base import Basis

    class Undeclared(Basis):
        name = "undeclared_premap_test_basis"

    with pytest.raises(TypeError, match="premap_kind"):
        register_basis(Undeclared)
    assert "undeclared_premap_test_basis" not in available_bases()


# --- declared abilities: size option and grid -----------------------------------------------

def test_register_basis_requires_size_option_and_grid_declarations():
    from symkan.bases import register_basis
    from symkan.bases.base import Basis

    class Base(Basis):
        premap_kind = "identity"

        def __init__(self, in_features, out_features, *, width: int = 3, generator=None):
            super().__init__(in_features, out_features, width=width)

    class NoSize(Base):
        name = "no_size_test_basis"
        has_grid = False

    class WrongSize(Base):
        name = "wrong_size_test_basis"
        size_option = "num_knots"  # not a constructor option
        has_grid = False

    class NoGrid(Base):
        name = "no_grid_test_basis"
        size_option = "width"

    for cls, match in ((NoSize, "size_option"), (WrongSize, "size_option.*'num_knots'"), (NoGrid, "has_grid")):
        with pytest.raises(TypeError, match=match):
            register_basis(cls)
        assert cls.name not in available_bases()


@pytest.mark.parametrize("name", BASES)
def test_basis_declares_size_option_and_grid(name):
    cls = get_basis(name)
    assert "size_option" in dir(cls) and "has_grid" in dir(cls)
    assert isinstance(cls.has_grid, bool)
    if cls.size_option is None:  # a fixed number of basis functions (rational)
        assert torch.isfinite(cls(2, 3, generator=gen(0))(inputs(40, 2, dtype=torch.float32))).all()
        return
    # the declared option sets the number of basis functions per edge
    small = cls(2, 3, **{cls.size_option: 3}, generator=gen(0))
    large = cls(2, 3, **{cls.size_option: 6}, generator=gen(0))
    assert small.config()[cls.size_option] == 3 and large.config()[cls.size_option] == 6
    assert sum(p.numel() for p in large.parameters()) > sum(p.numel() for p in small.parameters())
    x = inputs(40, 2, dtype=torch.float32)
    assert torch.isfinite(large(x)).all()
    # a grid moves to the data and is resized by refine; a basis without one refuses update_grid
    basis = cls(2, 3, **{cls.size_option: 4}, generator=gen(0))
    assert basis.supports_grid_update == cls.has_grid
    if cls.has_grid:
        basis.update_grid(x)
        basis.refine(5, x)
        assert basis.config()[cls.size_option] == 5
        assert torch.isfinite(basis(x)).all()
    else:
        with pytest.raises(NotImplementedError):
            basis.update_grid(x)
