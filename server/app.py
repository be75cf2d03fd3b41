"""The MCP face of Chaos Llama: tools, resources and prompts over `chaos_llama.tools.copilot`.

Each tool is a few lines around one `Copilot` method. This module maps errors to MCP errors
(bad arguments -> JSON-RPC invalid params naming the field; other failures -> tool errors the
assistant can read) and installs the guards (budget ledger, holdout middleware).

Start-up stays light: the copilot, the eval set and the change-set schema (which needs sqlglot)
load on the first request after `initialize`, never at import.
"""

import asyncio
import functools
import json
import os
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from .. import prompts
from ..tools.errors import ChaosLlamaError, InvalidConfig, InvalidInput
from ..tools.project import ProjectConfig, load_config
from .errors import clip, invalid_arguments, unknown_arguments, unknown_tool
from .guards import BudgetLedger, BudgetStatus, HoldoutGuard, HoldoutMiddleware

# Hints at their MCP defaults are left out (every tool definition costs context on every turn):
# destructive true, idempotent false, open world true; read-only is always stated.
READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
# Evaluations only add runs (and spend budget); they change no space.
SPENDS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=True)
CHANGES_SPACE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, openWorldHint=False)

INSTRUCTIONS = """Chaos Llama optimizes a Genie space's metadata against an eval set.
Loop: eval_run(train) -> eval_failures -> hypothesize -> space_propose -> space_apply ->
eval_run(val) -> keep or space_rollback. The test split is scored only by eval_final_test.
Budgets are enforced by the server (budget_status). See the optimize_space prompt."""


class Session:
    """Per-server state: the copilot, the ledger and the holdout guard (built on first use)."""

    def __init__(self, config: ProjectConfig, *, backend: Any = None):
        self.config = config
        self._backend = backend
        self._copilot = None
        self._guard: HoldoutGuard | None = None

    @property
    def copilot(self):
        if self._copilot is None:
            from ..tools.copilot import Copilot, CopilotSettings, settings_for_example
            from ..tools.judges.custom import load_user_judges

            c = self.config
            judges = list(c.judges)
            if c.metrics or c.custom_judges or c.llm_judges:
                judges += [j for j in load_user_judges(c.metrics, c.custom_judges, c.llm_judges) if j not in judges]
            common = dict(judges=judges, split_seed=c.split_seed, workspace=c.workspace, author=c.author,
                          backend=c.backend, judge_model=c.judge_model, tracking=c.tracking)
            if c.backend.kind != "local":
                # the Genie space (not a file) is the starting version unless the project names one
                settings = CopilotSettings(space=c.space, evalset=c.evalset, data=[], **common)
            elif c.space is None:
                settings = settings_for_example(c.example or "retail", c.example_space, **common)
                if c.evalset is not None:
                    settings = settings.model_copy(update={"evalset": c.evalset})
                if c.data:
                    settings = settings.model_copy(update={"data": c.data})
            else:
                if c.evalset is None:
                    raise InvalidInput("the project names a space but no eval set", field="evalset")
                settings = CopilotSettings(space=c.space, evalset=c.evalset, data=c.data, **common)
            copilot = Copilot(settings, backend=self._backend)
            copilot.ledger = BudgetLedger(c.budgets, copilot.store)  # the budget ledger lives in the workspace store
            self._copilot = copilot
        return self._copilot

    @property
    def ledger(self) -> BudgetLedger:
        return self.copilot.ledger  # type: ignore[return-value]

    def reset_guard(self) -> None:
        self._guard = None

    def guard(self) -> HoldoutGuard:
        if self._guard is None:
            self._guard = HoldoutGuard.for_cases(self.copilot.test_cases(), self.copilot.visible_cases())
        return self._guard


MAX_ERROR = 2_000  # an error message (which may echo the input) is cut here
EDITS_HELP = ("edits, each an object with 'op' and its fields (name? = optional, a|b = allowed values; parameters are "
              "[{name, type_hint?, description?, default_values?[]}]; ids come from space_get)")


