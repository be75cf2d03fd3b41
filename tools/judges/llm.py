"""LLM judges: binary verdicts with a rationale, from a prompt per judge (`prompts/judge_<name>.md`).

Three built-in judges and user judges declared in YAML share one callable, `LLMJudge`:

- ``answers_question``: the SQL and its result answer the user's question;
- ``semantically_equivalent``: the SQL means the same as (one of) the gold queries;
- ``follows_instructions``: the SQL respects the space's text instructions.

The model always answers ``{"result": true|false, "rationale": "..."}`` (MLflow's judge shape).
Output that is not such an object becomes a Verdict with `error` set, so the run goes on.

Where the model runs is the caller's choice, through the `JudgeRuntime` in scope
(`judge_runtime(...)`, a context variable, so concurrent sessions do not share it):

- a `Chat` (`tools/chat.py`): any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama) or a Databricks
  serving endpoint with the workspace's own auth (``databricks:<endpoint>``); tests inject a
  `httpx.MockTransport` or use the emulator's serving endpoint. Without a runtime,
  ``CHAOS_JUDGE_MODEL`` / ``CHAOS_JUDGE_BASE_URL`` / ``CHAOS_JUDGE_API_KEY_ENV`` configure one.
- MCP sampling and the assistant itself (see `llm_assist`): the same prompts, answered by the
  client; without any model a verdict is left *pending* (value None) for `judge_submit`.

Cost: before each call the runtime's ledger reserves an estimate of ``llm_tokens`` (refused
before spending when the budget is short) and settles the real usage after; identical calls
(same model identity, system text and prompt) are served from the store's ``llm_cache`` and
cost nothing. Usage is in ``Verdict.details["usage"]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from ... import prompts
from ..chat import Chat, Completion, json_objects
from ..errors import BudgetExceeded, ChaosLlamaError, InvalidConfig, JudgeError, did_you_mean
from .base import Verdict

SYSTEM = (
    "You are a strict, careful judge of a text-to-SQL assistant's answers. "
    'Reply with only a JSON object: {"result": true or false, "rationale": "..."}.'
)
SAMPLE_ROWS = 10
MAX_CELL = 80
DEFAULT_MAX_TOKENS = 400


# ---------------------------------------------------------------- definitions
class FewShot(BaseModel):
    """One worked example shown to a judge: a case and the verdict a person gave it."""

    question: str
    generated_sql: str | None = None
    result_sample: str | None = None
    gold_sql: str | None = None
    result: bool
    rationale: str = ""


class JudgeDefinition(BaseModel):
    """What an LLM judge checks: its prompt file, criteria (custom judges) and fixed examples."""

    name: str
    description: str
    prompt: str = "judge_custom"
    criteria: str = ""
    examples: list[FewShot] = Field(default_factory=list)
    needs: tuple[str, ...] = ("generated.sql", "generated.result")


BUILTIN: dict[str, JudgeDefinition] = {
    d.name: d
    for d in (
        JudgeDefinition(name="answers_question", prompt="judge_answers_question",
                        description="LLM: the generated SQL and its result answer the question"),
        JudgeDefinition(name="semantically_equivalent", prompt="judge_semantically_equivalent",
                        description="LLM: the generated SQL means the same as a gold query",
                        needs=("generated.sql", "generated.result", "expected.sql", "expected.result")),
        JudgeDefinition(name="follows_instructions", prompt="judge_follows_instructions",
                        description="LLM: the generated SQL follows the space's text instructions",
                        needs=("generated.sql", "generated.result", "space")),
    )
}
# Every LLM judge known in this process (built-ins and custom YAML judges), by name.
DEFINITIONS: dict[str, JudgeDefinition] = dict(BUILTIN)


# ---------------------------------------------------------------- models
class JudgeModel(Protocol):
    """What answers a judge: `Chat` (tools/chat.py) or anything with its two methods."""

    def identity(self) -> str: ...

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int | None = None) -> Completion: ...


# ---------------------------------------------------------------- runtime (where judges run)
@dataclass(frozen=True)
class JudgeRuntime:
    """What registered LLM judges use: a model (None: verdicts stay pending), the store (cache and
    few-shot labels), a budget ledger (`reserve`/`settle`, kind ``llm_tokens``) and how many
    labeled examples to show."""

    model: JudgeModel | None = None
    store: Any = None
    ledger: Any = None
    few_shot: int = 3
    max_tokens: int = DEFAULT_MAX_TOKENS


_RUNTIME: ContextVar[JudgeRuntime | None] = ContextVar("chaos_llama_judge_runtime", default=None)


def runtime_from_env(env: dict[str, str] | None = None) -> JudgeRuntime:
    """``CHAOS_JUDGE_MODEL`` (a model, or ``databricks:<endpoint>``; + ``CHAOS_JUDGE_BASE_URL``,
    ``CHAOS_JUDGE_API_KEY_ENV``) -> a runtime with that chat model."""
    env = os.environ if env is None else env
    model = env.get("CHAOS_JUDGE_MODEL")
    if not model:
        return JudgeRuntime()
    cfg: dict[str, Any] = {"model": model}
    if env.get("CHAOS_JUDGE_BASE_URL"):
        cfg["base_url"] = env["CHAOS_JUDGE_BASE_URL"]
    if env.get("CHAOS_JUDGE_API_KEY_ENV"):
        cfg["api_key_env"] = env["CHAOS_JUDGE_API_KEY_ENV"]
    return JudgeRuntime(model=Chat(cfg))


def current_runtime() -> JudgeRuntime:
    rt = _RUNTIME.get()
    return rt if rt is not None else runtime_from_env()


@contextmanager
def judge_runtime(**changes: Any) -> Iterator[JudgeRuntime]:
    """Run LLM judges in this scope with `changes` (model=, store=, ledger=, few_shot=) over the current runtime.

    A context variable: the runner's worker threads and tasks inherit it; other sessions do not.
    """
    unknown = [k for k in changes if k not in JudgeRuntime.__dataclass_fields__]
    if unknown:
        raise InvalidConfig(f"unknown judge runtime setting {unknown[0]!r}.{did_you_mean(unknown[0], JudgeRuntime.__dataclass_fields__)}")
    # None keeps the outer scope's setting, so callers can pass optional values straight through
    token = _RUNTIME.set(replace(current_runtime(), **{k: v for k, v in changes.items() if v is not None}))
    try:
        yield _RUNTIME.get()  # type: ignore[misc]
    finally:
        _RUNTIME.reset(token)


# ---------------------------------------------------------------- context and prompts
def _cell(v: Any) -> str:
    s = "NULL" if v is None else str(v)
    s = s.replace("\n", " ").replace("|", "\\|")
    return s if len(s) <= MAX_CELL else s[: MAX_CELL - 1] + "…"


def render_table(table: Any, max_rows: int = SAMPLE_ROWS) -> str:
    """A Markdown table of the first rows, and the row count.

    >>> import pyarrow as pa
    >>> print(render_table(pa.table({"store": ["North"], "revenue": [12.5]})))
    | store | revenue |
    |---|---|
    | North | 12.5 |
    (1 row)
    """
    if table is None:
        return "(no result)"
    cols = list(table.column_names)
    if not cols:
        return "(no columns)"
    rows = table.slice(0, max_rows).to_pylist()
    lines = ["| " + " | ".join(_cell(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in cols) + " |" for r in rows]
    n = table.num_rows
    lines.append(f"({n} row{'s' if n != 1 else ''}{f', first {max_rows} shown' if n > max_rows else ''})")
    return "\n".join(lines)


def case_context(case: Any, generated: Any, expected: list[Any], space: Any = None) -> dict[str, str]:
    """Every field any judge prompt may use, as text."""
    if generated.sql:
        sql = generated.sql
    else:
        sql = f"-- no SQL ({generated.status}): {generated.reason or generated.error or 'no reason given'}"
    if generated.error and generated.sql:
        result = f"(execution failed: {generated.error})"
    else:
        result = render_table(generated.result)
    golds = [g.sql for g in expected] or list(getattr(case, "gold_sql", []) or [])
    gold_result = next((g.result for g in expected if g.result is not None), None)
    instructions = space.serialized.instruction_text.strip() if space is not None else ""
    return {
        "question": case.question,
        "generated_sql": sql,
        "result_sample": result,
        "gold_sql": "\n-- or, equally acceptable:\n".join(golds) if golds else "(not provided)",
        "gold_result_sample": render_table(gold_result) if gold_result is not None else "(not available)",
        "instructions": instructions or "(none)",
    }


def render_examples(examples: list[FewShot], *, with_gold: bool) -> str:
    if not examples:
        return ""
    blocks = ["## Examples judged by people"]
    for i, ex in enumerate(examples, 1):
        b = [f"### Example {i}", f"Question: {ex.question}"]
        if with_gold and ex.gold_sql:
            b.append(f"Gold SQL: {ex.gold_sql}")
        b.append(f"Generated SQL: {ex.generated_sql or '(none)'}")
        if ex.result_sample:
            b.append(f"Result (sample):\n{ex.result_sample}")
        b.append("Verdict: " + json.dumps({"result": ex.result, "rationale": ex.rationale}, ensure_ascii=False))
        blocks.append("\n".join(b))
    return "\n\n".join(blocks)


def render_prompt(definition: JudgeDefinition, context: dict[str, str], examples: list[FewShot] = ()) -> str:
    template = prompts.load(definition.prompt)
    values = {**context, "name": definition.name, "criteria": definition.criteria.strip() or definition.description,
              "examples": render_examples(list(examples), with_gold="gold_sql" in template.fields)}
    return template.render(**{f: values[f] for f in template.fields})


class MalformedJudgment(JudgeError):
    """The model's reply is not a `{result, rationale}` object."""


