"""The Genie space model: a lossless pydantic view of Genie's `serialized_space` (version 2).

Genie stores every text field as an *array of strings* (segments joined without separator) and
every collection item carries a 32-hex `id`. Fields this model does not know are kept
(`extra="allow"`) and written back unchanged, fields absent in the input are not emitted, and each
object's keys come back in their input order, so `SerializedSpace.model_validate(doc).to_doc() == doc`
(and `json.dumps` of both is identical) for any document Genie returns.

A document built in code rather than parsed emits what Genie needs: the top-level `version`,
`config`, `data_sources` and `instructions`, plus any field whose value differs from its default
(so appending to a default list is never silently dropped).

Text fields are typed leniently (`list[str] | str`) so a malformed document still loads and
`validate_space` can name every problem instead of failing on the first. Types are otherwise
strict: nothing is coerced (`"exclude": "yes"` is an error naming the field, not `true`), since a
coerced value would be written back changed.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_serializer, model_serializer, model_validator

from ..errors import InvalidInput, did_you_mean

Text = list[str] | str | None
SNIPPET_KINDS = ("filters", "expressions", "measures")


def text(value: Text) -> str:
    """Join a Genie text field (array of segments) into one string.

    >>> text(["SELECT 1 ", "FROM t"])
    'SELECT 1 FROM t'
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "".join(str(v) for v in value)


def new_id() -> str:
    """A fresh 32-hex id in Genie's format."""
    return uuid.uuid4().hex


