"""Choosing a formula from the Pareto front (issue 19 item 3, issue 17's model_selection):
the three rules of ParetoFront.best_index, PySR's score, the score column, the LaTeX
table, and the estimator's predict(X, index) / latex_table / --model-selection."""
import math
import re

import numpy as np
import pytest

from symkan.pareto import BEST_ATOL, BEST_RTOL, ROUND_OFF, SELECTION_RULES, ParetoEntry, ParetoFront


class FakeFormula:
    """What the front needs of a formula: ``expr`` (printed) and ``latex()``."""

    def __init__(self, name):
        self.expr = name

    def latex(self):
        return rf"\mathrm{{{self.expr}}} + x_{{0}}"


def _front(complexities, nmses, consistent=None, rule="best"):
    consistent = consistent or [None] * len(nmses)
    entries = [ParetoEntry(c, loss=3.0 * v, nmse=v, formula=FakeFormula(f"f{c}"), consistent=ok)
               for c, v, ok in zip(complexities, nmses, consistent)]
    front = ParetoFront(entries, model_selection=rule)
    assert len(front) == len(entries)  # a real front: nothing filtered
    return front


#: a front on which the three rules disagree: a big drop at complexity 2 (score), the
#: simplest within 1.5x of the lowest at 5 (best), the lowest at 9 (accuracy)
DISAGREE = ((1, 2, 5, 9), (1.0, 0.01, 0.005, 0.004))


def test_each_rule_picks_its_own_formula():
    front = _front(*DISAGREE)
    assert [front.best_index(rule) for rule in SELECTION_RULES] == [2, 3, 1]
    assert front.best_index() == 2  # model_selection defaults to "best"
    for rule in SELECTION_RULES:
        marked = _front(*DISAGREE, rule=rule)
        assert marked.best_index() == front.best_index(rule)
        assert [row["best"] for row in marked.rows()] == [k == front.best_index(rule) for k in range(4)]
        assert marked.table().splitlines()[1 + front.best_index(rule)].startswith("->")


def test_score_is_minus_the_log_loss_drop_per_unit_of_complexity():
    (c, v), front = DISAGREE, _front(*DISAGREE)
    expected = [0.0] + [-(math.log(v[k]) - math.log(v[k - 1])) / (c[k] - c[k - 1]) for k in range(1, 4)]
    assert front.scores() == pytest.approx(expected)
    # the same with the loss in the user's units: nmse and loss differ by one factor
    assert front.scores() == pytest.approx(
        [0.0] + [-math.log(front[k].loss / front[k - 1].loss) / (c[k] - c[k - 1]) for k in range(1, 4)])
    # a loss of 0 is floored at round-off: finite scores, and nothing to gain after it
    exact = _front((1, 3, 6), (0.5, 1e-20, 0.0))
    assert exact.scores() == pytest.approx([0.0, -math.log(ROUND_OFF / 0.5) / 2, 0.0])
    assert all(math.isfinite(s) for s in exact.scores())
    assert _front((4,), (0.3,)).scores() == [0.0]


def test_score_column_in_rows_csv_pandas_and_table():
    front = _front(*DISAGREE)
    rows = front.rows()
    assert [row["score"] for row in rows] == pytest.approx(front.scores())
    assert list(rows[0]) == ["complexity", "loss", "r2", "score", "equation", "best"]
    assert front.to_csv().splitlines()[0] == "complexity,loss,r2,score,equation,best"
    frame = front.to_pandas()
    assert list(frame.columns) == ["complexity", "loss", "r2", "score", "equation", "best", "sympy_format"]
    assert frame["score"].tolist() == pytest.approx(front.scores())
    assert "score" in front.table().splitlines()[0]
    units = _front(*DISAGREE, consistent=[True, False, True, True])
    assert units.to_csv().splitlines()[0] == "complexity,loss,r2,score,equation,best,consistent"
    assert list(ParetoFront().to_pandas().columns) == ["complexity", "loss", "r2", "score", "equation", "best",
                                                       "sympy_format"]


def test_round_off_rule_is_kept():
    # a stand-in accurate to 1e-11 (tan near its pole) and exact laws: best and accuracy
    # take the simplest exact one; score, PySR's, takes the largest drop, the stand-in
    front = _front((1, 3, 7, 11), (0.5, 1e-11, 1e-25, 1e-31))
    assert front.best_index("best") == 2 and front.best_index("accuracy") == 2
    assert front.best_index("score") == 1
    # without an exact formula, accuracy is the lowest loss
    assert _front((1, 3, 7), (0.5, 1e-11, 1e-12)).best_index("accuracy") == 2