def _errors(fn):
    """Map library errors: bad arguments -> invalid params (with the field); others -> tool errors. Messages are bounded."""

    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        try:
            return await fn(*args, **kwargs)
        except InvalidInput as e:
            raise MCPError(code=INVALID_PARAMS, message=clip(str(e), MAX_ERROR), data={"field": clip(e.field, 200)}) from None
        except ChaosLlamaError as e:
            raise ToolError(clip(f"{type(e).__name__}: {e}", MAX_ERROR)) from None

    return wrapper


def owner(ctx: Context | None) -> str:
    """Who a preview belongs to: the HTTP session that proposed it (a stateful session's id), or
    the stdio client (one per process, so its previews survive a restart). Stateless HTTP requests
    carry no session: there the preview id itself, unguessable and returned only to the proposer,
    is what lets a client apply it."""
    headers = ctx.headers if ctx is not None else None
    if headers is None:
        return "local"
    session = headers.get("mcp-session-id")
    return f"http:{session}" if session else "http"


class Confirm(BaseModel):
    confirm: bool = Field(description="apply this change to the space?")


def _confirm_apply(ctx: Context, preview_id: str, message: str):
    """Ask the user to confirm where the client supports elicitation; otherwise the call is the confirmation."""
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None:
        return Confirm(confirm=True)
    return Elicit(f"Apply preview {preview_id} to the space? ({message})", Confirm)


def _prompt_text(name: str, **fields: str) -> str:
    return prompts.load(name).render(**fields)


class ChaosLlamaServer(MCPServer):
    """MCPServer whose bad arguments are JSON-RPC invalid params, not tool errors.

    The SDK validates arguments inside `Tool.run` and reports a failure as a tool error with
    pydantic's text (and silently drops unknown argument names); an assistant acts better on
    -32602 naming the field, the bad value and the valid options.
    """

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        tool = self._tool_manager.get_tool(name)
        if tool is None:
            raise unknown_tool(name, [t.name for t in self._tool_manager.list_tools()])
        extra = set(arguments) - set(tool.parameters.get("properties", {}))
        if extra:
            raise unknown_arguments(name, extra, tool.parameters)
        try:
            result = await super().call_tool(name, arguments, context)
        except ToolError as e:
            cause = e.__cause__
            # Only the argument model's own failures: a ValidationError raised by the tool body is a crash.
            if isinstance(e, UnexpectedToolError) or not isinstance(cause, ValidationError) or cause.title != tool.fn_metadata.arg_model.__name__:
                raise
            raise invalid_arguments(name, cause.errors(), arguments, tool.parameters) from None
        return compact(result)

    async def list_tools(self) -> list[Any]:
        """Tools as short as they can be: every tool definition re-enters the assistant's context on every
        turn. No output schemas (the structured results carry their shape; the README documents them),
        lean input schemas, and the edit ops of `space_propose` as one line each instead of the JSON
        schema of every op (arguments are still validated against that full schema)."""
        out = []
        for t in await super().list_tools():
            schema = _lean(t.input_schema)
            if t.name == "space_propose":
                from ..tools.space.changes import edit_reference

                schema = {**{k: v for k, v in schema.items() if k != "$defs"},
                          "properties": {**schema["properties"], "changes": {
                              "type": "array", "items": {"type": "object", "required": ["op"]},
                              "description": EDITS_HELP + ":\n" + edit_reference()}}}
            out.append(t.model_copy(update={"output_schema": None, "input_schema": schema}))
        return out


