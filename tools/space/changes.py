"""Explicit, frozen edits to a space: apply them, journal what they replaced, revert exactly.

An optimizer (or an assistant over MCP) proposes a `ChangeSet` of edit records; each is a frozen
pydantic model tagged by `op`, so a change set round-trips through JSON::

    {"message": "teach Genie the tier synonyms",
     "changes": [{"op": "add_column_synonyms", "table": "customers", "column": "loyalty_tier",
                  "synonyms": ["membership"]}]}

`apply_changes` never mutates its input. It returns the new space and a `Journal` of every value
each edit replaced (sqlglot's optimizer journal idea), so `revert(new, journal)` gives back the
original document byte for byte.
"""

from __future__ import annotations

import copy
import difflib
import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..errors import ApplyConflict, InvalidSpace, did_you_mean
from .io import content_id, space_hash, space_to_yaml
from .model import ExampleSql, JoinSpec, SerializedSpace, Snippet, Space
from .validate import ID_PATTERN, check_example_sql, check_join_spec, check_snippet, parse_error, quote

Path_ = tuple[str | int, ...]
_MISSING = object()
_KIND_KEY = {"filter": "filters", "expression": "expressions", "measure": "measures"}


# --------------------------------------------------------------------------- journal
class Replaced(BaseModel):
    """One value an edit overwrote: where (path in the serialized document) and what was there."""

    model_config = ConfigDict(frozen=True)

    edit: int
    path: list[str | int]
    existed: bool
    before: Any = None


class Journal(BaseModel):
    """What a change set replaced, in order; enough for an exact `revert`."""

    model_config = ConfigDict(frozen=True)

    message: str = ""
    before_hash: str
    after_hash: str
    entries: list[Replaced] = Field(default_factory=list)


# --------------------------------------------------------------------------- edits
class _Edit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    op: str

    def apply(self, ctx: _Context) -> None:  # pragma: no cover - every edit overrides it
        raise NotImplementedError

    def describe(self) -> str:
        """One line for logs and change summaries."""
        fields = {k: v for k, v in self.model_dump(exclude_none=True).items() if k != "op"}
        return f"{self.op} " + ", ".join(f"{k}={_short(v)}" for k, v in fields.items())


class ParameterSpec(BaseModel):
    """A trusted-asset parameter of an example SQL (`:name` in the SQL)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type_hint: str = "STRING"
    description: str | None = None
    default_values: list[Any] | None = None

    def to_doc(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type_hint": self.type_hint}
        if self.description:
            out["description"] = segments(self.description)
        if self.default_values is not None:
            out["default_value"] = {"values": list(self.default_values)}
        return out


# ---- text instructions
class SetTextInstruction(_Edit):
    """Replace a text instruction's content (the only one when `id` is omitted; created if there is none)."""

    op: Literal["set_text_instruction"] = "set_text_instruction"
    content: str
    id: str | None = None

    def apply(self, ctx: _Context) -> None:
        path = ("instructions", "text_instructions")
        items = ctx.list(path)
        if self.id is None:
            if not items:
                ctx.add(path, {"content": segments(self.content)}, id_=None)
                return
            if len(items) > 1:
                ctx.fail("id", f"the space has {len(items)} text instructions; say which one by id "
                               f"({', '.join(repr(t.get('id')) for t in items)})")
            ctx.put((*path, 0, "content"), segments(self.content))
            return
        i = ctx.find_id(path, self.id, "id")
        ctx.put((*path, i, "content"), segments(self.content))


class AddTextInstruction(_Edit):
    op: Literal["add_text_instruction"] = "add_text_instruction"
    content: str
    id: str | None = None

    def apply(self, ctx: _Context) -> None:
        ctx.add(("instructions", "text_instructions"), {"content": segments(self.content)}, id_=self.id)


class RemoveTextInstruction(_Edit):
    op: Literal["remove_text_instruction"] = "remove_text_instruction"
    id: str

    def apply(self, ctx: _Context) -> None:
        ctx.remove(("instructions", "text_instructions"), self.id)


# ---- tables and columns
class SetTableDescription(_Edit):
    """Set (or with None, drop) a table's space-level description."""

    op: Literal["set_table_description"] = "set_table_description"
    table: str
    description: str | None

    def apply(self, ctx: _Context) -> None:
        t = ctx.find_table(self.table)
        ctx.put_or_drop(("data_sources", "tables", t, "description"), segments(self.description) if self.description is not None else None)


class _ColumnEdit(_Edit):
    table: str
    column: str

    # Setting metadata on a column the space lists no config for creates one (a freshly added
    # table has no column_configs at all) — but only when the caller passed the tables' real
    # columns to `apply_changes`, since the document alone cannot tell a new column from a typo.
    _creates: ClassVar[bool] = True

    def _column(self, ctx: _Context) -> Path_:
        t = ctx.find_table(self.table)
        return ("data_sources", "tables", t, "column_configs", ctx.find_column(t, self.column, create=self._creates))


