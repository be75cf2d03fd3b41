"""tools.data.defog + loaders + sql against the real defog data: every dump loads and every gold
query alternative transpiles from PostgreSQL and runs on DuckDB."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from chaos_llama.tools.data.defog import (
    DIALECT_TAG,
    defog_space,
    expand_column_alternatives,
    load_defog_questions,
    split_statements,
)
from chaos_llama.tools.errors import ChaosLlamaError, InvalidEvalSet, InvalidSpace
from chaos_llama.tools.sql import execute, table_map_for

DEFOG = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "defog"
QUESTIONS = DEFOG / "questions_gen_postgres.csv"
DBS = sorted(p.name for p in DEFOG.iterdir() if (p / f"{p.name}.sql").exists()) if DEFOG.exists() else []
needs_data = pytest.mark.skipif(not DEFOG.exists(), reason=f"defog data not found at {DEFOG}")

# Measured after the PostgreSQL->DuckDB fixes in tools/sql.py (month-name formats, TIME
# formatting, TIMESTAMPTZ->TIME, integer division): all 190 questions, 217 distinct alternatives.
MIN_QUESTIONS_RUNNING = 190
MIN_ALTERNATIVES_RUNNING = 217


# ---------------------------------------------------------------- pure parsing (no data needed)
def test_split_statements_respects_quotes() -> None:
    assert split_statements("SELECT 'a;b' AS x; SELECT \"c;d\" FROM t;;") == ["SELECT 'a;b' AS x", 'SELECT "c;d" FROM t']
    assert split_statements("SELECT 'it''s;' AS x") == ["SELECT 'it''s;' AS x"]


def test_expand_column_alternatives() -> None:
    sql, groups = expand_column_alternatives("SELECT {a.aid, a.name AS author}, COUNT(*) FROM author a GROUP BY {} ORDER BY 2")
    assert sql == "SELECT a.aid, a.name AS author, COUNT(*) FROM author a GROUP BY a.aid, a.name ORDER BY 2"
    assert groups == [["aid", "author"]]


def test_questions_csv_errors_name_file_and_row(tmp_path: Path) -> None:
    bad = tmp_path / "q.csv"
    bad.write_text("question,query,db_name\nq1,SELECT 1,academic\n,SELECT 2,academic\n")
    with pytest.raises(InvalidEvalSet, match=r"q\.csv:3: field 'question': row 3: empty question"):
        load_defog_questions(bad)
    bad.write_text("question,sql,db_name\nq1,SELECT 1,academic\n")
    with pytest.raises(InvalidEvalSet, match=r"q\.csv:1: missing column\(s\) query"):
        load_defog_questions(bad)
    bad.write_text("question,query,db_name\nq1,SELECT 1,academic\n")
    with pytest.raises(InvalidEvalSet, match="no questions for db 'academc'. Did you mean 'academic'"):
        load_defog_questions(bad, db="academc")


LAYOUTS = {
    # questions_gen_postgres.csv (and the older questions_gen.csv, without instructions)
    "questions_gen_postgres.csv": "question,query,db_name,query_category,instructions\n"
                                  "How many shops?,SELECT COUNT(*) FROM shop,retail,aggregate,Count every shop\n",
    "questions_gen.csv": "question,query,db_name,query_category\nHow many shops?,SELECT COUNT(*) FROM shop,retail,aggregate\n",
    # instruct_basic_*.csv: other column order
    "instruct_basic_postgres.csv": "db_name,query_category,question,query\nretail,aggregate,How many shops?,SELECT COUNT(*) FROM shop\n",
    # instruct_advanced_*.csv: instructions plus full_instructions (kept as a field)
    "instruct_advanced_postgres.csv": "db_name,query_category,question,instructions,query,full_instructions\n"
                                      'retail,aggregate,How many shops?,Count every shop,SELECT COUNT(*) FROM shop,"Count every shop\nShops are stores"\n',
    # another dialect, and extra columns of any name
    "instruct_basic_sqlite.csv": "\ufeffdb_name,query_category,question,query,k_shot_prompt\n"
                                 "retail,aggregate,How many shops?,SELECT COUNT(*) FROM shop,Q: how many? A: SELECT COUNT(*)\n",
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_defog_csv_layout_loads(tmp_path: Path, name: str) -> None:
    """defog's question files in each layout give the same case; columns the case has no field
    for are kept in `fields`, and the file's dialect becomes the case's dialect tag."""
    path = tmp_path / name
    path.write_text(LAYOUTS[name], encoding="utf-8")
    (case,) = load_defog_questions(path).cases
    assert (case.id, case.question, case.gold_sql, case.category) == ("retail-1", "How many shops?", ["SELECT COUNT(*) FROM shop"], "aggregate")
    assert case.tags == ["retail", "dialect:sqlite" if "sqlite" in name else DIALECT_TAG]
    assert case.notes == ("Count every shop" if "instructions" in LAYOUTS[name] else None)
    want_fields = {"instruct_advanced_postgres.csv": {"full_instructions": "Count every shop\nShops are stores"},
                   "instruct_basic_sqlite.csv": {"k_shot_prompt": "Q: how many? A: SELECT COUNT(*)"}}.get(name, {})
    assert case.fields == want_fields


def test_a_file_of_one_database_needs_its_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("question,query,query_category\nHow many shops?,SELECT COUNT(*) FROM shop,aggregate\n")
    with pytest.raises(InvalidEvalSet, match=r"mine\.csv:1: missing column\(s\) db_name; .*or --db"):
        load_defog_questions(path)
    (case,) = load_defog_questions(path, db="retail").cases
    assert case.id == "retail-1" and case.tags == ["retail", DIALECT_TAG]


def test_space_metadata_errors(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(InvalidSpace, match="not found"):
        defog_space(tmp_path / "x")
    (tmp_path / "x" / "x.json").write_text('{"table_metadata": {"t": [{"data_type": "int"}]}}')
    with pytest.raises(InvalidSpace, match=r"x\.json: field 'table_metadata.t\[0\]': column 0 of table 't' needs a 'column_name'"):
        defog_space(tmp_path / "x")


# ---------------------------------------------------------------- the real data
@needs_data
def test_questions_load() -> None:
    es = load_defog_questions(QUESTIONS)
    with QUESTIONS.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(es.cases) == len(rows) == 190
    assert len({c.id for c in es.cases}) == 190
    first = es.cases[0]
    assert first.id == "academic-1" and first.category == "group_by" and first.tags == ["academic", DIALECT_TAG]
    assert first.column_alternatives == [["name", "aid"]]
    assert all("{" not in g for c in es.cases for g in c.gold_sql)
    assert Counter(c.category for c in es.cases)["instruct"] == 35
    assert sum(1 for c in es.cases if c.notes) == sum(1 for r in rows if r["instructions"].strip())
    yelp = load_defog_questions(QUESTIONS, db="yelp")
    assert [c.id for c in yelp.cases] == [f"yelp-{i}" for i in range(1, 31)]
    assert load_defog_questions(QUESTIONS).model_dump() == es.model_dump()  # stable


@needs_data
@pytest.mark.parametrize("db", DBS)
def test_space_matches_metadata(db: str) -> None:
    space = defog_space(DEFOG / db)
    meta = json.loads((DEFOG / db / f"{db}.json").read_text())["table_metadata"]
    assert [t.identifier for t in space.serialized.tables] == sorted(f"defog.{db}.{t}" for t in meta)
    table = space.serialized.tables[0]
    cols = meta[table.name]
    assert {c.column_name for c in table.column_configs} == {c["column_name"] for c in cols}
    assert all(len(t.id) == 32 for t in space.serialized.tables)
    assert defog_space(DEFOG / db).to_serialized() == space.to_serialized()  # deterministic ids


@needs_data
@pytest.mark.parametrize("db", DBS)
def test_dump_loads_every_table(db: str, defog_con) -> None:
    con = defog_con(db)
    meta = json.loads((DEFOG / db / f"{db}.json").read_text())["table_metadata"]
    tables = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == set(meta)
    for t in tables:
        assert con.sql(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] > 0, t
    assert set(table_map_for(defog_space(DEFOG / db), con).values()) == tables


@needs_data
def test_every_gold_query_runs(defog_con) -> None:
    """Every gold alternative (PostgreSQL) transpiles to DuckDB and runs on the loaded dump."""
    es = load_defog_questions(QUESTIONS)
    maps = {db: table_map_for(defog_space(DEFOG / db), defog_con(db)) for db in DBS}
    q_ok, q_all, a_ok, a_all, failures = Counter(), Counter(), Counter(), Counter(), []
    for case in es.cases:
        db = case.tags[0]
        ok = True
        for gold in case.gold_sql:
            a_all[db] += 1
            try:
                execute(defog_con(db), gold, dialect="postgres", table_map=maps[db])
                a_ok[db] += 1
            except ChaosLlamaError as e:
                ok = False
                failures.append(f"{case.id}: {str(e).splitlines()[0]}")
        q_all[db] += 1
        q_ok[db] += ok
    for db in DBS:
        print(f"defog {db}: questions {q_ok[db]}/{q_all[db]}, alternatives {a_ok[db]}/{a_all[db]}")
    print(f"defog total: questions {sum(q_ok.values())}/{sum(q_all.values())}, "
          f"alternatives {sum(a_ok.values())}/{sum(a_all.values())}")
    assert sum(q_ok.values()) >= MIN_QUESTIONS_RUNNING, failures
    assert sum(a_ok.values()) >= MIN_ALTERNATIVES_RUNNING, failures


@needs_data
def test_gold_results_match_postgres_semantics(defog_con) -> None:
    """Spot checks where a naive transpile silently changes the answer."""
    con = defog_con("atis")
    tm = table_map_for(defog_space(DEFOG / "atis"), con)
    # int / int truncates in PostgreSQL
    out = execute(con, "SELECT (arrival_time - departure_time) / 60 AS h FROM flight LIMIT 1", dialect="postgres", table_map=tm)
    assert out.schema.field("h").type.equals(__import__("pyarrow").int64())
    # DESC puts NULLs first in PostgreSQL; DuckDB's default would put them last
    yelp = defog_con("yelp")
    rows = execute(yelp, "SELECT x FROM (VALUES (1), (NULL), (2)) v(x) ORDER BY x DESC", dialect="postgres").column("x").to_pylist()
    assert rows == [None, 2, 1]


@needs_data
def test_idk_csv_imports_as_expected_refusals(tmp_path, capsys):
    """defog's idk.csv holds questions the databases cannot answer, each 'answered' by a query returning an
    apology: they import as expected refusals (no gold SQL, the apology as the reason), and the CLI says so."""
    from chaos_llama.tools.cli import main
    from chaos_llama.tools.evalset import load_evalset

    es = load_defog_questions(DEFOG / "idk.csv")
    assert len(es.cases) == 105 and all(c.expects_refusal and not c.gold_sql and c.reason for c in es.cases)
    assert {c.tags[0] for c in es.cases} == set(DBS) and all("idk" in c.tags for c in es.cases)
    out = tmp_path / "idk.yaml"
    assert main(["evalset", "import-defog", str(DEFOG / "idk.csv"), "--db", "academic", "--out", str(out)]) == 0
    assert "wrote 15 questions" in (printed := capsys.readouterr().out) and "(15 expected refusals)" in printed
    loaded = load_evalset(out)
    assert loaded.cases and all(c.expects_refusal for c in loaded.cases)
    # the answerable questions are unchanged: none of them is taken for a refusal
    assert not any(c.expects_refusal for c in load_defog_questions(QUESTIONS).cases)