class _Node(BaseModel):
    """Base for every part of the document: unknown keys kept, unset keys not emitted, key order kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_assignment=False, strict=True)

    # Fields emitted even at their default when the node is built in code (see SerializedSpace).
    _always_emitted: ClassVar[tuple[str, ...]] = ()
    # Input key order, so a parsed document serializes byte-identically (JSON string round trip).
    _key_order: tuple[str, ...] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_key_order(cls, data: Any, handler: Any) -> Any:
        node = handler(data)
        if isinstance(data, dict) and isinstance(node, _Node):
            node._key_order = tuple(data)
            # Pydantic runs a custom __init__ during validation too; a parsed document emits only its own keys.
            node.model_fields_set.difference_update(k for k in node._always_emitted if k not in data)
        return node

    @model_serializer(mode="wrap")
    def _emit_in_key_order(self, handler: Any) -> Any:
        out = handler(self)
        if not isinstance(out, dict) or not self._key_order:
            return out
        return {k: out[k] for k in _merge_order(self._key_order, list(out))}

    def __eq__(self, other: object) -> bool:
        # Content equality: key order and which defaults were spelled out do not matter.
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, _Node)
        return self.__dict__ == other.__dict__ and (self.__pydantic_extra__ or {}) == (other.__pydantic_extra__ or {})

    __hash__ = None  # type: ignore[assignment]

    def to_doc(self) -> dict[str, Any]:
        """This node as a JSON-ready dict (lossless for parsed documents)."""
        _mark_changed(self)
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


def _merge_order(original: tuple[str, ...], current: list[str]) -> list[str]:
    """Keys of `current` in `original` order; a new key goes just before the original key it precedes in `current`.

    >>> _merge_order(("question", "sql"), ["id", "question", "sql", "usage_guidance"])
    ['id', 'question', 'sql', 'usage_guidance']
    """
    present = set(current)
    kept = [k for k in original if k in present]
    new = [k for k in current if k not in set(kept)]
    if not new:
        return kept
    out: list[str] = []
    pending = list(new)
    for k in kept:
        # emit new keys that come before k in the declared/current order
        pos = current.index(k)
        while pending and current.index(pending[0]) < pos:
            out.append(pending.pop(0))
        out.append(k)
    return out + pending


def _mark_changed(node: _Node) -> None:
    """Mark as set every unset field whose value no longer equals its default.

    `exclude_unset` alone would drop a default list that code appended to (or a default
    `Config()` that code filled in); values still equal to the default stay omitted, which keeps
    parsed documents lossless.
    """
    for name, info in type(node).model_fields.items():
        value = getattr(node, name)
        if isinstance(value, _Node):
            _mark_changed(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, _Node):
                    _mark_changed(item)
        if name not in node.model_fields_set and value != info.get_default(call_default_factory=True):
            node.model_fields_set.add(name)


# ---------------------------------------------------------------- config
class SampleQuestion(_Node):
    id: str | None = None
    question: Text = None


class Config(_Node):
    sample_questions: list[SampleQuestion] = Field(default_factory=list)


# ---------------------------------------------------------------- data sources
class ColumnConfig(_Node):
    id: str | None = None
    column_name: str
    description: Text = None
    synonyms: list[str] | str | None = None
    exclude: bool | None = None
    enable_entity_matching: bool | None = None
    enable_format_assistance: bool | None = None


class Table(_Node):
    id: str | None = None
    identifier: str
    description: Text = None
    column_configs: list[ColumnConfig] = Field(default_factory=list)

    @property
    def name(self) -> str:
        """Last part of the three-part identifier (`catalog.schema.table` -> `table`)."""
        return self.identifier.split(".")[-1]

    def column(self, name: str) -> ColumnConfig | None:
        lname = name.lower()
        return next((c for c in self.column_configs if c.column_name.lower() == lname), None)


class MetricView(_Node):
    id: str | None = None
    identifier: str
    description: Text = None
    column_configs: list[ColumnConfig] | None = None


class DataSources(_Node):
    tables: list[Table] = Field(default_factory=list)
    metric_views: list[MetricView] | None = None


# ---------------------------------------------------------------- instructions
class TextInstruction(_Node):
    id: str | None = None
    content: Text = None


class ParameterDefault(_Node):
    values: list[Any] = Field(default_factory=list)


class Parameter(_Node):
    name: str
    type_hint: str | None = None
    description: Text = None
    default_value: ParameterDefault | None = None


class ExampleSql(_Node):
    """An example question→SQL pair (a "trusted asset" when it has parameters)."""

    id: str | None = None
    question: Text = None
    sql: Text = None
    usage_guidance: Text = None
    parameters: list[Parameter] | None = None


class SqlFunction(_Node):
    id: str | None = None
    identifier: str
    description: Text = None


class JoinSide(_Node):
    identifier: str
    alias: str | None = None


class JoinSpec(_Node):
    id: str | None = None
    left: JoinSide
    right: JoinSide
    sql: Text = None
    join_type: str | None = None
    comment: Text = None
    instruction: Text = None

    @property
    def condition(self) -> str:
        """The equality condition, without Genie's `--rt=FROM_RELATIONSHIP_TYPE_...--` marker."""
        parts = self.sql if isinstance(self.sql, list) else [self.sql or ""]
        return " ".join(p for p in parts if p and not p.strip().startswith("--rt=")).strip()

    @property
    def relationship(self) -> str | None:
        parts = self.sql if isinstance(self.sql, list) else [self.sql or ""]
        for p in parts:
            p = (p or "").strip()
            if p.startswith("--rt=FROM_RELATIONSHIP_TYPE_"):
                return p.removeprefix("--rt=FROM_RELATIONSHIP_TYPE_").rstrip("-")
        return None


class Snippet(_Node):
    """A SQL snippet: a filter, expression (dimension) or measure."""

    id: str | None = None
    sql: Text = None
    alias: str | None = None
    display_name: str | None = None
    synonyms: list[str] | str | None = None
    instruction: Text = None
    comment: Text = None


class SqlSnippets(_Node):
    filters: list[Snippet] | None = None
    expressions: list[Snippet] | None = None
    measures: list[Snippet] | None = None


