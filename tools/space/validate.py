"""Check a space against Genie's `serialized_space` v2 rules before anything is sent to Databricks.

`validate_space` collects *every* problem (it never stops at the first) as `Problem(path, message,
severity)`; the path is the JSON path inside the serialized document, e.g.
`instructions.join_specs[2].sql`, and the message quotes the bad value and says what was expected.
`ensure_valid` raises `InvalidSpace` listing the errors.

Errors are what Genie's API or UI rejects; warnings are what it accepts but that usually hurts answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import sqlglot
from pydantic import BaseModel, ConfigDict
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from ..errors import InvalidConfig, InvalidSpace, did_you_mean
from .model import (
    ColumnConfig,
    ExampleSql,
    JoinSpec,
    SerializedSpace,
    Snippet,
    Space,
    _Node,
    text,
)

# Per-space limits. Override per call: `validate_space(space, limits={"tables": 25})`.
LIMITS: dict[str, int] = {
    # Databricks docs, "Set up and manage an AI/BI Genie space": at most 30 tables or views per space.
    "tables": 30,
    # Databricks docs, "Add SQL examples and instructions": 100 instructions per space, counted as
    # one per example SQL, one per SQL function and one for the whole text-instructions block.
    "instructions": 100,
    # Databricks docs, "Use benchmarks in a Genie space": at most 500 benchmark questions.
    "benchmark_questions": 500,
    # Databricks docs, "Tune Genie space quality": 200 knowledge-store snippets per space, shared by
    # table descriptions, join relationships and SQL expressions (measures, filters, dimensions).
    "knowledge_snippets": 200,
    # Genie API validation of serialized_space (ai-dev-kit schema reference).
    "string_chars": 25_000,
    "array_items": 10_000,
    # Genie keeps one general-instructions block; more text instructions is a warning, not an error.
    "text_instructions": 1,
}

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
RELATIONSHIPS = ("MANY_TO_ONE", "ONE_TO_MANY", "ONE_TO_ONE", "MANY_TO_MANY")
_RT_MARKER = re.compile(r"--rt=FROM_RELATIONSHIP_TYPE_([A-Za-z_]*)--")
# Type hints Genie offers for trusted-asset parameters; others get a warning, not an error.
PARAMETER_TYPES = ("STRING", "INT", "BIGINT", "LONG", "DOUBLE", "FLOAT", "DECIMAL", "NUMBER", "DATE", "TIMESTAMP", "BOOLEAN")
# v1 column fields that version 2 spaces reject, with their v2 replacement.
V1_COLUMN_FIELDS = {"get_example_values": "enable_format_assistance", "build_value_dictionary": "enable_entity_matching"}
# Text fields Genie stores as arrays of strings. SqlFunction/MetricView descriptions are left out:
# published examples show them both as plain strings and as arrays.
TEXT_FIELDS = ("description", "question", "content", "sql", "usage_guidance", "comment", "instruction", "synonyms")
_PLAIN_OK = {("SqlFunction", "description"), ("MetricView", "description")}


class Problem(BaseModel):
    """One rule violation: where (JSON path in the serialized document), what, and how bad."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"


def quote(value: Any, limit: int = 60) -> str:
    """Quote a value for a message, truncated.

    >>> quote("a.x = b.y AND a.z = b.z", limit=12)
    "'a.x = b.y AN…'"
    """
    s = value if isinstance(value, str) else repr(value)
    s = s.replace("\n", "\\n")
    return "'" + (s if len(s) <= limit else s[:limit] + "…") + "'"


