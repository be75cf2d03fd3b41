"""Eval sets: questions with gold SQL, their formats (YAML, CSV, JSONL) and seeded stable splits.

File formats (all load to the same `EvalSet`; loading is all-or-nothing):

YAML — a mapping ``{name, description?, questions: [...]}`` or a bare list of questions::

    name: retail
    questions:
      - id: rev_q3
        question: What was revenue in Q3?
        gold_sql: SELECT SUM(amount) FROM main.retail.orders WHERE quarter = 3
        category: aggregation
        tags: [revenue, time]
        fields: {source_sheet: Q3 review}   # optional: any other named text the case carries
        family: revenue_quarter  # optional: the query up to wording and values (inferred if absent)
        split: test            # optional: fixed here, kept by assign_splits
      - id: margin_by_employee
        question: Profit margin per sales rep last year?
        expect: refusal        # the data cannot answer: the right outcome is a refusal
        reason: no employee or sales-rep data
      - id: top_customers
        question: Top 5 customers by spend
        gold_sql:              # several acceptable golds: any match is correct
          - SELECT ...
          - SELECT ...

CSV — header ``id, question, gold_sql, category, tags, split, order_matters, notes`` (plus
``family, expect, reason`` where used, and ``fields`` as a JSON object; only
``question`` and ``gold_sql`` are required). ``tags`` is separated by ``;`` or ``,``. Several golds
go in one ``gold_sql`` cell either as a JSON list (``["SELECT 1", "SELECT 2"]``) or separated by a
line holding only ``;;``. ``order_matters`` accepts true/false/yes/no/1/0 (empty: decided later).

JSONL — one JSON object per line with the same fields as YAML; blank lines are skipped.

A question without ``id`` gets ``q_<8 hex of sha256(question)>``: stable, so its split is stable.
Split names also accept the aliases training, validation/valid/dev and holdout.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from .errors import InvalidConfig, InvalidEvalSet, did_you_mean
from .families import Moved, grouped_splits, infer_families, unit
from .space.model import text

if TYPE_CHECKING:  # the space model is only needed to import benchmarks
    from .space.model import Space

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
_SPLIT_ALIASES = {"training": "train", "validation": "val", "valid": "val", "dev": "val", "holdout": "test"}


Expect = Literal["answer", "refusal"]
EXPECTS: tuple[Expect, ...] = ("answer", "refusal")


class EvalCase(BaseModel):
    """One evaluation question. `gold_sql` lists every acceptable gold query (any match is correct).

    A case whose right outcome is a refusal (the data cannot answer it) has `expect="refusal"`,
    no gold SQL and optionally the `reason`; any SQL answer to it is wrong.
    `family` names the query the question asks up to wording and values; cases of one family
    always share a split (`evalset freeze`), so a held-out score measures more than paraphrase.
    """

    id: str
    question: str
    gold_sql: list[str] = Field(default_factory=list)
    expect: Expect = "answer"
    reason: str | None = None  # why the right outcome is a refusal
    family: str | None = None
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    split: Split | None = None  # fixed by the file; otherwise assigned by `assign_splits`
    order_matters: bool | None = None  # None: decided from the gold SQL and the question
    notes: str | None = None
    # defog-style acceptable column alternatives: each group is a set of columns of which any
    # non-empty subset is acceptable in the answer.
    column_alternatives: list[list[str]] = Field(default_factory=list)
    # Other named text the case came with (an importer's extra columns: defog's full_instructions,
    # k_shot_prompt, ...); kept and written back, never used for judging.
    fields: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _golds_fit_expectation(self) -> "EvalCase":
        if self.expect == "answer" and not self.gold_sql:
            raise ValueError(f"case {self.id!r} expects an answer but has no gold_sql")
        if self.expect == "refusal" and self.gold_sql:
            raise ValueError(f"case {self.id!r} expects a refusal and must not have gold_sql")
        return self

    @property
    def expects_refusal(self) -> bool:
        return self.expect == "refusal"


class EvalSet(BaseModel):
    name: str
    cases: list[EvalCase]
    source: str | None = None
    description: str | None = None

    def split(self, name: Split) -> list[EvalCase]:
        return [c for c in self.cases if c.split == name]


FIELDS = tuple(EvalCase.model_fields)
_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


# ---------------------------------------------------------------- loading
class _Problems:
    """Collects every problem in a file so one error reports them all (nothing is half-loaded)."""

    def __init__(self, source: str):
        self.source = source
        self.items: list[tuple[int | None, str | None, str]] = []

    def add(self, line: int | None, field: str | None, message: str) -> None:
        self.items.append((line, field, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        line, field, message = self.items[0]
        rest = self.items[1:]
        if rest:
            more = "\n".join(
                "  " + ":".join(str(p) for p in (self.source, ln) if p is not None) + f": {msg}"
                for ln, _, msg in rest[:20]
            )
            extra = f" more ({len(rest) - 20} not shown)" if len(rest) > 20 else ""
            message += f"\n{len(rest)} more problem(s){extra}:\n{more}"
        raise InvalidEvalSet(message, source=self.source, line=line, field=field)


def _derived_id(question: str) -> str:
    return "q_" + hashlib.sha256(question.strip().encode()).hexdigest()[:8]


def _norm_split(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    s = str(value).strip().lower()
    return _SPLIT_ALIASES.get(s, s)


_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def _case_from_raw(
    raw: Any,
    *,
    where: str,
    problems: _Problems,
    line: int | None,
    field_lines: Mapping[str, int] | None = None,
) -> EvalCase | None:
    """Check one question's raw fields and build the case; problems are collected, not raised."""
    field_lines = field_lines or {}

    def bad(field: str, message: str) -> None:
        problems.add(field_lines.get(field, line), field, f"{where}: field '{field}' {message}")

    if not isinstance(raw, Mapping):
        problems.add(line, None, f"{where}: expected a mapping of fields (id, question, gold_sql, ...), got {type(raw).__name__} {_short(raw)}")
        return None
    ok = True
    for key in raw:
        if key not in FIELDS:
            bad(str(key), f"is unknown.{did_you_mean(str(key), FIELDS)}")
            ok = False

    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        bad("question", f"is {'missing' if question is None else 'empty' if isinstance(question, str) else _short(question)}; expected the question text")
        ok = False

    expect = raw.get("expect")
    if expect is None or (isinstance(expect, str) and not expect.strip()):
        expect = "answer"
    elif isinstance(expect, str) and expect.strip().lower() in EXPECTS:
        expect = expect.strip().lower()
    else:
        bad("expect", f"is {_short(expect)}; expected 'answer' or 'refusal'.{did_you_mean(str(expect), EXPECTS)}")
        ok = False
        expect = "answer"

    gold = raw.get("gold_sql")
    golds: list[str] | None = None
    if expect == "refusal":
        if gold not in (None, "", []):
            bad("gold_sql", "is given, but the case expects a refusal; a refusal case has no gold SQL (any SQL answer is wrong)")
        else:
            golds = []
    elif gold is None:
        bad("gold_sql", "is missing; expected a SQL string or a list of them (or `expect: refusal` when the data cannot answer)")
    elif isinstance(gold, str):
        golds = [gold.strip()]
    elif isinstance(gold, list) and all(isinstance(g, str) for g in gold):
        golds = [g.strip() for g in gold]
    else:
        bad("gold_sql", f"is {_short(gold)}; expected a SQL string or a list of them")
    if golds is not None and expect == "answer" and (not golds or not all(golds)):
        bad("gold_sql", "is empty; expected a SQL string or a list of them")
        golds = None
    ok = ok and golds is not None

    cid = raw.get("id")
    if cid is None or (isinstance(cid, str) and not cid.strip()):
        cid = _derived_id(question) if isinstance(question, str) and question.strip() else None
    elif isinstance(cid, (str, int)) and not isinstance(cid, bool):
        cid = str(cid).strip()
    else:
        bad("id", f"is {_short(cid)}; expected a string")
        ok = False

    category = raw.get("category")
    if category is not None and not isinstance(category, (str, int)):
        bad("category", f"is {_short(category)}; expected a string")
        ok = False
    category = str(category).strip() or None if category is not None else None

    tags = raw.get("tags")
    if tags is None:
        tags = []
    elif isinstance(tags, str):
        tags = [t.strip() for t in re.split(r"[;,]", tags) if t.strip()]
    elif isinstance(tags, list) and all(isinstance(t, (str, int)) for t in tags):
        tags = [str(t).strip() for t in tags if str(t).strip()]
    else:
        bad("tags", f"is {_short(tags)}; expected a list of strings or a ';'/','-separated string")
        ok = False

    split = _norm_split(raw.get("split"))
    if split is not None and split not in SPLITS:
        bad("split", f"has unknown value {raw.get('split')!r}; expected one of train, val, test.{did_you_mean(split, SPLITS)}")
        ok = False

    order = raw.get("order_matters")
    if isinstance(order, str):
        s = order.strip().lower()
        order = None if not s else True if s in _TRUE else False if s in _FALSE else order
    if order is not None and not isinstance(order, bool):
        bad("order_matters", f"is {_short(order)}; expected true or false")
        ok = False

    notes = raw.get("notes")
    if notes is not None and not isinstance(notes, str):
        bad("notes", f"is {_short(notes)}; expected a string")
        ok = False

    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        bad("reason", f"is {_short(reason)}; expected a string (why the right outcome is a refusal)")
        ok = False
    elif reason and expect != "refusal":
        bad("reason", "is only for cases with `expect: refusal`")
        ok = False

    family = raw.get("family")
    if family is not None and not (isinstance(family, (str, int)) and not isinstance(family, bool)):
        bad("family", f"is {_short(family)}; expected a string naming the question's family")
        ok = False
    family = (str(family).strip() or None) if family is not None else None

    alts = raw.get("column_alternatives") or []
    if not (isinstance(alts, list) and all(isinstance(g, list) and all(isinstance(c, str) for c in g) for g in alts)):
        bad("column_alternatives", f"is {_short(alts)}; expected a list of lists of column names")
        ok = False

    fields = raw.get("fields") or {}
    if isinstance(fields, Mapping) and all(isinstance(k, str) for k in fields):
        fields = {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict)) else str(v)
                  for k, v in fields.items() if v is not None}
    else:
        bad("fields", f"is {_short(fields)}; expected a mapping of names to text")
        ok = False

    if not ok:
        return None
    return EvalCase(
        id=cid,
        question=question.strip(),
        gold_sql=golds,
        expect=expect,
        reason=reason or None,
        family=family,
        category=category,
        tags=tags,
        split=split,
        order_matters=order,
        notes=notes or None,
        column_alternatives=alts,
        fields=fields,
    )


