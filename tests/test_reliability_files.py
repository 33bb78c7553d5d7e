"""Model files that cannot hang or lie, and no garbage after a kill (issue 18, items 2-3).

Every crafted file here carries a valid checksum (written with ``save_payload``): the
bounds hold on their own, not because the checksum happens to catch an edit.
"""
from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sympy
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symkan import SymKANRegressor
from symkan.functions.bounds import MAX_DEPTH, check_expression_cost
from symkan.functions.expression_data import expr_from_data, expr_to_data
from symkan.functions.grammar import parse_expression
from symkan.functions.library import FUNCTIONS, unregister_functions
from symkan.persistence import (CHECKSUM_KEY, FORMAT_VERSION, STALE_TEMP_SECONDS, host_tag, load_payload,
                                payload_checksum, remove_stale_temporaries, save_payload)

FAST = dict(hidden=[1], steps=3, complexity_weights=(1.0,), functions=["x", "x^2", "0"])
X_TEST = np.random.default_rng(0).uniform(-1, 1, size=(7, 2))


def _handmade_model() -> SymKANRegressor:
    """A 'fitted' estimator put together without training (2*x0 + x1**2 and an untrained
    [2, 1, 1] network): what a model file holds, in milliseconds."""
    from symkan.discovery.spaces import SpaceTransform
    from symkan.nn import KAN
    from symkan.pareto import ParetoEntry, ParetoFront
    from symkan.symbolic.formula import Formula

    x0, x1 = sympy.symbols("x0 x1")
    entries = [ParetoEntry(3, 0.5, 0.4, Formula(2.0833 * x0, [x0, x1], 0.5)),
               ParetoEntry(7, 0.0, 0.0, Formula(2 * x0 + x1 ** 2, [x0, x1], 0.0))]
    front = ParetoFront.from_ordered(entries)
    state = {"names_": ["x0", "x1"], "n_features_in_": 2, "target_name_": "y", "seed_": 0,
             "space_": SpaceTransform("linear", np.zeros(2), np.ones(2), 0.0, 1.0),
             "front_": front, "best_index_": 1, "best_": front[1],
             "model_": KAN([2, 1, 1], seed=0).to(torch.float64).eval(), "attempts_": [],
             "plot_sample_": X_TEST.copy(), "fit_seconds_": 0.5}
    est = SymKANRegressor(**FAST)
    est.__setstate__(state)
    return est


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.skan"
    _handmade_model().save(path)
    return path