_TRUE = {"true", "yes", "pass", "correct", "1"}
_FALSE = {"false", "no", "fail", "incorrect", "0"}


def parse_judgment(text: str) -> tuple[bool, str]:
    """(result, rationale) from a reply: a JSON object, possibly fenced or surrounded by prose.

    >>> parse_judgment('```json\\n{"result": "yes", "rationale": "matches"}\\n```')
    (True, 'matches')
    >>> parse_judgment("Looks right to me")
    Traceback (most recent call last):
    ...
    chaos_llama.tools.judges.llm.MalformedJudgment: judge reply is not JSON: 'Looks right to me'
    """

    content = (text or "").strip()
    obj = next(iter(json_objects(content)), None)
    if obj is None:
        raise MalformedJudgment(f"judge reply is not JSON: {content[:200]!r}")
    missing = [k for k in ("result", "rationale") if k not in obj]
    if missing:
        raise MalformedJudgment(f"judge reply misses field(s) {', '.join(missing)}: keys {sorted(obj)}")
    raw = obj["result"]
    if isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        value = raw.strip().lower() in _TRUE
    else:
        raise MalformedJudgment(f"judge reply has result {raw!r}; expected true or false")
    return value, str(obj["rationale"]).strip()


def cache_key(model_identity: str, system: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps([model_identity, system, prompt]).encode()).hexdigest()


