"""Core network behaviour: training, sparsification, determinism, bad input, product nodes."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from symkan.bases import available_bases
from symkan.nn import KAN
from symkan.regularize import edge_magnitudes
from symkan.train import fit, rmse


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def uniform(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.rand(n, d, generator=gen(seed)) * 2 - 1


def count_strong_edges(model: KAN, X: torch.Tensor, threshold: float = 1e-2) -> int:
    with torch.no_grad():
        tr = model.trace(X)
    return sum(int((edge_magnitudes(a, x) > threshold).sum()) for a, x in zip(tr.acts, tr.inputs))


# --- training ------------------------------------------------------------------------------

@pytest.mark.slow
def test_bspline_kan_learns_exp_sin(exp_sin_data):
    X, y, X_test, y_test = exp_sin_data
    model = KAN([2, 5, 1], seed=0)
    hist = fit(model, X, y, steps=50, update_grid_every=10)
    assert len(hist.train_loss) == 50
    assert hist.train_loss[-1] < hist.train_loss[0] / 100
    assert rmse(model, X_test, y_test) < 1e-2


@pytest.mark.slow
def test_sparsification_removes_edges():
    # y depends on inputs 0 and 1 only; inputs 2 and 3 are dead
    X = uniform(500, 4, seed=0)
    y = torch.exp(torch.sin(math.pi * X[:, 0]) + X[:, 1] ** 2)
    counts = {}
    for lamb in (0.0, 0.01):
        model = KAN([4, 5, 1], seed=0)
        hist = fit(model, X, y, steps=20, lamb=lamb)
        counts[lamb] = count_strong_edges(model, X)
        if lamb > 0:
            assert hist.penalty[-1] > 0
            # the edges of the dead inputs carry (almost) nothing
            with torch.no_grad():
                tr = model.trace(X)
            dead = edge_magnitudes(tr.acts[0], tr.inputs[0])[:, 2:]
            assert dead.max() < 1e-2
    assert counts[0.01] <= 0.75 * counts[0.0], counts


# --- the fit loop: callbacks, early stopping, progress bar ------------------------------------

@pytest.fixture
def overfit_data():
    """40 noisy training rows of x·y and 200 clean validation rows: a [2, 5, 1] network
    overfits the noise, so the validation loss falls, then rises."""
    g = gen(0)
    X = torch.rand(40, 2, generator=g) * 2 - 1
    y = X[:, 0] * X[:, 1] + 0.3 * torch.randn(40, generator=g)
    X_val = torch.rand(200, 2, generator=g) * 2 - 1
    return X, y, X_val, X_val[:, 0] * X_val[:, 1]


@pytest.mark.slow
def test_callbacks_see_every_step_and_can_stop(overfit_data):
    X, y = overfit_data[:2]
    seen, also = [], []

    def record(step, history, model):
        assert len(history.train_loss) == step + 1 and isinstance(model, KAN)
        seen.append((step, history.train_loss[-1]))
        return step == 3  # ask to stop after the fourth step

    def watcher(step, history, model):
        also.append(step)  # returns None: never stops

    hist = fit(KAN([2, 3, 1], seed=0), X, y, steps=10, callbacks=[record, watcher], lbfgs_max_iter=2)
    assert [s for s, _ in seen] == [0, 1, 2, 3] and also == [0, 1, 2, 3]
    assert len(hist.train_loss) == 4 and [loss for _, loss in seen] == hist.train_loss
    assert not hist.stopped_early  # a callback stop is not early stopping
    hist = fit(KAN([2, 3, 1], seed=0), X, y, steps=5, callbacks=[watcher], lbfgs_max_iter=2)
    assert len(hist.train_loss) == 5


def val_mse(model, X, y) -> float:
    with torch.no_grad():
        return float(torch.mean((model(X) - y[:, None]) ** 2))


@pytest.mark.slow
def test_early_stopping_restores_the_best_parameters(overfit_data):
    X, y, X_val, y_val = overfit_data
    model = KAN([2, 5, 1], seed=0)
    hist = fit(model, X, y, steps=60, X_val=X_val, y_val=y_val, early_stopping=3, lbfgs_max_iter=2)
    assert hist.stopped_early and len(hist.val_loss) < 60
    best = min(hist.val_loss)
    assert hist.val_loss[hist.best_step] == best
    assert 0 < hist.best_step == len(hist.val_loss) - 1 - 3  # 3 steps without improvement
    assert hist.val_loss[-1] > best  # the last parameters were worse: restoring matters
    assert val_mse(model, X_val, y_val) == best  # bit for bit: the best step's parameters


@pytest.mark.slow
def test_progress_bar_on_and_off(small, capsys):
    model, X, y = small
    fit(model, X, y, steps=3, progress=False)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    hist = fit(model, X, y, steps=3, progress=True)
    out, err = capsys.readouterr()
    assert len(hist.train_loss) == 3 and out == ""
    assert "fit (lbfgs)" in err  # tqdm draws on stderr


# --- determinism ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("optimizer,opts", [("lbfgs", {"update_grid_every": 3}),
                                            ("adam", {"batch_size": 64, "val_fraction": 0.2})])
def test_same_seed_gives_identical_history(exp_sin_data, optimizer, opts):
    X, y = exp_sin_data[0][:300], exp_sin_data[1][:300]
    runs = []
    for _ in range(2):
        model = KAN([2, 3, 1], seed=4)
        hist = fit(model, X, y, steps=8, optimizer=optimizer, lamb=1e-3, seed=11, **opts)
        runs.append((hist, model))
    (h1, m1), (h2, m2) = runs
    assert h1.train_loss == h2.train_loss  # bit-identical floats
    assert h1.val_loss == h2.val_loss and h1.penalty == h2.penalty
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        if torch.is_tensor(a):
            assert torch.equal(a, b), k
    # a different model seed gives a different run (the seed is really used)
    other = fit(KAN([2, 3, 1], seed=5), X, y, steps=2, optimizer=optimizer, seed=11, **opts)
    assert other.train_loss != h1.train_loss[:2]


@pytest.mark.slow
@pytest.mark.parametrize("name", available_bases())
def test_global_rng_untouched_by_construction_and_fit(name):
    X = uniform(64, 2, seed=0)
    y = X[:, 0] * X[:, 1]
    state = torch.random.get_rng_state()
    model = KAN([2, 2, 1], basis=name, seed=0)
    fit(model, X, y, steps=2, optimizer="adam", batch_size=16, val_fraction=0.25,
        update_grid_every=1 if model.supports_grid_update else None)
    assert torch.equal(torch.random.get_rng_state(), state)


def tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in module.state_dict().items() if torch.is_tensor(v) and v.is_floating_point()}


def differs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Some floating-point state of a and b (same architecture) differs."""
    ta, tb = tensors(a), tensors(b)
    return any(not torch.equal(ta[k], tb[k]) for k in ta)


