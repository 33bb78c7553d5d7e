"""The Pareto front (symkan.pareto) on hand-made entries: which formulas it keeps and the
best-formula rule."""
import pytest


def _entry(complexity, nmse, name="f"):
    from symkan.pareto import ParetoEntry

    class F:
        expr = name

    return ParetoEntry(complexity, loss=nmse * 2.0, nmse=nmse, formula=F())


def test_pareto_front_keeps_only_formulas_better_than_every_simpler_one():
    from symkan.pareto import ParetoFront

    entries = [_entry(5, 0.1, "a"), _entry(3, 0.2, "b"), _entry(3, 0.15, "c"), _entry(7, 0.15, "d"),
               _entry(9, 0.01, "e"), _entry(2, float("nan"), "nan"), _entry(4, float("inf"), "inf"),
               _entry(11, 0.01, "f")]
    front = ParetoFront(entries)
    assert [(e.complexity, e.formula.expr) for e in front] == [(3, "c"), (5, "a"), (9, "e")]
    assert [row["best"] for row in front.rows()] == [False, False, True]
    assert front.to_csv().splitlines()[0] == "complexity,loss,r2,score,equation,best"
    assert len(ParetoFront()) == 0 and repr(ParetoFront()) == "ParetoFront(empty)"
    with pytest.raises(ValueError, match="empty"):
        ParetoFront().best_index()
    # a front read back from a file is kept as given, in its order
    again = ParetoFront.from_ordered(list(front))
    assert [e.formula.expr for e in again] == ["c", "a", "e"] and again.best_index() == front.best_index()


@pytest.mark.parametrize("nmses, best", [
    ([0.2, 0.1, 0.01], 2),              # only the most complex is near the lowest
    ([0.2, 0.014, 0.01], 1),            # within 1.5x of the lowest: the simpler one
    ([0.2, 0.016, 0.01], 2),            # just outside 1.5x
    ([1e-3, 5e-10, 1e-12], 1),          # noise-free: within 1e-9 of the lowest counts as exact
    ([3e-9, 2e-9, 1e-15], 2),           # 2e-9 is more than 1e-9 above the lowest
    ([3e-9, 0.9e-9, 1e-15], 1),
    ([1e-3, 1e-11, 1e-30], 2),          # a formula exact to round-off: only such formulas qualify
    ([1e-11, 1e-25, 1e-30], 1),         # (a stand-in at 1e-11, tan near its pole for 1/(1 - x), is not)
])
def test_best_index_rule(nmses, best):
    from symkan.pareto import ParetoFront

    front = ParetoFront([_entry(c, v) for c, v in zip((3, 5, 9), nmses)])
    assert len(front) == 3 and front.best_index() == best