def _lean(schema: Any) -> Any:
    """A JSON schema as short as it can say the same: no pydantic `title` keys (each restates its
    property's name), and an optional `X | None = None` parameter written as plain `X` (it is
    not required either way)."""
    if isinstance(schema, list):
        return [_lean(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _lean(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    branches = out.get("anyOf")
    if isinstance(branches, list) and out.get("default", 0) is None:
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(branches):
            del out["anyOf"], out["default"]
            out = {**kept[0], **out}
    return out


MAX_RESULT = 50_000  # a tool result's text is never longer (Claude Code saves longer ones to a file)


def compact(result: Any) -> Any:
    """A tool result whose text is the structured content as compact JSON (one copy, no indentation),
    refused with a clear error if it would still be too long (the tools page their output below this)."""
    structured = getattr(result, "structured_content", None)
    if structured is None:
        return result
    text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text) > MAX_RESULT:
        raise ToolError(f"the result is {len(text)} characters, more than the {MAX_RESULT} an assistant can read; "
                        "ask for less (a smaller limit, a cursor, one table or section)")
    return result.model_copy(update={"content": [TextContent(type="text", text=text)]})


def build_app(config: ProjectConfig | None = None, *, backend: Any = None) -> MCPServer:
    """The MCP server for one project (config defaults to the project file / environment)."""
    session = Session(config or load_config(), backend=backend)
    app = ChaosLlamaServer(
        "chaos-llama", title="Chaos Llama", instructions=INSTRUCTIONS, version=_version(),
        middleware=[HoldoutMiddleware(lambda ctx: _guard_for(session, ctx))],
    )
    app.session = session  # type: ignore[attr-defined]  # tests and the CLI reach the copilot through it

    _lazy_register(app, session)
    return app


def _register(app: MCPServer, session: Session) -> None:
    """Every tool, resource and prompt (imports the copilot and its views, hence done lazily)."""
    from ..tools.copilot import AskResult, Preview
    from ..tools.doctor import DoctorReport, run_doctor
    from ..tools.space.changes import Edit, edit_reference
    from . import views
    from .views import (
        ApplyResult,
        ComparisonView,
        DiffView,
        EvalRunView,
        EvalSetInfo,
        FailuresView,
        FinalTestView,
        HistoryView,
        ReportView,
        RunInfo,
        SchemaView,
        SpaceView,
        VersionInfo,
    )

    def cp():
        return session.copilot

    # ------------------------------------------------------------ space
    @app.tool(annotations=READ_ONLY)
    @_errors
    async def space_get(
        full: bool | None = Field(None, strict=True, description="False: the summary only; else the summary and the YAML, a page at a time"),
        section: str | None = Field(None, description="only this part: tables, table:<name>, text_instructions, example_sqls, "
                                                      "sql_functions, join_specs, snippets, sample_questions, benchmarks"),
        cursor: str | None = Field(None, description="next_cursor of the previous page"),
    ) -> SpaceView:
        """The current space (head revision): version id, a summary, and its metadata as YAML (a page at a time, or one section)."""
        return views.space_view(cp(), full, section, cursor)

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def space_propose(
        changes: list[Edit] = Field(description=EDITS_HELP),  # type: ignore[valid-type]
        message: str = Field("", description="why this change should help"),
        ctx: Context = None,  # type: ignore[assignment]
    ) -> Preview:
        """Validate a change set: its diff, problems (tables, columns, runnable read-only example SQL) and a preview_id for space_apply. Changes nothing."""
        return views.proposal(cp().propose(list(changes), message, owner=owner(ctx)))

    @app.tool(annotations=CHANGES_SPACE)
    @_errors
    async def space_apply(
        preview_id: str = Field(description="the preview_id returned by space_propose"),
        message: str = Field(description="why this change is made (recorded in the history)"),
        confirm: Annotated[Confirm, Resolve(_confirm_apply)] = None,  # type: ignore[assignment]
        ctx: Context = None,  # type: ignore[assignment]
    ) -> ApplyResult:
        """Apply exactly a previewed change set: creates a new revision (the user confirms where the client supports it)."""
        return views.apply_result(cp().apply(preview_id, message, owner=owner(ctx), confirmed=confirm.confirm))

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def space_history() -> HistoryView:
        """All revisions of the space, oldest first (append-only: applies and rollbacks add revisions)."""
        return views.history_view(cp())

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def space_diff(
        a: str = Field(description="revision number (e.g. '1') or version id"),
        b: str | None = Field(None, description="revision number or version id; default: the head"),
    ) -> DiffView:
        """Unified diff of the space YAML between two revisions."""
        return views.diff_view(cp(), a, b)

    @app.tool(annotations=CHANGES_SPACE)
    @_errors
    async def space_rollback(
        version: str = Field(description="revision number or version id to return to"),
        message: str | None = Field(None, description="why (recorded in the history)"),
    ) -> VersionInfo:
        """Return to an earlier revision by creating a new revision with its content (nothing is deleted)."""
        return VersionInfo.of(cp().rollback(version, message))

    # ------------------------------------------------------------ eval
    @app.tool(annotations=READ_ONLY)
    @_errors
    async def evalset_info(
        limit: int = Field(30, ge=1, le=200, strict=True, description="train questions per page"),
        cursor: str | None = Field(None, description="next_cursor of the previous page"),
    ) -> EvalSetInfo:
        """Eval set counts per split and category, refusals expected, leakage; train questions a page at a time (val/test hidden)."""
        return views.evalset_info(cp(), limit, cursor)

    @app.tool(annotations=SPENDS)
    @_errors
    async def eval_run(
        split: Literal["train", "val"] = Field(description="'train': per-question outcomes; 'val': aggregates by category only (the test split is scored only by eval_final_test)"),
        version: str | None = Field(None, description="revision number or version id; default: the head"),
        repeats: int = Field(1, ge=1, le=5, strict=True, description="ask each question this many times (uncached after the first) to measure stability"),
        rows: Literal["failing", "all", "none"] = Field("failing", description="train: which per-question rows to show"),
        limit: int = Field(25, ge=1, le=200, strict=True, description="train: at most this many rows"),
        ctx: Context = None,  # type: ignore[assignment]
    ) -> EvalRunView:
        """Evaluate a version on train or val: right, wrong and refused per category, paired with the last run on another version (cached answers are free)."""

        async def progress(done: int, total: int, message: str) -> None:
            await ctx.report_progress(done, total, message)

        return views.eval_run_view(await cp().evaluate(split, version, repeats=repeats, progress=progress), rows, limit)

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def eval_failures(
        run_id: str = Field(description="a train run id from eval_run"),
        category: str | None = Field(None, description="only this question category or failure category"),
        limit: int = Field(4, ge=1, le=50, strict=True, description="at most this many failures"),
        cursor: str | None = Field(None, description="next_cursor of the previous page"),
    ) -> FailuresView:
        """Train questions answered wrongly or refused: generated vs gold SQL, result samples, analysis, relevant metadata; a page at a time."""
        return views.failures_view(cp(), run_id, category, limit, cursor)

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def compare_runs(
        a: str = Field(description="the earlier run id (train or val)"),
        b: str = Field(description="the later run id, of the same split"),
    ) -> ComparisonView:
        """Pair two runs of one split question by question: fixed, broken, newly wrong, and the sign test (ids for train runs)."""
        return views.compare_view(cp(), a, b)

    @app.tool(annotations=SPENDS)
    @_errors
    async def data_schema(
        table: str | None = Field(None, description="a table (full or short name): per column its distinct count, nulls and most frequent values"),
    ) -> SchemaView:
        """The data behind the space: tables, columns, types, row counts; with `table`, that table's values (spends SQL executions)."""
        return views.schema_view(cp(), table)

    @app.tool(annotations=SPENDS)
    @_errors
    async def ask(
        question: str = Field(description="a question, as a user would ask it"),
        version: str | None = Field(None, description="revision number or version id; default: the head"),
    ) -> AskResult:
        """Answer one question against a version: SQL, first rows and the trace (what matched, what was rejected, why); one backend question, no run."""
        return views.ask_view(await cp().ask(question, version))

    @app.tool(annotations=SPENDS)
    @_errors
    async def judge_run(
        run_id: str = Field(description="a train or val run id"),
        judges: list[str] = Field(description="judge names, the first decides correctness (e.g. ['execution', 'sql_equivalence'])"),
    ) -> EvalRunView:
        """Judge a run's stored answers again with other judges, as a new run linked to it (the recorded run never changes; the backend is not asked)."""
        return views.rejudged_view(cp(), cp().rejudge(run_id, judges))

    @app.tool(annotations=SPENDS)
    @_errors
    async def eval_final_test(ctx: Context = None) -> FinalTestView:  # type: ignore[assignment]
        """Score the head revision on the held-out test split: aggregates only; limited to a few calls per session."""

        async def progress(done: int, total: int, message: str) -> None:
            await ctx.report_progress(done, total, "scoring the test split")

        return views.final_test_view(cp(), await cp().final_test(progress=progress))

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def budget_status() -> BudgetStatus:
        """What the workspace has spent and has left, per budget, with each budget's unit (limits come from the project config only)."""
        return session.ledger.status()

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def run_log(run_id: str = Field(description="a run id")) -> RunInfo:
        """A run's metadata: split, revision, status, timings, counters, judges and its score (MLflow link where configured)."""
        return views.run_info(cp(), run_id)

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def report(
        run_ids: list[str] | None = Field(None, description="runs to report on; default: every run of this session"),
        optimization: str | None = Field(None, description="an optimization id from `chaos-llama optimize`, or 'latest': its report instead"),
    ) -> ReportView:
        """Markdown report: right/wrong/refused per run, fixed/broken between revisions, the history; or an optimization's report."""
        return views.report_view(cp(), run_ids, optimization)

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def doctor(
        project: bool = Field(False, strict=True, description="also load the space, eval set and data from their files (a few seconds)"),
    ) -> DoctorReport:
        """Check the setup (packages, project file, workspace, Databricks auth, Genie space, warehouse, MLflow); says what to fix. Spends nothing."""
        return await asyncio.to_thread(run_doctor, config=session.config, project=project)

    # ------------------------------------------------------------ real traffic (the data flywheel)
    # the project's own Genie space (like doctor's checks), not an open world; it spends no budget
    @app.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False))
    @_errors
    async def logs_import(file: str | None = Field(None, description="a JSON/JSONL export; default: the Genie space")) -> views.ImportView:
        """Import real traffic (questions, Genie's SQL, statuses, feedback) into the store: new only, text redacted."""
        return await asyncio.to_thread(views.logs_import, cp(), file)

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def traffic_fix_first(limit: int = Field(10, ge=1, le=30, strict=True)) -> views.FixFirstView:
        """What fails most in real traffic: failing clusters by traffic x failure rate; coverage; out-of-domain rate."""
        return await asyncio.to_thread(views.fix_first_view, cp(), limit)

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def logs_candidates(kind: Literal["failure", "regression"] | None = None,
                              limit: int = Field(5, ge=1, le=20, strict=True)) -> views.CandidatesView:
        """Real questions proposed as eval cases (failures; thumbs-up regressions), awaiting review."""
        return await asyncio.to_thread(views.candidates_view, cp(), kind, limit)

    @app.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False))
    @_errors
    async def logs_review(
        candidate_id: str,
        decision: Literal["accept", "reject"],
        gold_sql: str | None = Field(None, description="default for a regression: Genie's SQL"),
        refusal: bool = Field(False, strict=True, description="the right outcome is a refusal"),
        note: str = "",
    ) -> views.ReviewResult:
        """A person's review: an accepted candidate joins the eval set's train split (leakage 0)."""
        result = await asyncio.to_thread(views.review, cp(), candidate_id, decision, gold_sql=gold_sql, refusal=refusal, note=note)
        session.reset_guard()  # the visible cases changed
        return result

    _register_judging(app, session)

    # ------------------------------------------------------------ resources
    @app.resource("chaos-llama://space/current", mime_type="application/yaml", description="the head revision of the space as YAML")
    def space_current() -> str:
        from ..tools.space.io import space_to_yaml

        return space_to_yaml(cp().visible_space(cp().space_at(cp().head())))

    @app.resource("chaos-llama://judges/rules", mime_type="text/markdown", description="how answers are judged: outcomes, "
                  "when order matters, the numeric tolerance")
    def judge_rules() -> str:
        return views.JUDGE_RULES

    @app.resource("chaos-llama://edits", mime_type="text/plain", description="every space_propose edit op and its fields")
    def edits() -> str:
        return edit_reference()

    @app.resource("chaos-llama://space/history", mime_type="application/json", description="all revisions of the space")
    def space_history_resource() -> str:
        return views.history_view(cp()).model_dump_json(indent=2)

    @app.resource("chaos-llama://runs", mime_type="application/json", description="this session's runs with their scores")
    def runs_resource() -> str:
        return "[" + ",\n".join(views.run_info(cp(), r.run_id).model_dump_json() for r in cp().lineage_runs()) + "]"

    @app.resource("chaos-llama://runs/{run_id}", mime_type="application/json", description="one run's metadata and score")
    def run_resource(run_id: str) -> str:
        return views.run_info(cp(), run_id).model_dump_json(indent=2)

    # ------------------------------------------------------------ prompts
    @app.prompt(description="Guided loop: evaluate, read failures, hypothesize, propose, apply, re-evaluate on val, keep or roll back")
    def optimize_space(goal: str = "raise validation accuracy") -> str:
        return _prompt_text("optimize_space", goal=goal, traffic=views.traffic_prompt(cp()))

    @app.prompt(description="Read a train run's failures and group them into metadata hypotheses")
    def analyze_failures(run_id: str) -> str:
        return _prompt_text("analyze_failures", run_id=run_id)