@pytest.mark.parametrize("name", available_bases())
def test_seed_none_is_a_fresh_private_draw(name):
    state = torch.random.get_rng_state()
    a = KAN([2, 3, 1], basis=name, seed=None)
    b = KAN([2, 3, 1], basis=name, seed=None)
    assert torch.equal(torch.random.get_rng_state(), state)  # OS entropy, not the global RNG
    assert differs(a, b)
    assert differs(a, KAN([2, 3, 1], basis=name, seed=0))  # None is not an alias of 0


@pytest.mark.parametrize("seed", [None, 0])
def test_layers_and_tensors_get_distinct_draws(seed):
    model = KAN([3, 3, 3, 1], seed=seed)
    first, second = model.layers[0], model.layers[1]  # same shape (3 -> 3)
    assert differs(first, second)
    # coef and base_weight come from one stream, not from two identically seeded ones
    coef, base = first.basis.coef.detach(), first.base_weight.detach()
    n = base.numel()
    assert abs(np.corrcoef(coef.flatten()[:n], base.flatten())[0, 1]) < 0.9


def test_int_seed_stays_reproducible():
    a, b = KAN([2, [2, 1], 1], seed=7), KAN([2, [2, 1], 1], seed=7)
    assert not differs(a, b)
    assert differs(a, KAN([2, [2, 1], 1], seed=8))


def test_layer_without_generator_is_seed_zero_stream():
    from symkan.nn import KANLayer

    default = KANLayer(3, 4)
    seeded = KANLayer(3, 4, generator=gen(0))
    assert not differs(default, seeded)
    base = default.base_weight.detach().flatten()
    assert abs(np.corrcoef(default.basis.coef.detach().flatten()[:base.numel()], base)[0, 1]) < 0.9


# --- bad input ----------------------------------------------------------------------------

@pytest.fixture
def small():
    X = uniform(40, 2, seed=0)
    return KAN([2, 3, 1], seed=0), X, X[:, 0] - X[:, 1]


