"""`chaos-llama init`: a working project from data, for a database Chaos Llama has never seen.

`init_project` takes CSV/Parquet files or folders, a `.duckdb` file, a PostgreSQL dump or a Unity
Catalog schema and writes, into one folder:

- ``spaces/<name>.yaml``: a starting Genie space: every table under a valid three-part
  identifier (``<catalog>.<schema>.<table>``; a dump's ``public`` tables take the project's
  schema name, other schemas keep theirs), with descriptions from the data's comments or a
  metadata file (defog's ``{"table_metadata": {table: [{column_name, column_description}]}}``,
  or ``{table: {description, columns: {column: description}}}``);
- ``evals/<name>.yaml``: the eval set: imported questions (a defog question file or any eval-set
  file), else a skeleton of questions read off the schema (row counts, totals, breakdowns) to
  replace with real ones; splits frozen, stratified per category;
- ``data/``: what the local engine answers from: a dump loaded once into ``<name>.duckdb``
  (statements that cannot load reported with file and line), a sample of each Unity Catalog table;
  CSV/Parquet/DuckDB sources are used where they are;
- ``chaos-llama.yaml``: the project file (`project.py`) naming all of it,

and returns what it wrote with the commands to run next (`doctor`, `eval`, `optimize`, `serve`).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field
from sqlglot import exp

from .data.defog import load_defog_questions, table_metadata
from .data.loaders import build_database
from .data.unity import list_tables, unity_reader, write_samples
from .errors import DataLoadWarning, InvalidConfig, InvalidInput
from .evalset import EvalCase, EvalSet, balanced_splits, evalset_to_yaml, load_evalset
from .project import load_config
from .space.io import load_space, normalize, save_space
from .space.model import ColumnConfig, DataSources, Instructions, SerializedSpace, Space, Table, TextInstruction
from .space.validate import ensure_valid

__all__ = ["InitOptions", "InitResult", "init_project"]

PROJECT_FILE = "chaos-llama.yaml"
_DUMP_EXT = (".sql",)
_DUCKDB_EXT = (".duckdb", ".ddb", ".db")
_MAX_STARTERS = 40  # skeleton questions at most
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL", "UBIGINT",
            "UINTEGER", "USMALLINT", "UTINYINT")


class InitOptions(BaseModel):
    """What `init_project` builds from; either `sources` or `unity_catalog`."""

    sources: list[Path] = Field(default_factory=list, description="CSV/Parquet files or folders, a .duckdb file, a PostgreSQL dump")
    unity_catalog: str | None = Field(None, description="a Unity Catalog schema, 'catalog.schema'")
    out: Path = Field(Path("."), description="the project folder (created)")
    name: str | None = Field(None, description="project, space and eval set name (default: from the source)")
    catalog: str = Field("main", description="catalog of the space's three-part identifiers (local sources)")
    schema_name: str | None = Field(None, description="schema of the identifiers for the source's default schema")
    metadata: Path | None = Field(None, description="table/column descriptions (defog JSON); default: <dump>.json beside a dump")
    questions: Path | None = Field(None, description="questions to import: a defog question CSV or an eval-set file")
    db: str | None = Field(None, description="the database's questions in a defog file of several (default: the name)")
    strict: bool = Field(False, description="a dump statement that cannot load is fatal")
    force: bool = Field(False, description="overwrite an existing project file")
    sample_rows: int = Field(1000, ge=1, description="Unity Catalog: rows sampled per table")
    host: str | None = None
    profile: str | None = None
    warehouse_id: str | None = None
    client: Any = Field(None, exclude=True, description="a ready WorkspaceClient (custom auth)")


class TableSummary(BaseModel):
    identifier: str
    rows: int
    columns: int
    described: bool


class InitResult(BaseModel):
    """What `init_project` wrote, relative to `folder`, and what to run next."""

    folder: Path
    project_file: str
    space_file: str
    evalset_file: str
    data: list[str]
    tables: list[TableSummary]
    questions: int
    imported_questions: bool
    problems: list[str] = Field(default_factory=list, description="dump statements that did not load, metadata that matched nothing")
    next_commands: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------- names
def _slug(text: str) -> str:
    """A name valid as a Unity Catalog identifier part.

    >>> _slug("My Shop-2024.sql"), _slug("2nd db")
    ('my_shop_2024_sql', 'db_2nd_db')
    """
    s = re.sub(r"[^0-9a-zA-Z_]+", "_", text).strip("_").lower() or "data"
    return f"db_{s}" if s[0].isdigit() else s


def _source_name(options: InitOptions) -> str:
    if options.name:
        return _slug(options.name)
    if options.unity_catalog:
        return _slug(options.unity_catalog.split(".")[-1])
    first = options.sources[0].resolve()
    if first.is_dir() and first.name.lower() in ("data", "csv", "parquet", "export", "exports", "dump", "dumps"):
        first = first.parent  # examples/retail/data -> retail
    stem = first.name
    for ext in (".csv.gz", ".tsv.gz", ".csv", ".tsv", ".parquet", ".pq", ".sql", *_DUCKDB_EXT):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    return _slug(stem)


def _rel(path: Path, base: Path) -> str:
    """`path` as the project file names it: relative to the project folder."""
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive (Windows)
        return str(path.resolve())


# ---------------------------------------------------------------- metadata
class _Metadata(BaseModel):
    tables: dict[str, str] = Field(default_factory=dict)  # table key (lowercase) -> description
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)  # table key -> column (lowercase) -> description
    instructions: str | None = None


def _read_metadata(path: Path) -> _Metadata:
    """defog's `{"table_metadata": {table: [{column_name, column_description}]}, "glossary"}` or
    `{table: {description, columns: {column: description}}}` (JSON or YAML); table keys may be
    schema-qualified."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot read metadata file: {e}", source=source) from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):

            doc = yaml.safe_load(text)
        else:
            doc = json.loads(text)
    except (json.JSONDecodeError, ValueError) as e:
        raise InvalidInput(f"not valid JSON/YAML: {e}", source=source) from None
    if not isinstance(doc, dict):
        raise InvalidInput("expected an object {table_metadata: {table: [columns]}} or {table: {description, columns}}",
                           source=source)
    meta = _Metadata()
    glossary = doc.get("glossary")
    if isinstance(glossary, str) and glossary.strip():
        meta.instructions = glossary.strip()
    if "table_metadata" in doc:  # defog
        for table, columns in table_metadata(doc, source).items():
            described = {column.lower(): desc for column, desc in columns if desc}
            if described:
                meta.columns[str(table).lower()] = described
        return meta
    for table, spec in doc.items():
        if table == "glossary":
            continue
        if not isinstance(spec, dict):
            raise InvalidInput(f"table {table!r} must map to {{description, columns: {{column: description}}}}, got "
                               f"{type(spec).__name__}", source=source, field=str(table))
        key = str(table).lower()
        if isinstance(spec.get("description"), str) and spec["description"].strip():
            meta.tables[key] = spec["description"].strip()
        cols = {str(c).lower(): d.strip() for c, d in (spec.get("columns") or {}).items() if isinstance(d, str) and d.strip()}
        if cols:
            meta.columns[key] = cols
    return meta


