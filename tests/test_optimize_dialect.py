"""Gold SQL tagged `dialect:postgres` (defog) is executed and judged as PostgreSQL by the runner."""

from __future__ import annotations

import duckdb

from chaos_llama.tools.backends.local import LocalGenie
from chaos_llama.tools.evalset import EvalCase, EvalSet
from chaos_llama.tools.runner import RunSettings, run_eval_sync
from chaos_llama.tools.space.model import SerializedSpace, Space
from chaos_llama.tools.store import Store


def test_postgres_gold_runs_in_postgres_dialect(tmp_path):
    """7 / 2 is 3 in PostgreSQL (integer division) and 3.5 in Databricks SQL: the tag decides."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a INTEGER, b INTEGER)")
    con.execute("INSERT INTO t VALUES (7, 2)")
    backend = LocalGenie(con)
    space = Space(serialized=SerializedSpace.model_validate({"data_sources": {"tables": [{"identifier": "t"}]}}))
    cases = [EvalCase(id="pg", question="what is a over b", gold_sql=["SELECT a / b AS q FROM t"], tags=["dialect:postgres"]),
             EvalCase(id="dbx", question="what is a over b", gold_sql=["SELECT a / b AS q FROM t"])]
    with Store(tmp_path / "s.db") as store:
        res = run_eval_sync(EvalSet(name="d", cases=cases), backend, space, RunSettings(judges=("execution",)), store=store)
        assert res.total == 2
        rows = [r[0] for r in store._query("SELECT result FROM gold_cache")]  # noqa: SLF001
    from chaos_llama.tools.store import bytes_to_table

    values = sorted(bytes_to_table(v).column("q").to_pylist()[0] for v in rows)
    assert values == [3, 3.5]