def test_nan_or_inf_in_X(small):
    model, X, y = small
    for bad in (float("nan"), float("inf"), -float("inf")):
        Xb = X.clone()
        Xb[7, 1] = bad
        with pytest.raises(ValueError, match="X contains NaN or infinite"):
            fit(model, Xb, y, steps=1)


def test_nan_or_inf_in_y(small):
    model, X, y = small
    yb = y.clone()
    yb[3] = float("nan")
    with pytest.raises(ValueError, match="y contains NaN or infinite"):
        fit(model, X, yb, steps=1)
    yb[3] = float("inf")
    with pytest.raises(ValueError, match="y contains NaN or infinite"):
        fit(model, X, yb.numpy(), steps=1)


def test_wrong_shapes(small):
    model, X, y = small
    with pytest.raises(ValueError, match="2-D"):
        fit(model, X[:, 0], y, steps=1)
    with pytest.raises(ValueError, match="2-D"):
        fit(model, X[None], y, steps=1)
    with pytest.raises(ValueError, match="y must be 1-D"):
        fit(model, X, y[:, None, None], steps=1)
    with pytest.raises(ValueError, match="different numbers of rows"):
        fit(model, X, y[:-3], steps=1)
    with pytest.raises(ValueError, match="3 columns but the model expects 2"):
        fit(model, torch.cat([X, X[:, :1]], 1), y, steps=1)
    with pytest.raises(ValueError, match="2 outputs but the model has 1"):
        fit(model, X, torch.stack([y, y], 1), steps=1)
    with pytest.raises(ValueError, match="numeric"):
        fit(model, np.array([["a", "b"]] * 40), y, steps=1)


def test_bad_training_options(small):
    model, X, y = small
    with pytest.raises(ValueError, match="optimizer"):
        fit(model, X, y, optimizer="sgd")
    with pytest.raises(ValueError, match="lamb"):
        fit(model, X, y, lamb=-1.0)
    with pytest.raises(ValueError, match="steps"):
        fit(model, X, y, steps=-5)
    with pytest.raises(ValueError, match="early_stopping"):
        fit(model, X, y, early_stopping=3)


@pytest.mark.parametrize("width,match", [
    ([2], "at least 2"),
    ([2, -1, 1], "non-negative"),
    ([2, [3, 1, 2], 1], "width\\[1\\]"),
    ([[2, 1], 3, 1], "input layer"),
    ([2, [1, [1]], 1], "arity"),
])
def test_bad_width(width, match):
    with pytest.raises(ValueError, match=match):
        KAN(width)


def test_bad_basis_name_and_options():
    with pytest.raises(ValueError, match="unknown basis"):
        KAN([2, 1], basis="bsplines")
    with pytest.raises(ValueError, match="degree"):
        KAN([2, 1], basis="chebyshev", degree=-2)
    with pytest.raises(ValueError, match="premap"):
        KAN([2, 1], basis="legendre", premap="softsign")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['grid_sze'\] for basis 'bspline'.*grid_size"):
        KAN([2, 1], grid_sze=3)


# --- product nodes ----------------------------------------------------------------------------

@pytest.mark.slow
def test_product_node_arity_two_learns_xy():
    X = uniform(400, 2, seed=2)
    y = X[:, 0] * X[:, 1]
    model = KAN([2, [1, 1], 1], seed=0)
    assert model.layers[0].out_features == 3  # 1 sum node + 2 sub-nodes of the product
    with torch.no_grad():
        tr = model.trace(X[:50])
    torch.testing.assert_close(tr.output, model(X[:50]))
    sub = tr.subnodes[0]
    torch.testing.assert_close(tr.nodes[0], torch.stack([sub[:, 0], sub[:, 1] * sub[:, 2]], 1))
    fit(model, X, y, steps=30)
    assert rmse(model, X, y) < 2e-2 * y.std().item()


@pytest.mark.slow
def test_product_node_arity_three():
    # a product of three shifted factors: separable only through the product node
    # (plain x·y·z sits on a saddle at the origin and some seeds stall there)
    X = uniform(400, 3, seed=3)
    y = (1 + 0.5 * X[:, 0]) * (1 + 0.5 * X[:, 1]) * (1 + 0.5 * X[:, 2])
    model = KAN([3, [0, [3]], 1], seed=0)
    assert model.layers[0].out_features == 3 and model.layers[1].in_features == 1
    with torch.no_grad():
        tr = model.trace(X[:50])
    torch.testing.assert_close(tr.output, model(X[:50]))
    torch.testing.assert_close(tr.nodes[0][:, 0], tr.subnodes[0].prod(1))
    start = rmse(model, X, y)
    fit(model, X, y, steps=30)
    end = rmse(model, X, y)
    assert end < 0.03 * y.std().item() and end < start / 20


