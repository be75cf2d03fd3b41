"""Judging without a configured model: the assistant (or the client's model, via MCP sampling)
answers the same prompts, through `pending` and `submit`.

`pending` lists a run's questions still needing an LLM judge's verdict, with the context the
judge would see (question, generated SQL, a result sample, gold SQL). Held-out test questions
are never listed, and a test run is refused outright: the assistant must not see them.
`submit` records the assistant's verdicts as the judge's verdicts (``details.source``
says who judged).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from ..errors import InvalidInput, did_you_mean
from .base import GoldResult, Verdict
from .llm import (
    DEFINITIONS,
    SYSTEM,
    LLMJudge,
    MalformedJudgment,
    estimate_tokens,
    judge_runtime,
    parse_judgment,
    render_table,
    shortcut,
)

TEST = "test"
VISIBLE = ("train", "val")  # splits whose questions may be judged here
GoldLookup = Callable[[str], Any]  # gold SQL -> its executed result (pa.Table) or None


class PendingItem(BaseModel):
    case_id: str
    judge: str
    question: str
    category: str | None = None
    split: str | None = None
    status: str
    generated_sql: str | None = None
    result_sample: str = Field(description="the generated result's first rows as a Markdown table")
    gold_sql: list[str] = Field(default_factory=list, description="acceptable gold queries (train/val questions only)")


class PendingView(BaseModel):
    run_id: str
    rubrics: dict[str, str] = Field(description="judge -> what it checks; answer each item by that rubric")
    instructions: str | None = Field(None, description="the space's text instructions (for follows_instructions)")
    total_pending: int
    items: list[PendingItem]
    decided_by_rule: int = Field(0, description="verdicts recorded now without judgment (e.g. no SQL was generated)")
    how_to_answer: str = ("call judge_submit with verdicts [{case_id, judge, value: true|false, rationale}]; "
                          "value true means the answer passes the judge's rubric")


class Submission(BaseModel):
    case_id: str
    judge: str
    value: bool
    rationale: str = Field(min_length=1)


class SubmitResult(BaseModel):
    run_id: str
    recorded: int
    pending_left: int


def _rubric(name: str) -> str:
    d = DEFINITIONS[name]
    return (d.description + (f"\n{d.criteria.strip()}" if d.criteria.strip() else "")).removeprefix("LLM: ")


def _run_context(store: Any, run_id: str) -> tuple[Any, dict[str, Any], Any]:
    run = store.get_run(run_id)
    if run is None:
        known = [r.run_id for r in store.list_runs(limit=200)]
        raise InvalidInput(f"no run {run_id!r}.{did_you_mean(run_id, known)}", field="run_id")
    if run.split == TEST:
        raise InvalidInput(f"run {run_id!r} is on the held-out test split; its questions cannot be judged here", field="run_id")
    cases = {c.id: c for c in store.get_evalset(run.evalset_hash).cases}
    return run, cases, store.get_space_version(run.space_version, space_key=run.space_key).space


def _judges_for(run: Any, judges: list[str] | None) -> list[str]:
    if judges:
        for j in judges:
            if j not in DEFINITIONS:
                raise InvalidInput(f"{j!r} is not an LLM judge.{did_you_mean(j, DEFINITIONS)}", field="judges")
        return list(judges)
    return [j for j in run.judges if j in DEFINITIONS] or ["answers_question"]


def _open_items(store: Any, run_id: str, judges: list[str] | None, *, record_rules: bool = True,
                splits: Sequence[str] = VISIBLE):
    """(run, space, open (case, result, judge) triples, rule verdict count) of the questions in `splits`."""
    run, cases, space = _run_context(store, run_id)
    names = _judges_for(run, judges)
    verdicts = store.get_verdicts(run_id)
    open_, ruled = [], 0
    for res in store.get_results(run_id):
        case = cases.get(res.case_id)
        if case is None or case.split not in splits:
            continue
        have = {v.judge: v for v in verdicts.get(res.case_id, [])}
        for name in names:
            v = have.get(name)
            if v is not None and v.value is not None:
                continue
            rule = shortcut(DEFINITIONS[name], res.to_answer(), space)
            if rule is not None:
                if record_rules:
                    store.put_verdicts(run_id, res.case_id, [rule])
                    ruled += 1
                continue
            open_.append((case, res, name))
    if ruled:
        _add_judges(store, run, names)
    return run, space, open_, ruled


def _add_judges(store: Any, run: Any, names: list[str]) -> None:
    missing = [n for n in names if n not in run.judges]
    if missing:  # appended: the run's primary judge stays first
        store.update_run(run.run_id, judges=list(run.judges) + missing)


def pending(store: Any, run_id: str, judges: list[str] | None = None, *, limit: int = 10,
            splits: Sequence[str] = VISIBLE) -> PendingView:
    """Questions (of `splits`) of a run still needing an LLM judge's verdict, with their context."""
    if not 1 <= limit <= 100:
        raise InvalidInput(f"limit must be 1..100, got {limit!r}", field="limit")
    run, space, open_, ruled = _open_items(store, run_id, judges, splits=splits)
    items = [
        PendingItem(case_id=case.id, judge=name, question=case.question, category=case.category, split=case.split,
                    status=res.status, generated_sql=res.sql,
                    result_sample=f"(execution failed: {res.error})" if res.error and res.sql else render_table(res.result),
                    gold_sql=list(case.gold_sql))
        for case, res, name in open_[:limit]
    ]
    used = sorted({n for _, _, n in open_} | set(judges or []))
    instructions = space.serialized.instruction_text.strip() if "follows_instructions" in used else None
    return PendingView(run_id=run_id, rubrics={n: _rubric(n) for n in used}, instructions=instructions or None,
                       total_pending=len(open_), items=items, decided_by_rule=ruled)