class SetColumnDescription(_ColumnEdit):
    op: Literal["set_column_description"] = "set_column_description"
    description: str | None

    def apply(self, ctx: _Context) -> None:
        col = self._column(ctx)
        ctx.put_or_drop((*col, "description"), segments(self.description) if self.description is not None else None)


class AddColumnSynonyms(_ColumnEdit):
    """Add synonyms to a column; ones it already has (any case) are skipped."""

    op: Literal["add_column_synonyms"] = "add_column_synonyms"
    synonyms: list[str] = Field(min_length=1)

    def apply(self, ctx: _Context) -> None:
        col = self._column(ctx)
        current = list(ctx.get((*col, "synonyms")) or [])
        have = {s.lower() for s in current}
        for s in self.synonyms:
            if s.strip() and s.lower() not in have:
                current.append(s)
                have.add(s.lower())
        ctx.put((*col, "synonyms"), current)


class RemoveColumnSynonyms(_ColumnEdit):
    op: Literal["remove_column_synonyms"] = "remove_column_synonyms"
    synonyms: list[str] = Field(min_length=1)
    _creates: ClassVar[bool] = False

    def apply(self, ctx: _Context) -> None:
        col = self._column(ctx)
        current = list(ctx.get((*col, "synonyms")) or [])
        lowered = [s.lower() for s in current]
        for s in self.synonyms:
            if s.lower() not in lowered:
                ctx.fail("synonyms", f"column {self.column!r} has no synonym {s!r}.{did_you_mean(s, current)}")
        drop = {s.lower() for s in self.synonyms}
        ctx.put((*col, "synonyms"), [s for s in current if s.lower() not in drop])


class SetColumnSynonyms(_ColumnEdit):
    """Replace a column's synonyms (an empty list removes them)."""

    op: Literal["set_column_synonyms"] = "set_column_synonyms"
    synonyms: list[str]

    def apply(self, ctx: _Context) -> None:
        col = self._column(ctx)
        unique = list(dict.fromkeys(s for s in self.synonyms if s.strip()))
        ctx.put_or_drop((*col, "synonyms"), unique or None)


class SetColumnExclude(_ColumnEdit):
    """Hide (or show) a column from Genie."""

    op: Literal["set_column_exclude"] = "set_column_exclude"
    exclude: bool

    def apply(self, ctx: _Context) -> None:
        ctx.put((*self._column(ctx), "exclude"), self.exclude)


class SetColumnEntityMatching(_ColumnEdit):
    """Turn entity matching on or off; turning it on also turns on format assistance, which Genie requires."""

    op: Literal["set_column_entity_matching"] = "set_column_entity_matching"
    enabled: bool

    def apply(self, ctx: _Context) -> None:
        col = self._column(ctx)
        if self.enabled and ctx.get((*col, "enable_format_assistance")) is not True:
            ctx.put((*col, "enable_format_assistance"), True)
        ctx.put((*col, "enable_entity_matching"), self.enabled)


# ---- example SQL
class AddExampleSql(_Edit):
    op: Literal["add_example_sql"] = "add_example_sql"
    question: str
    sql: str
    usage_guidance: str | None = None
    parameters: list[ParameterSpec] | None = None
    id: str | None = None

    def apply(self, ctx: _Context) -> None:
        item: dict[str, Any] = {"question": [self.question], "sql": segments(self.sql)}
        if self.usage_guidance:
            item["usage_guidance"] = segments(self.usage_guidance)
        if self.parameters:
            item["parameters"] = [p.to_doc() for p in self.parameters]
        ctx.check(check_example_sql(ExampleSql.model_validate(item), "$"), {"$.question": "question", "$.sql": "sql", "$.parameters": "parameters"})
        ctx.add(("instructions", "example_question_sqls"), item, id_=self.id)


class UpdateExampleSql(_Edit):
    """Change the given fields of an example SQL; an empty usage_guidance or parameters list removes it."""

    op: Literal["update_example_sql"] = "update_example_sql"
    id: str
    question: str | None = None
    sql: str | None = None
    usage_guidance: str | None = None
    parameters: list[ParameterSpec] | None = None

    def apply(self, ctx: _Context) -> None:
        path = ("instructions", "example_question_sqls")
        i = ctx.find_id(path, self.id, "id")
        if self.question is None and self.sql is None and self.usage_guidance is None and self.parameters is None:
            ctx.fail("op", "nothing to update; give question, sql, usage_guidance or parameters")
        if self.question is not None:
            ctx.put((*path, i, "question"), [self.question])
        if self.sql is not None:
            ctx.put((*path, i, "sql"), segments(self.sql))
        if self.usage_guidance is not None:
            ctx.put_or_drop((*path, i, "usage_guidance"), segments(self.usage_guidance) or None)
        if self.parameters is not None:
            ctx.put_or_drop((*path, i, "parameters"), [p.to_doc() for p in self.parameters] or None)
        ctx.check(check_example_sql(ExampleSql.model_validate(ctx.get((*path, i))), "$"), {"$.question": "question", "$.sql": "sql", "$.parameters": "parameters"})


