"""Import defog's sql-eval databases and questions as Chaos Llama spaces and eval sets.

A defog database folder holds `<db>.sql` (a pg_dump, loaded with `loaders.load_pg_dump`) and
`<db>.json` (`table_metadata` = {table: [{column_name, data_type, column_description}]}).
`defog_space` turns the JSON into a Genie space whose tables are `defog.<db>.<table>`;
`load_defog_questions` reads defog's question files in each of their layouts
(`questions_gen_postgres.csv`: question, query, db_name, query_category, instructions;
`instruct_basic_*.csv`: db_name, query_category, question, query; `instruct_advanced_*.csv`:
... plus instructions and full_instructions; the older `questions_gen.csv`; files of one
database without db_name), keeping every further column as a case field.

Gold SQL stays in its dialect, PostgreSQL unless the file name says otherwise
(`questions_gen_mysql.csv`, `instruct_basic_sqlite.csv`, ...); every case carries the tag
`dialect:<name>` so callers run it with `sql.execute(..., dialect=...)`.
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from pathlib import Path

from ..errors import InvalidEvalSet, InvalidSpace, did_you_mean
from ..evalset import EvalCase, EvalSet
from ..space.model import ColumnConfig, DataSources, Instructions, SerializedSpace, Space, Table, TextInstruction

__all__ = ["defog_space", "load_defog_questions", "split_statements", "expand_column_alternatives", "table_metadata",
           "DIALECT_TAG"]

DIALECT_TAG = "dialect:postgres"
DEFOG_CATALOG = "defog"
# Fixed namespace so ids are the same on every machine and every run.
_ID_NAMESPACE = uuid.UUID("6f1d1c2e-4b7a-5e55-9a0c-defa0c0de001")
_REQUIRED_COLUMNS = ("question", "query")
# Columns with a meaning of their own; any other column is kept as a case field.
_KNOWN_COLUMNS = {"question", "query", "db_name", "query_category", "category", "instructions"}
# Dialects defog ships golds in, named by the file's suffix (sqlglot's dialect names).
_FILE_DIALECTS = ("postgres", "mysql", "sqlite", "bigquery", "tsql", "snowflake")


def _stable_id(*parts: str) -> str:
    """A deterministic 32-hex id in Genie's format, derived from content."""
    return uuid.uuid5(_ID_NAMESPACE, "\x1f".join(parts)).hex


# ---------------------------------------------------------------- spaces
def table_metadata(doc: object, source: str) -> dict[str, list[tuple[str, str]]]:
    """defog's `table_metadata` ({table: [{column_name, data_type, column_description}]}) as
    {table: [(column, description)]} in file order; InvalidSpace names the entry that is wrong."""
    metadata = doc.get("table_metadata") if isinstance(doc, dict) else None
    if not isinstance(metadata, dict) or not metadata:
        raise InvalidSpace("expected a non-empty object {table: [columns]}", source=source, field="table_metadata")
    out: dict[str, list[tuple[str, str]]] = {}
    for table_name, columns in metadata.items():
        if not isinstance(columns, list):
            raise InvalidSpace(f"table '{table_name}' must map to a list of columns, got {type(columns).__name__}",
                               source=source, field=f"table_metadata.{table_name}")
        out[table_name] = []
        for i, col in enumerate(columns):
            if not isinstance(col, dict) or not col.get("column_name"):
                raise InvalidSpace(f"column {i} of table '{table_name}' needs a 'column_name': {col!r}",
                                   source=source, field=f"table_metadata.{table_name}[{i}]")
            out[table_name].append((col["column_name"], (col.get("column_description") or "").strip()))
    return out