def submit(store: Any, run_id: str, verdicts: list[Submission], *, source: str = "assistant",
           splits: Sequence[str] = VISIBLE) -> SubmitResult:
    """Record verdicts for a run's questions (of `splits`); all are checked before any is written.

    A question outside `splits` is as unknown as one the run does not hold (same message).
    """
    if not verdicts:
        raise InvalidInput("give at least one verdict", field="verdicts")
    run, cases, _space = _run_context(store, run_id)
    answered = [c for c in store.result_statuses(run_id) if getattr(cases.get(c), "split", None) in splits]
    for i, s in enumerate(verdicts):
        if s.judge not in DEFINITIONS:
            raise InvalidInput(f"verdicts[{i}]: {_short(s.judge)} is not an LLM judge.{did_you_mean(s.judge, DEFINITIONS)}",
                               field=f"verdicts[{i}].judge")
        if s.case_id not in answered:
            raise InvalidInput(f"verdicts[{i}]: no question {_short(s.case_id)} in run {run_id!r}.{did_you_mean(s.case_id, answered)}",
                               field=f"verdicts[{i}].case_id")
    for s in verdicts:
        store.put_verdicts(run_id, s.case_id, [Verdict(judge=s.judge, value=s.value, rationale=s.rationale,
                                                       details={"source": source})])
    _add_judges(store, run, sorted({s.judge for s in verdicts}))
    _, _, left, _ = _open_items(store, run_id, sorted({s.judge for s in verdicts}), record_rules=False, splits=splits)
    return SubmitResult(run_id=run_id, recorded=len(verdicts), pending_left=len(left))


def _short(value: Any, limit: int = 80) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 1] + "…'"


# ---------------------------------------------------------------- MCP sampling
class SamplingRequest(BaseModel):
    run_id: str
    case_id: str
    judge: str
    system: str
    prompt: str
    max_tokens: int
    estimated_tokens: int


def sampling_request(store: Any, run_id: str, judge: str, case_id: str | None = None, *,
                     gold_result: GoldLookup | None = None, max_tokens: int = 400,
                     splits: Sequence[str] = VISIBLE) -> SamplingRequest | None:
    """The prompt for the next pending question of `judge` (or `case_id`), or None when none is pending."""
    run, space, open_, _ = _open_items(store, run_id, [judge], splits=splits)
    if case_id is not None:
        open_ = [o for o in open_ if o[0].id == case_id]
        if not open_:
            raise InvalidInput(f"question {_short(case_id)} has no pending {judge!r} verdict in run {run_id!r}", field="case_id")
    if not open_:
        return None
    case, res, name = open_[0]
    golds = [GoldResult(sql=s, result=gold_result(s) if gold_result else None) for s in case.gold_sql]

    with judge_runtime(store=store):  # few-shot examples from the labels, as for a configured model
        prompt = LLMJudge(DEFINITIONS[name]).prompt_for(case, res.to_answer(), golds, space)
    return SamplingRequest(run_id=run_id, case_id=case.id, judge=name, system=SYSTEM, prompt=prompt, max_tokens=max_tokens,
                           estimated_tokens=estimate_tokens(SYSTEM, prompt) + max_tokens)


def record_sampled(store: Any, request: SamplingRequest, text: str, *, model: str | None = None) -> Verdict:
    """Record the client model's reply to a sampling request as the judge's verdict (an error verdict if malformed)."""
    usage = {"total_tokens": estimate_tokens(request.system, request.prompt, text or ""), "estimated": 1}
    details = {"source": "sampling", "model": model, "usage": usage}
    try:
        value, rationale = parse_judgment(text)
        verdict = Verdict(judge=request.judge, value=value, rationale=rationale, details=details)
    except MalformedJudgment as e:
        verdict = Verdict(judge=request.judge, value=None, rationale=f"judge {request.judge!r} gave an unusable reply",
                          error=str(e), details={**details, "raw": (text or "")[:2000]})
    store.put_verdicts(request.run_id, request.case_id, [verdict])
    run = store.get_run(request.run_id)
    _add_judges(store, run, [request.judge])
    return verdict


__all__ = ["PendingItem", "PendingView", "SamplingRequest", "Submission", "SubmitResult", "pending", "record_sampled",
           "sampling_request", "submit"]