def estimate_tokens(*texts: str) -> int:
    """A conservative token estimate (about 4 characters per token) for budget reservations."""
    return sum(len(t) for t in texts) // 4 + 1


# ---------------------------------------------------------------- the judge
def shortcut(definition: JudgeDefinition, generated: Any, space: Any = None) -> Verdict | None:
    """Verdicts that need no model: nothing to judge, or nothing to follow."""
    if not generated.sql:
        why = generated.reason or generated.error or generated.status
        return Verdict(judge=definition.name, value=False, rationale=f"no SQL was generated ({why})", details={"source": "rule"})
    if definition.name == "follows_instructions" and space is not None and not space.serialized.instruction_text.strip():
        return Verdict(judge=definition.name, value=True, rationale="the space has no text instructions to follow",
                       details={"source": "rule"})
    return None


class LLMJudge:
    """A registered-judge callable for one definition; the runtime in scope decides the model."""

    def __init__(self, definition: JudgeDefinition, *, runtime: JudgeRuntime | None = None):
        self.definition = definition
        self.NAME = definition.name
        self._runtime = runtime
        self.__doc__ = definition.description

    @property
    def runtime(self) -> JudgeRuntime:
        return self._runtime or current_runtime()

    def prompt_for(self, case: Any, generated: Any, expected: list[Any], space: Any = None) -> str:
        """The exact prompt this judge sends (few-shot examples from the store's labels included)."""
        examples = list(self.definition.examples)
        rt = self.runtime
        if rt.store is not None and rt.few_shot > 0:
            examples += few_shot_examples(rt.store, self.definition.name, k=rt.few_shot, exclude_questions={case.question})
        return render_prompt(self.definition, case_context(case, generated, expected, space), examples)

    def __call__(self, case: Any, *, generated: Any, expected: list[Any] = (), space: Any = None, **opts: Any) -> Verdict:
        name = self.definition.name
        quick = shortcut(self.definition, generated, space)
        if quick is not None:
            return quick
        rt = self.runtime
        prompt = self.prompt_for(case, generated, list(expected), space)
        if rt.model is None:
            return pending_verdict(name)
        key = cache_key(rt.model.identity(), SYSTEM, prompt)
        cached = rt.store.get_llm_cache(key) if rt.store is not None else None
        if cached is not None:
            value, rationale = parse_judgment(cached["response"])  # only parseable replies are cached
            return Verdict(judge=name, value=value, rationale=rationale,
                           details={"source": "llm", "model": cached["model"], "cached": True,
                                    "usage": {"total_tokens": 0}, "cached_usage": cached["usage"]})
        estimate = estimate_tokens(SYSTEM, prompt) + rt.max_tokens
        if rt.ledger is not None:
            try:
                rt.ledger.reserve("llm_tokens", estimate, note=f"judge {name}")
            except BudgetExceeded as e:
                return Verdict(judge=name, value=None, rationale=f"judge {name!r} not run: token budget", error=str(e),
                               details={"source": "llm", "usage": {"total_tokens": 0}})
        try:
            completion = rt.model.complete([{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
                                           max_tokens=rt.max_tokens)
        except ChaosLlamaError as e:  # the model failed (after its retries): no verdict, the run goes on
            if rt.ledger is not None:
                rt.ledger.settle("llm_tokens", estimate, 0, note=f"judge {name} failed")
            return Verdict(judge=name, value=None, rationale=f"judge {name!r} failed", error=str(e),
                           details={"source": "llm", "usage": {"total_tokens": 0}})
        usage = dict(completion.usage)
        if "total_tokens" not in usage:  # endpoints that omit usage are still charged, by estimate
            usage = {"total_tokens": estimate_tokens(SYSTEM, prompt, completion.text), "estimated": 1}
        if rt.ledger is not None:
            rt.ledger.settle("llm_tokens", estimate, usage["total_tokens"], note=f"judge {name}")
        details: dict[str, Any] = {"source": "llm", "model": completion.model, "cached": False, "usage": usage}
        try:
            value, rationale = parse_judgment(completion.text)
        except MalformedJudgment as e:
            return Verdict(judge=name, value=None, rationale=f"judge {name!r} gave an unusable reply", error=str(e),
                           details={**details, "raw": completion.text[:2000]})
        if rt.store is not None:
            rt.store.put_llm_cache(key, completion.model, completion.text, usage)
        return Verdict(judge=name, value=value, rationale=rationale, details=details)


PENDING = ("pending: no judge model configured; answer it with judge_pending/judge_submit, or configure a model "
           "(project file `judge_model: databricks:<endpoint>` or `{base_url, model, api_key_env}`, `chaos-llama eval "
           "--judge-model databricks:<endpoint>` or `--judge-model M --judge-base-url URL`, or CHAOS_JUDGE_MODEL / "
           "CHAOS_JUDGE_BASE_URL / CHAOS_JUDGE_API_KEY_ENV)")


def pending_verdict(name: str) -> Verdict:
    """The verdict of an LLM judge without a model: open for the assistant (judge_submit) to fill."""
    return Verdict(judge=name, value=None, rationale="awaiting a judgment", error=PENDING, details={"source": "pending"})


def is_llm_judge(name: str) -> bool:
    return name in DEFINITIONS


def get_definition(name: str) -> JudgeDefinition:
    try:
        return DEFINITIONS[name]
    except KeyError:
        raise JudgeError(f"{name!r} is not an LLM judge.{did_you_mean(name, DEFINITIONS)}") from None


# ---------------------------------------------------------------- custom judges from YAML
_JUDGE_KEYS = ("name", "description", "criteria", "examples", "uses_gold")
_EXAMPLE_KEYS = tuple(FewShot.model_fields)


def parse_judge_definitions(doc: Any, *, source: str | None = None) -> list[JudgeDefinition]:
    """Validate a YAML document (a list of judges, or `{judges: [...]}`) into definitions."""
    if isinstance(doc, dict) and "judges" in doc:
        doc = doc["judges"]
    if not isinstance(doc, list) or not doc:
        raise InvalidConfig("expected a non-empty list of judges (or a 'judges:' key holding one)", source=source, field="judges")
    out: list[JudgeDefinition] = []
    for i, item in enumerate(doc):
        where = f"judges[{i}]"
        if not isinstance(item, dict):
            raise InvalidConfig(f"judge #{i + 1} must be a mapping, got {item!r}", source=source, field=where)
        for k in item:
            if k not in _JUDGE_KEYS:
                raise InvalidConfig(f"judge #{i + 1}: unknown field {k!r}.{did_you_mean(str(k), _JUDGE_KEYS)}", source=source,
                                    field=f"{where}.{k}")
        name = item.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
            raise InvalidConfig(f"judge #{i + 1}: 'name' must be an identifier, got {name!r}", source=source, field=f"{where}.name")
        if name in BUILTIN or any(d.name == name for d in out):
            raise InvalidConfig(f"judge name {name!r} is already taken", source=source, field=f"{where}.name")
        criteria = item.get("criteria")
        if not isinstance(criteria, str) or not criteria.strip():
            raise InvalidConfig(f"judge {name!r} needs non-empty 'criteria' text", source=source, field=f"{where}.criteria")
        examples = []
        for j, ex in enumerate(item.get("examples") or []):
            ewhere = f"{where}.examples[{j}]"
            if not isinstance(ex, dict):
                raise InvalidConfig(f"judge {name!r}: example #{j + 1} must be a mapping", source=source, field=ewhere)
            for k in ex:
                if k not in _EXAMPLE_KEYS:
                    raise InvalidConfig(f"judge {name!r}: example #{j + 1} has unknown field {k!r}.{did_you_mean(str(k), _EXAMPLE_KEYS)}",
                                        source=source, field=f"{ewhere}.{k}")
            if not isinstance(ex.get("question"), str) or not isinstance(ex.get("result"), bool):
                raise InvalidConfig(f"judge {name!r}: example #{j + 1} needs 'question' (text) and 'result' (true/false)",
                                    source=source, field=ewhere)
            examples.append(FewShot.model_validate(ex))
        uses_gold = bool(item.get("uses_gold", False))
        out.append(JudgeDefinition(
            name=name, description=str(item.get("description") or f"LLM: {criteria.strip().splitlines()[0][:80]}"),
            prompt="judge_custom", criteria=criteria, examples=examples,
            needs=("generated.sql", "generated.result") + (("expected.sql",) if uses_gold else ()),
        ))
    return out


def load_judge_file(path: str | Path, *, register: bool = True) -> list[Any]:
    """Register every LLM judge declared in a YAML file; returns their JudgeSpecs.

    ```yaml
    judges:
      - name: uses_completed_orders
        description: revenue questions count completed orders only
        criteria: |
          Answer true when a revenue figure is computed only over orders with status 'C' ...
        examples:
          - {question: "Revenue in May?", generated_sql: "SELECT SUM(amt) FROM orders", result: false,
             rationale: "no status filter"}
    ```
    """
    import yaml

    from . import JudgeSpec, register_judge

    source = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise InvalidConfig(f"cannot read judge file: {e}", source=source) from None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise InvalidConfig(f"invalid YAML: {getattr(e, 'problem', e)}", source=source, line=line + 1 if line is not None else None) from None
    specs = []
    for d in parse_judge_definitions(doc, source=source):
        fn = LLMJudge(d)
        if register:
            DEFINITIONS[d.name] = d
            specs.append(register_judge(d.name, fn, needs=d.needs, description=d.description, replace=True))
        else:
            specs.append(JudgeSpec(name=d.name, fn=fn, needs=d.needs, description=d.description))
    return specs


# The registry's entries for the built-in LLM judges: name -> (callable, needs, description).
REGISTRY = {name: (LLMJudge(d), d.needs, d.description) for name, d in BUILTIN.items()}

__all__ = [
    "BUILTIN", "Completion", "DEFINITIONS", "FewShot", "JudgeDefinition", "JudgeModel", "JudgeRuntime", "LLMJudge",
    "MalformedJudgment", "case_context", "current_runtime", "judge_runtime", "load_judge_file",
    "parse_judgment", "pending_verdict", "render_prompt", "render_table",
]


# ---------------------------------------------------------------- few-shot examples from human labels
def labeled_cases(store: Any, judge: str, *, exclude_splits: tuple[str, ...] = ()) -> list[tuple[Any, Any, Any]]:
    """(label, case, judge verdict or None) for the latest labels of `judge`, newest last."""
    out = []
    cases_by_run: dict[str, dict[str, Any]] = {}
    verdicts_by_run: dict[str, dict[str, list[Any]]] = {}
    for label in store.get_labels(judge=judge):
        if label.run_id not in cases_by_run:
            run = store.get_run(label.run_id)
            cases_by_run[label.run_id] = {c.id: c for c in store.get_evalset(run.evalset_hash).cases} if run else {}
            verdicts_by_run[label.run_id] = store.get_verdicts(label.run_id)
        case = cases_by_run[label.run_id].get(label.case_id)
        if case is None or (case.split in exclude_splits):
            continue
        verdict = next((v for v in verdicts_by_run[label.run_id].get(label.case_id, []) if v.judge == judge), None)
        out.append((label, case, verdict))
    return out


def few_shot_examples(store: Any, judge: str, *, k: int = 3, exclude_questions: set[str] | None = None) -> list[FewShot]:
    """Labeled cases as prompt examples: disagreements with the judge first, then the newest.

    Test-split questions are never used, nor any question in `exclude_questions` (the case being
    judged must not see its own label).
    """
    if k <= 0:
        return []
    rows = labeled_cases(store, judge, exclude_splits=("test",))
    exclude = exclude_questions or set()
    ranked = []
    for order, (label, case, verdict) in enumerate(rows):
        if case.question in exclude:
            continue
        disagrees = verdict is not None and isinstance(verdict.value, bool) and verdict.value != label.value
        ranked.append((not disagrees, -order, label, case, verdict))
    ranked.sort(key=lambda r: (r[0], r[1]))
    out = []
    results: dict[tuple[str, str], Any] = {}
    for _, _, label, case, verdict in ranked[:k]:
        key = (label.run_id, label.case_id)
        if key not in results:
            results[key] = store.get_result(label.run_id, label.case_id)
        res = results[key]
        if label.note:
            why = label.note
        elif verdict is not None and verdict.value == label.value and verdict.rationale:
            why = verdict.rationale
        else:
            why = f"A person judged this answer {'correct' if label.value else 'incorrect'}."
        out.append(FewShot(question=case.question, generated_sql=res.sql if res else None,
                           result_sample=render_table(res.result, 5) if res is not None and res.result is not None else None,
                           gold_sql=case.gold_sql[0] if case.gold_sql else None, result=label.value, rationale=why))
    return out