# --- network plumbing -------------------------------------------------------------------------

def test_masked_edges_contribute_nothing():
    model = KAN([3, 4, 1], seed=0).double().eval()
    X = uniform(30, 3, seed=1).double()
    with torch.no_grad():
        model.layers[0].mask[:, 2] = 0.0  # cut input 2
    moved = X.clone()
    moved[:, 2] = 0.9 - moved[:, 2]
    torch.testing.assert_close(model(moved), model(X), rtol=0, atol=0)
    tr = model.trace(X)
    assert torch.all(tr.acts[0][:, :, 2] == 0)
    torch.testing.assert_close(tr.output, model(X))


def test_symbolic_edge_keeps_trace_identity():
    model = KAN([2, 3, 1], seed=0).double().eval()
    model.layers[0].symbolic.set(1, 0, "sin", a=2.0, b=0.1, c=0.5, d=-0.2)
    X = uniform(30, 2, seed=1).double()
    tr = model.trace(X)
    torch.testing.assert_close(tr.output, model(X))
    expected = 0.5 * torch.sin(2.0 * X[:, 0] + 0.1) - 0.2
    torch.testing.assert_close(tr.acts[0][:, 1, 0], expected)


def test_refine_preserves_the_network_function(exp_sin_data):
    X = exp_sin_data[0][:300]
    model = KAN([2, 3, 1], seed=0).double()
    Xd = X.double()
    model.update_grid(Xd)
    before = model(Xd)
    finer = model.refine(15, Xd)
    assert finer.layers[0].basis.grid_size == 15 and model.layers[0].basis.grid_size != 15
    err = (finer(Xd) - before).abs().max().item()
    assert err < 0.02 * before.std().item()


@pytest.mark.slow
def test_deepcopy_and_state_dict_of_a_trained_model(exp_sin_data):
    X, y = exp_sin_data[0][:200], exp_sin_data[1][:200]
    model = KAN([2, [2, 1], 1], seed=0)
    fit(model, X, y, steps=3)
    twin = copy.deepcopy(model)
    rebuilt = KAN.from_config(model.config())
    rebuilt.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(twin(X), model(X), rtol=0, atol=0)
        torch.testing.assert_close(rebuilt(X), model(X), rtol=0, atol=0)


def test_a_network_from_existing_layers_is_built_by_init():
    """KAN.from_layers goes through KAN.__init__ (layers=...): same function, no random
    draws, shapes checked, and no basis options next to existing layers."""
    model = KAN([2, [2, 1], 1], seed=0, grid_size=4)
    rng = torch.random.get_rng_state()
    twin = KAN.from_layers(list(model.layers), model.specs, like=model)
    assert torch.equal(rng, torch.random.get_rng_state())
    assert twin.width == model.width and twin.config() == model.config()
    assert all(a is b for a, b in zip(twin.layers, model.layers))
    X = uniform(20, 2, seed=1)
    with torch.no_grad():
        assert torch.equal(twin(X), model(X))
    with pytest.raises(ValueError, match="layer 0 shape does not match"):
        KAN([3, 4, 1], layers=list(model.layers))
    with pytest.raises(ValueError, match="need 2 layers, got 1"):
        KAN(model.width, layers=list(model.layers)[:1])
    with pytest.raises(ValueError, match="not both"):
        KAN(model.width, layers=list(model.layers), grid_size=4)


def test_kept_nodes_is_a_non_persistent_buffer():
    model = KAN([3, [2, 1], 1], seed=0)
    assert model.kept_nodes == [[0, 1, 2], [0, 1, 2], [0]]
    model.kept_nodes = [[0, 2, 5], [1, 3, 4], [0]]
    twin = copy.deepcopy(model).double()
    assert twin.kept_nodes == [[0, 2, 5], [1, 3, 4], [0]]
    assert "node_origin" not in model.state_dict()  # model files are unchanged by it
    assert KAN.from_config(model.config()).kept_nodes == [[0, 1, 2], [0, 1, 2], [0]]
    with pytest.raises(ValueError, match="kept_nodes needs one index per node"):
        model.kept_nodes = [[0, 1], [0, 1, 2], [0]]
