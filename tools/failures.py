"""The one failure extractor: a run's questions the space got wrong or refused, as proposers and
the copilot see them (question, gold, what was generated, why it failed).

Gold errors and backend errors are never failures of the space, so nothing chases them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlglot
from pydantic import BaseModel, Field
from sqlglot import exp

from .evalset import EvalSet
from .runner import RunResult, case_dialect
from .space.model import Space, text
from .store import Store

FAILING = ("wrong", "refused")  # outcomes metadata can fix


class Failure(BaseModel):
    """One failing question: question, gold, what was generated, why it failed."""

    case_id: str
    question: str
    gold_sql: list[str]
    dialect: str = "databricks"  # of the gold SQL (defog golds are PostgreSQL)
    category: str | None = None  # the eval set's category
    outcome: str = "wrong"  # wrong (SQL with the wrong result) or refused (no SQL)
    status: str = "COMPLETED"
    generated_sql: str | None = None
    analysis: str | None = None  # failure_analysis category, e.g. MISSING_JOIN
    rationale: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class MetadataItem(BaseModel):
    """A piece of the space's metadata a fix could edit."""

    kind: str
    target: str
    text: str


def relevant_metadata(space: Space, sqls: list[str]) -> list[MetadataItem]:
    """The metadata about the tables and columns these queries touch (what a fix would edit)."""
    tables: set[str] = set()
    columns: set[str] = set()
    owned: dict[str, set[str]] = defaultdict(set)  # table -> columns the SQL qualifies with it
    for sql in sqls:
        if not sql:
            continue
        try:
            tree = sqlglot.parse_one(sql, read="databricks")
        except Exception:  # noqa: BLE001 - unparsable SQL just contributes nothing
            continue
        found = list(tree.find_all(exp.Table))
        tables |= {t.name.lower() for t in found}
        alias = {t.alias_or_name.lower(): t.name.lower() for t in found}
        only = next(iter({t.name.lower() for t in found})) if len({t.name.lower() for t in found}) == 1 else None
        for c in tree.find_all(exp.Column):
            columns.add(c.name.lower())
            owner = alias.get(c.table.lower()) if c.table else only
            if owner:
                owned[owner].add(c.name.lower())
    out: list[MetadataItem] = []
    s = space.serialized
    for t in s.tables:
        if t.name.lower() not in tables:
            continue
        out.append(MetadataItem(kind="table", target=t.identifier, text=text(t.description) or "(no description)"))
        configured = set()
        for c in t.column_configs:
            configured.add(c.column_name.lower())
            if c.column_name.lower() in columns:
                syn = c.synonyms if isinstance(c.synonyms, list) else ([c.synonyms] if c.synonyms else [])
                out.append(MetadataItem(kind="column", target=f"{t.name}.{c.column_name}",
                                        text=(text(c.description) or "(no description)") + (f"; synonyms: {', '.join(syn)}" if syn else "")))
        for col in sorted(owned.get(t.name.lower(), set()) - configured):  # what a fix could describe
            out.append(MetadataItem(kind="column", target=f"{t.name}.{col}", text="(no column config: no description, synonyms or entity matching)"))
    for j in s.joins:
        names = {j.left.identifier.split(".")[-1].lower(), j.right.identifier.split(".")[-1].lower()}
        if names & tables:
            out.append(MetadataItem(kind="join_spec", target=f"{j.left.identifier} ⋈ {j.right.identifier}", text=j.condition))
    for e in s.examples:
        if any(n in text(e.sql).lower() for n in tables):
            out.append(MetadataItem(kind="example_sql", target=e.id or "", text=text(e.question)))
    if s.instructions.text_instructions:
        out.append(MetadataItem(kind="text_instructions", target="space", text=s.instruction_text[:2000]))
    return out



def extract_failures(result: RunResult, evalset: EvalSet, store: Store, *, split: str | None = "train") -> list[Failure]:
    """The failing questions of `result` (of one `split`; None: every split), in eval-set order."""
    verdicts = store.get_verdicts(result.run_id)
    cases = {c.id: c for c in evalset.cases}
    out: list[Failure] = []
    for row in result.rows:
        if row.outcome not in FAILING or (split is not None and row.split != split) or row.case_id not in cases:
            continue
        case = cases[row.case_id]
        fa = next((v for v in verdicts.get(row.case_id, []) if v.judge == "failure_analysis"), None)
        out.append(Failure(
            case_id=case.id, question=case.question, gold_sql=case.gold_sql, dialect=case_dialect(case) or "databricks",
            category=case.category, outcome=row.outcome or "wrong", status=row.status, generated_sql=row.sql,
            analysis=str(fa.value) if fa and fa.value is not None else None,
            rationale=fa.rationale if fa else (row.error or row.gold_error),
            details=fa.details if fa else {},
        ))
    return out


__all__ = ["FAILING", "Failure", "MetadataItem", "extract_failures", "relevant_metadata"]