def test_units_rule_is_kept_for_every_rule():
    # an inconsistent formula among each rule's candidates gives way to a consistent one
    front = _front((1, 2, 5, 9, 10), (1.0, 0.01, 0.005, 0.0041, 0.004),
                   consistent=[True, False, False, False, True])
    assert front.best_index("best") == 4    # within 1.5x: 5, 9, 10; only 10 is consistent
    assert front.best_index("accuracy") == 4
    assert front.best_index("score") == 4   # of the consistent ones (1 and 10), the higher score
    plain = _front((1, 2, 5, 9, 10), (1.0, 0.01, 0.005, 0.0041, 0.004))
    assert [plain.best_index(rule) for rule in SELECTION_RULES] == [2, 4, 1]
    # with no consistent candidate, the rule's own pick
    assert _front(*DISAGREE, consistent=[False] * 4).best_index("accuracy") == 3


def _previous_best_rule(front):
    """The best-formula rule before model_selection existed (commit 0675306)."""
    lowest = min(e.nmse for e in front)
    limit = ROUND_OFF if lowest < ROUND_OFF else max(BEST_RTOL * lowest, lowest + BEST_ATOL)
    good = [k for k, e in enumerate(front) if e.nmse <= limit]
    consistent = [k for k in good if front[k].consistent]
    return (consistent or good)[0]


def test_the_default_rule_picks_what_it_picked_before_on_any_front():
    """symkan's recovery must not change for default settings: random fronts with losses
    from 1 down to below round-off, with and without units."""
    rng = np.random.default_rng(0)
    for trial in range(500):
        n = int(rng.integers(1, 8))
        nmses = np.sort(10.0 ** rng.uniform(-35, 0, size=n))[::-1]
        if trial % 3 == 0:  # near-ties, where the 1.5x and 1e-9 margins decide
            nmses = nmses[0] * rng.uniform(0.5, 1.0, size=n).cumprod()
        units = [bool(b) for b in rng.integers(0, 2, size=n)] if trial % 2 else None
        front = _front(sorted(rng.choice(40, size=n, replace=False) + 1), list(nmses), units)
        assert front.best_index() == front.best_index("best") == _previous_best_rule(front)


def test_bad_rules_are_named():
    with pytest.raises(ValueError, match="model_selection must be one of 'best', 'accuracy', 'score'"):
        _front(*DISAGREE).best_index("simplest")
    with pytest.raises(ValueError, match="model_selection"):
        ParetoFront(model_selection="pysr")
    with pytest.raises(ValueError, match="empty"):
        ParetoFront(model_selection="score").best_index()


def _balanced(tex):
    """Every \\begin{env} closed by its \\end{env}, in order; braces balanced."""
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            return False
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return not stack and depth == 0


def test_latex_table_has_every_formula_and_is_well_formed():
    front = _front(*DISAGREE)
    tex = front.latex_table()
    assert _balanced(tex)
    assert tex.startswith(r"\begin{table}") and tex.endswith(r"\end{table}")
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert tex.count(rule) == 1
    body = [line for line in tex.split(r"\midrule")[1].split(r"\bottomrule")[0].splitlines() if line.strip()]
    assert len(body) == len(front)
    for k, (line, entry) in enumerate(zip(body, front)):
        cells = line.removesuffix(r" \\").split(" & ")
        assert len(cells) == 4  # the mark, equation, complexity, loss
        assert cells[1] == f"${entry.formula.latex()}$" and cells[2] == str(entry.complexity)
        assert (cells[0] == r"$\star$") == (k == front.best_index())
    # the row count of the tabular's columns matches its alignment spec
    assert r"\begin{tabular}{@{}clrr@{}}" in tex


def test_latex_table_options():
    front = _front(*DISAGREE, rule="score")
    tex = front.latex_table(indices=[0, -1], precision=2, columns=("complexity", "score", "r2", "equation"))
    assert _balanced(tex)
    body = [line for line in tex.split(r"\midrule")[1].split(r"\bottomrule")[0].splitlines() if line.strip()]
    assert [line.split(" & ")[1] for line in body] == ["1", "9"]
    assert r"$\star$" not in "\n".join(body)  # the chosen formula (index 1) is not shown
    assert "Score & $R^2$ & Equation" in tex and "``score''" in tex
    assert body[1].split(" & ")[2] == f"${front.scores()[3]:.2g}$"
    small = _front((1, 2), (0.5, 4e-6))  # loss = 3 * nmse = 1.2e-5
    assert r"$1.2 \times 10^{-5}$" in small.latex_table(precision=2, columns=["loss"])
    for bad, match in [(dict(indices=[4]), "indices"), (dict(indices=[True]), "indices"),
                       (dict(precision=0), "precision"), (dict(columns=["equation", "mse"]), "columns"),
                       (dict(columns=[]), "columns")]:
        with pytest.raises(ValueError, match=match):
            front.latex_table(**bad)


