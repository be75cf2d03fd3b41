"""A run as JUnit XML, for CI systems: one test case per question, one test suite per split.

Outcomes (tools/scoring.py) map onto JUnit's four states: ``right`` passes; ``wrong`` and
``refused`` are failures (what metadata can fix); ``error`` (the backend gave no usable answer,
or the primary judge gave no verdict) is an error; ``gold_error`` (the eval set's own query does
not run) and questions not asked are skipped, as they count in no rate. Each suite carries the
split's accuracy, wrong-answer and refusal rates as properties.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from .runner import CaseRow, RunResult
from .scoring import SPLIT_ORDER, score

# XML 1.0 has no way to write these characters, escaped or not
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: object, limit: int = 4000) -> str:
    text = _NOT_XML.sub("?", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _why(row: CaseRow, primary: str | None) -> str:
    """One line saying why a question did not pass."""
    verdict = row.verdicts.get(primary) if primary else None
    if row.outcome == "wrong" and row.expect == "refusal":
        return "answered with SQL where a refusal was expected"
    if row.outcome == "refused":
        reason = verdict.rationale if verdict and verdict.rationale else row.error
        return f"refused ({row.status})" + (f": {reason}" if reason else "")
    if row.outcome == "error":
        return row.error or (verdict.error if verdict and verdict.error else f"no usable answer ({row.status})")
    if row.outcome == "gold_error":
        return f"the gold SQL does not run: {row.gold_error}"
    if row.outcome is None:
        return "not asked"
    return verdict.rationale if verdict else row.outcome


def _case(suite: ET.Element, row: CaseRow, split: str, primary: str | None) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"chaos-llama.{split}.{row.category or 'uncategorized'}",
                         name=_text(f"{row.case_id}: {row.question}", 500), time=f"{row.latency_s or 0:.3f}")
    why = _text(_why(row, primary), 1000)
    if row.outcome in ("wrong", "refused"):
        ET.SubElement(case, "failure", type=row.outcome, message=why).text = _text(row.sql or why)
    elif row.outcome == "error":
        ET.SubElement(case, "error", type=row.status, message=why).text = _text(row.error or why)
    elif row.outcome in ("gold_error", None):
        ET.SubElement(case, "skipped", message=why)
    if row.sql:
        ET.SubElement(case, "system-out").text = _text(row.sql)


def junit_xml(result: RunResult, *, name: str | None = None, splits: Sequence[str] | None = None) -> str:
    """The run as a JUnit XML document (`name`: the suites' prefix, default the eval set's name)."""
    name = name or result.evalset
    primary = result.judges[0] if result.judges else None
    by_split: dict[str, list[CaseRow]] = {}
    for row in result.rows:
        by_split.setdefault(row.split or "all", []).append(row)
    root = ET.Element("testsuites", name=_text(name, 500))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for split in sorted(by_split, key=lambda s: (SPLIT_ORDER.get(s, 9), s)):
        if splits is not None and split not in splits:
            continue
        rows = by_split[split]
        sc = score(rows)
        counts = {"tests": len(rows), "failures": sc.wrong + sc.refused, "errors": sc.error, "skipped": sc.gold_error + sc.pending,
                  "time": sum(r.latency_s or 0 for r in rows)}
        suite = ET.SubElement(root, "testsuite", name=_text(f"{name} / {split}", 500),
                              timestamp=(result.started_at or "")[:19], **{k: str(v) if k != "time" else f"{v:.3f}"
                                                                          for k, v in counts.items()})
        props = ET.SubElement(suite, "properties")
        for key, value in (("run_id", result.run_id), ("space_version", result.space_version), ("backend", result.backend),
                           ("judge", primary or ""), ("accuracy", sc.accuracy), ("wrong_rate", sc.wrong_rate),
                           ("refusal_rate", sc.refusal_rate), ("scored", sc.scored)):
            ET.SubElement(props, "property", name=key, value="" if value is None else _text(value, 500))
        for row in rows:
            _case(suite, row, split, primary)
        for k, v in counts.items():
            totals[k] += v
    root.attrib.update({k: str(v) if k != "time" else f"{v:.3f}" for k, v in totals.items()})
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