def validate_space(space: Space | SerializedSpace, *, limits: Mapping[str, int] | None = None) -> list[Problem]:
    """Every problem in `space`, errors and warnings, in document order.

    Args:
        space: a `Space` (its envelope title is checked too) or a bare `SerializedSpace`.
        limits: overrides for entries of `LIMITS`.
    """
    lim = dict(LIMITS)
    for key, value in (limits or {}).items():
        if key not in LIMITS:
            raise InvalidConfig(f"unknown limit {key!r}.{did_you_mean(key, LIMITS)}", field="limits")
        lim[key] = value
    v = _Validator(lim)
    if isinstance(space, Space):
        if not (space.title or "").strip():
            v.error("title", "title is empty; Genie needs a title for the space")
        v.run(space.serialized)
    else:
        v.run(space)
    return v.problems


def ensure_valid(space: Space | SerializedSpace, *, limits: Mapping[str, int] | None = None, source: str | None = None) -> list[Problem]:
    """Raise `InvalidSpace` listing every error; return the warnings."""
    problems = validate_space(space, limits=limits)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        lines = "\n".join(f"  {p.path}: {p.message}" for p in errors)
        err = InvalidSpace(
            f"space has {len(errors)} error{'s' if len(errors) > 1 else ''}:\n{lines}",
            source=source,
            field=errors[0].path if len(errors) == 1 else None,
        )
        err.problems = problems  # type: ignore[attr-defined]
        raise err
    return problems