def _register_judging(app: MCPServer, session: Session) -> None:
    """LLM judges answered by the assistant (or by the client's model through sampling) and human labels."""
    from mcp.server.mcpserver import Sample
    from mcp_types import CreateMessageResult, SamplingMessage, TextContent

    from ..tools.judges.llm_assist import PendingView, SamplingRequest, Submission, SubmitResult
    from ..tools.labels import Alignment
    from ..tools.store import Label

    def cp():
        return session.copilot

    class SampledVerdict(BaseModel):
        case_id: str
        judge: str
        value: bool | None
        rationale: str
        error: str | None = None
        pending_left: int

    @app.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False))
    @_errors
    async def judge_pending(
        run_id: str = Field(description="a train run id (val and test questions are never shown)"),
        judges: list[str] | None = Field(None, description="LLM judges (answers_question, semantically_equivalent, follows_instructions or custom); default: the run's LLM judges"),
        limit: int = Field(5, ge=1, le=100, description="at most this many items"),
    ) -> PendingView:
        """Questions of a run awaiting an LLM judge's verdict, with question, generated SQL, result sample and gold SQL; answer them with judge_submit."""
        return cp().judge_pending(run_id, judges, limit)

    @app.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False))
    @_errors
    async def judge_submit(
        run_id: str = Field(description="the run the items came from"),
        verdicts: list[Submission] = Field(description="one per item: case_id, judge, value (true = passes the rubric), rationale"),
    ) -> SubmitResult:
        """Record your verdicts for items listed by judge_pending (assistant-as-judge)."""
        return cp().judge_submit(run_id, list(verdicts))

    def _sampling_request(ctx: Context, run_id: str, judge: str, case_id: str | None) -> SamplingRequest | None:
        caps = ctx.client_capabilities
        if caps is None or caps.sampling is None:
            return None
        try:
            return cp().judge_sampling_request(run_id, judge, case_id)
        except ChaosLlamaError:
            return None  # the tool body asks again and reports the error properly

    def _sample(request: Annotated[SamplingRequest | None, Resolve(_sampling_request)]) -> Sample | None:
        if request is None:
            return None
        return Sample([SamplingMessage(role="user", content=TextContent(type="text", text=request.prompt))],
                      system_prompt=request.system, max_tokens=request.max_tokens, temperature=0.0)

    @app.tool(annotations=SPENDS)
    @_errors
    async def judge_sample(
        run_id: str = Field(description="a train run id"),
        judge: str = Field(description="an LLM judge, e.g. answers_question"),
        case_id: str | None = Field(None, description="a question id; default: the next pending one"),
        request: Annotated[SamplingRequest | None, Resolve(_sampling_request)] = None,  # type: ignore[assignment]
        sampled: Annotated[CreateMessageResult | None, Resolve(_sample)] = None,  # type: ignore[assignment]
    ) -> SampledVerdict:
        """Judge the next pending question with the client's own model (MCP sampling); spends LLM-token budget."""
        if request is None:
            request = cp().judge_sampling_request(run_id, judge, case_id)  # raises on bad arguments
            if request is None:
                raise InvalidInput(f"no question of run {run_id!r} is pending for judge {judge!r}", field="judge")
            raise ToolError("this client does not offer MCP sampling; use judge_pending and judge_submit instead")
        text = sampled.content.text if getattr(sampled.content, "type", None) == "text" else ""
        verdict = cp().judge_record_sampled(request, text, model=sampled.model)
        left = cp().judge_pending(run_id, [judge], 1).total_pending
        return SampledVerdict(case_id=request.case_id, judge=judge, value=verdict.value, rationale=verdict.rationale,
                              error=verdict.error, pending_left=left)

    @app.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False))
    @_errors
    async def label_submit(
        run_id: str = Field(description="a train run id"),
        case_id: str = Field(description="the question id"),
        judge: str = Field(description="the judge this label is for, e.g. answers_question or execution"),
        value: bool = Field(strict=True, description="the person's verdict: true = the answer passes"),
        note: str = Field("", description="why (shown to LLM judges as a few-shot rationale)"),
        labeler: str | None = Field(None, description="who labeled"),
    ) -> Label:
        """Record a person's verdict on one question for one judge (timestamped; a newer label replaces an older one)."""
        return cp().label_submit(run_id, case_id, judge, value, note, labeler)

    @app.tool(annotations=READ_ONLY)
    @_errors
    async def judge_alignment(judge: str = Field(description="a judge name, e.g. answers_question")) -> Alignment:
        """How well a judge agrees with human labels: accuracy, Cohen's kappa, confusion counts and recent disagreements."""
        return cp().judge_alignment(judge)


