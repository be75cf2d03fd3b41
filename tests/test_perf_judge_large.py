"""The execution judge's large-result paths give the same verdicts as the small-result paths.

The paths for results above `LARGE_ROWS` (statistics-based column candidates, packed-sort row
pairing, hash comparison of text with an injectivity check, localized row diffs) are exercised
on small tables by lowering the threshold, and compared with the default paths on the same pairs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from chaos_llama.tools.judges import execution
from chaos_llama.tools.judges.execution import compare_results

N = 400


def _gold(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"id": np.arange(N), "customer": np.array([f"c{i}" for i in rng.integers(0, 40, N)], dtype=object),
            "qty": rng.integers(1, 5, N), "amount": np.round(rng.uniform(1, 100, N), 2),
            "day": np.datetime64("2021-01-01") + rng.integers(0, 30, N).astype("timedelta64[D]")}


def _table(cols: dict[str, np.ndarray], order: np.ndarray | None = None, names: list[str] | None = None) -> pa.Table:
    return pa.table({n: pa.array(cols[n] if order is None else cols[n][order]) for n in names or list(cols)})


def _pairs() -> dict[str, pa.Table]:
    g = _gold()
    perm = np.random.default_rng(1).permutation(N)
    changed = dict(g, amount=g["amount"].copy())
    changed["amount"][7] += 1
    text = dict(g, customer=g["customer"].copy())
    text["customer"][3] = "someone else"
    noisy = dict(g, amount=g["amount"] * (1 + np.random.default_rng(2).uniform(-1e-9, 1e-9, N)))
    dup = {k: np.concatenate([v[:-1], v[:1]]) for k, v in g.items()}
    # a displayed-equal, bit-different row pair plus one real difference in the same group
    near = dict(g, amount=g["amount"].copy())
    near["amount"][5] = np.nextafter(near["amount"][5], np.inf)
    near["amount"][9] += 3
    return {
        "equal": _table(g), "reordered": _table(g, perm, ["amount", "day", "customer", "qty", "id"]),
        "one_value_changed": _table(changed, perm), "text_changed": _table(text, perm), "float_noise": _table(noisy, perm),
        "duplicates": _table(dup, perm), "fewer_rows": _table({k: v[:-3] for k, v in g.items()}),
        "near_and_changed": _table(near, perm),
        "renamed": _table(g, perm).rename_columns(["ID", "buyer", "n", "amt", "date"]),
    }


FIELDS = ("equal", "reason", "column_mapping", "missing_row_count", "extra_row_count", "missing_rows", "extra_rows")


@pytest.mark.parametrize("name", list(_pairs()))
def test_large_paths_agree_with_small_paths(name, monkeypatch):
    gold, gen = _table(_gold()), _pairs()[name]
    small = compare_results(gold, gen)
    monkeypatch.setattr(execution, "LARGE_ROWS", 50)
    large = compare_results(gold, gen)
    assert {f: getattr(large, f) for f in FIELDS} == {f: getattr(small, f) for f in FIELDS}


def test_expected_verdicts():
    """The pairs are what they claim (so the agreement above is about real outcomes)."""
    gold = _table(_gold())
    got = {n: (c.equal, c.reason) for n, t in _pairs().items() for c in [compare_results(gold, t)]}
    assert got["equal"] == got["reordered"] == got["float_noise"] == got["renamed"] == (True, "MATCH")
    assert got["one_value_changed"] == (False, "SINGLE_CELL_DIFFERENCE")
    assert got["text_changed"] == (False, "SINGLE_CELL_DIFFERENCE")
    assert got["duplicates"][0] is False and got["fewer_rows"] == (False, "RESULT_MISSING_ROWS")


def test_text_hash_collision_falls_back_to_value_comparison(monkeypatch):
    """When the text hash is not provably injective the strings themselves are compared."""
    monkeypatch.setattr(execution, "LARGE_ROWS", 50)
    monkeypatch.setattr(execution, "_hash_injective", lambda *a: False)
    gold = _table(_gold())
    assert compare_results(gold, _pairs()["reordered"]).equal
    assert not compare_results(gold, _pairs()["text_changed"]).equal


def test_injectivity_check_sees_different_values_behind_equal_counts():
    """Equal distinct counts but different values: not provably collision-free, so False."""
    a = execution.canonicalize(pa.table({"s": ["x", "y", "y"]}))
    b = execution.canonicalize(pa.table({"s": ["x", "z", "z"]}))
    same = execution.canonicalize(pa.table({"s": ["y", "x", "y"]}))
    assert execution._hash_injective(a, 0, same, 0) is True
    assert execution._hash_injective(a, 0, b, 0) is False