def _short(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def _check_duplicates(cases: list[tuple[EvalCase, int | None]], problems: _Problems, label: str) -> None:
    first: dict[str, int | None] = {}
    for case, line in cases:
        if case.id in first:
            at = f" (first at {label} {first[case.id]})" if first[case.id] is not None else ""
            problems.add(line, "id", f"duplicate question id {case.id!r}{at}; ids must be unique")
        else:
            first[case.id] = line


def _load_yaml(text: str, source: str, default_name: str) -> EvalSet:
    problems = _Problems(source)
    # compose first: nodes keep start marks, so each problem can name its line
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InvalidEvalSet(f"not valid YAML: {getattr(e, 'problem', None) or e}", source=source, line=mark.line + 1 if mark else None) from None

    def key_node(mapping: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
        return None

    name, description, items_node, items = default_name, None, root, data
    if isinstance(data, dict):
        for key in data:
            if key not in ("name", "description", "questions"):
                kv = key_node(root, str(key))
                problems.add(kv[0].start_mark.line + 1 if kv else None, str(key), f"unknown top-level key {key!r}; expected name, description, questions.{did_you_mean(str(key), ['name', 'description', 'questions'])}")
        name = str(data.get("name") or default_name)
        description = data.get("description")
        kv = key_node(root, "questions")
        if kv is None:
            problems.add(1, "questions", "missing 'questions'; expected a list of questions")
            problems.raise_if_any()
        items_node, items = kv[1], data["questions"]
    elif data is None:
        problems.add(1, "questions", "file is empty; expected a mapping with 'questions' or a list of questions")
        problems.raise_if_any()
    if not isinstance(items, list):
        problems.add(items_node.start_mark.line + 1, "questions", f"expected a list of questions, got {type(items).__name__}")
        problems.raise_if_any()

    cases: list[tuple[EvalCase, int]] = []
    for i, (raw, node) in enumerate(zip(items, items_node.value)):
        line = node.start_mark.line + 1
        field_lines: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            field_lines = {k.value: v.start_mark.line + 1 for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            # an unknown key is best pointed at by the key itself
            field_lines.update({k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.value not in FIELDS})
        qid = raw.get("id") if isinstance(raw, dict) else None
        where = f"question {qid!r}" if qid else f"question #{i + 1}"
        case = _case_from_raw(raw, where=where, problems=problems, line=line, field_lines=field_lines)
        if case is not None:
            cases.append((case, line))
    _check_duplicates(cases, problems, "line")
    problems.raise_if_any()
    return EvalSet(name=name, description=description, cases=[c for c, _ in cases], source=source)


def _split_golds(cell: str) -> list[str] | Any:
    s = cell.strip()
    if s.startswith("["):
        try:
            return json.loads(s)
        except json.JSONDecodeError:
            return s  # reported as given: a SQL string starting with '[' is not valid anyway
    parts = re.split(r"(?m)^[ \t]*;;[ \t]*$", cell)
    return [p.strip() for p in parts] if len(parts) > 1 else cell


def _load_csv(text: str, source: str, default_name: str) -> EvalSet:
    problems = _Problems(source)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidEvalSet("file is empty; expected a header row with at least question, gold_sql", source=source, line=1) from None
    header = [h.strip().lower() for h in header]
    if "query" in header and "db_name" in header and "gold_sql" not in header:
        raise InvalidEvalSet(
            "this looks like a defog questions CSV (columns db_name, query); load it with "
            "chaos_llama.tools.data.defog.load_defog_questions",
            source=source,
            line=1,
        )
    for h in header:
        if h not in FIELDS:
            problems.add(1, h, f"unknown column {h!r} in the header; expected some of {', '.join(FIELDS)}.{did_you_mean(h, FIELDS)}")
    for required in ("question", "gold_sql"):
        if required not in header:
            problems.add(1, required, f"the header lacks the column {required!r}; got {', '.join(header)}")
    problems.raise_if_any()

    cases: list[tuple[EvalCase, int]] = []
    start = reader.line_num + 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.add(line, None, f"row has {len(row)} cells; the header has {len(header)}")
                continue
            raw: dict[str, Any] = {h: (v if v.strip() else None) for h, v in zip(header, row)}
            if raw.get("gold_sql"):
                raw["gold_sql"] = _split_golds(raw["gold_sql"])
            for key in ("column_alternatives", "fields"):
                if raw.get(key):
                    try:
                        raw[key] = json.loads(raw[key])
                    except json.JSONDecodeError:
                        pass  # reported by the field check with the bad value quoted
            where = f"row {line}" + (f" (question {raw['id']!r})" if raw.get("id") else "")
            case = _case_from_raw(raw, where=where, problems=problems, line=line)
            if case is not None:
                cases.append((case, line))
    except csv.Error as e:
        problems.add(reader.line_num, None, f"malformed CSV: {e}")
    _check_duplicates(cases, problems, "line")
    problems.raise_if_any()
    return EvalSet(name=default_name, cases=[c for c, _ in cases], source=source)


def _load_jsonl(text: str, source: str, default_name: str) -> EvalSet:
    problems = _Problems(source)
    cases: list[tuple[EvalCase, int]] = []
    for n, line_text in enumerate(text.splitlines(), start=1):
        if not line_text.strip():
            continue
        try:
            raw = json.loads(line_text)
        except json.JSONDecodeError as e:
            problems.add(n, None, f"not valid JSON ({e.msg} at column {e.colno}); expected one JSON object per line")
            continue
        qid = raw.get("id") if isinstance(raw, dict) else None
        case = _case_from_raw(raw, where=f"question {qid!r}" if qid else "question", problems=problems, line=n)
        if case is not None:
            cases.append((case, n))
    _check_duplicates(cases, problems, "line")
    problems.raise_if_any()
    return EvalSet(name=default_name, cases=[c for c, _ in cases], source=source)


def load_evalset(path: str | Path, *, format: str | None = None) -> EvalSet:
    """Load an eval set from YAML, CSV or JSONL (chosen by extension unless `format` is given).

    Raises InvalidEvalSet naming the file, line and field of every problem; nothing is half-loaded.
    """
    path = Path(path)
    source = path.name if path.parent == Path(".") else str(path)
    fmt = format or _FORMATS.get(path.suffix.lower())
    if fmt not in ("yaml", "csv", "jsonl"):
        raise InvalidEvalSet(
            f"unknown eval-set format {path.suffix or format!r}; expected .yaml/.yml, .csv or .jsonl."
            + did_you_mean((format or path.suffix).lstrip("."), ["yaml", "csv", "jsonl"]),
            source=source,
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets often write a BOM
    except FileNotFoundError:
        raise InvalidEvalSet("file not found", source=source) from None
    except UnicodeDecodeError as e:
        raise InvalidEvalSet(f"not UTF-8 text ({e.reason} at byte {e.start})", source=source) from None
    loader = {"yaml": _load_yaml, "csv": _load_csv, "jsonl": _load_jsonl}[fmt]
    evalset = loader(text, source, path.stem)
    if not evalset.cases:
        raise InvalidEvalSet("no questions found; expected at least one", source=source)
    return evalset


# ---------------------------------------------------------------- saving
def _case_doc(case: EvalCase) -> dict[str, Any]:
    """A case as a plain dict: defaults dropped, a single gold written as a string."""
    doc = case.model_dump(exclude_defaults=True)
    doc["id"], doc["question"] = case.id, case.question
    if case.gold_sql:
        doc["gold_sql"] = case.gold_sql[0] if len(case.gold_sql) == 1 else list(case.gold_sql)
    return {k: doc[k] for k in FIELDS if k in doc}


def _yaml_dumper():
    class Dumper(yaml.SafeDumper):
        pass

    def str_rep(dumper: yaml.SafeDumper, value: str):
        style = "|" if "\n" in value else None
        if style:  # block scalars cannot keep trailing spaces on a line; keep them readable anyway
            value = "\n".join(line.rstrip() for line in value.split("\n"))
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, str_rep)
    return Dumper


def evalset_to_yaml(evalset: EvalSet) -> str:
    doc: dict[str, Any] = {"name": evalset.name}
    if evalset.description:
        doc["description"] = evalset.description
    doc["questions"] = [_case_doc(c) for c in evalset.cases]
    return yaml.dump(doc, Dumper=_yaml_dumper(), sort_keys=False, allow_unicode=True, width=100)


def save_evalset(evalset: EvalSet, path: str | Path, *, format: str | None = None) -> Path:
    """Write an eval set as YAML, CSV or JSONL (by extension); `load_evalset` reads it back equal."""
    path = Path(path)
    fmt = format or _FORMATS.get(path.suffix.lower())
    if fmt not in ("yaml", "csv", "jsonl"):
        raise InvalidConfig(f"unknown eval-set format {path.suffix!r}; expected .yaml, .csv or .jsonl", source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "yaml":
        text = evalset_to_yaml(evalset)
    elif fmt == "jsonl":
        text = "".join(json.dumps(_case_doc(c), ensure_ascii=False) + "\n" for c in evalset.cases)
    else:
        buf = io.StringIO()
        cols = ["id", "question", "gold_sql", "category", "tags", "split", "order_matters", "notes"]
        cols += [f for f in ("family", "expect", "reason") if any(getattr(c, f) not in (None, "answer") for c in evalset.cases)]
        if any(c.column_alternatives for c in evalset.cases):
            cols.append("column_alternatives")
        if any(c.fields for c in evalset.cases):
            cols.append("fields")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for c in evalset.cases:
            w.writerow([
                c.id,
                c.question,
                c.gold_sql[0] if len(c.gold_sql) == 1 else json.dumps(c.gold_sql, ensure_ascii=False),
                c.category or "",
                ";".join(c.tags),
                c.split or "",
                "" if c.order_matters is None else str(c.order_matters).lower(),
                c.notes or "",
            ] + [getattr(c, f) or "" for f in ("family", "expect", "reason") if f in cols]
              + ([json.dumps(c.column_alternatives)] if "column_alternatives" in cols else [])
              + ([json.dumps(c.fields, ensure_ascii=False) if c.fields else ""] if "fields" in cols else []))
        text = buf.getvalue()
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- benchmarks, hashing
def evalset_from_benchmarks(space: Space, *, name: str | None = None) -> EvalSet:
    """Import a Genie space's benchmark questions (question + SQL answers) as eval cases.

    Benchmarks without a SQL answer cannot be judged by execution and are skipped.
    """

    bench = space.serialized.benchmarks
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for bq in bench.questions if bench else []:
        question, golds = text(bq.question).strip(), [g.strip() for g in bq.gold_sql if g.strip()]
        if not question or not golds:
            continue
        cid = bq.id or _derived_id(question)
        if cid in seen:  # Genie ids are unique; guard hand-edited documents anyway
            cid = f"{cid}_{len(seen)}"
        seen.add(cid)
        cases.append(EvalCase(id=cid, question=question, gold_sql=golds, tags=["benchmark"]))
    return EvalSet(
        name=name or f"{space.title} benchmarks",
        cases=cases,
        source=f"space:{space.space_id}" if space.space_id else "space benchmarks",
    )


_LATER_FIELDS = {"expect": "answer", "reason": None, "family": None, "fields": {}}  # added later: left out at their defaults


def _hash_doc(case: EvalCase) -> dict[str, Any]:
    """A case's hashed content; fields added later count only when set, so old hashes stay valid."""
    doc = case.model_dump(mode="json")
    for k, default in _LATER_FIELDS.items():
        if doc.get(k) == default:
            doc.pop(k, None)
    return doc


def evalset_hash(evalset: EvalSet) -> str:
    """Content hash of the name and cases (not where it was loaded from), 64 hex."""
    doc = {"name": evalset.name, "cases": [_hash_doc(c) for c in evalset.cases]}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------- splits
def assign_splits(evalset: EvalSet, *, seed: int | str = 0, ratios: Sequence[float] = (0.6, 0.2, 0.2)) -> EvalSet:
    """Give every case without a fixed split one of train/val/test, seeded, stable and by family.

    A case joins the split its family already has in the file; otherwise its family's split
    depends only on (seed, family): adding or removing other questions never moves it, and a
    family is never split. Thresholds are the same for every category, so each category is split
    in the given ratios in expectation. Splits already set in the file are kept (`freeze` writes
    exactly stratified, family-grouped splits into the file).

    >>> es = EvalSet(name="x", cases=[EvalCase(id="a", question="q", gold_sql=["SELECT 1"])])
    >>> assign_splits(es).cases[0].split in SPLITS
    True
    """
    ratios = _check_ratios(ratios)
    if all(c.split for c in evalset.cases):
        return evalset
    families = infer_families(evalset.cases)
    fixed: dict[str, str] = {}
    for c in evalset.cases:
        if c.split:
            fixed.setdefault(families[c.id], c.split)
    cut_train, cut_val = ratios[0], ratios[0] + ratios[1]
    cases = []
    for c in evalset.cases:
        if c.split is None:
            fam = families[c.id]
            u = unit(seed, fam)
            c = c.model_copy(update={"split": fixed.get(fam) or ("train" if u < cut_train else "val" if u < cut_val else "test")})
        cases.append(c)
    return evalset.model_copy(update={"cases": cases})


def _check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise InvalidConfig(f"split ratios {ratios!r} must be three non-negative numbers (train, val, test) summing to 1", field="ratios")
    return ratios  # type: ignore[return-value]


def freeze_splits(evalset: EvalSet, *, seed: int | str = 0, ratios: Sequence[float] = (0.6, 0.2, 0.2)) -> tuple[EvalSet, list[Moved]]:
    """Family-grouped, stratified splits for every case, to be written into the file (`evalset freeze`).

    A family is never split: cases keep their split unless their family leaked across splits,
    then the family moves wholly to its majority split (the moves are returned, to be said);
    families without a split are dealt per category in the given ratios (see
    `families.grouped_splits`). Written to the file, the splits are fixed data from then on.
    """
    chosen, moved = grouped_splits(evalset.cases, seed=seed, ratios=_check_ratios(ratios))
    return evalset.model_copy(update={"cases": [c.model_copy(update={"split": chosen[c.id]}) for c in evalset.cases]}), moved


def balanced_splits(evalset: EvalSet, *, seed: int | str = 0, ratios: Sequence[float] = (0.6, 0.2, 0.2)) -> EvalSet:
    """`freeze_splits` without the report of moves."""
    return freeze_splits(evalset, seed=seed, ratios=ratios)[0]


def split_counts(evalset: EvalSet, *, by_category: bool = False) -> dict[str, Any]:
    """Number of cases per split (`unassigned` for none); with `by_category`, per category too.

    Returns ``{"train": n, "val": n, "test": n, "unassigned": n}`` and, if asked,
    ``"by_category": {category: {split: n}}``.
    """
    counts: dict[str, Any] = {s: 0 for s in SPLITS} | {"unassigned": 0}
    per_cat: dict[str, dict[str, int]] = defaultdict(lambda: {s: 0 for s in SPLITS} | {"unassigned": 0})
    for c in evalset.cases:
        key = c.split or "unassigned"
        counts[key] += 1
        per_cat[c.category or "uncategorized"][key] += 1
    if by_category:
        counts["by_category"] = dict(sorted(per_cat.items()))
    return counts


def select_cases(evalset: EvalSet, split: str | None = None, ids: Iterable[str] | None = None) -> list[EvalCase]:
    """The cases of one split (all if None) and/or with the given ids, in file order."""
    cases = evalset.cases
    if split is not None:
        s = _norm_split(split)
        if s not in SPLITS:
            raise InvalidConfig(f"unknown split {split!r}; expected one of train, val, test.{did_you_mean(str(s), SPLITS)}", field="split")
        cases = [c for c in cases if c.split == s]
    if ids is not None:
        wanted = set(ids)
        known = {c.id for c in evalset.cases}
        missing = sorted(wanted - known)
        if missing:
            raise InvalidConfig(f"unknown question id {missing[0]!r}.{did_you_mean(missing[0], known)}", field="ids")
        cases = [c for c in cases if c.id in wanted]
    return cases