# Methods answered without the copilot: the handshake must not wait for the eval set to load.
_UNGUARDED = {"initialize", "server/discover", "ping", "notifications/initialized", "notifications/cancelled"}
# Answerable when the project cannot load (bad file, Genie unreachable): listings carry no
# eval-set content, and `doctor` is how the user finds out what is wrong.
_DIAGNOSTIC = {"tools/list", "prompts/list", "resources/list", "resources/templates/list"}


def _guard_for(session: Session, ctx: Any) -> HoldoutGuard | None:
    if ctx.method in _UNGUARDED:
        return None
    try:
        return session.guard()
    except ChaosLlamaError as e:
        params = ctx.params or {}
        if ctx.method in _DIAGNOSTIC or (ctx.method == "tools/call" and params.get("name") == "doctor"):
            return None
        from mcp.shared.exceptions import MCPError
        from mcp_types import INTERNAL_ERROR

        raise MCPError(code=INTERNAL_ERROR, message=f"the project cannot be loaded: {e}. "
                       "Fix the project file (the `doctor` tool or `chaos-llama doctor` says what is wrong).") from None


def _lazy_register(app: MCPServer, session: Session) -> None:
    """Register everything on the first request after the handshake, so `initialize` is answered fast."""
    state = {"done": False}

    async def middleware(ctx: Any, call_next: Any) -> Any:
        if not state["done"] and ctx.method not in _UNGUARDED:
            state["done"] = True
            _register(app, session)
        return await call_next(ctx)

    # After the SDK's request-state boundary, before the holdout guard (which needs the eval set).
    app._lowlevel_server.middleware.insert(1, middleware)


