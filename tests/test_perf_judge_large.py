"""The execution judge's large-result paths give the same verdicts as the small-result paths.

The paths for results above `LARGE_ROWS` (statistics-based column candidates, row pairing by
exact codes packed into one sort key or hashed when they do not fit, the hash fallback with its
injectivity check, row diffs localized from the pairing) are exercised on small tables by
lowering the threshold, and compared with the default paths on the same pairs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from chaos_llama.tools.judges import compare
from chaos_llama.tools.judges.compare import compare_results

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
    monkeypatch.setattr(compare, "LARGE_ROWS", 50)
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
    """Without exact codes (the hash fallback), a text hash not provably injective makes the
    strings themselves be compared."""
    monkeypatch.setattr(compare, "LARGE_ROWS", 50)
    monkeypatch.setattr(compare, "_pairing", lambda *a: None)
    monkeypatch.setattr(compare, "_hash_injective", lambda *a: False)
    gold = _table(_gold())
    assert compare_results(gold, _pairs()["reordered"]).equal
    assert not compare_results(gold, _pairs()["text_changed"]).equal


def test_injectivity_check_sees_different_values_behind_equal_counts():
    """Equal distinct counts but different values: not provably collision-free, so False."""
    a = compare.canonicalize(pa.table({"s": ["x", "y", "y"]}))
    b = compare.canonicalize(pa.table({"s": ["x", "z", "z"]}))
    same = compare.canonicalize(pa.table({"s": ["y", "x", "y"]}))
    assert compare._hash_injective(a, 0, same, 0) is True
    assert compare._hash_injective(a, 0, b, 0) is False


def _wide_gold(seed: int = 4) -> dict[str, pa.Array]:
    """Exact columns whose codes need more than 32 bits together (second-resolution timestamps
    over years), NULLs in every exact kind, and a boolean."""
    rng = np.random.default_rng(seed)
    secs = rng.integers(0, 10 * 365 * 86400, N)
    ts = np.datetime64("2015-01-01T00:00:00") + secs.astype("timedelta64[s]")
    nulls = rng.random(N) < 0.05
    return {
        "ts": pa.array(ts, mask=nulls),
        "name": pa.array([None if k % 37 == 0 else f"n{k}" for k in rng.integers(0, 300, N)]),
        "flag": pa.array(rng.random(N) < 0.5, mask=rng.random(N) < 0.05),
        "v": pa.array(np.round(rng.uniform(0, 10, N), 3)),
    }


def _micro_gold(seed: int = 5) -> dict[str, pa.Array]:
    """Three microsecond timestamps spanning centuries: the codes do not fit one 64-bit key, so
    rows pair by a hash and every exact column is compared pair by pair."""
    rng = np.random.default_rng(seed)
    base = np.datetime64("1900-01-01T00:00:00.000000")
    out = {f"t{k}": pa.array(base + rng.integers(0, 2**50, N).astype("timedelta64[us]")) for k in range(3)}
    out["x"] = pa.array(rng.normal(size=N))
    return out


def _variants(cols: dict[str, pa.Array], text: str | None) -> dict[str, pa.Table]:
    perm = np.random.default_rng(9).permutation(N)
    gold = pa.table(cols)
    shuffled = gold.take(pa.array(perm))
    out = {"reordered": shuffled, "number_changed": shuffled.set_column(
        shuffled.num_columns - 1, shuffled.column_names[-1],
        pa.array(np.asarray(shuffled.column(-1)) + np.where(np.arange(N) == 11, 1.0, 0.0)))}
    if text is not None:
        vals = shuffled.column(text).to_pylist()
        vals[5] = "not in gold"
        out["text_changed"] = shuffled.set_column(shuffled.column_names.index(text), text, pa.array(vals))
    first = shuffled.column(0).to_pylist()
    first[7], first[8] = first[8], first[7]  # two rows swap one exact value: same column multiset
    out["exact_swapped"] = shuffled.set_column(0, shuffled.column_names[0], pa.array(first, type=shuffled.schema[0].type))
    return out


@pytest.mark.parametrize(("gold_cols", "text", "name"), [
    (g, t, n) for g, t in ((_wide_gold, "name"), (_micro_gold, None))
    for n in _variants(g(), t)
])
def test_packed_and_hashed_pairings_agree_with_small_paths(gold_cols, text, name, monkeypatch):
    """Row pairing by packed exact codes (wide shifts) and by hashed keys gives the small path's outcome."""
    gold = pa.table(gold_cols())
    gen = _variants(gold_cols(), text)[name]
    small = compare_results(gold, gen)
    monkeypatch.setattr(compare, "LARGE_ROWS", 50)
    large = compare_results(gold, gen)
    assert {f: getattr(large, f) for f in FIELDS} == {f: getattr(small, f) for f in FIELDS}
    assert small.equal is (name == "reordered")
