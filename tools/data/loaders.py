"""Load data sources into DuckDB: CSV/Parquet files or folders, DuckDB files, PostgreSQL dumps.

`build_database` is all-or-nothing: with a `path` it builds into a temporary file next to it
and moves it into place only when every source loaded, so a failed build leaves no partial
database behind; in memory, a failure simply drops the connection.

A single `.duckdb` source with no `path` is opened directly, read-only (no copy: it may be
large, and read-only is what evaluation needs). With other sources or a `path`, its tables are
copied from a read-only ATTACH.

PostgreSQL dumps load through `pgdump.load_pg_dump`, as PostgreSQL would: a statement that still
cannot load is reported with its file and line (a `DataLoadWarning`, and in `reports`) and the
rest loads; `strict=True` makes it a DataLoadError.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path

import duckdb
from sqlglot import exp

from ..errors import DataLoadError, DataLoadWarning, DataNotFound
from .pgdump import DumpReport, load_pg_dump

__all__ = ["build_database", "load_pg_dump", "DataLoadWarning", "DumpReport", "DATA_EXTENSIONS"]

# Longest first, so `orders.csv.gz` becomes table `orders`.
_CSV_EXT = (".csv.gz", ".tsv.gz", ".csv.zst", ".csv", ".tsv", ".txt")
_PARQUET_EXT = (".parquet", ".pq")
_DUCKDB_EXT = (".duckdb", ".ddb", ".db")
DATA_EXTENSIONS = _CSV_EXT + _PARQUET_EXT


# ---------------------------------------------------------------- build_database
def build_database(
    sources: list[str | Path] | str | Path,
    path: str | Path | None = None,
    *,
    strict: bool = False,
    reports: list[DumpReport] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Load every source into one DuckDB database and return a connection to it.

    Args:
        sources: CSV/TSV or Parquet files (table = file stem), folders of them, `.duckdb`
            files, or PostgreSQL plain-text dumps (`.sql`).
        path: where to write the database; in memory when None. An existing file at `path` is
            replaced only after the new database loaded completely.
        strict: a dump statement that cannot load fails the build (else it is a DataLoadWarning).
        reports: if given, receives each dump's `DumpReport` (tables, row counts, problems).
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    srcs = [Path(s).expanduser() for s in sources]
    if not srcs:
        raise DataLoadError("No data sources given; expected CSV/Parquet files or folders, a .duckdb file or a .sql dump")
    for s in srcs:
        if not s.exists():
            raise DataNotFound(f"Data source not found: {s}")
    target = Path(path).expanduser() if path is not None else None
    if target is not None and any(s.resolve() == target.resolve() for s in srcs if target.exists()):
        raise DataLoadError(f"Output database {target} is also a source; choose another path")

    if target is None and len(srcs) == 1 and srcs[0].is_file() and srcs[0].suffix.lower() in _DUCKDB_EXT:
        try:
            return duckdb.connect(str(srcs[0]), read_only=True)
        except duckdb.Error as e:
            raise DataLoadError(f"{srcs[0]}: cannot open DuckDB file: {e}") from e

    if target is None:
        con = duckdb.connect()
        try:
            _load_all(con, srcs, strict, reports)
        except BaseException:
            con.close()
            raise
        return con

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.building")
    con = duckdb.connect(str(tmp))
    try:
        _load_all(con, srcs, strict, reports)
        con.execute("CHECKPOINT")
        con.close()
        os.replace(tmp, target)
    except BaseException:
        con.close()
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    return duckdb.connect(str(target))


def _load_all(con: duckdb.DuckDBPyConnection, srcs: list[Path], strict: bool, reports: list[DumpReport] | None) -> None:
    loaded: dict[str, Path] = {}  # table name (lowercase) -> where it came from
    for src in srcs:
        if src.is_dir():
            files = sorted(f for f in src.iterdir() if f.is_file() and _is_data_file(f))
            if not files:
                raise DataLoadError(f"{src}: folder holds no CSV/TSV/Parquet files")
            for f in files:
                _load_file(con, f, loaded, strict, reports)
        else:
            _load_file(con, src, loaded, strict, reports)


def _is_data_file(f: Path) -> bool:
    return f.name.lower().endswith(DATA_EXTENSIONS)


def _stem(f: Path) -> str:
    name = f.name
    for ext in DATA_EXTENSIONS:
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return f.stem


def _claim(loaded: dict[str, Path], table: str, src: Path) -> None:
    key = table.lower()
    if key in loaded:
        raise DataLoadError(f"{src}: table '{table}' already loaded from {loaded[key]}; rename one of the files")
    loaded[key] = src


def _q(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _load_file(con: duckdb.DuckDBPyConnection, f: Path, loaded: dict[str, Path], strict: bool = False,
               reports: list[DumpReport] | None = None) -> None:
    lname = f.name.lower()
    try:
        if lname.endswith(_CSV_EXT):
            table = _stem(f)
            _claim(loaded, table, f)
            con.read_csv(str(f)).create(_q(table))
        elif lname.endswith(_PARQUET_EXT):
            table = _stem(f)
            _claim(loaded, table, f)
            con.read_parquet(str(f)).create(_q(table))
        elif lname.endswith(_DUCKDB_EXT):
            _copy_duckdb(con, f, loaded)
        elif lname.endswith(".sql"):
            report = load_pg_dump(con, f, strict=strict)
            for table in report.tables:
                _claim(loaded, table, f)
            for message in report.messages():
                warnings.warn(message, DataLoadWarning, stacklevel=4)
            if reports is not None:
                reports.append(report)
        else:
            raise DataLoadError(
                f"{f}: unsupported data source; expected .csv/.tsv, .parquet, .duckdb or a PostgreSQL dump .sql"
            )
    except duckdb.Error as e:
        raise DataLoadError(f"{f}: {str(e).splitlines()[0]}") from e


def _copy_duckdb(con: duckdb.DuckDBPyConnection, f: Path, loaded: dict[str, Path]) -> None:
    alias = f"src_{uuid.uuid4().hex[:8]}"
    con.execute(f"ATTACH {exp.Literal.string(str(f)).sql('duckdb')} AS {alias} (READ_ONLY)")
    try:
        rows = con.sql(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = $db ORDER BY 1, 2", params={"db": alias}
        ).fetchall()
        if not rows:
            raise DataLoadError(f"{f}: DuckDB file holds no tables")
        for schema, table in rows:
            _claim(loaded, table if schema == "main" else f"{schema}.{table}", f)
            if schema != "main":
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
            con.execute(f"CREATE TABLE {_q(schema)}.{_q(table)} AS SELECT * FROM {alias}.{_q(schema)}.{_q(table)}")
    finally:
        con.execute(f"DETACH {alias}")