# --------------------------------------------------------------------------- reusable item checks
def parse_error(sql: str) -> str | None:
    """What is wrong with `sql` as one statement (databricks dialect), phrased to follow "SQL 'x' ...", or None.

    >>> parse_error("SELECT 1; SELECT 2")
    'holds 2 statements; expected exactly one'
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read="databricks") if s is not None]
    except (ParseError, TokenError) as e:
        return f"does not parse (databricks dialect): {_describe_parse_error(e)}"
    if not statements:
        return "is empty"
    if len(statements) > 1:
        return f"holds {len(statements)} statements; expected exactly one"
    return None


def check_example_sql(ex: ExampleSql, path: str) -> list[Problem]:
    """Problems of one example question/SQL pair (also used by `apply_changes` on new edits)."""
    out: list[Problem] = []
    if not text(ex.question).strip():
        out.append(Problem(path=f"{path}.question", message="question is empty"))
    sql = text(ex.sql)
    if not sql.strip():
        out.append(Problem(path=f"{path}.sql", message="sql is empty"))
        return out
    err = parse_error(sql)
    if err:
        out.append(Problem(path=f"{path}.sql", message=f"SQL {quote(sql)} {err}"))
        return out
    used = {p.name for p in sqlglot.parse_one(sql, read="databricks").find_all(exp.Placeholder) if p.name}
    declared: dict[str, int] = {}
    for j, param in enumerate(ex.parameters or []):
        ppath = f"{path}.parameters[{j}]"
        if param.name in declared:
            out.append(Problem(path=f"{ppath}.name", message=f"duplicate parameter {quote(param.name)} (also parameters[{declared[param.name]}])"))
        declared.setdefault(param.name, j)
        if param.type_hint is not None and param.type_hint.upper() not in PARAMETER_TYPES:
            out.append(Problem(path=f"{ppath}.type_hint", severity="warning",
                               message=f"unknown type_hint {quote(param.type_hint)}.{did_you_mean(param.type_hint.upper(), PARAMETER_TYPES)}"))
        if param.name not in used:
            out.append(Problem(path=f"{ppath}.name", severity="warning",
                               message=f"parameter {quote(param.name)} is declared but the SQL never uses :{param.name}"))
    for name in sorted(used - set(declared)):
        out.append(Problem(path=f"{path}.sql", severity="warning",
                           message=f"SQL uses :{name} but no parameter {quote(name)} is declared.{did_you_mean(name, declared)}"))
    return out


def check_join_spec(join: JoinSpec, path: str, known_tables: list[str] | None = None) -> list[Problem]:
    """Problems of one join spec: known tables, equalities between the two aliases (one, or several
    joined by AND for a compound key, as Genie exports them), a valid relationship marker."""
    out: list[Problem] = []
    for side_name, side in (("left", join.left), ("right", join.right)):
        if known_tables is not None and side.identifier.lower() not in {t.lower() for t in known_tables}:
            out.append(Problem(path=f"{path}.{side_name}.identifier",
                               message=f"table {quote(side.identifier)} is not in data_sources.{did_you_mean(side.identifier, known_tables)}"))
    segments = join.sql if isinstance(join.sql, list) else [join.sql or ""]
    whole = "".join(segments)
    markers = _RT_MARKER.findall(whole)
    condition = _RT_MARKER.sub("", whole).strip()
    spath = f"{path}.sql"
    if len(markers) > 1:
        out.append(Problem(path=spath, message=f"{len(markers)} relationship markers; expected at most one"))
    for m in markers:
        if m not in RELATIONSHIPS:
            out.append(Problem(path=spath, message=f"unknown relationship type {quote(m)}.{did_you_mean(m, RELATIONSHIPS)}"))
    if not markers and condition:
        out.append(Problem(path=spath, severity="warning",
                           message="no '--rt=FROM_RELATIONSHIP_TYPE_...--' marker; Genie's API expects one after the condition"))
    if not condition:
        out.append(Problem(path=spath, message="join condition is empty; expected an equality like 'a.x = b.y'"))
        return out
    try:
        tree = sqlglot.parse_one(condition, read="databricks")
    except (ParseError, TokenError) as e:
        out.append(Problem(path=spath, message=f"join condition {quote(condition)} does not parse: {_describe_parse_error(e)}"))
        return out
    if tree.find(exp.Or) is not None:
        out.append(Problem(path=spath, message=f"compound condition {quote(condition)} uses OR; a join condition is one "
                                                "equality, or equalities joined by AND (a compound key)"))
        return out
    parts = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
    left_names = _side_names(join.left)
    right_names = _side_names(join.right)
    for part in parts:
        what = f"join condition {quote(condition)}" if len(parts) == 1 else f"{quote(part.sql('databricks'))} in join condition {quote(condition)}"
        if not isinstance(part, exp.EQ):
            out.append(Problem(path=spath, message=f"{what} is not an equality; expected 'left_alias.col = right_alias.col'"))
            continue
        refs = [_qualifiers(part.this), _qualifiers(part.expression)]
        bad = False
        for k, quals in enumerate(refs):
            for q in quals:
                if q == "":
                    cols = [c.sql("databricks") for c in (part.this if k == 0 else part.expression).find_all(exp.Column) if not c.table]
                    out.append(Problem(path=spath, message=f"column {quote(cols[0] if cols else '?')} is not qualified; "
                                                            f"expected {left_names[0]!r} or {right_names[0]!r} before it"))
                    bad = True
                elif q not in left_names + right_names:
                    out.append(Problem(path=spath, message=f"{quote(q)} is neither the left alias {left_names[0]!r} nor the right alias "
                                                            f"{right_names[0]!r}.{did_you_mean(q, [left_names[0], right_names[0]])}"))
                    bad = True
        if bad:
            continue
        a, b = refs
        straight = a <= set(left_names) and b <= set(right_names) and a and b
        crossed = a <= set(right_names) and b <= set(left_names) and a and b
        if not (straight or crossed):
            out.append(Problem(path=spath, message=f"{what} must compare the left alias {left_names[0]!r} "
                                                    f"with the right alias {right_names[0]!r}, one on each side"))
    return out


def check_snippet(snippet: Snippet, kind: str, path: str) -> list[Problem]:
    """Problems of one SQL snippet (kind: filters, expressions or measures)."""
    out: list[Problem] = []
    if kind == "filters" and not (snippet.display_name or "").strip():
        out.append(Problem(path=f"{path}.display_name", message="a filter needs a display_name"))
    if kind in ("expressions", "measures") and not (snippet.alias or "").strip():
        out.append(Problem(path=f"{path}.alias", message=f"{'an expression' if kind == 'expressions' else 'a measure'} needs an alias"))
    sql = text(snippet.sql).strip()
    if not sql:
        out.append(Problem(path=f"{path}.sql", message="sql is empty"))
        return out
    if kind == "filters" and re.match(r"(?i)where\b", sql):
        out.append(Problem(path=f"{path}.sql", message=f"filter {quote(sql)} starts with WHERE; give only the condition"))
        sql = sql[5:].strip()
    try:
        tree = sqlglot.parse_one(sql, read="databricks")
    except (ParseError, TokenError) as e:
        out.append(Problem(path=f"{path}.sql", message=f"snippet {quote(sql)} does not parse (databricks dialect): {_describe_parse_error(e)}"))
        return out
    bare = sorted({c.name for c in tree.find_all(exp.Column) if not c.table})
    if bare:
        out.append(Problem(path=f"{path}.sql", severity="warning",
                           message=f"column {quote(bare[0])} is not table-qualified; the Genie UI rejects bare column names"))
    return out


# --------------------------------------------------------------------------- the whole document
class _Validator:
    def __init__(self, limits: dict[str, int]):
        self.limits = limits
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path=path, message=message))

    def warn(self, path: str, message: str) -> None:
        self.problems.append(Problem(path=path, message=message, severity="warning"))

    def run(self, s: SerializedSpace) -> None:
        if s.version != 2:
            self.error("version", f"version is {s.version!r}; expected 2 (this tool reads serialized_space version 2)")
        self.text_arrays(s)
        self.sizes(s.to_doc(), "")
        self.data_sources(s)
        self.instructions(s)
        self.benchmarks(s)
        self.question_ids(s)
        self.space_limits(s)

    # ---- generic rules
    def text_arrays(self, s: SerializedSpace) -> None:
        for node, path in _walk(s, ""):
            for name in TEXT_FIELDS:
                if name in type(node).model_fields and (type(node).__name__, name) not in _PLAIN_OK:
                    value = getattr(node, name)
                    if isinstance(value, str):
                        self.error(_join(path, name), f"expected an array of strings, got the plain string {quote(value)}; "
                                                      f"write it as [{quote(value, 30)}]")

    def sizes(self, value: Any, path: str) -> None:
        if isinstance(value, str):
            if len(value) > self.limits["string_chars"]:
                self.error(path, f"string of {len(value):,} characters {quote(value, 30)}; at most {self.limits['string_chars']:,} allowed")
        elif isinstance(value, list):
            if len(value) > self.limits["array_items"]:
                self.error(path, f"array of {len(value):,} items; at most {self.limits['array_items']:,} allowed")
            for i, item in enumerate(value):
                self.sizes(item, f"{path}[{i}]")
        elif isinstance(value, dict):
            for k, item in value.items():
                self.sizes(item, _join(path, k))

    def ids(self, items: list[Any], path: str, *, required: bool = True) -> None:
        """Id format and uniqueness within `items`. Order is no problem: Genie's own exports are not
        always sorted and it accepts them back (`normalize` sorts when asked)."""
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            ident = item.id
            if ident is None:
                if required:
                    self.error(f"{path}[{i}].id", "missing id; expected 32 lowercase hex characters (loading a YAML file fills missing ids)")
                continue
            if not isinstance(ident, str) or not ID_PATTERN.match(ident):
                self.error(f"{path}[{i}].id", f"id {quote(ident)} is not 32 lowercase hex characters")
            if ident in seen:
                self.error(f"{path}[{i}].id", f"duplicate id {quote(ident)} (also {path}[{seen[ident]}])")
            seen.setdefault(ident, i)

    # ---- sections
    def data_sources(self, s: SerializedSpace) -> None:
        ds = s.data_sources
        if not ds.tables and not ds.metric_views:
            self.error("data_sources.tables", "the space has no tables or metric views; Genie needs at least one")
        self.ids(ds.tables, "data_sources.tables", required=False)
        self.ids(ds.metric_views or [], "data_sources.metric_views", required=False)
        seen: dict[str, str] = {}
        for kind, sources in (("tables", ds.tables), ("metric_views", ds.metric_views or [])):
            for i, src in enumerate(sources):
                path = f"data_sources.{kind}[{i}]"
                ident = src.identifier
                if len([p for p in ident.split(".") if p]) != 3:
                    self.error(f"{path}.identifier", f"identifier {quote(ident)} is not three-part; expected 'catalog.schema.table'")
                if ident.lower() in seen:
                    self.error(f"{path}.identifier", f"duplicate identifier {quote(ident)} (also {seen[ident.lower()]})")
                seen.setdefault(ident.lower(), path)
                self.columns(src.column_configs or [], f"{path}.column_configs", s.version)

    def columns(self, columns: list[ColumnConfig], path: str, version: int) -> None:
        self.ids(columns, path, required=False)
        seen: dict[str, int] = {}
        for j, col in enumerate(columns):
            cpath = f"{path}[{j}]"
            key = col.column_name.lower()
            if key in seen:
                self.error(f"{cpath}.column_name", f"duplicate column {quote(col.column_name)} (also {path}[{seen[key]}])")
            seen.setdefault(key, j)
            if version == 2:
                for old, new in V1_COLUMN_FIELDS.items():
                    if old in (col.model_extra or {}):
                        self.error(f"{cpath}.{old}", f"v1 field {old!r} is rejected by version 2 spaces; use {new!r}")
            if col.enable_entity_matching and col.enable_format_assistance is not True:
                self.error(f"{cpath}.enable_entity_matching",
                           "enable_entity_matching is true but enable_format_assistance is not; Genie requires format assistance for entity matching")

    def instructions(self, s: SerializedSpace) -> None:
        ins = s.instructions
        self.ids(ins.text_instructions, "instructions.text_instructions")
        if len(ins.text_instructions) > self.limits["text_instructions"]:
            self.warn("instructions.text_instructions", f"{len(ins.text_instructions)} text instructions; Genie shows "
                                                        f"{self.limits['text_instructions']} general-instructions block (merge them)")
        for i, t in enumerate(ins.text_instructions):
            if not text(t.content).strip():
                self.warn(f"instructions.text_instructions[{i}].content", "text instruction is empty")
        self.ids(ins.example_question_sqls, "instructions.example_question_sqls")
        for i, ex in enumerate(ins.example_question_sqls):
            self.problems += check_example_sql(ex, f"instructions.example_question_sqls[{i}]")
        self.ids(s.functions, "instructions.sql_functions")
        for i, fn in enumerate(s.functions):
            if len([p for p in fn.identifier.split(".") if p]) != 3:
                self.error(f"instructions.sql_functions[{i}].identifier",
                           f"identifier {quote(fn.identifier)} is not three-part; expected 'catalog.schema.function'")
        self.ids(s.joins, "instructions.join_specs")
        known = [t.identifier for t in s.data_sources.tables] + [m.identifier for m in s.data_sources.metric_views or []]
        for i, j in enumerate(s.joins):
            self.problems += check_join_spec(j, f"instructions.join_specs[{i}]", known)
        for kind in ("filters", "expressions", "measures"):
            items = s.snippets(kind)
            self.ids(items, f"instructions.sql_snippets.{kind}")
            for i, sn in enumerate(items):
                self.problems += check_snippet(sn, kind, f"instructions.sql_snippets.{kind}[{i}]")

    def benchmarks(self, s: SerializedSpace) -> None:
        qs = s.benchmarks.questions if s.benchmarks else []
        self.ids(qs, "benchmarks.questions")
        for i, q in enumerate(qs):
            path = f"benchmarks.questions[{i}]"
            if not text(q.question).strip():
                self.error(f"{path}.question", "question is empty")
            for k, ans in enumerate(q.answer or []):
                if (ans.format or "SQL").upper() != "SQL":
                    continue
                sql = text(ans.content)
                err = parse_error(sql) if sql.strip() else "is empty"
                if err:
                    self.warn(f"{path}.answer[{k}].content", f"answer SQL {quote(sql)} {err}")

    def question_ids(self, s: SerializedSpace) -> None:
        # Genie requires question ids unique across sample questions and benchmark questions.
        sample = {q.id: i for i, q in enumerate(s.config.sample_questions) if q.id}
        self.ids(s.config.sample_questions, "config.sample_questions")
        for i, q in enumerate(s.benchmarks.questions if s.benchmarks else []):
            if q.id in sample:
                self.error(f"benchmarks.questions[{i}].id",
                           f"id {quote(q.id)} is also config.sample_questions[{sample[q.id]}].id; question ids must be unique across both")

    def space_limits(self, s: SerializedSpace) -> None:
        n_sources = len(s.data_sources.tables) + len(s.data_sources.metric_views or [])
        if n_sources > self.limits["tables"]:
            self.error("data_sources", f"{n_sources} tables and metric views; at most {self.limits['tables']} per space")
        n_ins = len(s.examples) + len(s.functions) + (1 if s.instructions.text_instructions else 0)
        if n_ins > self.limits["instructions"]:
            self.error("instructions", f"{n_ins} instructions (example SQLs + SQL functions + 1 text block); "
                                       f"at most {self.limits['instructions']} per space")
        n_snip = knowledge_snippets(s)
        if n_snip > self.limits["knowledge_snippets"]:
            self.error("knowledge_store", f"{n_snip} knowledge-store snippets (table descriptions + join specs + SQL "
                                       f"measures/filters/expressions); at most {self.limits['knowledge_snippets']} per space")
        n_bench = len(s.benchmarks.questions) if s.benchmarks else 0
        if n_bench > self.limits["benchmark_questions"]:
            self.error("benchmarks.questions", f"{n_bench} benchmark questions; at most {self.limits['benchmark_questions']} per space")


# --------------------------------------------------------------------------- helpers
def knowledge_snippets(s: SerializedSpace) -> int:
    """What counts against Genie's knowledge-store limit: described tables, join specs, SQL snippets."""

    described = sum(1 for t in s.data_sources.tables if text(t.description))
    snippets = s.instructions.sql_snippets
    n_snip = sum(len(getattr(snippets, k) or []) for k in ("filters", "expressions", "measures")) if snippets else 0
    return described + len(s.joins) + n_snip


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _walk(node: _Node, path: str) -> Iterator[tuple[_Node, str]]:
    """Every model node under `node` with its JSON path."""
    yield node, path
    for name in type(node).model_fields:
        value = getattr(node, name)
        if isinstance(value, _Node):
            yield from _walk(value, _join(path, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, _Node):
                    yield from _walk(item, f"{_join(path, name)}[{i}]")


def _side_names(side: Any) -> list[str]:
    """Names a join side may be referred to by: its alias first, then the table's name."""
    names = [side.alias.lower()] if side.alias else []
    names.append(side.identifier.split(".")[-1].lower().strip("`"))
    return names


def _qualifiers(node: exp.Expression) -> set[str]:
    return {c.table.lower() for c in node.find_all(exp.Column)}


def _describe_parse_error(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if errors:
        first = errors[0]
        desc = first.get("description") or "syntax error"
        where = f" at line {first.get('line')}, column {first.get('col')}" if first.get("line") else ""
        near = first.get("highlight")
        return f"{desc}{where}" + (f" near {quote(near, 30)}" if near else "")
    return re.sub(r"\x1b\[[0-9;]*m", "", str(e)).splitlines()[0]


__all__ = [
    "LIMITS",
    "Problem",
    "knowledge_snippets",
    "check_example_sql",
    "check_join_spec",
    "check_snippet",
    "ensure_valid",
    "parse_error",
    "quote",
    "validate_space",
]