def defog_space(db_dir: str | Path) -> Space:
    """Build a Genie space from a defog database folder's `<db>.json` column descriptions."""
    db_dir = Path(db_dir)
    db = db_dir.name
    meta_path = db_dir / f"{db}.json"
    try:
        doc = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise InvalidSpace("defog metadata file not found (expected <db>/<db>.json)", source=str(meta_path)) from e
    except json.JSONDecodeError as e:
        raise InvalidSpace(f"not valid JSON: {e.msg}", source=str(meta_path), line=e.lineno) from e

    tables: list[Table] = []
    for table_name, columns in table_metadata(doc, str(meta_path)).items():
        identifier = f"{DEFOG_CATALOG}.{db}.{table_name}"
        configs: list[ColumnConfig] = []
        for column, desc in columns:
            cfg = ColumnConfig(id=_stable_id("column", identifier, column), column_name=column)
            if desc:
                cfg.description = [desc]
            configs.append(cfg)
        # Genie keeps column_configs sorted by column name.
        configs.sort(key=lambda c: c.column_name)
        tables.append(Table(id=_stable_id("table", identifier), identifier=identifier, column_configs=configs))
    tables.sort(key=lambda t: t.identifier)

    instructions = Instructions()
    glossary = doc.get("glossary")
    if isinstance(glossary, str) and glossary.strip():
        instructions.text_instructions = [TextInstruction(id=_stable_id("glossary", db), content=[glossary.strip()])]
    serialized = SerializedSpace(data_sources=DataSources(tables=tables), instructions=instructions)
    return Space(title=f"defog {db}", description=f"The defog sql-eval '{db}' database.", serialized=serialized)


