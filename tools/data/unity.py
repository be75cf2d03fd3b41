"""A Unity Catalog schema through databricks-sdk: its tables, columns, types and comments, and a
sample of each table's rows through the SQL warehouse (Statement Execution API).

`chaos-llama init --unity-catalog catalog.schema` starts a project from this: the space gets the
tables with their comments as descriptions, and the sample (Parquet files) lets the offline engine
answer, and eval sets run, before any Genie space exists. The workspace client and the statement
runner are the Databricks backend's (`DatabricksGenie`), so auth, retries and secret scrubbing
are the same everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, Field

from ..errors import DataLoadError, InvalidConfig

__all__ = ["UnityColumn", "UnityTable", "list_tables", "sample_table", "unity_reader"]


class UnityColumn(BaseModel):
    name: str
    type_text: str = "string"
    comment: str | None = None


class UnityTable(BaseModel):
    """A table of a Unity Catalog schema as `tables.get` describes it."""

    full_name: str  # catalog.schema.table
    name: str
    comment: str | None = None
    columns: list[UnityColumn] = Field(default_factory=list)


def unity_reader(*, host: str | None = None, profile: str | None = None, token: str | None = None,
                 warehouse_id: str | None = None, client: Any = None, max_rows: int = 1000):
    """The Databricks backend's client and statement runner, without a Genie space (none exists
    yet); `space_id` is a placeholder that no call here uses."""
    from ..backends.databricks import DatabricksGenie

    return DatabricksGenie("unity-catalog", host=host, profile=profile, token=token, warehouse_id=warehouse_id,
                           client=client, max_rows=max_rows, rate_per_minute=None)


def _sdk(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - an SDK/HTTP error, named with what was asked
        raise DataLoadError(f"Unity Catalog: cannot {what}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None


def list_tables(reader: Any, catalog: str, schema: str) -> list[UnityTable]:
    """Every table of `catalog.schema` with its columns and comments (`tables.list`, then `tables.get`)."""
    client = reader.client
    listed = _sdk(f"list the tables of {catalog}.{schema}", lambda: list(client.tables.list(catalog_name=catalog, schema_name=schema)))
    out: list[UnityTable] = []
    for info in sorted(listed, key=lambda t: t.name or ""):
        full = info.full_name or f"{catalog}.{schema}.{info.name}"
        detail = _sdk(f"read table {full}", client.tables.get, full)
        columns = sorted(detail.columns or [], key=lambda c: c.position if c.position is not None else 0)
        out.append(UnityTable(
            full_name=full, name=detail.name or info.name, comment=detail.comment or None,
            columns=[UnityColumn(name=c.name, type_text=c.type_text or "string", comment=c.comment or None) for c in columns],
        ))
    if not out:
        raise DataLoadError(f"Unity Catalog schema {catalog}.{schema} holds no tables (or you cannot see them)")
    return out


def sample_table(reader: Any, table: UnityTable, rows: int) -> pa.Table:
    """Up to `rows` rows of `table` through the warehouse, typed by the table's column types
    (Databricks sends every value as text)."""
    import duckdb
    import sqlglot
    from sqlglot import exp

    if not reader.warehouse_id:
        raise InvalidConfig("sampling a Unity Catalog table needs a SQL warehouse (--warehouse-id)", field="warehouse_id")
    quoted = ".".join(exp.to_identifier(p, quoted=True).sql("databricks") for p in table.full_name.split("."))
    strings = reader.execute(f"SELECT * FROM {quoted} LIMIT {int(rows)}", max_rows=rows)
    con = duckdb.connect()
    try:
        con.register("sample", strings)
        casts = []
        for i, name in enumerate(strings.column_names):
            col = next((c for c in table.columns if c.name == name), None)
            try:
                duck_type = exp.DataType.build(col.type_text, dialect="databricks").sql("duckdb") if col else "VARCHAR"
            except sqlglot.errors.SqlglotError:
                duck_type = "VARCHAR"
            if duck_type.upper().startswith(("STRUCT", "MAP")) or "[]" in duck_type:
                duck_type = "VARCHAR"  # nested values stay as the JSON text Databricks sends
            ident = exp.to_identifier(name, quoted=True).sql("duckdb")
            casts.append(f"TRY_CAST({ident} AS {duck_type}) AS {ident}")
        return con.sql(f"SELECT {', '.join(casts) or '*'} FROM sample").to_arrow_table()
    finally:
        con.close()


def write_samples(reader: Any, tables: list[UnityTable], folder: Path, rows: int) -> dict[str, int]:
    """Each table's sample as `<folder>/<table>.parquet`; returns rows written per table."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for t in tables:
        data = sample_table(reader, t, rows)
        pq.write_table(data, folder / f"{t.name}.parquet")
        counts[t.name] = data.num_rows
    return counts