class RemoveExampleSql(_Edit):
    op: Literal["remove_example_sql"] = "remove_example_sql"
    id: str

    def apply(self, ctx: _Context) -> None:
        ctx.remove(("instructions", "example_question_sqls"), self.id)


# ---- SQL functions
class AddSqlFunction(_Edit):
    """Register a Unity Catalog function (`catalog.schema.function`)."""

    op: Literal["add_sql_function"] = "add_sql_function"
    identifier: str
    description: str | None = None
    id: str | None = None

    def apply(self, ctx: _Context) -> None:
        if len([p for p in self.identifier.split(".") if p]) != 3:
            ctx.fail("identifier", f"{self.identifier!r} is not three-part; expected 'catalog.schema.function'")
        path = ("instructions", "sql_functions")
        if any(str(f.get("identifier", "")).lower() == self.identifier.lower() for f in ctx.list(path)):
            ctx.fail("identifier", f"function {self.identifier!r} is already in the space")
        item: dict[str, Any] = {"identifier": self.identifier}
        if self.description:
            item["description"] = self.description  # a plain string for functions, as Genie writes it
        ctx.add(path, item, id_=self.id)


class UpdateSqlFunction(_Edit):
    """Change a SQL function's description (found by id or identifier; an empty description removes it)."""

    op: Literal["update_sql_function"] = "update_sql_function"
    ref: str
    description: str

    def apply(self, ctx: _Context) -> None:
        path = ("instructions", "sql_functions")
        for i, f in enumerate(ctx.list(path)):
            if self.ref in (f.get("id"), ) or str(f.get("identifier", "")).lower() == self.ref.lower():
                ctx.put_or_drop((*path, i, "description"), self.description or None)
                return
        names = [str(f.get(k)) for f in ctx.list(path) for k in ("identifier", "id") if f.get(k)]
        ctx.fail("ref", f"no SQL function with id or identifier {self.ref!r}.{_suggest(self.ref, names)}")


class RemoveSqlFunction(_Edit):
    """Remove a SQL function by id or identifier."""

    op: Literal["remove_sql_function"] = "remove_sql_function"
    ref: str

    def apply(self, ctx: _Context) -> None:
        path = ("instructions", "sql_functions")
        for i, f in enumerate(ctx.list(path)):
            if str(f.get("identifier", "")).lower() == self.ref.lower():
                ctx.remove_at(path, i)
                return
        names = [str(f.get(k)) for f in ctx.list(path) for k in ("identifier", "id") if f.get(k)]
        if not any(f.get("id") == self.ref for f in ctx.list(path)):
            ctx.fail("ref", f"no SQL function with id or identifier {self.ref!r}.{_suggest(self.ref, names)}")
        ctx.remove(path, self.ref, field="ref")


# ---- joins
class AddJoinSpec(_Edit):
    """Add a join between two tables of the space: an equality, e.g. `orders.customer_id = customers.id`, or
    several joined by AND for a compound key."""

    op: Literal["add_join_spec"] = "add_join_spec"
    left: str
    right: str
    condition: str
    relationship: Literal["MANY_TO_ONE", "ONE_TO_MANY", "ONE_TO_ONE", "MANY_TO_MANY"] | None = "MANY_TO_ONE"
    left_alias: str | None = None
    right_alias: str | None = None
    comment: str | None = None
    instruction: str | None = None
    id: str | None = None

    def apply(self, ctx: _Context) -> None:
        left = ctx.doc["data_sources"]["tables"][ctx.find_table(self.left, "left")]["identifier"]
        right = ctx.doc["data_sources"]["tables"][ctx.find_table(self.right, "right")]["identifier"]
        sql = [self.condition] + ([f"--rt=FROM_RELATIONSHIP_TYPE_{self.relationship}--"] if self.relationship else [])
        item: dict[str, Any] = {
            "left": {"identifier": left, "alias": self.left_alias or left.split(".")[-1]},
            "right": {"identifier": right, "alias": self.right_alias or right.split(".")[-1]},
            "sql": sql,
        }
        if self.comment:
            item["comment"] = segments(self.comment)
        if self.instruction:
            item["instruction"] = segments(self.instruction)
        ctx.check(check_join_spec(JoinSpec.model_validate(item), "$"), {"$.sql": "condition"})
        ctx.add(("instructions", "join_specs"), item, id_=self.id)


