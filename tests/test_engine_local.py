"""LocalGenie as a Backend: statuses, concurrency, gold execution, identity, and the bundled
retail example (the curated space must answer far more questions than the sparse one)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pytest

from chaos_llama.tools.backends.local import LocalGenie
from chaos_llama.tools.errors import DataLoadError, InvalidConfig, UnsafeSQL
from engine_helpers import SALES, rows, shop_db, space, sparse_doc, with_column

RETAIL = Path(__file__).resolve().parents[1] / "examples" / "retail"
DOC = with_column(sparse_doc(), SALES, "amt", synonyms=["revenue"])


async def test_concurrent_asks_match_sequential_answers():
    """Many questions at once on one connection give the same answers as one by one."""
    genie = LocalGenie(shop_db())
    s = space(DOC)
    questions = ["total revenue", "How many sales in 2024?", "average revenue in 2023", "maximum qty",
                 "How many customers?", "What is the profit?"] * 4
    answers = await asyncio.gather(*(genie.ask(s, q) for q in questions))
    for q, a in zip(questions, answers):
        b = genie.ask_sync(s, q)
        assert (a.status, a.sql) == (b.status, b.sql)
        if a.result is not None:
            assert rows(a.result) == rows(b.result)
        assert a.backend == "local" and a.latency_s is not None and a.latency_s >= 0


def test_completed_answer_fields():
    a = LocalGenie(shop_db()).ask_sync(space(DOC), "total revenue")
    assert a.status == "COMPLETED" and a.row_count == 1 and a.sql.startswith("SELECT")
    assert "main.shop.sales" in a.sql  # three-part identifiers, as Genie writes them
    assert a.details["strategy"] == "retrieval" and a.details["source"] == "composed"
    measure = next(s for s in a.details["grounding"]["spans"] if s["kind"] == "measure")
    assert measure["entry"] == "data_sources.tables[main.shop.sales].column_configs[amt]" and measure["text"] == "revenue"


def test_space_table_missing_from_data_is_error_answer():
    doc = sparse_doc()
    doc["data_sources"]["tables"].append({"identifier": "main.shop.invoices"})
    a = LocalGenie(shop_db()).ask_sync(space(doc), "How many invoices?")
    assert a.status == "ERROR" and "invoices" in a.reason


def test_execute_gold_sql_resolves_space_tables_and_stays_read_only():
    genie = LocalGenie(shop_db())
    t = genie.execute("SELECT COUNT(*) AS n FROM main.shop.sales", space=space(DOC))
    assert t.column("n")[0].as_py() == 8
    with pytest.raises(UnsafeSQL):
        genie.execute("DROP TABLE sales", space=space(DOC))


def test_duckdb_file_is_opened_read_only(tmp_path):
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE sales AS SELECT 1 AS sale_id, 5.0 AS amt")
    con.close()
    genie = LocalGenie(path)
    s = space({"data_sources": {"tables": [{"identifier": SALES, "column_configs": [{"column_name": "amt", "synonyms": ["revenue"]}]}]}})
    assert rows(genie.ask_sync(s, "total revenue").result) == [(5.0,)]
    with pytest.raises(duckdb.Error):
        genie.con.execute("CREATE TABLE x (i INTEGER)")
    with pytest.raises(DataLoadError, match="does not exist"):
        LocalGenie(tmp_path / "missing.duckdb")


def test_identity_depends_on_strategy_and_data():
    a, b = LocalGenie(shop_db()), LocalGenie(shop_db())
    assert a.identity() == b.identity() and a.data_identity() == b.data_identity()
    other = shop_db()
    other.execute("INSERT INTO sales VALUES (99, '2025-01-01', 1, 10, 1.0, 1.0, 1)")
    assert LocalGenie(other).data_identity() != a.data_identity()
    assert LocalGenie(shop_db(), strategy="llm", llm={"model": "m"}).identity() != a.identity()
    with pytest.raises(InvalidConfig, match="unknown generation strategy"):
        LocalGenie(shop_db(), strategy="magic")


# ---------------------------------------------------------------- the bundled retail example
def _same_result(generated, gold) -> bool:
    """Execution match, approximately: same row count and every gold column's values (sorted,
    rounded) found among the generated columns."""
    def norm(v):
        return round(v, 2) if isinstance(v, float) else (str(v)[:10] if hasattr(v, "isoformat") else v)

    if generated.num_rows != gold.num_rows:
        return False
    gen_cols = [sorted(map(str, map(norm, generated.column(i).to_pylist()))) for i in range(generated.num_columns)]
    return all(sorted(map(str, map(norm, gold.column(i).to_pylist()))) in gen_cols for i in range(gold.num_columns))


@pytest.fixture(scope="module")
def retail():
    if not (RETAIL / "evalset_templates.yaml").exists():
        pytest.skip(f"retail example not found at {RETAIL}")
    from chaos_llama.tools.data.loaders import build_database
    from chaos_llama.tools.evalset import load_evalset
    from chaos_llama.tools.space.io import load_space

    genie = LocalGenie(build_database([RETAIL / "data"]))
    return genie, load_evalset(RETAIL / "evalset_templates.yaml"), load_space(RETAIL / "space_sparse.yaml"), load_space(RETAIL / "space_curated.yaml")


def _accuracy(genie, evalset, s) -> float:
    ok = 0
    for case in evalset.cases:
        a = genie.ask_sync(s, case.question)
        if a.status == "COMPLETED" and any(_same_result(a.result, genie.execute(g, space=s)) for g in case.gold_sql):
            ok += 1
    return ok / len(evalset.cases)


def test_retail_curated_space_beats_sparse_space(retail):
    """The same engine and data: curation (synonyms, entity matching, joins, snippets, trusted
    assets) lifts accuracy from at most 30% to at least 70%."""
    genie, evalset, sparse, curated = retail
    assert len(evalset.cases) >= 60
    sparse_acc, curated_acc = _accuracy(genie, evalset, sparse), _accuracy(genie, evalset, curated)
    assert sparse_acc <= 0.30 and curated_acc >= 0.70, (sparse_acc, curated_acc)
