"""What the MCP tools show the assistant: small views built from the copilot's results.

The copilot (`tools/copilot.py`) returns domain results (revisions, run results, paired
comparisons, failures); this module shapes them for an assistant's context: per-question detail
for train only, aggregates for val, aggregates per large-enough category for the final test, and
every echoed input cut short. Nothing here computes a score: outcomes and comparisons come from
`tools/scoring.py`.
"""

from __future__ import annotations

from collections import defaultdict
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..tools.copilot import TEST, TRAIN, VAL, Copilot, EvalRuns, FinalTest, Preview
from ..tools.errors import InvalidInput, did_you_mean
from ..tools.evalset import split_counts
from ..tools.failures import Failure, MetadataItem, relevant_metadata
from ..tools.logs import import_file, import_from_genie
from ..tools.report import render_markdown
from ..tools.scoring import Paired, Score, breakdown, score
from ..tools.space.io import space_to_yaml
from ..tools.space.model import Space, text
from ..tools.store import Revision
from ..tools.traffic import Flywheel
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
    section: str | None = Field(None, description="the part of the space shown in `yaml` (None: all of it)")
    yaml: str | None = Field(None, description="the space (or the section) as YAML, one page of it")
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page of the YAML")
    sections: list[str] = Field(default_factory=list, description="what `section` accepts")


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


PAGE = 8_000  # characters of YAML (or other long text) per page
SECTIONS = ("tables", "text_instructions", "example_sqls", "sql_functions", "join_specs", "snippets", "sample_questions",
            "benchmarks")


def _section(doc: dict[str, Any], section: str) -> Any:
    """One part of a serialized space (`table:<name>` for one table)."""
    instr, src = doc.get("instructions") or {}, doc.get("data_sources") or {}
    if section.startswith("table:"):
        name = section.split(":", 1)[1].lower()
        return [t for t in src.get("tables") or [] if name in (t.get("identifier", "").lower(), t.get("identifier", "").split(".")[-1].lower())]
    return {"tables": src.get("tables"), "text_instructions": instr.get("text_instructions"),
            "example_sqls": instr.get("example_question_sqls"), "sql_functions": instr.get("sql_functions"),
            "join_specs": instr.get("join_specs"), "snippets": instr.get("sql_snippets"),
            "sample_questions": (doc.get("config") or {}).get("sample_questions"),
            "benchmarks": (doc.get("benchmarks") or {}).get("questions")}[section]


def page(text: str, cursor: str | None, size: int = PAGE) -> tuple[str, str | None]:
    """One page of `text` from `cursor` (an offset), cut at a line break, and the next cursor."""
    try:
        start = int(cursor or 0)
    except ValueError:
        raise InvalidInput(f"cursor {cursor!r} is not one this tool returned", field="cursor") from None
    if not 0 <= start <= len(text):
        raise InvalidInput(f"cursor {cursor!r} is past the end", field="cursor")
    end = min(len(text), start + size)
    if end < len(text):
        cut = text.rfind("\n", start, end)
        end = cut + 1 if cut > start else end
    return text[start:end], (str(end) if end < len(text) else None)


def space_view(cp: Copilot, full: bool | None = None, section: str | None = None, cursor: str | None = None) -> SpaceView:
    """The head: a summary always; the YAML (or one section of it) a page at a time. `full=False`: the
    summary only."""
    import yaml as _yaml

    head = cp.head()
    space = cp.visible_space(cp.space_at(head))
    if section is not None and section not in SECTIONS and not section.startswith("table:"):
        raise InvalidInput(f"unknown section {section!r}; choose one of {', '.join(SECTIONS)} or 'table:<name>'.{did_you_mean(section, SECTIONS)}",
                           field="section")
    if full is False:
        return SpaceView(revision=head.revision, version_id=head.version_id, summary=summarize(space), sections=list(SECTIONS))
    if section is None:
        text_ = space_to_yaml(space)
    else:
        part = _section(space.to_serialized(), section)
        text_ = _yaml.safe_dump(part, sort_keys=False, allow_unicode=True, width=120) if part else "(empty)\n"
    chunk, nxt = page(text_, cursor)
    return SpaceView(revision=head.revision, version_id=head.version_id, summary=summarize(space), section=section,
                     yaml=chunk, next_cursor=nxt, sections=list(SECTIONS))


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
    expected_refusals: int = Field(0, description="cases whose right outcome is a refusal (the data cannot answer)")
    splits: dict[str, int]
    by_category: dict[str, dict[str, int]]
    leakage: dict[str, int] = Field(default_factory=dict, description="families, families spanning splits, near-duplicate "
                                                                        "questions across splits (0 and 0: held-out scores mean something)")
    train_questions: list[TrainQuestion] = Field(description="train only, a page at a time; val and test texts are never shown")
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page of train questions")
    split_seed: int


