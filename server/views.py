"""What the MCP tools show the assistant: small views built from the copilot's results.

The copilot (`tools/copilot.py`) returns domain results (revisions, run results, paired
comparisons, failures); this module shapes them for an assistant's context: per-question detail
for train only, aggregates for val, aggregates per large-enough category for the final test, and
every echoed input cut short. Nothing here computes a score: outcomes and comparisons come from
`tools/scoring.py`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..tools.copilot import TEST, TRAIN, VAL, Copilot, EvalRuns, FinalTest, Preview
from ..tools.evalset import split_counts
from ..tools.failures import Failure, MetadataItem, relevant_metadata
from ..tools.report import render_markdown
from ..tools.scoring import Paired, Score, breakdown, score
from ..tools.space.io import space_to_yaml
from ..tools.space.model import Space, text
from ..tools.store import Revision
from .errors import clip

COMPACT_OVER_CHARS = 30_000  # a space YAML bigger than this is summarized by space_get unless asked
MIN_CATEGORY_SIZE = 3  # test aggregates per category only for categories this big (no single-question leak)




# ---------------------------------------------------------------- space
class VersionInfo(BaseModel):
    revision: int = Field(description="history position; increases with every apply and rollback")
    version_id: str = Field(description="content hash of the space at this revision")
    parent_revision: int | None = None
    kind: Literal["initial", "apply", "rollback"]
    message: str | None = None
    author: str | None = None
    created_at: str

    @classmethod
    def of(cls, r: Revision) -> VersionInfo:
        return cls(revision=r.revision, version_id=r.version_id, parent_revision=r.parent_revision, kind=r.kind,
                   message=clip(r.message, 1000), author=r.author, created_at=r.created_at)


class TableSummary(BaseModel):
    identifier: str
    description: str | None = None
    columns_configured: int
    columns_described: int
    synonyms: int


class SpaceSummary(BaseModel):
    title: str
    tables: list[TableSummary]
    text_instructions: int
    example_sqls: int
    sql_functions: int
    join_specs: int
    snippets: int
    sample_questions: int


class SpaceView(BaseModel):
    revision: int
    version_id: str
    summary: SpaceSummary
    yaml: str | None = Field(None, description="the full space as YAML (omitted for big spaces unless asked)")
    compact: bool = False


class ApplyResult(BaseModel):
    applied: bool
    version: VersionInfo | None = None
    note: str


class HistoryView(BaseModel):
    head: VersionInfo
    versions: list[VersionInfo]


class DiffView(BaseModel):
    a: VersionInfo
    b: VersionInfo
    diff: str


def summarize(space: Space) -> SpaceSummary:
    s = space.serialized
    tables = [TableSummary(identifier=t.identifier, description=clip(text(t.description) or None, 300),
                           columns_configured=len(t.column_configs),
                           columns_described=sum(1 for c in t.column_configs if text(c.description)),
                           synonyms=sum(len(c.synonyms or []) if isinstance(c.synonyms, list) else int(bool(c.synonyms))
                                        for c in t.column_configs))
              for t in s.tables]
    snippets = s.instructions.sql_snippets
    n_snip = sum(len(getattr(snippets, k) or []) for k in ("filters", "expressions", "measures")) if snippets else 0
    return SpaceSummary(title=space.title, tables=tables, text_instructions=len(s.instructions.text_instructions),
                        example_sqls=len(s.examples), sql_functions=len(s.functions), join_specs=len(s.joins),
                        snippets=n_snip, sample_questions=len(s.config.sample_questions))


def space_view(cp: Copilot, full: bool | None) -> SpaceView:
    head = cp.head()
    space = cp.visible_space(cp.space_at(head))
    text_ = space_to_yaml(space)
    compact = (len(text_) > COMPACT_OVER_CHARS) if full is None else not full
    return SpaceView(revision=head.revision, version_id=head.version_id, summary=summarize(space),
                     yaml=None if compact else text_, compact=compact)


def apply_result(revision: Revision | None) -> ApplyResult:
    if revision is None:
        return ApplyResult(applied=False, note="not applied: the user declined")
    return ApplyResult(applied=True, version=VersionInfo.of(revision), note=f"revision {revision.revision} created")


def history_view(cp: Copilot) -> HistoryView:
    versions = [VersionInfo.of(r) for r in cp.history()]
    return HistoryView(head=versions[-1], versions=versions)


def diff_view(cp: Copilot, a: str, b: str | None) -> DiffView:
    ra, rb, diff = cp.diff(a, b)
    return DiffView(a=VersionInfo.of(ra), b=VersionInfo.of(rb), diff=diff)


MAX_DIFF = 20_000  # a preview's diff shown at most this long (the whole diff is kept with the preview)


def proposal(preview: Preview) -> Preview:
    """A preview with every echo of the input bounded: edit lines, problems and the diff."""
    return preview.model_copy(update={
        "changes": [clip(c, 300) for c in preview.changes[:100]] + ([f"… and {len(preview.changes) - 100} more edits"]
                                                                   if len(preview.changes) > 100 else []),
        "diff": clip(preview.diff, MAX_DIFF),
        "problems": [p.model_copy(update={"message": clip(p.message, 1000), "path": clip(p.path, 200)})
                     for p in preview.problems[:50]],
    })


# ---------------------------------------------------------------- eval set
class TrainQuestion(BaseModel):
    id: str
    question: str
    category: str | None = None


class EvalSetInfo(BaseModel):
    name: str
    total: int
    splits: dict[str, int]
    by_category: dict[str, dict[str, int]]
    train_questions: list[TrainQuestion] = Field(description="train only; val and test texts are never shown")
    split_seed: int


def evalset_info(cp: Copilot) -> EvalSetInfo:
    counts = split_counts(cp.evalset, by_category=True)
    by_cat = counts.pop("by_category")
    return EvalSetInfo(
        name=cp.evalset.name, total=len(cp.evalset.cases), splits=counts, by_category=by_cat,
        train_questions=[TrainQuestion(id=c.id, question=c.question, category=c.category) for c in cp.evalset.split(TRAIN)],
        split_seed=cp.settings.split_seed,
    )


# ---------------------------------------------------------------- runs
class Stability(BaseModel):
    """One question asked `asked` times on the same version (Genie is nondeterministic)."""

    asked: int
    right: int
    stable: bool = Field(description="the same outcome every time")


class TrainRow(BaseModel):
    case_id: str
    question: str
    category: str | None = None
    status: str
    outcome: str | None = Field(None, description="right, wrong (SQL with a wrong result), refused (no SQL), error, gold_error")
    correct: bool | None
    sql: str | None = None
    failure_category: str | None = None
    failure_summary: list[str] = Field(default_factory=list)
    stability: Stability | None = Field(None, description="when the question was asked more than once on this version")


class Comparison(BaseModel):
    """Per question, against a baseline run of the same split on another version."""

    baseline_run: str
    baseline_revision: int | None = None
    fixed: int = Field(description="not right before, right now")
    broken: int = Field(description="right before, not right now")
    new_wrong: int = Field(0, description="answered wrongly now, not before (confident wrong answers added)")
    fewer_wrong: int = Field(0, description="answered wrongly before, not now")
    still_right: int
    still_not_right: int
    p_value: float = Field(1.0, description="sign test of questions that got better vs worse (utility: right +1, refused 0, wrong -1)")
    fixed_ids: list[str] | None = Field(None, description="train runs only")
    broken_ids: list[str] | None = Field(None, description="train runs only")


class EvalRunView(BaseModel):
    run_id: str
    split: Literal["train", "val"]
    revision: int | None
    version_id: str
    overall: Score = Field(description="right / wrong / refused / error counts; accuracy, wrong_rate and refusal_rate of scored answers")
    by_category: dict[str, Score]
    rows: list[TrainRow] | None = Field(None, description="per question, train only")
    repeats: int = Field(1, description="times each question was asked; overall, rows and comparison use the first")
    repeat_run_ids: list[str] = Field(default_factory=list, description="the runs of repeats 2..n")
    unstable: int = Field(0, description="questions whose outcome differed between repeats")
    comparison: Comparison | None = None
    backend_calls: int
    cache_hits: int
    rejudge_of: str | None = Field(None, description="the run whose stored answers this run judged again")


def comparison(paired: Paired, baseline_run: str, baseline_revision: int | None, *, with_ids: bool) -> Comparison:
    return Comparison(baseline_run=baseline_run, baseline_revision=baseline_revision, fixed=len(paired.fixed),
                      broken=len(paired.broken), new_wrong=len(paired.new_wrong), fewer_wrong=len(paired.fewer_wrong),
                      still_right=paired.still_right, still_not_right=paired.still_not_right, p_value=paired.p_value,
                      fixed_ids=paired.fixed if with_ids else None, broken_ids=paired.broken if with_ids else None)


def _train_rows(result: Any, runs: EvalRuns | None = None) -> list[TrainRow]:
    rows = []
    for row in result.rows:
        fa = row.verdicts.get("failure_analysis")
        failing = row.outcome in ("wrong", "refused")
        asked = runs.asked.get(row.case_id, 1) if runs else 1
        right = runs.right.get(row.case_id, 0) if runs else 0
        rows.append(TrainRow(
            case_id=row.case_id, question=row.question, category=row.category, status=row.status, outcome=row.outcome,
            correct=row.correct, sql=clip(row.sql, 2000),
            failure_category=str(fa.value) if failing and fa is not None and fa.value is not None else None,
            failure_summary=[clip(fa.rationale, 500)] if failing and fa is not None else [],
            stability=Stability(asked=asked, right=right, stable=right in (0, asked)) if asked > 1 else None,
        ))
    return rows


def eval_run_view(runs: EvalRuns) -> EvalRunView:
    result = runs.first
    cmp = None
    if runs.comparison is not None and runs.baseline is not None:
        cmp = comparison(runs.comparison, runs.baseline.run_id, runs.baseline.revision, with_ids=runs.split == TRAIN)
    return EvalRunView(
        run_id=result.run_id, split=runs.split, revision=runs.revision.revision, version_id=runs.revision.version_id,  # type: ignore[arg-type]
        overall=result.score, by_category=result.by_category, rows=_train_rows(result, runs) if runs.split == TRAIN else None,
        repeats=len(runs.results), repeat_run_ids=[r.run_id for r in runs.results[1:]], unstable=runs.unstable,
        comparison=cmp, backend_calls=sum(r.backend_calls for r in runs.results), cache_hits=sum(r.cache_hits for r in runs.results),
    )


def rejudged_view(cp: Copilot, result: Any) -> EvalRunView:
    run = cp.lineage_run(result.run_id, splits=(TRAIN, VAL))
    return EvalRunView(run_id=result.run_id, split=run.split, revision=run.revision, version_id=result.space_version,  # type: ignore[arg-type]
                       overall=result.score, by_category=result.by_category,
                       rows=_train_rows(result) if run.split == TRAIN else None, backend_calls=0, cache_hits=0,
                       rejudge_of=result.rejudge_of)


class ResultSample(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int | None = None


class FailureDetail(BaseModel):
    case_id: str
    question: str
    category: str | None = None
    outcome: str = Field(description="wrong (SQL whose result differs) or refused (no SQL)")
    status: str
    generated_sql: str | None = None
    gold_sql: list[str]
    error: str | None = None
    failure_category: str | None = None
    analysis: dict[str, Any] = Field(default_factory=dict)
    generated_result: ResultSample | None = None
    gold_result: ResultSample | None = None
    relevant_metadata: list[MetadataItem] = Field(default_factory=list)


class FailuresView(BaseModel):
    run_id: str
    total_failing: int
    shown: int
    by_failure_category: dict[str, int]
    failures: list[FailureDetail]


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float)):
        return v
    return clip(str(v), 200)


def sample(table: Any, n: int = 5) -> ResultSample | None:
    if table is None:
        return None
    head = table.slice(0, n).to_pylist()
    cols = list(table.column_names)
    return ResultSample(columns=cols, rows=[[_jsonable(r.get(c)) for c in cols] for r in head], row_count=table.num_rows)


def failures_view(cp: Copilot, run_id: str, category: str | None, limit: int) -> FailuresView:
    result, failing = cp.failures(run_id, category=category)
    _, every = cp.failures(run_id)
    counts: defaultdict[str, int] = defaultdict(int)
    for f in every:
        counts[f.analysis or f.outcome] += 1
    run = cp.store.get_run(run_id)
    space = cp.store.get_space_version(run.space_version, space_key=run.space_key).space
    out = [_failure_detail(cp, run_id, f, space) for f in failing[:limit]]
    return FailuresView(run_id=run_id, total_failing=len(every), shown=len(out),
                        by_failure_category=dict(sorted(counts.items(), key=lambda kv: -kv[1])), failures=out)


def _failure_detail(cp: Copilot, run_id: str, f: Failure, space: Space) -> FailureDetail:
    stored = cp.store.get_result(run_id, f.case_id)
    return FailureDetail(
        case_id=f.case_id, question=f.question, category=f.category, outcome=f.outcome, status=f.status,
        generated_sql=clip(f.generated_sql, 3000), gold_sql=list(f.gold_sql), error=clip(stored.error if stored else None, 1000),
        failure_category=f.analysis, analysis={k: v for k, v in f.details.items() if v},
        generated_result=sample(stored.result) if stored else None,
        gold_result=sample(cp.gold_result(f.gold_sql[0])) if f.gold_sql else None,
        relevant_metadata=relevant_metadata(space, [*f.gold_sql, f.generated_sql or ""]),
    )


class FinalTestView(BaseModel):
    revision: int
    version_id: str
    overall: Score
    by_category: dict[str, Score] = Field(description=f"only categories with at least {MIN_CATEGORY_SIZE} test questions")
    final_tests_left: float | None = None


def final_test_view(cp: Copilot, ft: FinalTest) -> FinalTestView:
    rows = ft.result.rows
    return FinalTestView(revision=ft.revision.revision, version_id=ft.revision.version_id, overall=score(rows),
                         by_category=breakdown(rows, lambda r: r.category, min_size=MIN_CATEGORY_SIZE),
                         final_tests_left=cp.ledger.remaining("final_tests"))


class RunInfo(BaseModel):
    run_id: str
    split: str | None
    revision: int | None
    version_id: str
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    overall: Score | None = None
    judges: list[str] = Field(default_factory=list)
    counters: dict[str, Any] = Field(default_factory=dict)
    mlflow: str | None = Field(None, description="MLflow run, where tracking is configured")
    repeat_of: str | None = Field(None, description="the run this one repeats (eval_run repeats)")
    rejudge_of: str | None = Field(None, description="the run whose stored answers this one judged again")


def run_info(cp: Copilot, run_id: str) -> RunInfo:
    run = cp.lineage_run(run_id)
    result = cp.result(run_id)
    counters = {k: v for k, v in run.summary.items() if k in ("backend_calls_total", "cache_hits_total", "gold_executions", "total")}
    return RunInfo(run_id=run_id, split=run.split, revision=run.revision, version_id=run.space_version, status=run.status,
                   started_at=run.started_at, finished_at=run.finished_at, overall=result.score, judges=run.judges,
                   counters=counters, mlflow=run.summary.get("mlflow_run_id"), repeat_of=run.repeat_of,
                   rejudge_of=run.config.get("rejudge_of"))


class ReportView(BaseModel):
    markdown: str
    runs: list[RunInfo]
    optimizations: list[str] = Field(default_factory=list, description="ids of `chaos-llama optimize` runs in this workspace, newest first")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def report_view(cp: Copilot, run_ids: list[str] | None, optimization: str | None) -> ReportView:
    """A Markdown report of this session's runs (scores, paired changes, history), or of an optimization."""
    known = cp.optimizations()
    if optimization is not None:
        return ReportView(markdown=render_markdown(cp.optimization(optimization)), runs=[], optimizations=known)
    infos = [run_info(cp, r) for r in run_ids] if run_ids else [run_info(cp, r.run_id) for r in cp.lineage_runs()]
    lines = ["# Chaos Llama optimization report", "", f"Space lineage `{cp.space_key}`, head revision {cp.head().revision}.", "",
             "| run | split | revision | right | wrong | refused | accuracy |", "|---|---|---|---|---|---|---|"]
    for i in infos:
        o = i.overall
        lines.append(f"| {i.run_id} | {i.split or 'all'} | {i.revision if i.revision is not None else '-'} | "
                     f"{o.right if o else '-'}/{o.scored if o else '-'} | {o.wrong if o else '-'} | {o.refused if o else '-'} | "
                     f"{_pct(o.accuracy if o else None)} |")
    prev: dict[str, RunInfo] = {}
    flips = []
    for i in infos:
        if i.repeat_of or i.rejudge_of or i.split not in (TRAIN, VAL):
            continue
        if i.split in prev and prev[i.split].version_id != i.version_id:
            c = cp.compare_runs(prev[i.split].run_id, i.run_id)
            flips.append(f"- {i.split}: r{prev[i.split].revision} → r{i.revision}: {len(c.fixed)} fixed, {len(c.broken)} broken, "
                         f"{len(c.new_wrong)} newly wrong")
        prev[i.split] = i
    if flips:
        lines += ["", "## Paired changes", "", *flips]
    lines += ["", "## Space history", ""] + [f"- r{v.revision} ({v.kind}) {clip(v.message or '', 300)}" for v in cp.history()]
    if known:
        lines += ["", "## Optimizations in this workspace", "", *(f"- `{o}` (report: optimization={o!r})" for o in known)]
    return ReportView(markdown="\n".join(lines) + "\n", runs=infos, optimizations=known)


__all__ = [
    "ApplyResult", "Comparison", "DiffView", "EvalRunView", "EvalSetInfo", "FailureDetail", "FailuresView", "FinalTestView",
    "HistoryView", "ReportView", "RunInfo", "SpaceView", "TEST", "VersionInfo", "clip",
]