class UpdateJoinSpec(_Edit):
    """Change the given fields of a join spec (condition, relationship, comment, instruction); an empty
    comment or instruction removes it."""

    op: Literal["update_join_spec"] = "update_join_spec"
    id: str
    condition: str | None = None
    relationship: Literal["MANY_TO_ONE", "ONE_TO_MANY", "ONE_TO_ONE", "MANY_TO_MANY"] | None = None
    comment: str | None = None
    instruction: str | None = None

    def apply(self, ctx: _Context) -> None:
        path = ("instructions", "join_specs")
        i = ctx.find_id(path, self.id, "id")
        if all(v is None for v in (self.condition, self.relationship, self.comment, self.instruction)):
            ctx.fail("op", "nothing to update; give condition, relationship, comment or instruction")
        if self.condition is not None or self.relationship is not None:
            old = [str(x) for x in ctx.get((*path, i, "sql")) or []]
            tags = [x for x in old if x.strip().startswith("--rt=")]
            cond = [x for x in old if not x.strip().startswith("--rt=")]
            new_cond = [self.condition] if self.condition is not None else cond
            new_tags = [f"--rt=FROM_RELATIONSHIP_TYPE_{self.relationship}--"] if self.relationship else tags
            ctx.put((*path, i, "sql"), new_cond + new_tags)
        if self.comment is not None:
            ctx.put_or_drop((*path, i, "comment"), segments(self.comment) or None)
        if self.instruction is not None:
            ctx.put_or_drop((*path, i, "instruction"), segments(self.instruction) or None)
        ctx.check(check_join_spec(JoinSpec.model_validate(ctx.get((*path, i))), "$"), {"$.sql": "condition"})


class RemoveJoinSpec(_Edit):
    op: Literal["remove_join_spec"] = "remove_join_spec"
    id: str

    def apply(self, ctx: _Context) -> None:
        ctx.remove(("instructions", "join_specs"), self.id)


# ---- SQL snippets
class AddSnippet(_Edit):
    """Add a SQL snippet: a filter (condition, needs display_name), expression or measure (need alias)."""

    op: Literal["add_snippet"] = "add_snippet"
    kind: Literal["filter", "expression", "measure"]
    sql: str
    display_name: str | None = None
    alias: str | None = None
    synonyms: list[str] | None = None
    instruction: str | None = None
    comment: str | None = None
    id: str | None = None

    def apply(self, ctx: _Context) -> None:
        kind = _KIND_KEY[self.kind]
        item: dict[str, Any] = {"sql": segments(self.sql)}
        if self.alias:
            item["alias"] = self.alias
        if self.display_name:
            item["display_name"] = self.display_name
        if self.synonyms:
            item["synonyms"] = list(self.synonyms)
        if self.instruction:
            item["instruction"] = segments(self.instruction)
        if self.comment:
            item["comment"] = segments(self.comment)
        ctx.check(check_snippet(Snippet.model_validate(item), kind, "$"),
                  {"$.sql": "sql", "$.display_name": "display_name", "$.alias": "alias"})
        ctx.add(("instructions", "sql_snippets", kind), item, id_=self.id)


class UpdateSnippet(_Edit):
    """Change the given fields of a snippet (found by id in any kind); an empty synonyms list, instruction
    or comment removes it."""

    op: Literal["update_snippet"] = "update_snippet"
    id: str
    sql: str | None = None
    display_name: str | None = None
    alias: str | None = None
    synonyms: list[str] | None = None
    instruction: str | None = None
    comment: str | None = None

    def apply(self, ctx: _Context) -> None:
        kinds = list(_KIND_KEY.values())
        found = next(((k, i) for k in kinds for i, sn in enumerate(ctx.list(("instructions", "sql_snippets", k)))
                      if sn.get("id") == self.id), None)
        if found is None:
            ids = [sn.get("id") for k in kinds for sn in ctx.list(("instructions", "sql_snippets", k)) if sn.get("id")]
            ctx.fail("id", f"no snippet with id {self.id!r}.{_suggest(self.id, ids)}")
        kind, i = found
        path = ("instructions", "sql_snippets", kind, i)
        fields = (self.sql, self.display_name, self.alias, self.synonyms, self.instruction, self.comment)
        if all(v is None for v in fields):
            ctx.fail("op", "nothing to update; give sql, display_name, alias, synonyms, instruction or comment")
        if self.sql is not None:
            ctx.put((*path, "sql"), segments(self.sql))
        for name in ("display_name", "alias"):
            if getattr(self, name) is not None:
                ctx.put_or_drop((*path, name), getattr(self, name) or None)
        if self.synonyms is not None:
            ctx.put_or_drop((*path, "synonyms"), list(dict.fromkeys(self.synonyms)) or None)
        for name in ("instruction", "comment"):
            if getattr(self, name) is not None:
                ctx.put_or_drop((*path, name), segments(getattr(self, name)) or None)
        ctx.check(check_snippet(Snippet.model_validate(ctx.get(path)), kind, "$"),
                  {"$.sql": "sql", "$.display_name": "display_name", "$.alias": "alias"})