# ---------------------------------------------------------------- the database, inspected
@dataclass
class _Column:
    name: str
    type: str
    comment: str | None = None


@dataclass
class _Table:
    schema: str  # DuckDB schema ("main" for a dump's public tables)
    name: str
    duck: str  # the DuckDB name, quoted
    rows: int
    columns: list[_Column]
    comment: str | None = None


def _inspect(con: Any) -> list[_Table]:
    rows = con.sql(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE NOT internal "
        "AND database_name = current_database() ORDER BY schema_name <> 'main', schema_name, table_name"
    ).fetchall()
    out: list[_Table] = []
    for schema, name, comment in rows:
        duck = exp.to_identifier(name, quoted=True).sql("duckdb")
        if schema != "main":
            duck = f"{exp.to_identifier(schema, quoted=True).sql('duckdb')}.{duck}"
        cols = con.sql(
            "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = $s AND table_name = $t ORDER BY column_index", params={"s": schema, "t": name}
        ).fetchall()
        n = con.sql(f"SELECT count(*) FROM {duck}").fetchall()[0][0]
        out.append(_Table(schema=schema, name=name, comment=comment or None, rows=n, duck=duck,
                          columns=[_Column(name=c, type=t, comment=d or None) for c, t, d in cols]))
    return out


# ---------------------------------------------------------------- the space
def _identifier(table: _Table, catalog: str, default_schema: str) -> str:
    schema = default_schema if table.schema == "main" else table.schema
    return f"{catalog}.{schema}.{table.name}"