# --- the estimator ---------------------------------------------------------------------------
@pytest.mark.slow
def test_predict_index_evaluates_that_formula(fitted):
    model, X, _ = fitted
    n = len(model.front_)
    for k in range(-n, n):
        np.testing.assert_array_equal(model.predict(X, index=k), model.front_[k].formula.evaluate(X))
    np.testing.assert_array_equal(model.predict(X), model.predict(X, index=model.best_index_))
    np.testing.assert_array_equal(model.predict(X), model.best_.formula.evaluate(X))
    for bad in (n, -n - 1, 1.0, True, "0"):
        with pytest.raises(ValueError, match="index must be an integer"):
            model.predict(X, index=bad)


@pytest.mark.slow
def test_estimator_front_views(fitted):
    model, _, _ = fitted
    frame = model.equations_
    assert "score" in frame.columns and frame["score"].tolist() == pytest.approx(model.front_.scores())
    assert frame["best"].tolist() == [k == model.best_index_ for k in range(len(model.front_))]
    tex = model.latex_table(columns=("equation", "complexity", "loss", "score"))
    assert _balanced(tex)
    for k in range(len(model.front_)):
        assert f"${model.latex(k, rhs_only=True, precision=None)}$" in tex


@pytest.mark.slow
def test_model_selection_chooses_best_and_survives_a_model_file(tmp_path):
    import pickle

    from symkan import SymKANRegressor

    X = np.random.default_rng(1).uniform(-1, 1, size=(120, 2))
    y = 2.0 * X[:, 0] + X[:, 1] ** 2
    model = SymKANRegressor(hidden=[1], steps=1, complexity_weights=(1.0,), functions=["x", "x^2", "0"],
                            model_selection="accuracy").fit(X, y)
    assert model.best_index_ == model.front_.best_index("accuracy")
    assert model.best_ is model.front_[model.best_index_]
    assert model.equations_["best"].tolist() == [k == model.best_index_ for k in range(len(model.front_))]
    model.save(tmp_path / "m")
    again = SymKANRegressor.load(tmp_path / "m")
    assert again.model_selection == "accuracy" and again.front_.model_selection == "accuracy"
    assert again.best_index_ == model.best_index_
    assert again.equations_["best"].tolist() == model.equations_["best"].tolist()
    np.testing.assert_allclose(again.predict(X, index=-1), model.predict(X, index=-1))
    # set_params after the fit changes no choice: the tables still mark best_index_
    model.set_params(model_selection="score")
    model.save(tmp_path / "m2")
    for copy in (pickle.loads(pickle.dumps(model)), SymKANRegressor.load(tmp_path / "m2")):
        assert copy.best_index_ == model.best_index_
        assert copy.equations_["best"].tolist() == [k == model.best_index_ for k in range(len(model.front_))]


@pytest.mark.slow
def test_cli_model_selection_option(tmp_path, capsys, monkeypatch):
    import json

    import symkan.cli.commands as cli
    from symkan.cli import main

    built = []
    regressor = cli.regressor  # small settings; the option's wiring is kept

    def small(args, **kw):
        built.append(regressor(args, **kw).set_params(hidden=[1], steps=1, complexity_weights=(1.0,),
                                                      functions=["x", "x^2", "0"], log_space=False))
        return built[-1]

    monkeypatch.setattr(cli, "regressor", small)
    X = np.random.default_rng(0).uniform(-1, 1, size=(60, 2))
    rows = np.column_stack([X, 2 * X[:, 0] + X[:, 1] ** 2])
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in rows) + "\n")
    assert main(["fit", str(csv), "--target", "y", "--json", "--model-selection", "score"]) == 0
    info = json.loads(capsys.readouterr().out)
    model = built[-1]
    assert model.model_selection == "score" and model.best_index_ == model.front_.best_index("score")
    assert info["formula"] == str(model.sympy())
    assert [row["best"] for row in info["equations"]] == [k == model.best_index_ for k in range(len(model.front_))]
    with pytest.raises(SystemExit):
        main(["fit", str(csv), "--target", "y", "--model-selection", "simplest"])
    assert "invalid choice: 'simplest'" in capsys.readouterr().err