def _payload(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _crafted(model_file, tmp_path, **changes) -> Path:
    """A copy of the model file with entries replaced, re-sealed with a valid checksum."""
    data = _payload(model_file)
    data.update(changes)
    return save_payload(tmp_path / "crafted.skan", data)


def _one_formula(expr) -> dict:
    return dict(equations=[{"complexity": 1, "loss": 0.0, "nmse": 0.0, "expr": expr}], best_index=0)


def _same_payload(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and bool(
            torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                  and torch.equal(a.nan_to_num(), b.nan_to_num())))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_payload(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same_payload(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and (a == b or (a != a and b != b))


# --- bounded evaluation of stored and parsed formulas -----------------------------------
def _pow(a, b):
    return ["f", "Pow", a, b]


def _int(n):
    return ["I", str(n)]


X0 = ["S", "x0"]
_deep = X0
for _ in range(MAX_DEPTH + 5):
    _deep = ["f", "sin", _deep]

HANGING_FORMULAS = {  # each one hung predict (Python's exact integer arithmetic) or would
    "nested powers": _pow(_pow(_pow(_int(10), _int(1000)), _int(1000)), _int(1000)),
    "factorial of 10**7": ["f", "factorial", _int(10 ** 7)],
    "gamma of 10**7": ["f", "gamma", _int(10 ** 7)],
    "power of an Abs": _pow(["f", "Abs", _pow(_int(10), _int(1000))], _int(1000)),
    "power of a product": _pow(["f", "Mul", _pow(_int(10), _int(1000)), _pow(_int(10), _int(1000))], _int(1000)),
    "many big factors": ["f", "Mul", X0, *[_pow(_int(10), _int(1000))] * 8],
    "power of a root": _pow(_pow(_int(2), ["Q", "1", "2"]), _int(10 ** 6)),
    "zeta of 10**6": ["f", "zeta", _int(10 ** 6)],
    "bell of 10**5": ["f", "bell", _int(10 ** 5)],
    "chebyshevt of degree 10**6": ["f", "chebyshevt", _int(10 ** 6), X0],
    "totient of 10**999": ["f", "totient", _pow(_int(10), _int(999))],
    "a 5000-digit literal": _int("9" * 5000),
    "deep nesting": _deep,
    "too many nodes": ["f", "Add", *[X0] * 100_001],
}


@pytest.mark.parametrize("name", list(HANGING_FORMULAS))
def test_formulas_whose_evaluation_explodes_are_refused_at_once(name):
    start = time.perf_counter()
    with pytest.raises(ValueError, match="too large|more than|nested"):
        expr_from_data(HANGING_FORMULAS[name], ["x0"])
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("data", [
    ["f", "factorial", X0], ["f", "factorial", _int(1000)], _pow(_int(10), _int(1000)),
    _pow(["C", "pi"], _int(10 ** 9)), _pow(X0, _int(10 ** 40)), ["f", "chebyshevt", _int(50), X0],
    ["f", "Add", ["f", "Mul", ["Q", "3", "7"], X0], ["F", "2.5"], ["f", "exp", ["f", "sin", X0]]],
])
def test_bounded_formulas_are_accepted(data):
    expr = expr_from_data(data, ["x0"])
    assert expr_from_data(expr_to_data(expr), ["x0"]) == expr


@pytest.mark.parametrize("text", ["sqrt(2)**10**999", "(10**999)*(10**999)*(10**999)*(10**999)*(10**999)",
                                  "Abs(10**999)**10", "(10**1000)**1000", "floor(10**999)**5"])
def test_text_expressions_are_bounded_before_sympy_evaluates_them(text):
    start = time.perf_counter()
    with pytest.raises(ValueError, match="too large"):
        parse_expression(text, {"x": sympy.Symbol("x")})
    assert time.perf_counter() - start < 2.0


def test_a_formula_symkan_cannot_read_back_is_never_saved(tmp_path):
    model = _handmade_model()
    x0, x1 = sympy.symbols("x0 x1")
    expr = x0
    for _ in range(MAX_DEPTH + 5):
        expr = sympy.sin(expr)
    with pytest.raises(ValueError):
        check_expression_cost(expr)
    model.front_[0].formula.expr = expr
    with pytest.raises(ValueError, match="cannot save the formula"):
        model.save(tmp_path / "deep.skan")
    assert list(tmp_path.iterdir()) == []


# --- crafted model files ----------------------------------------------------------------
CRAFTED = {
    "nested powers": (_one_formula(HANGING_FORMULAS["nested powers"]), "too large"),
    "factorial of 10**7": (_one_formula(HANGING_FORMULAS["factorial of 10**7"]), "factorial is too large"),
    "duplicate names": (dict(names=["x0", "x0"]), r"variable names repeat \['x0'\]"),
    "blank name": (dict(names=["x0", " "]), "non-empty strings"),
    "a name that is not text": (dict(names=["x0", 1]), "non-empty strings"),
    "fewer names than features": (dict(names=["x0"]), "1 variable names, 2 features"),
    "a huge width": ("width", "larger than the .* weights stored"),
    "a huge grid": ("grid", "larger than the .* weights stored"),
}


def _crafted_change(model_file, what):
    config = _payload(model_file)["model_config"]
    if what == "width":
        return dict(model_config=dict(config, width=[2, 100_000, 1]))
    if what == "grid":
        return dict(model_config=dict(config, layer_options=[dict(o, grid_size=10 ** 8)
                                                             for o in config["layer_options"]]))
    return what


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_model_files_are_refused_quickly_by_load_and_the_cli(model_file, tmp_path, name, capsys):
    from symkan.cli import main

    change, match = CRAFTED[name]
    bad = _crafted(model_file, tmp_path, **_crafted_change(model_file, change))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        SymKANRegressor.load(bad)
    assert time.perf_counter() - start < 2.0
    csv = tmp_path / "in.csv"
    np.savetxt(csv, X_TEST, delimiter=",", header="x0,x1", comments="")
    capsys.readouterr()
    assert main(["predict", str(bad), str(csv), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "crafted.skan" in err


def test_a_failed_load_leaves_the_function_library_as_it_was(model_file, tmp_path):
    custom = {"i18_bump": {"sympy": "x*exp(-x**2)", "complexity": 3, "domain": [-1e9, 1e9], "poles": []}}
    broken = _crafted(model_file, tmp_path, custom_functions=custom,
                      **_one_formula(["f", "Function", ["S", "x0"]]))
    with pytest.raises(ValueError, match="unsupported operation 'Function'"):
        SymKANRegressor.load(broken)
    assert "i18_bump" not in FUNCTIONS
    # valid content, but changed after it was written: refused by its checksum, nothing registered
    data = _payload(_crafted(model_file, tmp_path, custom_functions=custom))
    data["fit_seconds"] = 99.0
    torch.save(data, tmp_path / "edited.skan")
    with pytest.raises(ValueError, match="does not match the SHA-256 checksum"):
        SymKANRegressor.load(tmp_path / "edited.skan")
    assert "i18_bump" not in FUNCTIONS
    with pytest.raises(ValueError, match="built-in functions cannot be removed"):
        unregister_functions(["sin"])
    # a good file registers its function, as documented
    try:
        good = SymKANRegressor.load(_crafted(model_file, tmp_path, custom_functions=custom))
        assert "i18_bump" in FUNCTIONS
        np.testing.assert_array_equal(good.predict(X_TEST), 2 * X_TEST[:, 0] + X_TEST[:, 1] ** 2)
    finally:
        FUNCTIONS.pop("i18_bump", None)


# --- checksum ---------------------------------------------------------------------------
def test_round_trip_and_checksum_of_a_model_file(model_file):
    model = SymKANRegressor.load(model_file)
    np.testing.assert_array_equal(model.predict(X_TEST), _handmade_model().predict(X_TEST))
    data = _payload(model_file)
    assert data["format_version"] == FORMAT_VERSION == 2
    assert data[CHECKSUM_KEY] == payload_checksum(data) and data[CHECKSUM_KEY].startswith("sha256:")
    changed = dict(data, model_state={**data["model_state"]})
    key = next(iter(changed["model_state"]))
    changed["model_state"][key] = changed["model_state"][key].clone().flatten().add_(1e-12).reshape(
        changed["model_state"][key].shape)
    assert payload_checksum(changed) != data[CHECKSUM_KEY]  # one weight differs in its last bits


def test_format_1_files_without_checksum_still_load(model_file, tmp_path):
    data = _payload(model_file)
    del data[CHECKSUM_KEY]
    data["format_version"] = 1
    torch.save(data, tmp_path / "v1.skan")
    np.testing.assert_array_equal(SymKANRegressor.load(tmp_path / "v1.skan").predict(X_TEST),
                                  SymKANRegressor.load(model_file).predict(X_TEST))
    data["format_version"] = 2  # a format-2 file must have its checksum
    torch.save(data, tmp_path / "v2.skan")
    with pytest.raises(ValueError, match="checksum stored in it \\(missing\\)"):
        SymKANRegressor.load(tmp_path / "v2.skan")


def _load_or_refuse(path, original: dict) -> str:
    """How a possibly corrupted copy of the model file fares: refused (ValueError, by
    kind of message) or 'identical' (the loaded payload equals the original and the model
    predicts as the original); anything else fails the test."""
    try:
        model = SymKANRegressor.load(path)
    except ValueError as err:
        message = str(err)
        return ("refused: checksum" if "checksum" in message else
                "refused: unreadable archive" if "truncated or not a symkan model" in message else
                "refused: content")
    assert _same_payload(_payload(path), original), "a corrupted file loaded as a different model"
    np.testing.assert_array_equal(model.predict(X_TEST), 2 * X_TEST[:, 0] + X_TEST[:, 1] ** 2)
    return "identical"


def test_random_corruptions_are_refused_or_harmless(model_file, tmp_path):
    """Seeded 5-byte corruptions at random places (SYMKAN_CORRUPTIONS of them, 50 by
    default): each one is refused with a ValueError or loads the identical model."""
    raw = model_file.read_bytes()
    original = _payload(model_file)
    rng = random.Random(18)
    outcomes = Counter()
    for _ in range(int(os.environ.get("SYMKAN_CORRUPTIONS", "50"))):
        data = bytearray(raw)
        start = rng.randrange(len(data) - 5)
        data[start:start + 5] = bytes(rng.randrange(256) for _ in range(5))
        (tmp_path / "corrupt.skan").write_bytes(bytes(data))
        outcomes[_load_or_refuse(tmp_path / "corrupt.skan", original)] += 1
    print(f"{sum(outcomes.values())} corruptions of a {len(raw)}-byte model file: {dict(outcomes)}")
    assert outcomes["refused: checksum"] > 0  # some damage only the checksum sees
    assert outcomes["identical"] < sum(outcomes.values()) / 2  # most bytes of a model file matter


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=8)),
                      min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.floats(0, 1, exclude_max=True)))
def test_property_corrupted_model_files_are_refused_or_identical(model_file, tmp_path, edits, cut):
    raw = bytearray(model_file.read_bytes())
    for where, junk in edits:
        at = int(where * len(raw))
        raw[at:at + len(junk)] = junk
    if cut is not None:
        raw = raw[:int(cut * len(raw))]
    path = tmp_path / "hypothesis.skan"
    path.write_bytes(bytes(raw))
    _load_or_refuse(path, _payload(model_file))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.dictionaries(st.text(max_size=5), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10), max_size=4), flip=st.integers(min_value=0))
