"""`chaos-llama init`: a working project from each kind of data, checked by running what it prints.

Every test starts from a clean folder and drives the command line in-process (`main([...])`);
the Unity Catalog source goes through the unmodified databricks-sdk against the project's
emulator on 127.0.0.1; the last test runs init -> eval -> optimize on a shared defog database.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from chaos_llama.tools.cli import main
from chaos_llama.tools.evalset import load_evalset
from chaos_llama.tools.space.io import load_space
from chaos_llama.tools.space.model import text
from databricks_helpers import TOKEN, emulator, retail_example

FIXTURES = Path(__file__).parent / "fixtures" / "data"
DEFOG = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "defog"


def _init(capsys, *args: str) -> tuple[int, dict]:
    code = main(["init", *args, "--json"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else {})


def _run_next(result: dict, which: str, monkeypatch, capsys, *extra: str) -> int:
    """Run one of the printed next commands, as printed, from the project folder."""
    monkeypatch.chdir(result["folder"])
    command = next(c for c in result["next_commands"] if c.startswith(f"chaos-llama {which}"))
    code = main(shlex.split(command)[1:] + list(extra))
    capsys.readouterr()
    return code


def _identifiers(folder: Path) -> list[str]:
    space = load_space(next((folder / "spaces").glob("*.yaml")))
    return [t.identifier for t in space.serialized.data_sources.tables]


def test_dump_with_schemas_comments_and_qualified_metadata(tmp_path, capsys, monkeypatch):
    """A dump with a second schema and a metadata file keyed `schema.table` gives valid three-part
    identifiers (not four-part ones), descriptions from comments and metadata, and a project that
    `doctor` and `eval` accept at once."""
    out = tmp_path / "proj"
    code, result = _init(capsys, str(FIXTURES / "pg_schemas_dump.sql"), "--out", str(out), "--name", "shop",
                         "--metadata", str(FIXTURES / "pg_schemas_meta.json"))
    assert code == 0
    assert _identifiers(out) == ["main.sales.orders", "main.shop.customers"]
    assert all(len(i.split(".")) == 3 for i in _identifiers(out))
    assert result["data"] == ["data/shop.duckdb"] and (out / "data" / "shop.duckdb").is_file()
    assert result["problems"] == ["metadata names table 'sales.refunds', which the data does not have"]
    space = load_space(out / "spaces" / "shop.yaml")
    tables = {t.identifier: t for t in space.serialized.data_sources.tables}
    customers, orders = tables["main.shop.customers"], tables["main.sales.orders"]
    assert customers.description == ["People and companies that buy from us"]  # COMMENT ON TABLE
    assert {c.column_name: c.description for c in customers.column_configs} == {
        "id": ["Customer number"], "name": ["Customer name"], "segment": ["Consumer, Corporate or Home Office"]}
    assert orders.column("amount").description == ["Order value in dollars"]
    assert "Revenue means" in str(space.serialized.instructions.text_instructions[0].content)
    evals = load_evalset(out / "evals" / "shop.yaml")
    assert {c.id for c in evals.cases} >= {"customers_count", "orders_count", "orders_amount_total", "customers_by_segment"}
    assert {c.split for c in evals.cases} == {"train", "val", "test"}
    config = yaml.safe_load((out / "chaos-llama.yaml").read_text())
    assert config["space"] == "spaces/shop.yaml" and config["data"] == ["data/shop.duckdb"]
    assert _run_next(result, "doctor", monkeypatch, capsys) == 0
    assert _run_next(result, "eval", monkeypatch, capsys, "--json", "--workspace", str(tmp_path / "ws")) == 0


@pytest.mark.parametrize("kind", ["csv_folder", "parquet_file", "duckdb_file"])
def test_local_sources_make_a_project_eval_runs_on(kind, tmp_path, capsys, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    shops = pa.table({"shop_id": [1, 2, 3, 4], "city": ["Oslo", "Oslo", "Rome", "Lima"], "revenue": [10.5, 20.0, 7.25, 3.0]})
    if kind == "csv_folder":
        (src / "shops.csv").write_text("shop_id,city,revenue\n1,Oslo,10.5\n2,Oslo,20.0\n3,Rome,7.25\n4,Lima,3.0\n")
        source = src
    elif kind == "parquet_file":
        source = src / "shops.parquet"
        pq.write_table(shops, source)
    else:
        source = src / "shops.duckdb"
        with duckdb.connect(str(source)) as con:
            con.register("shops_arrow", shops)
            con.execute("CREATE TABLE shops AS SELECT * FROM shops_arrow")
            con.execute("COMMENT ON COLUMN shops.city IS 'Where the shop is'")
    code, result = _init(capsys, str(source), "--out", str(tmp_path / "proj"), "--name", "shops")
    assert code == 0
    assert _identifiers(tmp_path / "proj") == ["main.shops.shops"]
    assert result["data"] == [os.path.relpath(source, tmp_path / "proj")]  # used where it is
    assert result["tables"] == [{"identifier": "main.shops.shops", "rows": 4, "columns": 3, "described": kind == "duckdb_file"}]
    cases = {c.id: c for c in load_evalset(tmp_path / "proj" / "evals" / "shops.yaml").cases}
    assert cases["shops_revenue_total"].gold_sql == ["SELECT SUM(revenue) AS total_revenue FROM main.shops.shops"]
    assert "shops_shop_id_total" not in cases  # keys are not measures
    assert _run_next(result, "doctor", monkeypatch, capsys) == 0
    assert _run_next(result, "eval", monkeypatch, capsys, "--workspace", str(tmp_path / "ws")) == 0


def test_existing_project_is_kept_unless_forced(tmp_path, capsys):
    args = [str(FIXTURES / "customers.csv"), "--out", str(tmp_path)]
    assert main(["init", *args]) == 0
    capsys.readouterr()
    assert main(["init", *args]) == 2
    assert "chaos-llama.yaml already exists" in capsys.readouterr().err
    assert main(["init", *args, "--force"]) == 0


def test_dump_statements_that_cannot_load_warn_or_with_strict_fail(tmp_path, capsys):
    """The rest of the dump loads and the project works; --strict refuses the dump instead."""
    code = main(["init", str(FIXTURES / "pg_handwritten.sql"), "--out", str(tmp_path / "a")])
    captured = capsys.readouterr()
    assert code == 0
    assert "pg_handwritten.sql:75: INSERT into people failed" in captured.err
    assert "table 'people': the dump holds 6 row(s), 5 loaded" in captured.err
    assert "main.pg_handwritten.people" in captured.out and "main.sales.orders" in captured.out
    code = main(["init", str(FIXTURES / "pg_handwritten.sql"), "--out", str(tmp_path / "b"), "--strict"])
    assert code == 1 and "pg_handwritten.sql:75:" in capsys.readouterr().err
    assert not (tmp_path / "b" / "chaos-llama.yaml").exists()


def test_bad_sources_exit_2_naming_them(tmp_path, capsys):
    assert main(["init", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "p")]) == 2
    assert "nope.csv" in capsys.readouterr().err
    assert main(["init", "--out", str(tmp_path / "p")]) == 2
    assert "name the data" in capsys.readouterr().err
    bad_meta = tmp_path / "meta.json"
    bad_meta.write_text('{"table_metadata": {"customers": [{"data_type": "int"}]}}')
    assert main(["init", str(FIXTURES / "customers.csv"), "--out", str(tmp_path / "q"), "--metadata", str(bad_meta)]) == 2
    assert "meta.json: field 'table_metadata.customers[0]': column 0 of table 'customers' needs a 'column_name'" in capsys.readouterr().err


def test_unity_catalog_schema_through_the_sdk(tmp_path, capsys, monkeypatch):
    """Tables, columns, types and comments come from the Tables API (tables.list / tables.get),
    a sample of rows through statement execution; the project then evaluates offline on it."""
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    for var in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_HOST"):
        monkeypatch.delenv(var, raising=False)
    space, _, _ = retail_example()
    with emulator(retail_example()) as emu:
        out = tmp_path / "uc"
        code, result = _init(capsys, "--unity-catalog", "main.retail", "--host", emu.url, "--warehouse-id",
                             emu.warehouse_id, "--sample-rows", "500", "--out", str(out))
        assert code == 0, capsys.readouterr().err
        assert emu.stats["route_uc_list_tables"] == 1 and emu.stats["route_uc_get_table"] == 8
        assert emu.stats["statements"] == 8
    want = sorted(t.identifier for t in space.serialized.data_sources.tables)
    assert _identifiers(out) == want
    assert result["data"] == ["data/retail"]
    orders = pq.read_table(out / "data" / "retail" / "orders.parquet")
    assert orders.num_rows == 500
    assert pa.types.is_date(orders.schema.field("ord_dt").type)  # typed by the table's column types, not left as text
    curated = {t.identifier: t for t in space.serialized.data_sources.tables}
    made = {t.identifier: t for t in load_space(out / "spaces" / "retail.yaml").serialized.data_sources.tables}
    assert made["main.retail.orders"].description == [text(curated["main.retail.orders"].description)]  # comments
    assert "warehouse_id" in (out / "spaces" / "retail.yaml").read_text()
    assert "kind: databricks" in (out / "chaos-llama.yaml").read_text()  # how to switch, as a comment
    assert _run_next(result, "eval", monkeypatch, capsys, "--workspace", str(tmp_path / "ws")) == 0


@pytest.mark.skipif(not (DEFOG / "restaurants" / "restaurants.sql").exists(), reason=f"defog data not found at {DEFOG}")
def test_init_eval_optimize_on_a_defog_database_from_a_clean_folder(tmp_path, capsys, monkeypatch):
    """The whole path a new user takes: init from the dump (its descriptions beside it, its
    questions imported), then eval and optimize exactly as init printed them."""
    folder = tmp_path / "clean"
    code, result = _init(capsys, str(DEFOG / "restaurants" / "restaurants.sql"), "--out", str(folder),
                         "--questions", str(DEFOG / "questions_gen_postgres.csv"))
    assert code == 0
    assert result["problems"] == [] and result["imported_questions"] and result["questions"] == 25
    assert all(t["described"] for t in result["tables"])  # restaurants.json, found beside the dump
    assert _run_next(result, "doctor", monkeypatch, capsys) == 0
    assert _run_next(result, "eval", monkeypatch, capsys, "--json") == 0
    code = _run_next(result, "optimize", monkeypatch, capsys, "--max-epochs", "1", "--no-tracking", "--json")
    assert code == 0
    reports = list((folder / ".chaos-llama" / "reports").glob("*.best.yaml"))
    assert len(reports) == 1 and load_space(reports[0]).serialized.data_sources.tables


def test_doctests():
    import doctest

    from chaos_llama.tools import init

    assert doctest.testmod(init).failed == 0