def _build_space(name: str, source: str, tables: list[_Table], identifiers: list[str], meta: _Metadata,
                 warehouse_id: str | None) -> tuple[Space, list[str]]:
    used: set[str] = set()
    out_tables: list[Table] = []
    for t, ident in zip(tables, identifiers):
        keys = [f"{t.schema}.{t.name}".lower(), f"public.{t.name}".lower() if t.schema == "main" else "", t.name.lower()]
        key = next((k for k in keys if k and (k in meta.tables or k in meta.columns)), None)
        if key:
            used.add(key)
        described = meta.tables.get(key or "", "") or (t.comment or "")
        col_desc = meta.columns.get(key or "", {})
        configs = []
        for c in sorted(t.columns, key=lambda c: c.name):
            desc = col_desc.get(c.name.lower()) or c.comment
            cfg = ColumnConfig(column_name=c.name)
            if desc:
                cfg.description = [desc]
            configs.append(cfg)
        table = Table(identifier=ident, column_configs=configs)
        if described:
            table.description = [described]
        out_tables.append(table)
    out_tables.sort(key=lambda x: x.identifier)
    instructions = Instructions()
    if meta.instructions:
        instructions.text_instructions = [TextInstruction(content=[meta.instructions])]
    serialized = SerializedSpace(data_sources=DataSources(tables=out_tables), instructions=instructions)
    space = Space(title=name, description=f"Created by chaos-llama init from {source}.", warehouse_id=warehouse_id,
                  serialized=serialized)
    unmatched = sorted((set(meta.tables) | set(meta.columns)) - used)
    problems = [f"metadata names table {k!r}, which the data does not have" for k in unmatched]
    return space, problems


# ---------------------------------------------------------------- the eval set
def _words(name: str) -> str:
    return re.sub(r"[_\s]+", " ", name).strip()


def _starter_questions(con: Any, tables: list[_Table], identifiers: list[str]) -> list[EvalCase]:
    """Questions read off the schema, with gold SQL on the space's identifiers: how many rows each
    table has, totals and averages of its measures, breakdowns by its low-cardinality text columns."""

    cases: list[EvalCase] = []

    def add(cid: str, question: str, sql: str, category: str) -> None:
        if len(cases) < _MAX_STARTERS:
            cases.append(EvalCase(id=cid, question=question, gold_sql=[sql], category=category, tags=["starter"],
                                  notes="written by chaos-llama init from the schema; replace with your users' questions"))

    for t, ident in zip(tables, identifiers):
        noun = _words(t.name)
        add(f"{_slug(t.name)}_count", f"How many {noun} are there?", f"SELECT COUNT(*) AS n FROM {ident}", "count")
    for t, ident in zip(tables, identifiers):
        noun = _words(t.name)
        measures = [c for c in t.columns if c.type.upper().startswith(_NUMERIC)
                    and not re.search(r"(^|_)(id|key|code|no|num|number|year|zip)$|id$", c.name.lower())]
        for c in measures[:2]:
            col = exp.to_identifier(c.name).sql("databricks")
            add(f"{_slug(t.name)}_{_slug(c.name)}_total", f"What is the total {_words(c.name)} of all {noun}?",
                f"SELECT SUM({col}) AS total_{_slug(c.name)} FROM {ident}", "aggregate")
            add(f"{_slug(t.name)}_{_slug(c.name)}_avg", f"What is the average {_words(c.name)} of {noun}?",
                f"SELECT AVG({col}) AS avg_{_slug(c.name)} FROM {ident}", "aggregate")
        texts = [c for c in t.columns if c.type.upper() in ("VARCHAR", "TEXT") or c.type.upper().startswith("ENUM")]
        for c in texts:
            quoted = exp.to_identifier(c.name, quoted=True).sql("duckdb")
            distinct = con.sql(f"SELECT count(DISTINCT {quoted}) FROM {t.duck}").fetchall()[0][0]
            if 2 <= distinct <= 30 and t.rows > distinct:
                col = exp.to_identifier(c.name).sql("databricks")
                add(f"{_slug(t.name)}_by_{_slug(c.name)}", f"How many {noun} are there per {_words(c.name)}?",
                    f"SELECT {col}, COUNT(*) AS n FROM {ident} GROUP BY {col}", "breakdown")
                break
    return cases


def _import_questions(path: Path, db: str | None, name: str) -> EvalSet:
    """A defog question CSV (it has `query`) or any eval-set file."""

    if path.suffix.lower() == ".csv":
        header = path.read_text(encoding="utf-8-sig").splitlines()[:1]
        columns = {c.strip().lower() for c in (header[0].split(",") if header else [])}
        if "query" in columns and "gold_sql" not in columns:
            if "db_name" in columns and db is None:

                with path.open(newline="", encoding="utf-8-sig") as f:
                    names = {(r.get("db_name") or "").strip() for r in csv.DictReader(f)}
                db = name if name in names else None
            return load_defog_questions(path, db=db)
    return load_evalset(path)