def evalset_info(cp: Copilot, limit: int = 30, cursor: str | None = None) -> EvalSetInfo:
    counts = split_counts(cp.evalset, by_category=True)
    by_cat = counts.pop("by_category")
    train = cp.evalset.split(TRAIN)
    start, nxt = _offset(cursor, len(train), limit)
    return EvalSetInfo(
        name=cp.evalset.name, total=len(cp.evalset.cases), expected_refusals=sum(1 for c in cp.evalset.cases if c.expects_refusal),
        splits=counts, by_category=by_cat, leakage=cp.leakage().counts(),
        train_questions=[TrainQuestion(id=c.id, question=c.question, category=c.category) for c in train[start:start + limit]],
        next_cursor=nxt, split_seed=cp.settings.split_seed,
    )


def _offset(cursor: str | None, total: int, limit: int) -> tuple[int, str | None]:
    """(start, next cursor) for a list of `total` items paged by `limit`."""
    try:
        start = int(cursor or 0)
    except ValueError:
        raise InvalidInput(f"cursor {cursor!r} is not one this tool returned", field="cursor") from None
    if not 0 <= start <= total:
        raise InvalidInput(f"cursor {cursor!r} is past the end ({total} items)", field="cursor")
    return start, (str(start + limit) if start + limit < total else None)


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
    failure_category: str | None = None
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
    rows: list[TrainRow] | None = Field(None, description="per question, train only (by default the failing ones; see rows_matching)")
    rows_matching: int | None = Field(None, description="train questions the `rows` choice matched (rows holds at most `limit`)")
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
                      fixed_ids=paired.fixed[:100] if with_ids else None, broken_ids=paired.broken[:100] if with_ids else None)


ROWS = ("failing", "all", "none")


def _train_rows(result: Any, runs: EvalRuns | None = None, which: str = "failing", limit: int = 25) -> tuple[list[TrainRow], int]:
    """Compact per-question rows (the failing ones, or all) and how many matched."""
    picked = [r for r in result.rows if which == "all" or (which == "failing" and r.outcome not in ("right", "gold_error"))]
    rows = []
    for row in picked[:limit]:
        fa = row.verdicts.get("failure_analysis")
        failing = row.outcome in ("wrong", "refused")
        asked = runs.asked.get(row.case_id, 1) if runs else 1
        right = runs.right.get(row.case_id, 0) if runs else 0
        rows.append(TrainRow(
            case_id=row.case_id, question=clip(row.question, 300), category=row.category, status=row.status, outcome=row.outcome,
            correct=row.correct,
            failure_category=str(fa.value) if failing and fa is not None and fa.value is not None else None,
            stability=Stability(asked=asked, right=right, stable=right in (0, asked)) if asked > 1 else None,
        ))
    return rows, len(picked)


def eval_run_view(runs: EvalRuns, rows: str = "failing", limit: int = 25) -> EvalRunView:
    result = runs.first
    cmp = None
    if runs.comparison is not None and runs.baseline is not None:
        cmp = comparison(runs.comparison, runs.baseline.run_id, runs.baseline.revision, with_ids=runs.split == TRAIN)
    shown, matching = _train_rows(result, runs, rows, limit) if runs.split == TRAIN and rows != "none" else (None, None)
    return EvalRunView(
        run_id=result.run_id, split=runs.split, revision=runs.revision.revision, version_id=runs.revision.version_id,  # type: ignore[arg-type]
        overall=result.score, by_category=result.by_category, rows=shown, rows_matching=matching,
        repeats=len(runs.results), repeat_run_ids=[r.run_id for r in runs.results[1:]], unstable=runs.unstable,
        comparison=cmp, backend_calls=sum(r.backend_calls for r in runs.results), cache_hits=sum(r.cache_hits for r in runs.results),
    )