def test_property_payloads_round_trip_and_any_flipped_byte_is_caught(tmp_path, payload, flip):
    payload = {k: v for k, v in payload.items() if k not in ("magic", "format_version", CHECKSUM_KEY)}
    payload["w"] = torch.arange(16, dtype=torch.float32)
    path = save_payload(tmp_path / "p.skan", payload)
    loaded = load_payload(path)
    assert _same_payload({k: loaded[k] for k in payload}, payload)
    raw = bytearray(path.read_bytes())
    raw[flip % len(raw)] ^= 0xFF
    path.write_bytes(bytes(raw))
    try:
        again = load_payload(path)
    except ValueError:
        return
    assert _same_payload(again, loaded)


# --- temporary files after a kill -------------------------------------------------------
def _temp_name(target: str, pid: int, host: str | None = None) -> str:
    """The name a save of ``target`` by process ``pid`` on ``host`` gives its temporary file."""
    return f".{target}.symkan-{pid}-{host or host_tag()}-abcd1234.tmp"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def test_only_temporary_files_of_gone_or_stale_writers_are_removed(tmp_path, model_file):
    dead = _dead_pid()
    old = time.time() - STALE_TEMP_SECONDS - 60
    files = {
        _temp_name("model.skan", dead): "removed",                         # its writer was killed
        _temp_name("other.skan", dead): "removed",                         # any target in the directory
        _temp_name("model.skan", os.getpid()): "kept",                     # a live writer (this process)
        _temp_name("model.skan", dead, host="0badc0de"): "kept",           # another host's, fresh
        _temp_name("old.skan", 12345, host="0badc0de"): "removed",        # another host's, untouched for hours
        ".model.skan.abcd1234.tmp": "kept",                                # not this module's name
        "model.skan.symkan-1-0badc0de-x.tmp": "kept",                      # not hidden: not ours
        "notes.tmp": "kept",
    }
    for name in files:
        (tmp_path / name).write_bytes(b"partial")
    os.utime(tmp_path / _temp_name("old.skan", 12345, host="0badc0de"), (old, old))
    (tmp_path / _temp_name("dir.skan", dead)).mkdir()  # a directory of that name is left alone
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == sorted(n for n, fate in files.items() if fate == "removed")
    assert {p.name for p in tmp_path.iterdir()} == {n for n, fate in files.items() if fate == "kept"} | {
        _temp_name("dir.skan", dead)}
    # a save and a load clean up the same way
    (tmp_path / _temp_name("model.skan", dead)).write_bytes(b"partial")
    _handmade_model().save(tmp_path / "model.skan")
    assert not (tmp_path / _temp_name("model.skan", dead)).exists()
    (tmp_path / _temp_name("model.skan", dead)).write_bytes(b"partial")
    SymKANRegressor.load(tmp_path / "model.skan")
    assert not (tmp_path / _temp_name("model.skan", dead)).exists()
    assert (tmp_path / _temp_name("model.skan", os.getpid())).exists()