class RemoveSnippet(_Edit):
    """Remove a snippet by id (searched in all kinds unless `kind` is given)."""

    op: Literal["remove_snippet"] = "remove_snippet"
    id: str
    kind: Literal["filter", "expression", "measure"] | None = None

    def apply(self, ctx: _Context) -> None:
        kinds = [_KIND_KEY[self.kind]] if self.kind else list(_KIND_KEY.values())
        for kind in kinds:
            if any(s.get("id") == self.id for s in ctx.list(("instructions", "sql_snippets", kind))):
                ctx.remove(("instructions", "sql_snippets", kind), self.id)
                return
        all_ids = [s.get("id") for k in kinds for s in ctx.list(("instructions", "sql_snippets", k)) if s.get("id")]
        ctx.fail("id", f"no {self.kind or 'snippet'} with id {self.id!r}.{_suggest(self.id, all_ids)}")


# ---- benchmarks
class AddBenchmarkQuestion(_Edit):
    op: Literal["add_benchmark_question"] = "add_benchmark_question"
    question: str
    sql: str | None = None
    id: str | None = None

    def apply(self, ctx: _Context) -> None:
        if not self.question.strip():
            ctx.fail("question", "question is empty")
        item: dict[str, Any] = {"question": [self.question]}
        if self.sql is not None:
            err = parse_error(self.sql)
            if err:
                ctx.fail("sql", f"SQL {quote(self.sql)} {err}")
            item["answer"] = [{"format": "SQL", "content": segments(self.sql)}]
        taken = {q.get("id") for q in ctx.list(("config", "sample_questions"))}
        ctx.add(("benchmarks", "questions"), item, id_=self.id, also_taken=taken)


class UpdateBenchmarkQuestion(_Edit):
    """Change a benchmark question's text and/or its SQL answer."""

    op: Literal["update_benchmark_question"] = "update_benchmark_question"
    id: str
    question: str | None = None
    sql: str | None = None

    def apply(self, ctx: _Context) -> None:
        path = ("benchmarks", "questions")
        i = ctx.find_id(path, self.id, "id")
        if self.question is None and self.sql is None:
            ctx.fail("op", "nothing to update; give question or sql")
        if self.question is not None:
            if not self.question.strip():
                ctx.fail("question", "question is empty")
            ctx.put((*path, i, "question"), [self.question])
        if self.sql is not None:
            err = parse_error(self.sql)
            if err:
                ctx.fail("sql", f"SQL {quote(self.sql)} {err}")
            ctx.put((*path, i, "answer"), [{"format": "SQL", "content": segments(self.sql)}])


class AddSampleQuestion(_Edit):
    """Add a sample question (shown to users of the space)."""

    op: Literal["add_sample_question"] = "add_sample_question"
    question: str
    id: str | None = None

    def apply(self, ctx: _Context) -> None:
        if not self.question.strip():
            ctx.fail("question", "question is empty")
        taken = {q.get("id") for q in ctx.list(("benchmarks", "questions"))}
        ctx.add(("config", "sample_questions"), {"question": [self.question]}, id_=self.id, also_taken=taken)


class UpdateSampleQuestion(_Edit):
    op: Literal["update_sample_question"] = "update_sample_question"
    id: str
    question: str

    def apply(self, ctx: _Context) -> None:
        i = ctx.find_id(("config", "sample_questions"), self.id, "id")
        if not self.question.strip():
            ctx.fail("question", "question is empty")
        ctx.put(("config", "sample_questions", i, "question"), [self.question])


class RemoveSampleQuestion(_Edit):
    op: Literal["remove_sample_question"] = "remove_sample_question"
    id: str

    def apply(self, ctx: _Context) -> None:
        ctx.remove(("config", "sample_questions"), self.id)


class RemoveBenchmarkQuestion(_Edit):
    op: Literal["remove_benchmark_question"] = "remove_benchmark_question"
    id: str

    def apply(self, ctx: _Context) -> None:
        ctx.remove(("benchmarks", "questions"), self.id)


EDIT_TYPES: tuple[type[_Edit], ...] = (
    SetTextInstruction, AddTextInstruction, RemoveTextInstruction,
    SetTableDescription, SetColumnDescription, AddColumnSynonyms, RemoveColumnSynonyms, SetColumnSynonyms,
    SetColumnExclude, SetColumnEntityMatching,
    AddExampleSql, UpdateExampleSql, RemoveExampleSql,
    AddSqlFunction, UpdateSqlFunction, RemoveSqlFunction,
    AddJoinSpec, UpdateJoinSpec, RemoveJoinSpec,
    AddSnippet, UpdateSnippet, RemoveSnippet,
    AddBenchmarkQuestion, UpdateBenchmarkQuestion, RemoveBenchmarkQuestion,
    AddSampleQuestion, UpdateSampleQuestion, RemoveSampleQuestion,
)  # fmt: skip