def rejudged_view(cp: Copilot, result: Any) -> EvalRunView:
    run = cp.lineage_run(result.run_id, splits=(TRAIN, VAL))
    shown, matching = _train_rows(result) if run.split == TRAIN else (None, None)
    return EvalRunView(run_id=result.run_id, split=run.split, revision=run.revision, version_id=result.space_version,  # type: ignore[arg-type]
                       overall=result.score, by_category=result.by_category, rows=shown, rows_matching=matching,
                       backend_calls=0, cache_hits=0, rejudge_of=result.rejudge_of)


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
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next failures")


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float)):
        return v
    return clip(str(v), 100)


def sample(table: Any, n: int = 3) -> ResultSample | None:
    if table is None:
        return None
    head = table.slice(0, n).to_pylist()
    cols = list(table.column_names)[:12]
    return ResultSample(columns=cols, rows=[[_jsonable(r.get(c)) for c in cols] for r in head], row_count=table.num_rows)


def failures_view(cp: Copilot, run_id: str, category: str | None, limit: int, cursor: str | None = None) -> FailuresView:
    result, failing = cp.failures(run_id, category=category)
    _, every = cp.failures(run_id)
    counts: defaultdict[str, int] = defaultdict(int)
    for f in every:
        counts[f.analysis or f.outcome] += 1
    run = cp.store.get_run(run_id)
    space = cp.store.get_space_version(run.space_version, space_key=run.space_key).space
    start, nxt = _offset(cursor, len(failing), limit)
    out = [_failure_detail(cp, run_id, f, space) for f in failing[start:start + limit]]
    return FailuresView(run_id=run_id, total_failing=len(every), shown=len(out),
                        by_failure_category=dict(sorted(counts.items(), key=lambda kv: -kv[1])), failures=out, next_cursor=nxt)


MAX_METADATA = 8  # relevant metadata items per failure: the undescribed first (what a fix would add)


def _bounded(value: Any, depth: int = 0) -> Any:
    """JSON-like `value` with long strings cut and long lists shortened (a failure's analysis details)."""
    if isinstance(value, str):
        return clip(value, 400)
    if isinstance(value, list):
        return [_bounded(v, depth + 1) for v in value[:8]] + ([f"… {len(value) - 8} more"] if len(value) > 8 else [])
    if isinstance(value, dict) and depth < 3:
        return {k: _bounded(v, depth + 1) for k, v in list(value.items())[:12]}
    return value if isinstance(value, (int, float, bool)) or value is None else clip(str(value), 400)