def _save_forever(directory: str, n_floats: int) -> None:
    """A writer process: saves payloads i = 1, 2, ... (a tensor filled with i) until killed."""
    target = Path(directory) / "model.skan"
    i = 0
    while True:
        i += 1
        save_payload(target, {"i": i, "w": torch.full((n_floats,), float(i))})


def _save_n(directory: str, n: int) -> None:
    for i in range(n):
        save_payload(Path(directory) / "model.skan", {"i": i, "w": torch.full((200_000,), float(i))})


needs_fork = pytest.mark.skipif(sys.platform != "linux", reason="forks a writer process and kills it (Linux)")


@needs_fork
def test_kill_9_during_save_leaves_the_old_or_new_file_and_the_next_load_removes_the_orphan(tmp_path):
    """A writer process saving an 8 MB payload in a loop is killed with SIGKILL at random
    moments; each time the target is a complete file (the old or a new one: its checksum
    holds and its tensor is filled with its own counter), and the next load in the
    directory leaves no temporary file. SYMKAN_KILL_ROUNDS sets the number of kills."""
    rounds = int(os.environ.get("SYMKAN_KILL_ROUNDS", "12"))
    context = multiprocessing.get_context("fork")
    rng = random.Random(9)
    orphans, last = 0, 0
    for _ in range(rounds):
        writer = context.Process(target=_save_forever, args=(str(tmp_path), 2_000_000))
        writer.start()
        time.sleep(rng.uniform(0.02, 0.4))
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        assert writer.exitcode == -signal.SIGKILL
        leftovers = [p for p in tmp_path.iterdir() if p.name != "model.skan"]
        orphans += len(leftovers)
        if (tmp_path / "model.skan").exists():
            data = load_payload(tmp_path / "model.skan")  # the next load: checksum verified, orphans removed
            assert torch.equal(data["w"], torch.full((2_000_000,), float(data["i"])))
            last = data["i"]
        else:
            remove_stale_temporaries(tmp_path)
        assert [p.name for p in tmp_path.iterdir()] in ([], ["model.skan"])
    print(f"{rounds} kills: {orphans} orphan temporary files left, all removed; last complete save {last}")
    assert orphans > 0  # the kills did land inside saves


@needs_fork
def test_a_live_writers_temporary_file_is_never_removed(tmp_path):
    """Loads (which clean up) run while another process saves: every save of the writer
    succeeds, i.e. its temporary file was never taken from under it."""
    save_payload(tmp_path / "model.skan", {"i": -1, "w": torch.zeros(200_000)})
    writer = multiprocessing.get_context("fork").Process(target=_save_n, args=(str(tmp_path), 25))
    writer.start()
    loads = 0
    while writer.is_alive():
        load_payload(tmp_path / "model.skan")
        loads += 1
    writer.join()
    assert writer.exitcode == 0 and loads > 0
    assert [p.name for p in tmp_path.iterdir()] == ["model.skan"]