Edit = Annotated[
    SetTextInstruction | AddTextInstruction | RemoveTextInstruction
    | SetTableDescription | SetColumnDescription | AddColumnSynonyms | RemoveColumnSynonyms | SetColumnSynonyms
    | SetColumnExclude | SetColumnEntityMatching
    | AddExampleSql | UpdateExampleSql | RemoveExampleSql
    | AddSqlFunction | UpdateSqlFunction | RemoveSqlFunction
    | AddJoinSpec | UpdateJoinSpec | RemoveJoinSpec
    | AddSnippet | UpdateSnippet | RemoveSnippet
    | AddBenchmarkQuestion | UpdateBenchmarkQuestion | RemoveBenchmarkQuestion
    | AddSampleQuestion | UpdateSampleQuestion | RemoveSampleQuestion,
    Field(discriminator="op"),
]
_EDIT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Edit)
OPS: tuple[str, ...] = tuple(t.model_fields["op"].default for t in EDIT_TYPES)


def edit_reference() -> str:
    """One line per edit op with its fields (`name?` optional; `a|b` the allowed values): what an
    assistant needs to write a change set, far shorter than the JSON schema."""
    lines = []
    for t in EDIT_TYPES:
        fields = []
        for name, f in t.model_fields.items():
            if name == "op":
                continue
            ann = f.annotation
            args = [a for a in getattr(ann, "__args__", ()) if a is not type(None)]
            lits = [v for a in args for v in getattr(a, "__args__", ()) if isinstance(v, str)] or \
                [v for v in getattr(ann, "__args__", ()) if isinstance(v, str)]
            shown = name + ("" if f.is_required() else "?")
            if lits:
                shown += "=" + "|".join(lits)
            elif "list" in str(ann):
                shown += "[]"
            fields.append(shown)
        lines.append(f"{t.model_fields['op'].default}({', '.join(fields)})")
    return "\n".join(lines)


def parse_edit(data: dict[str, Any] | str) -> _Edit:
    """One edit from a dict or JSON string (tagged by `op`); InvalidSpace names the bad op or field."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise InvalidSpace(f"edit is not valid JSON: {e.msg}", line=e.lineno) from None
    if isinstance(data, dict) and data.get("op") not in OPS:
        raise InvalidSpace(f"unknown edit op {data.get('op')!r}.{did_you_mean(str(data.get('op')), OPS)}", field="op")
    try:
        return _EDIT_ADAPTER.validate_python(data)
    except ValidationError as e:
        raise _edit_error(e) from None


class ChangeSet(BaseModel):
    """A list of edits with a message saying why; JSON-serializable (edits tagged by `op`)."""

    model_config = ConfigDict(frozen=True)

    changes: list[Edit] = Field(default_factory=list)
    message: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any] | str) -> ChangeSet:
        """From a dict or JSON string; InvalidSpace names the failing edit and field (and suggests an op)."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as e:
                raise InvalidSpace(f"change set is not valid JSON: {e.msg}", line=e.lineno) from None
        if isinstance(data, dict):
            for i, c in enumerate(data.get("changes") or []):
                if isinstance(c, dict) and c.get("op") not in OPS:
                    raise InvalidSpace(f"unknown edit op {c.get('op')!r}.{did_you_mean(str(c.get('op')), OPS)}",
                                       field=f"changes[{i}].op")
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise _edit_error(e) from None

    def describe(self) -> str:
        return "\n".join([self.message] * bool(self.message) + [f"  {i}. {c.describe()}" for i, c in enumerate(self.changes)])


def _short(value: Any, limit: int = 40) -> str:
    s = repr(value)
    return s if len(s) <= limit else s[:limit] + "…"


def _suggest(value: str, options: list[str]) -> str:
    """did_you_mean, without listing hundreds of ids when nothing is close."""
    hint = did_you_mean(value, options)
    if "Did you mean" in hint or len(options) <= 8:
        return hint
    return f" ({len(options)} exist, none close.)"


def _edit_error(e: ValidationError) -> InvalidSpace:
    msgs = []
    for err in e.errors()[:5]:
        # Drop the union tag pydantic puts in the location (the op name), keep field names.
        parts = [p for p in err["loc"] if p not in OPS]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
        msgs.append(f"{loc}: {err['msg']}")
    return InvalidSpace("invalid edit: " + "; ".join(msgs))


# --------------------------------------------------------------------------- apply / revert / diff
def apply_changes(
    space: Space, changeset: ChangeSet, *, check: bool = True, columns: dict[str, list[str]] | None = None
) -> tuple[Space, Journal]:
    """Apply every edit in order to a copy of `space`; return it and the journal for `revert`.

    Raises InvalidSpace naming the edit (`changes[i].field`) when an edit targets a missing table,
    column or id (with the closest valid one), or, with `check`, when an edit adds content Genie
    would reject (a compound join, SQL that does not parse, ...). The input is never mutated.
    `columns` (table identifier or bare name -> the data's column names) lets column edits create
    a column config for a real column the space does not list yet.
    """
    doc = space.to_serialized()
    ctx = _Context(doc, columns)
    for i, edit in enumerate(changeset.changes):
        ctx.index, ctx.edit, ctx.checking = i, edit, check
        edit.apply(ctx)
    try:
        new = space.model_copy(update={"serialized": SerializedSpace.model_validate(doc)})
    except ValidationError as e:  # an edit produced a shape the model rejects: a bug, but say where
        raise InvalidSpace(f"edits produced an invalid document: {e}") from None
    journal = Journal(message=changeset.message, before_hash=space_hash(space), after_hash=space_hash(new), entries=ctx.entries)
    return new, journal