# ---------------------------------------------------------------- questions
def split_statements(sql: str) -> list[str]:
    """Split on `;` outside quotes and comments (semicolons in string literals are data).

    >>> split_statements("SELECT ';' AS s; SELECT 2;")
    ["SELECT ';' AS s", 'SELECT 2']
    """
    out, buf, i, n = [], [], 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            buf.append(sql[i: j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            buf.append(sql[i:j])
            i = j
        elif c == ";":
            out.append("".join(buf).strip())
            buf, i = [], i + 1
        else:
            buf.append(c)
            i += 1
    out.append("".join(buf).strip())
    return [s for s in out if s]


_GROUP = re.compile(r"\{([^{}]*)\}")


def _output_name(item: str) -> str:
    """The result column an expression in a SELECT list produces (alias, else last name part)."""
    m = re.search(r"\s+AS\s+(\"[^\"]+\"|\w+)\s*$", item, re.IGNORECASE)
    if m:
        return m.group(1).strip('"')
    return item.strip().split(".")[-1].strip('"')


def expand_column_alternatives(sql: str) -> tuple[str, list[list[str]]]:
    """Expand defog's `{a, b}` column groups into a runnable query selecting all of them.

    `{}` (as in `GROUP BY {}`) stands for the columns of the groups in the SELECT list. Returns
    the query and each group's output column names.

    >>> expand_column_alternatives("SELECT {t.a, t.b}, COUNT(*) FROM t GROUP BY {}")
    ('SELECT t.a, t.b, COUNT(*) FROM t GROUP BY t.a, t.b', [['a', 'b']])
    """
    groups = [m.group(1) for m in _GROUP.finditer(sql) if m.group(1).strip()]
    names = [[_output_name(item) for item in g.split(",") if item.strip()] for g in groups]
    # GROUP BY/ORDER BY cannot use aliases portably: `{}` repeats the expressions without them.
    exprs = [re.sub(r"\s+AS\s+(\"[^\"]+\"|\w+)\s*$", "", item.strip(), flags=re.IGNORECASE)
             for g in groups for item in g.split(",") if item.strip()]

    def sub(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        if inner:
            return ", ".join(item.strip() for item in inner.split(",") if item.strip())
        if not exprs:
            raise ValueError("'{}' with no '{columns}' group to repeat")
        return ", ".join(exprs)

    return _GROUP.sub(sub, sql), names


def _file_dialect(path: Path) -> str:
    """The dialect of a defog question file's golds, from its name (`*_sqlite.csv`); PostgreSQL
    when the name does not say."""
    stem = path.stem.lower()
    return next((d for d in _FILE_DIALECTS if stem.endswith("_" + d)), "postgres")


def _refusal_message(golds: list[str]) -> str | None:
    """The message of an "I don't know" gold (defog's idk.csv: `SELECT '<apology>' AS answer`), else None."""
    import sqlglot
    from sqlglot import exp

    messages = []
    for g in golds:
        try:
            tree = sqlglot.parse_one(g, read="postgres")
        except Exception:  # noqa: BLE001 - a gold we cannot parse is not a recognizable refusal
            return None
        if not isinstance(tree, exp.Select) or tree.args.get("from") or len(tree.expressions) != 1:
            return None
        value = tree.expressions[0].unalias()
        if not (isinstance(value, exp.Literal) and value.is_string):
            return None
        messages.append(value.this)
    return messages[0] if messages else None


def load_defog_questions(csv_path: str | Path, db: str | None = None) -> EvalSet:
    """Read a defog question file (any of its layouts) into an EvalSet, optionally one database's.

    Case ids are `<db>-<n>` (n counts from 1 in file order within the database), category is
    `query_category`, tags are `[db, "dialect:<dialect>"]`, notes are the `instructions`, and
    every other column (full_instructions, k_shot_prompt, ...) is kept in `fields`. A file
    without `db_name` holds one database: name it with `db`. A question whose gold only returns
    an apology (`SELECT 'I don''t know ...' AS answer`, as in defog's `idk.csv`) is an expected
    refusal: no gold SQL, the apology as its reason.
    """
    path = Path(csv_path)
    source = str(path)
    dialect_tag = f"dialect:{_file_dialect(path)}"
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as e:
        raise InvalidEvalSet(f"cannot open defog questions: {e}", source=source) from e
    cases: list[EvalCase] = []
    per_db: dict[str, int] = {}
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        missing = [c for c in _REQUIRED_COLUMNS if c not in header]
        if not missing and "db_name" not in header and db is None:
            missing = ["db_name"]
        if missing:
            raise InvalidEvalSet(
                f"missing column(s) {', '.join(missing)}; expected question, query and db_name (or --db for a file of one "
                f"database), optionally query_category, instructions and any other columns "
                f"(found {', '.join(header) or 'no header'})",
                source=source, line=1,
            )
        extra = [h for h in header if h and h not in _KNOWN_COLUMNS]
        row_no = 1
        while True:
            line = reader.line_num + 1  # the record starts on the line after the previous one ended
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                raise InvalidEvalSet(f"malformed CSV: {e}", source=source, line=line) from e
            row_no += 1
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # a blank line
            db_name = (row.get("db_name") or "").strip() if "db_name" in header else db or ""
            if not db_name:
                raise InvalidEvalSet(f"row {row_no}: empty db_name", source=source, line=line, field="db_name")
            n = per_db[db_name] = per_db.get(db_name, 0) + 1
            if db is not None and db_name != db:
                continue
            question = (row.get("question") or "").strip()
            if not question:
                raise InvalidEvalSet(f"row {row_no}: empty question", source=source, line=line, field="question")
            golds, groups = [], []
            for stmt in split_statements(row.get("query") or ""):
                try:
                    expanded, names = expand_column_alternatives(stmt)
                except ValueError as e:
                    raise InvalidEvalSet(f"row {row_no}: {e} in {stmt[:120]!r}", source=source, line=line, field="query") from e
                if expanded not in golds:
                    golds.append(expanded)
                for g in names:
                    if sorted(x.lower() for x in g) not in [sorted(x.lower() for x in h) for h in groups]:
                        groups.append(g)
            if not golds:
                raise InvalidEvalSet(f"row {row_no}: empty query", source=source, line=line, field="query")
            category = row.get("query_category") or row.get("category") or ""
            refusal = _refusal_message(golds)
            if refusal is not None:
                # idk.csv: the "answer" is a query returning an apology; the right outcome is a refusal
                cases.append(EvalCase(
                    id=f"{db_name}-{n}", question=question, expect="refusal", reason=refusal, category=category.strip() or None,
                    tags=[db_name, dialect_tag, "idk"], notes=(row.get("instructions") or "").strip() or None,
                    fields={k: row[k].strip() for k in extra if (row.get(k) or "").strip()},
                ))
                continue
            cases.append(EvalCase(
                id=f"{db_name}-{n}",
                question=question,
                gold_sql=golds,
                category=category.strip() or None,
                tags=[db_name, dialect_tag],
                notes=(row.get("instructions") or "").strip() or None,
                column_alternatives=groups,
                fields={k: row[k].strip() for k in extra if (row.get(k) or "").strip()},
            ))
    if db is not None and not cases:
        raise InvalidEvalSet(f"no questions for db '{db}'." + did_you_mean(db, per_db), source=source, field="db_name")
    name = f"defog-{db}" if db else "defog"
    return EvalSet(name=name, cases=cases, source=source)