def _every_split(evalset: EvalSet) -> EvalSet:
    """Stratified splits of a small set can leave val or test empty (one question per category):
    give each empty split a question from train, so `optimize` has something to select and test on."""
    cases = list(evalset.cases)
    for split in ("val", "test"):
        train = [i for i, c in enumerate(cases) if c.split == "train"]
        if len(cases) >= 3 and not any(c.split == split for c in cases) and len(train) > 1:
            i = train[-1]
            cases[i] = cases[i].model_copy(update={"split": split})
    return evalset.model_copy(update={"cases": cases})


_EVALSET_HEADER = """\
# The eval set of this project: questions with the SQL that answers them (gold SQL), on the
# space's tables. {origin}
# Each question: id, question, gold_sql (a string or a list of acceptable queries), optional
# category, tags, split (train/val/test; frozen here, stratified per category), notes.
# Add your users' real questions; `chaos-llama evalset freeze` gives new ones stratified splits.
"""


# ---------------------------------------------------------------- the project
def init_project(options: InitOptions) -> InitResult:
    """Create a project from data (see the module doc); raises InvalidInput naming the bad source,
    and InvalidConfig when the folder already holds a project (unless `force`)."""
    if bool(options.sources) == bool(options.unity_catalog):
        raise InvalidConfig("name the data: CSV/Parquet files or folders, a .duckdb file, a PostgreSQL dump, "
                            "or --unity-catalog catalog.schema (one of them)", field="sources")
    out = options.out
    project_file = out / PROJECT_FILE
    if project_file.exists() and not options.force:
        raise InvalidConfig(f"{project_file} already exists; use another folder or --force to overwrite it", field="out")
    name = _source_name(options)
    for folder in ("spaces", "evals", "data"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    warehouse_id = options.warehouse_id
    if options.unity_catalog:
        con, tables, identifiers, data, source = _from_unity(options, out, name)
        default_schema = options.unity_catalog.split(".")[1]
    else:
        con, data, source, dump_problems = _from_local(options, out, name)
        problems += dump_problems
        tables = _inspect(con)
        if not tables:
            raise InvalidInput(f"{source}: no tables found", source=source)
        default_schema = _slug(options.schema_name) if options.schema_name else name
        identifiers = [_identifier(t, _slug(options.catalog), default_schema) for t in tables]
    meta_path = options.metadata or _sibling_metadata(options)
    meta = _read_metadata(meta_path) if meta_path else _Metadata()
    space, meta_problems = _build_space(name, source, tables, identifiers, meta, warehouse_id)
    problems += meta_problems

    space = normalize(space)  # ids from content, collections sorted: what loading the file gives
    ensure_valid(space)
    space_file = save_space(space, out / "spaces" / f"{name}.yaml")
    load_space(space_file)  # what we wrote reads back

    if options.questions:
        evalset = _import_questions(options.questions, options.db, name)
        evalset = evalset.model_copy(update={"name": name})
        origin = f"Imported from {options.questions.name} by chaos-llama init."
    else:
        evalset = EvalSet(name=name, cases=_starter_questions(con, tables, identifiers),
                          description="Starter questions read off the schema by chaos-llama init.")
        origin = "Written by chaos-llama init from the schema: a skeleton to replace with real questions."
    if not evalset.cases:
        raise InvalidInput("no questions to write: the questions file holds none for this database", field="questions")
    evalset = _every_split(balanced_splits(evalset))
    evalset_file = out / "evals" / f"{name}.yaml"
    evalset_file.write_text(_EVALSET_HEADER.format(origin=origin) + evalset_to_yaml(evalset), encoding="utf-8")
    load_evalset(evalset_file)
    con.close()

    project_text = _project_yaml(name, source, data, options)
    project_file.write_text(project_text, encoding="utf-8")

    load_config(project_file, env={})  # the file we wrote is a valid project
    rel_space, rel_evals = _rel(space_file, out), _rel(evalset_file, out)
    written = {t.identifier: t for t in space.serialized.data_sources.tables}
    summaries = [TableSummary(identifier=i, rows=t.rows, columns=len(t.columns),
                              described=bool(written[i].description or any(c.description for c in written[i].column_configs)))
                 for t, i in zip(tables, identifiers)]
    return InitResult(
        folder=out, project_file=PROJECT_FILE, space_file=rel_space, evalset_file=rel_evals, data=data, tables=summaries,
        questions=len(evalset.cases), imported_questions=bool(options.questions), problems=problems,
        next_commands=_next_commands(out, rel_space, rel_evals, data),
    )


def _sibling_metadata(options: InitOptions) -> Path | None:
    """defog's layout keeps `<db>.json` beside `<db>.sql`: use it when it holds table metadata."""
    for src in options.sources:
        if src.suffix.lower() in _DUMP_EXT:
            candidate = src.with_suffix(".json")
            if candidate.is_file() and "table_metadata" in candidate.read_text(encoding="utf-8", errors="replace")[:4096]:
                return candidate
    return None


def _from_local(options: InitOptions, out: Path, name: str) -> tuple[Any, list[str], str, list[str]]:
    """Open the sources: a dump is loaded once into data/<name>.duckdb (with every source beside
    it); files and folders are used where they are."""

    for s in options.sources:
        if not s.exists():
            raise InvalidInput(f"data source not found: {s}", source=str(s), field="sources")
    source = ", ".join(s.name for s in options.sources)
    if any(s.is_file() and s.suffix.lower() in _DUMP_EXT for s in options.sources):
        target = out / "data" / f"{name}.duckdb"
        reports: list = []
        with warnings.catch_warnings():  # the reports carry them: they are the result's problems
            warnings.simplefilter("ignore", DataLoadWarning)
            con = build_database(options.sources, path=target, strict=options.strict, reports=reports)
        problems = [m for r in reports for m in r.messages()]
        return con, [_rel(target, out)], source, problems
    con = build_database(options.sources)
    return con, [_rel(s, out) for s in options.sources], source, []


def _from_unity(options: InitOptions, out: Path, name: str) -> tuple[Any, list[_Table], list[str], list[str], str]:
    """Read the schema's tables and comments and sample their rows into data/<schema>/ (Parquet)."""

    parts = options.unity_catalog.split(".") if options.unity_catalog else []
    if len(parts) != 2 or not all(parts):
        raise InvalidConfig(f"--unity-catalog must be 'catalog.schema', got {options.unity_catalog!r}", field="unity_catalog")
    reader = unity_reader(host=options.host, profile=options.profile, warehouse_id=options.warehouse_id,
                          client=options.client, max_rows=options.sample_rows)
    uc_tables = list_tables(reader, parts[0], parts[1])
    folder = out / "data" / _slug(parts[1])
    write_samples(reader, uc_tables, folder, options.sample_rows)
    con = build_database([folder])
    local = {t.name.lower(): t for t in _inspect(con)}
    tables, identifiers = [], []
    for uc in uc_tables:
        t = local[uc.name.lower()]
        comments = {c.name.lower(): c.comment for c in uc.columns}
        t.comment = uc.comment
        for c in t.columns:
            c.comment = comments.get(c.name.lower())
        tables.append(t)
        identifiers.append(uc.full_name)
    return con, tables, identifiers, [_rel(folder, out)], f"Unity Catalog schema {options.unity_catalog}"


def _project_yaml(name: str, source: str, data: list[str], options: InitOptions) -> str:
    lines = [
        f"# Chaos Llama project for {name}, created by `chaos-llama init` from {source}.",
        "# Paths are relative to this file. Run `chaos-llama doctor --config chaos-llama.yaml` to check it.",
        f"space: spaces/{name}.yaml",
        f"evalset: evals/{name}.yaml",
        "data:" + ("" if data else " []"),
        *[f"  - {json.dumps(d)}" for d in data],
        "backend: {kind: local, strategy: retrieval}   # the offline engine over `data`",
    ]
    if options.unity_catalog:
        lines += [
            f"# `data` holds a sample of each table ({options.sample_rows} rows) read through the warehouse. To ask the",
            "# real Genie space instead, create it from the space file and set:",
            "#   backend: {kind: databricks, space_id: <the space id>"
            + (f", warehouse_id: {options.warehouse_id}" if options.warehouse_id else "") + "}",
        ]
    lines += [
        "judges: [execution, failure_analysis]        # the first decides correctness",
        "split_seed: 0",
        "workspace: .chaos-llama                      # store, version history and budget ledger",
        "",
    ]
    return "\n".join(lines)


def _next_commands(out: Path, space: str, evals: str, data: list[str]) -> list[str]:
    q = shlex.quote
    data_args = " ".join(q(d) for d in data)
    inputs = f"--space {q(space)} --evalset {q(evals)} --data {data_args}"
    return [
        f"cd {q(str(out))}",
        "chaos-llama doctor --config chaos-llama.yaml",
        f"chaos-llama eval {inputs}",
        f"chaos-llama optimize {inputs}",
        "chaos-llama serve --config chaos-llama.yaml",
    ]