def revert(space: Space, journal: Journal) -> Space:
    """Undo a journal's edits exactly. Raises ApplyConflict if `space` is not the one the journal produced."""
    current = space_hash(space)
    if current != journal.after_hash:
        raise ApplyConflict(f"space hash {current} is not {journal.after_hash}, the result this journal recorded; "
                            "it changed since, so a revert would not be exact")
    doc = space.to_serialized()
    for entry in reversed(journal.entries):
        if not entry.path:
            doc = copy.deepcopy(entry.before)
            continue
        parent = doc
        for key in entry.path[:-1]:
            parent = parent[key]
        if entry.existed:
            parent[entry.path[-1]] = copy.deepcopy(entry.before)
        else:
            del parent[entry.path[-1]]
    return space.model_copy(update={"serialized": SerializedSpace.model_validate(doc)})


def diff_spaces(a: Space, b: Space, *, name: str = "space.yaml", context: int = 3) -> str:
    """Unified diff of the YAML forms, labelled `a/<name>` and `b/<name>` ("" when equal)."""
    return "".join(difflib.unified_diff(
        space_to_yaml(a).splitlines(keepends=True), space_to_yaml(b).splitlines(keepends=True),
        fromfile=f"a/{name}", tofile=f"b/{name}", n=context,
    ))


def segments(value: str | None) -> list[str]:
    """Split text into Genie's segments: one per line, each keeping its newline.

    >>> segments("SELECT 1\\nFROM t")
    ['SELECT 1\\n', 'FROM t']
    """
    if not value:
        return []
    parts = value.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    return out + [parts[-1]] if parts[-1] else out