def ensure_registered(app: MCPServer) -> MCPServer:
    """Register everything now (for callers that inspect the server without a client)."""
    mw = app._lowlevel_server.middleware[1]
    import asyncio

    class _Ctx:
        method = "tools/list"

    async def _noop(ctx: Any) -> None:
        return None

    asyncio.run(mw(_Ctx(), _noop))
    return app


def _version() -> str:
    try:
        from ..tools import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "0"


LOOPBACK = ("127.0.0.1", "localhost", "::1")
AUTH_ENV = "CHAOS_LLAMA_AUTH_TOKEN"


class BearerToken:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`, else 401."""

    def __init__(self, app: Any, token: str):
        self.app, self.token = app, token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import hmac

        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            scheme, _, value = given.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(value.strip(), self.token):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b'Bearer realm="chaos-llama"')]})
                await send({"type": "http.response.body", "body": b"401: a bearer token is required (Authorization: Bearer ...)"})
                return
        await self.app(scope, receive, send)


def _allowed_hosts(host: str, extra: Sequence[str]) -> list[str]:
    """Host headers the server answers: loopback names, the bound address, this machine's names, `extra`."""
    import socket

    names = {"127.0.0.1", "localhost", "[::1]", *extra}
    if host not in LOOPBACK:
        if host in ("0.0.0.0", "::"):
            hostname = socket.gethostname()
            names |= {hostname, socket.getfqdn()}
            try:
                names |= {info[4][0] for info in socket.getaddrinfo(hostname, None)}
            except OSError:
                pass
        else:
            names.add(host)
    return sorted({n if ":" in n and not n.startswith("[") and n.count(":") == 1 else f"{n}:*" for n in names})


def serve(config: ProjectConfig | None = None, *, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8765,
          auth_token: str | None = None, allowed_hosts: Sequence[str] = ()) -> None:
    """Run the server: stdio (default), streamable HTTP (`http`) or SSE, binding 127.0.0.1 by default.

    Over HTTP the Host and Origin checks (DNS-rebinding protection) are always on. Binding anything
    but loopback serves every machine that can reach it, so it requires a token (`auth_token` or
    $CHAOS_LLAMA_AUTH_TOKEN) that every request must send as `Authorization: Bearer <token>`.
    """
    if transport not in ("stdio", "http", "streamable-http", "sse"):
        raise InvalidInput(f"unknown transport {transport!r}; choose stdio, http or sse", field="transport")
    token = auth_token or os.environ.get(AUTH_ENV) or None
    if transport != "stdio" and host not in LOOPBACK and not token:
        raise InvalidConfig(f"binding {host} serves every machine that can reach it: give a token with --auth-token or "
                            f"${AUTH_ENV} (clients send 'Authorization: Bearer <token>'), or bind 127.0.0.1", field="auth_token")
    app = build_app(config)
    if transport == "stdio":
        app.run("stdio")
        return
    import anyio
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = _allowed_hosts(host, allowed_hosts)
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                         allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts])
    web = app.sse_app(transport_security=security, host=host) if transport == "sse" else \
        app.streamable_http_app(transport_security=security, host=host)
    if token:
        web = BearerToken(web, token)
    server = uvicorn.Server(uvicorn.Config(web, host=host, port=port, log_level="warning"))
    anyio.run(server.serve)
