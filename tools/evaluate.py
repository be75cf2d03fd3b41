"""End-to-end evaluation: space + eval set + data -> a stored, judged run. Used by the CLI and MCP."""

from __future__ import annotations

import contextlib
import importlib.resources
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .backends import Backend, open_backend
from .chat import Chat
from .errors import InvalidConfig, InvalidEvalSet, did_you_mean
from .evalset import EvalSet, assign_splits, load_evalset
from .judges.llm import judge_runtime
from .project import DEFAULT_JUDGES, BackendConfig
from .runner import RunResult, RunSettings, run_eval_sync
from .space.io import load_space
from .space.model import Space
from .space.validate import ensure_valid
from .store import DEFAULT_WORKSPACE, Store
from .tracking import TrackedRun, track_run, tracked_run


class ExamplePaths(BaseModel):
    """Where the bundled retail example's files are."""

    root: Path
    data: Path
    sparse_space: Path
    curated_space: Path
    evalset: Path  # the realistic set: phrased as business users ask, frozen family-grouped splits (the default)
    templates: Path  # the template set: few phrasings per question family (older walkthroughs, quick tests)
    unseen: Path  # phrasings no one tuned the engine or the proposers to: report on it, never tune to it


@contextlib.contextmanager
def bundled_example(name: str = "retail") -> Iterator[ExamplePaths]:
    """Paths of a bundled example, valid for both editable and regular installs."""
    ref = importlib.resources.files("chaos_llama.examples") / name
    with importlib.resources.as_file(ref) as root:
        root = Path(root)
        yield ExamplePaths(
            root=root,
            data=root / "data",
            sparse_space=root / "space_sparse.yaml",
            curated_space=root / "space_curated.yaml",
            evalset=root / "evalset_realistic.yaml",
            templates=root / "evalset_templates.yaml",
            unseen=root / "evalset_unseen.yaml",
        )


def open_local_backend(data: Sequence[str | Path], *, strategy: str = "retrieval", llm: dict | None = None,
                       strict: bool = False) -> Backend:
    """The embedded Genie engine over a DuckDB database built from `data` sources (`strict`: a
    PostgreSQL dump statement that cannot load is fatal, else a DataLoadWarning)."""
    return open_backend(BackendConfig(kind="local", strategy=strategy, llm=llm, strict=strict), data=data)


def open_databricks_backend(space_id: str | None, *, store: Store | None = None, **options: Any) -> Backend:
    """A Genie space in a Databricks workspace (`options`: the `BackendConfig` fields profile, host,
    warehouse_id, rate_per_minute, question_timeout_s, settle_s). With `store`, every version
    pulled from or pushed to Genie is kept there."""
    return open_backend(BackendConfig(kind="databricks", space_id=space_id, **options), store=store)


def remote_inputs(backend: Backend, space_path: str | Path | None, evalset_path: str | Path | None, *,
                  seed: int = 0) -> tuple[Space, EvalSet]:
    """The space and eval set for a remote backend: files when given, else the space Genie holds
    and its benchmark questions."""
    space = load_space(space_path) if space_path else backend.get_space().space
    ensure_valid(space)
    evalset = load_evalset(evalset_path) if evalset_path else backend.import_benchmarks()
    if not evalset.cases:
        raise InvalidEvalSet("the Genie space has no benchmark questions; pass --evalset", field="evalset")
    return space, assign_splits(evalset, seed=seed)


def load_inputs(space_path: str | Path, evalset_path: str | Path, *, seed: int = 0) -> tuple[Space, EvalSet]:
    """Load and validate a space and an eval set (with splits assigned)."""
    space = load_space(space_path)
    ensure_valid(space)
    return space, assign_splits(load_evalset(evalset_path), seed=seed)


class RunInputs(BaseModel):
    """What a stored run was asked with: enough to resume it with the same questions and version."""

    model_config = {"arbitrary_types_allowed": True}

    run_id: str
    status: str
    space: Space
    evalset: EvalSet
    split: str | None = None
    judges: list[str]
    backend: str


def run_inputs(workspace: str | Path, run_id: str) -> RunInputs:
    """The space version, eval set, split and judges of run `run_id` in the workspace's store."""
    with Store.open(workspace) as store:
        run = store.get_run(run_id)
        if run is None:
            known = [r.run_id for r in store.list_runs(limit=200)]
            raise InvalidConfig(f"no run {run_id!r} in workspace '{workspace}'.{did_you_mean(run_id, known)}", field="resume")
        space = store.get_space_version(run.space_version, space_key=run.space_key).space
        return RunInputs(run_id=run.run_id, status=run.status, space=space, evalset=store.get_evalset(run.evalset_hash),
                         split=run.split, judges=list(run.judges), backend=run.backend)


def evaluate(
    space: Space,
    evalset: EvalSet,
    backend: Backend,
    *,
    workspace: str | Path = DEFAULT_WORKSPACE,
    split: str | None = None,
    judges: Sequence[str] = DEFAULT_JUDGES,
    concurrency: int = 4,
    progress: Callable | None = None,
    use_cache: bool = True,
    judge_model: dict | str | None = None,
    run_id: str | None = None,
    retry_errors: bool = False,
    tracking: str | None = None,
    experiment: str | None = None,
) -> RunResult:
    """Run, judge and store one evaluation in the workspace's store; returns the runner's `RunResult`.

    `judge_model` (a `ChatModel`: ``"databricks:<endpoint>"``, or base_url, model, api_key_env)
    answers LLM judges; without it they use the CHAOS_JUDGE_* environment variables, or stay
    pending for a person or an assistant. With `run_id` of a stored run, that run is resumed: only
    questions it has not recorded are asked (with `retry_errors`, its ERROR/TIMEOUT questions too)
    and it ends completed. With `tracking` (an MLflow tracking URI, see `tracking.tracking_uri`), the
    run is logged to MLflow (experiment `experiment`, default ``chaos-llama/<space>``) and its
    summary links the MLflow run.
    """
    model = Chat(judge_model) if judge_model else None
    with Store.open(workspace) as store, judge_runtime(store=store, model=model):  # LLM judge calls are cached in the store
        result = run_eval_sync(evalset, backend, space, RunSettings(judges=tuple(judges), split=split, concurrency=concurrency, use_cache=use_cache, run_id=run_id, retry_errors=retry_errors), store=store, progress=progress)
        if tracking:
            track_run(store, result, space, uri=tracking, experiment=experiment, source="cli")
        return result


def tracked(workspace: str | Path, run_id: str) -> TrackedRun | None:
    """Where run `run_id` of the workspace was logged to MLflow, if it was."""
    with Store.open(workspace) as store:
        run = store.get_run(run_id)
    return tracked_run(run.summary) if run is not None else None