class _Context:
    """The working document plus the journal; every write goes through `put` so revert is exact."""

    def __init__(self, doc: dict[str, Any], columns: dict[str, list[str]] | None = None):
        self.doc = doc
        self.columns = {k.lower(): v for k, v in columns.items()} if columns is not None else None
        self.entries: list[Replaced] = []
        self.index = 0
        self.edit: _Edit | None = None
        self.checking = True

    # ---- errors
    def fail(self, field: str, message: str) -> None:
        op = self.edit.op if self.edit else "?"
        raise InvalidSpace(f"edit {self.index} ({op}): {message}", field=f"changes[{self.index}].{field}")

    def check(self, problems: list[Any], fields: dict[str, str]) -> None:
        if not self.checking:
            return
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            p = errors[0]
            field = next((f for prefix, f in fields.items() if p.path.startswith(prefix)), "op")
            self.fail(field, p.message)

    # ---- reading
    def real_columns(self, ident: str) -> list[str] | None:
        """The data's columns of a table (by full identifier or bare name), when the caller gave them."""
        if self.columns is None:
            return None
        for key in (ident.lower(), ident.split(".")[-1].lower()):
            if key in self.columns:
                return self.columns[key]
        return None

    def get(self, path: Path_, default: Any = None) -> Any:
        node: Any = self.doc
        for key in path:
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            else:
                return default
        return node

    def list(self, path: Path_) -> list[Any]:
        value = self.get(path)
        return value if isinstance(value, list) else []

    def find_table(self, ref: str, field: str = "table") -> int:
        tables = self.list(("data_sources", "tables"))
        idents = [str(t.get("identifier", "")) for t in tables]
        r = ref.strip("`").lower()
        exact = [i for i, x in enumerate(idents) if x.lower() == r]
        if exact:
            return exact[0]
        short = [i for i, x in enumerate(idents) if x.split(".")[-1].lower() == r.split(".")[-1]]
        if len(short) == 1 and "." not in r:
            return short[0]
        if len(short) > 1 and "." not in r:
            self.fail(field, f"table {ref!r} is ambiguous: {', '.join(idents[i] for i in short)}; give the full identifier")
        self.fail(field, f"table {ref!r} is not in the space.{did_you_mean(ref, idents + [x.split('.')[-1] for x in idents])}")
        raise AssertionError  # unreachable: fail raises

    def find_column(self, table: int, name: str, *, create: bool = False) -> int:
        path = ("data_sources", "tables", table, "column_configs")
        cols = self.list(path)
        names = [str(c.get("column_name", "")) for c in cols]
        for j, n in enumerate(names):
            if n.lower() == name.lower():
                return j
        ident = self.doc["data_sources"]["tables"][table]["identifier"]
        real = self.real_columns(ident)
        if create and real is not None:
            match = next((c for c in real if c.lower() == name.lower()), None)
            if match is None:
                self.fail("column", f"column {name!r} is not a column of {ident}.{did_you_mean(name, real)}")
            name = match
            # Genie keeps column_configs sorted by column_name; journal the whole list for revert.
            new = sorted([*cols, {"column_name": name}], key=lambda c: str(c.get("column_name", "")))
            self.put(path, new)
            return next(j for j, c in enumerate(new) if c.get("column_name") == name)
        self.fail("column", f"column {name!r} has no column config in {ident}.{did_you_mean(name, names)}")
        raise AssertionError

    def find_id(self, path: Path_, ident: str, field: str) -> int:
        items = self.list(path)
        ids = [str(x.get("id")) for x in items if isinstance(x, dict) and x.get("id")]
        for i, x in enumerate(items):
            if isinstance(x, dict) and x.get("id") == ident:
                return i
        self.fail(field, f"no item with id {ident!r} in {'.'.join(map(str, path))}.{_suggest(ident, ids)}")
        raise AssertionError

    # ---- writing (journaled)
    def put(self, path: Path_, value: Any) -> None:
        """Set the value at `path`, creating missing parents; journal the highest key that changed."""
        node: Any = self.doc
        for k, key in enumerate(path[:-1]):
            nxt = node.get(key) if isinstance(node, dict) else node[key]
            if nxt is None:
                nested = value
                for inner in reversed(path[k + 1:]):
                    nested = {inner: nested}
                self._record(path[: k + 1])
                node[key] = nested
                return
            node = nxt
        self._record(path)
        node[path[-1]] = value

    def put_or_drop(self, path: Path_, value: Any) -> None:
        """`put`, or delete the key when value is None."""
        if value is not None:
            self.put(path, value)
            return
        parent = self.get(path[:-1])
        if isinstance(parent, dict) and path[-1] in parent:
            # Journal the whole parent: re-adding a deleted key would move it to the end.
            self._record(path[:-1])
            del parent[path[-1]]

    def _record(self, path: Path_) -> None:
        missing = object()
        before = self.get(path, missing)
        existed = before is not missing
        self.entries.append(Replaced(edit=self.index, path=list(path), existed=existed,
                                     before=copy.deepcopy(before) if existed else None))

    def add(self, path: Path_, item: dict[str, Any], *, id_: str | None, also_taken: set[Any] | None = None) -> None:
        """Add `item` to the id-sorted collection at `path`, with `id_` or a content-derived id."""
        items = self.list(path)
        taken = {x.get("id") for x in items if isinstance(x, dict)} | (also_taken or set())
        if id_ is not None:
            if not ID_PATTERN.match(id_):
                self.fail("id", f"id {id_!r} is not 32 lowercase hex characters")
            if id_ in taken:
                self.fail("id", f"id {id_!r} is already used in {'.'.join(map(str, path))}")
        else:
            id_ = content_id(tuple(map(str, path)), item, taken)
        new = {"id": id_, **item}
        # Insert at the sorted position rather than re-sorting, so other items never move.
        at = next((i for i, x in enumerate(items) if isinstance(x, dict) and str(x.get("id", "")) > id_), len(items))
        self.put(path, items[:at] + [new] + items[at:])

    def remove(self, path: Path_, ident: str, *, field: str = "id") -> None:
        self.remove_at(path, self.find_id(path, ident, field))

    def remove_at(self, path: Path_, i: int) -> None:
        items = self.list(path)
        self.put(path, items[:i] + items[i + 1:])


__all__ = [
    "EDIT_TYPES",
    "OPS",
    "AddBenchmarkQuestion",
    "AddColumnSynonyms",
    "AddExampleSql",
    "AddJoinSpec",
    "AddSnippet",
    "AddSqlFunction",
    "AddTextInstruction",
    "ChangeSet",
    "Edit",
    "Journal",
    "ParameterSpec",
    "RemoveBenchmarkQuestion",
    "RemoveColumnSynonyms",
    "RemoveExampleSql",
    "RemoveJoinSpec",
    "RemoveSnippet",
    "RemoveSqlFunction",
    "RemoveTextInstruction",
    "Replaced",
    "SetColumnDescription",
    "SetColumnEntityMatching",
    "SetColumnExclude",
    "SetTableDescription",
    "SetTextInstruction",
    "UpdateExampleSql",
    "SetColumnSynonyms", "UpdateSqlFunction", "UpdateJoinSpec", "UpdateSnippet", "UpdateBenchmarkQuestion",
    "AddSampleQuestion", "UpdateSampleQuestion", "RemoveSampleQuestion",
    "apply_changes",
    "diff_spaces",
    "edit_reference",
    "parse_edit",
    "revert",
    "segments",
]