def _failure_detail(cp: Copilot, run_id: str, f: Failure, space: Space) -> FailureDetail:
    stored = cp.store.get_result(run_id, f.case_id)
    meta = relevant_metadata(space, [*f.gold_sql, f.generated_sql or ""])
    meta.sort(key=lambda m: (m.kind not in ("column", "table"), "no " not in m.text))
    analysis = {k: _bounded(v) for k, v in list((k, v) for k, v in f.details.items() if v)[:12]}
    return FailureDetail(
        case_id=f.case_id, question=f.question, category=f.category, outcome=f.outcome, status=f.status,
        generated_sql=clip(f.generated_sql, 2000), gold_sql=[clip(g, 2000) for g in f.gold_sql[:2]],
        error=clip(stored.error if stored else None, 500),
        failure_category=f.analysis, analysis=analysis,
        generated_result=sample(stored.result) if stored else None,
        gold_result=sample(cp.gold_result(f.gold_sql[0])) if f.gold_sql else None,
        relevant_metadata=[m.model_copy(update={"text": clip(m.text, 300)}) for m in meta[:MAX_METADATA]],
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
    run_ids: list[str] = Field(default_factory=list, description="the runs reported (the latest 20 unless asked for others)")
    optimizations: list[str] = Field(default_factory=list, description="ids of `chaos-llama optimize` runs in this workspace, newest first")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


MAX_REPORTED_RUNS = 20


def report_view(cp: Copilot, run_ids: list[str] | None, optimization: str | None) -> ReportView:
    """A Markdown report of this session's runs (scores, paired changes, history), or of an optimization."""
    known = cp.optimizations()
    if optimization is not None:
        return ReportView(markdown=clip(render_markdown(cp.optimization(optimization)), 20_000), optimizations=known[:20])
    runs = [r.run_id for r in cp.lineage_runs()]
    wanted = run_ids[:MAX_REPORTED_RUNS] if run_ids else runs[-MAX_REPORTED_RUNS:]
    infos = [run_info(cp, r) for r in wanted]
    lines = ["# Chaos Llama optimization report", "", f"Space lineage `{cp.space_key}`, head revision {cp.head().revision}.", ""]
    if not run_ids and len(runs) > MAX_REPORTED_RUNS:
        lines += [f"The latest {MAX_REPORTED_RUNS} of {len(runs)} runs (name others with run_ids).", ""]
    lines += ["| run | split | revision | right | wrong | refused | accuracy |", "|---|---|---|---|---|---|---|"]
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
    history = cp.history()
    lines += ["", "## Space history", ""] + [f"- r{v.revision} ({v.kind}) {clip(v.message or '', 200)}" for v in history[-30:]]
    if known:
        lines += ["", "## Optimizations in this workspace", "", *(f"- `{o}` (report: optimization={o!r})" for o in known[:10])]
    return ReportView(markdown="\n".join(lines) + "\n", run_ids=[i.run_id for i in infos], optimizations=known[:20])


# ---------------------------------------------------------------- instruments
class ComparisonView(Comparison):
    a: str
    b: str
    split: str


def compare_view(cp: Copilot, a: str, b: str) -> ComparisonView:
    paired = cp.compare_runs(a, b)
    run_a = cp.lineage_run(a, splits=(TRAIN, VAL))
    cmp = comparison(paired, a, run_a.revision, with_ids=run_a.split == TRAIN)
    return ComparisonView(**cmp.model_dump(), a=a, b=b, split=run_a.split or "")


class SchemaView(BaseModel):
    tables: list[Any]
    note: str = ("types as the data holds them; with `table`: per column the distinct count, nulls and most frequent values. "
                 "Costs SQL executions.")


def schema_view(cp: Copilot, table: str | None) -> SchemaView:
    return SchemaView(tables=cp.schema(table))


def ask_view(result: Any) -> Any:
    trace = _bounded(result.trace)
    return result.model_copy(update={"sql": clip(result.sql, 3000), "reason": clip(result.reason, 1000),
                                     "error": clip(result.error, 1000), "trace": trace})


JUDGE_RULES = """# How answers are judged

Every answer gets exactly one outcome:
- right: the generated SQL's result matches a gold query's result (the primary judge, `execution`,
  says so), or the case expects a refusal and no SQL came back;
- wrong: SQL whose result does not match (a confident wrong answer), or any SQL where a refusal was expected;
- refused: no SQL (NO_SQL, a clarification, a text answer) where an answer was expected;
- error: the backend failed or timed out, or the primary judge gave no verdict;
- gold_error: no gold query of the case runs; never counted against the space.
Accuracy, the wrong-answer rate and the refusal rate are shares of the scored answers (all but gold
errors). A refusal costs 0, a wrong answer costs what a right answer earns.

`execution` compares result sets:
- row order matters only if the question asks for an order (top/rank/sorted) and the gold orders;
- column names do not matter; extra columns in the answer are allowed when the gold's columns are all present;
- numbers are equal within a relative 1e-6, or at the precision of the less precise side when a query
  rounds that column explicitly (ROUND, a DECIMAL cast); the verdict shows the tolerance used;
- dates and timestamps compare by value; NULL equals NULL; text compares exactly (case included);
- any one of a case's gold queries (alternatives) may match.
`failure_analysis` names why an answer failed (MISSING_JOIN, WRONG_TABLE, MISSING_OR_INCORRECT_FILTER,
WRONG_AGGREGATION, WRONG_ORDERING_OR_LIMIT, NO_SQL, ...) from the SQL's structure and the results.
"""


# ---------------------------------------------------------------- real traffic (the data flywheel)
# The assistant sees traffic only of families it may work on: clusters covered by val or test cases are
# counted, never shown (their phrasings are siblings of held-out questions), and what it accepts goes to train.
HIDDEN_TRAFFIC = (VAL, TEST)
MAX_QUESTION = 200


class ImportView(BaseModel):
    imported: list[Any] = Field(description="per space: conversations read, new and changed messages, rated, redacted, complete")


class ClusterView(BaseModel):
    family: str
    question: str = Field(description="the most asked question (user text, redacted as imported)")
    traffic: int
    failures: int
    failure_rate: float
    statuses: dict[str, int]
    thumbs_up: int
    thumbs_down: int
    eval_splits: list[str] = Field(description="splits of the eval cases covering it; empty: no eval case covers it")
    other_phrasings: list[str] = Field(default_factory=list)


class FixFirstView(BaseModel):
    summary: str
    coverage: float | None = Field(None, description="share of traffic whose cluster has an eval case")
    out_of_domain_rate: float | None = None
    observed_success: float | None = None
    fix_first: list[ClusterView] = Field(description="failing clusters, most impact (traffic x failure rate) first")
    withheld: int = Field(0, description="failing clusters of val/test families, counted but not shown")
    next_step: str = ("for a cluster without eval cases: logs_candidates, then logs_review(accept, gold_sql=...) with a person's "
                      "gold SQL; it joins the train split; then eval_run(train) and the usual loop")


class CandidateView(BaseModel):
    candidate_id: str
    kind: str
    question: str
    messages: int
    signals: dict[str, int]
    out_of_domain: bool
    eval_splits: list[str]
    genie_sql: str | None = Field(None, description="regression: the provisional gold; failure: what Genie answered")
    comments: list[str] = Field(default_factory=list)


class CandidatesView(BaseModel):
    pending: int = Field(description="pending candidates the assistant may see")
    withheld: int = Field(0, description="pending candidates of val/test families, not shown")
    items: list[CandidateView]
    how_to_review: str = ("a person decides: logs_review(candidate_id, decision='accept', gold_sql=...) (a regression candidate's "
                          "SQL is its default gold; refusal=true when the data cannot answer), or decision='reject'")


class ReviewResult(BaseModel):
    candidate_id: str
    decision: str
    case_id: str | None = None
    split: str | None = None
    family: str | None = None
    evalset_cases: int | None = None
    leakage: dict[str, int] | None = None


def _flywheel(cp: Copilot):
    local = cp.settings.backend.kind == "local"  # the engine's data values ground questions (no warehouse queries)
    return Flywheel(cp.store, cp.space_at(cp.head()), cp.settings.evalset or cp.evalset, backend=cp.backend if local else None,
                    seed=cp.settings.split_seed)


def logs_import(cp: Copilot, file: str | None) -> ImportView:
    if file:
        results = import_file(cp.store, file)
    else:
        if not cp.backend.remote or not cp.settings.backend.space_id:
            raise InvalidInput("the project's backend keeps no conversations (it is the local engine): give a file export "
                               "(JSON/JSONL of Genie conversations)", field="file")
        results = [import_from_genie(cp.store, cp.backend, cp.settings.backend.space_id)]
    return ImportView(imported=[r.model_dump(include={"space_id", "source", "conversations_read", "messages_new", "messages_changed",
                                                      "messages_total", "rated", "redacted", "complete"}) for r in results])


def fix_first_view(cp: Copilot, limit: int) -> FixFirstView:
    ff = _flywheel(cp).fix_first(limit=limit, hide_splits=HIDDEN_TRAFFIC)
    return FixFirstView(
        summary=ff.summary(), coverage=ff.coverage, out_of_domain_rate=ff.out_of_domain_rate, observed_success=ff.observed_success,
        withheld=ff.withheld,
        fix_first=[ClusterView(family=c.family, question=clip(c.label, MAX_QUESTION), traffic=c.traffic, failures=c.failures,
                               failure_rate=c.failure_rate, statuses=c.statuses, thumbs_up=c.positive, thumbs_down=c.negative,
                               eval_splits=c.splits, other_phrasings=[clip(x, MAX_QUESTION) for x in c.samples[:2]])
                   for c in ff.top])


def _visible(c: Any) -> bool:
    return not set(c.splits) & set(HIDDEN_TRAFFIC)


def candidates_view(cp: Copilot, kind: str | None, limit: int) -> CandidatesView:
    pending = [c for c in _flywheel(cp).candidates() if c.state == "pending" and (kind is None or c.kind == kind)]
    shown = [c for c in pending if _visible(c)]
    return CandidatesView(pending=len(shown), withheld=len(pending) - len(shown), items=[CandidateView(
        candidate_id=c.candidate_id, kind=c.kind, question=clip(c.question, MAX_QUESTION), messages=c.messages,
        signals={k: v for k, v in (("thumbs_up", c.thumbs_up), ("thumbs_down", c.thumbs_down), ("failed", c.failed),
                                   ("refused", c.refused)) if v},
        out_of_domain=c.out_of_domain, eval_splits=c.splits, genie_sql=clip(c.sql, 600),
        comments=[clip(x, MAX_QUESTION) for x in c.comments[:2]]) for c in shown[:limit]])


def review(cp: Copilot, candidate_id: str, decision: str, *, gold_sql: str | None, refusal: bool, note: str = "") -> ReviewResult:
    """Record a person's decision on a candidate; an accepted one joins the eval set file's train split."""
    fw = _flywheel(cp)
    candidate = fw.find(candidate_id)
    if not _visible(candidate):  # a held-out family's candidate is as unknown as a missing one
        raise InvalidInput(f"no candidate {candidate_id!r}", field="candidate_id")
    if decision == "reject":
        fw.reject(candidate_id, note=note, reviewer=cp.author)
        return ReviewResult(candidate_id=candidate_id, decision="reject")
    path = cp.settings.evalset
    if path is None or str(Path(path).resolve()).startswith(str(Path(str(files("chaos_llama.examples"))).resolve())):
        raise InvalidInput("accepting needs the project's own eval set file (config 'evalset'); the bundled example's is "
                           "read-only", field="candidate_id")
    done = fw.accept(candidate_id, gold_sql=gold_sql, expect="refusal" if refusal else None, reason=note if refusal else None,
                     note=note, reviewer=cp.author, by="person", splits=(TRAIN,))
    cp.reload_evalset()
    return ReviewResult(candidate_id=candidate_id, decision="accept", case_id=done.case.id, split=done.split, family=done.family,
                        evalset_cases=done.cases, leakage=done.leakage)


def traffic_prompt(cp: Copilot) -> str:
    """The optimize_space prompt's opening: start from what fails most in real traffic, when traffic is imported."""
    spaces = cp.store.log_spaces()
    if not spaces:
        return ("No real traffic is imported. If the space is live, `logs_import` brings its conversations and feedback in, "
                "and `traffic_fix_first` then says what fails most for its users; otherwise start at step 1.")
    n = sum(spaces.values())
    return (f"Real traffic is imported ({n} messages). Start from what fails most in real traffic: call `traffic_fix_first` "
            "and take the top failing cluster. If no eval case covers it, list its `logs_candidates` and have a person "
            "review them (`logs_review`: accept with the gold SQL, or as a refusal) so it joins the train split; then run "
            "the loop below on it, and check `traffic_fix_first` again at the end (coverage and the ranking move).")


__all__ = [
    "ApplyResult", "Comparison", "ComparisonView", "DiffView", "JUDGE_RULES", "SchemaView", "EvalRunView", "EvalSetInfo", "FailureDetail", "FailuresView", "FinalTestView",
    "HistoryView", "ReportView", "RunInfo", "SpaceView", "TEST", "VersionInfo", "clip", "CandidatesView", "FixFirstView", "ImportView",
    "ReviewResult",
]