class Instructions(_Node):
    text_instructions: list[TextInstruction] = Field(default_factory=list)
    example_question_sqls: list[ExampleSql] = Field(default_factory=list)
    sql_functions: list[SqlFunction] | None = None
    join_specs: list[JoinSpec] | None = None
    sql_snippets: SqlSnippets | None = None


# ---------------------------------------------------------------- benchmarks
class BenchmarkAnswer(_Node):
    format: str | None = None
    content: Text = None


class BenchmarkQuestion(_Node):
    id: str | None = None
    question: Text = None
    answer: list[BenchmarkAnswer] | None = None

    @property
    def gold_sql(self) -> list[str]:
        return [text(a.content) for a in (self.answer or []) if (a.format or "SQL").upper() == "SQL"]


class Benchmarks(_Node):
    questions: list[BenchmarkQuestion] = Field(default_factory=list)


# ---------------------------------------------------------------- the document
class SerializedSpace(_Node):
    """Genie's `serialized_space` document (version 2)."""

    version: int = 2
    config: Config = Field(default_factory=Config)
    data_sources: DataSources = Field(default_factory=DataSources)
    instructions: Instructions = Field(default_factory=Instructions)
    benchmarks: Benchmarks | None = None

    # Genie expects these keys; a space built in code emits them even at their defaults.
    _always_emitted: ClassVar[tuple[str, ...]] = ("version", "config", "data_sources", "instructions")

    def __init__(self, /, **data: Any) -> None:
        super().__init__(**data)
        self.model_fields_set.update(self._always_emitted)

    # ---- convenient read access (lists are never None here)
    @property
    def tables(self) -> list[Table]:
        return self.data_sources.tables

    def table(self, ref: str) -> Table | None:
        """Find a table by full identifier or by its last part (case-insensitive)."""
        ref = ref.lower().strip("`")
        for t in self.data_sources.tables:
            if t.identifier.lower() == ref or t.name.lower() == ref.split(".")[-1]:
                return t
        return None

    @property
    def examples(self) -> list[ExampleSql]:
        return self.instructions.example_question_sqls

    @property
    def joins(self) -> list[JoinSpec]:
        return self.instructions.join_specs or []

    @property
    def functions(self) -> list[SqlFunction]:
        return self.instructions.sql_functions or []

    @property
    def instruction_text(self) -> str:
        """All general (text) instructions as one string."""
        return "\n".join(text(t.content) for t in self.instructions.text_instructions)

    def snippets(self, kind: str) -> list[Snippet]:
        """`kind` is one of filters, expressions, measures."""
        if kind not in SNIPPET_KINDS:
            raise InvalidInput(f"unknown snippet kind {kind!r}.{did_you_mean(kind, SNIPPET_KINDS)}", field="kind")
        s = self.instructions.sql_snippets
        return (getattr(s, kind) or []) if s else []


class Space(BaseModel):
    """A Genie space: the GenieSpace envelope (title, warehouse, ...) around its serialized document."""

    model_config = ConfigDict(extra="allow", strict=True)

    title: str = "Untitled space"
    description: str | None = None
    space_id: str | None = None
    warehouse_id: str | None = None
    parent_path: str | None = None
    serialized: SerializedSpace = Field(default_factory=SerializedSpace)

    @field_serializer("serialized")
    def _dump_serialized(self, value: SerializedSpace) -> dict[str, Any]:
        # Always the lossless document, so `Space.model_validate_json(s.model_dump_json())` round-trips.
        return value.to_doc()

    @classmethod
    def from_serialized(cls, doc: dict[str, Any] | str, **envelope: Any) -> Space:
        """Build from a `serialized_space` dict or JSON string (as returned by Get Genie space)."""
        import json

        if isinstance(doc, str):
            doc = json.loads(doc)
        return cls(serialized=SerializedSpace.model_validate(doc), **envelope)

    def to_serialized(self) -> dict[str, Any]:
        """The `serialized_space` document as a dict (lossless)."""
        return self.serialized.to_doc()
