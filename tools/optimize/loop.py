"""The optimization loop: evaluate train → analyse failures → propose → validate → apply as a
candidate version → evaluate train and val → keep or revert; the test split is scored once, at
the end, on the version chosen by val.

Keep-or-revert uses paired, per-question evidence only: the questions the candidate fixed and
broke on train+val, confirmed by asking them again when the backend is nondeterministic, must
pass an exact one-sided sign test (McNemar's exact test), and val must not lose more questions
than it gains. An aggregate delta that noise alone could produce never keeps a change.

The state is written to the store after every step under a deterministic id (from the space,
eval set, backend and settings), and every evaluation has a deterministic run id, so running the
same command again after a kill continues where it stopped and asks only what is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidConfig, InvalidSpace
from ..evalset import EvalSet, assign_splits, evalset_hash
from ..runner import RunResult, case_dialect, run_eval
from ..space.changes import ChangeSet, Journal, apply_changes, diff_spaces, revert
from ..space.io import space_hash, space_to_yaml
from ..space.model import Space
from ..space.validate import ensure_valid
from ..store import Store, _now
from . import stats
from .model import (
    EpochRecord,
    Failure,
    FinalScore,
    OptimizationResult,
    OptimizationState,
    SplitScore,
    TriedChange,
)
from .proposers import Proposer, TableData, get_proposer
from .state import load_state, save_state

JUDGES = ("execution", "failure_analysis")
Progress = Callable[[str], Any]


def _score(result: RunResult, split: str) -> SplitScore:
    rows = [r for r in result.rows if r.split == split]
    correct = sum(r.correct is True for r in rows)
    cats: dict[str, list[bool]] = {}
    for r in rows:
        cats.setdefault(r.category or "uncategorized", []).append(r.correct is True)
    return SplitScore(correct=correct, total=len(rows), accuracy=correct / len(rows) if rows else 0.0,
                      by_category={k: sum(v) / len(v) for k, v in sorted(cats.items())}, run_id=result.run_id)


def _correct(result: RunResult) -> dict[str, bool]:
    return {r.case_id: r.correct is True for r in result.rows}


def _is_deterministic(backend: Any) -> bool:
    """Whether asking twice gives the same answer: declared by the backend, else the offline retrieval engine."""
    declared = getattr(backend, "deterministic", None)
    if declared is not None:
        return bool(declared)
    return getattr(backend, "strategy", None) == "retrieval"


def optimization_id(space: Space, evalset: EvalSet, backend_identity: str, settings: dict[str, Any]) -> str:
    """Deterministic id: the same space, eval set, backend and settings resume the same optimization."""
    doc = json.dumps([space_hash(space), evalset_hash(evalset), backend_identity, settings], sort_keys=True, default=str)
    return "opt-" + hashlib.sha256(doc.encode()).hexdigest()[:12]


class _Loop:
    def __init__(self, space: Space, evalset: EvalSet, backend: Any, *, store: Store, proposer: Proposer,
                 state: OptimizationState, judges: Sequence[str], concurrency: int, reasks: int, alpha: float,
                 max_changes: int, max_epochs: int, patience: int, budget: int | None, tracker: Any,
                 progress: Progress | None, workspace: Path | None):
        self.space0, self.evalset, self.backend, self.store = space, evalset, backend, store
        self.proposer, self.state, self.judges = proposer, state, tuple(judges)
        self.concurrency, self.reasks, self.alpha, self.max_changes = concurrency, reasks, alpha, max_changes
        self.max_epochs, self.patience, self.budget = max_epochs, patience, budget
        self.tracker, self.progress, self.workspace = tracker, progress, workspace
        self.space_key = state.space_key
        self.sizes = {s: len(evalset.split(s)) for s in ("train", "val", "test")}
        self.by_id = {c.id: c for c in evalset.cases}

    # ---------------------------------------------------------------- plumbing
    def say(self, msg: str) -> None:
        if self.progress is not None:
            self.progress(msg)

    def save(self) -> None:
        save_state(self.store, self.state)

    def version(self, version_id: str) -> Space:
        return self.store.get_space_version(version_id, space_key=self.space_key).space

    async def evaluate(self, space: Space, split: str, label: str, *, use_cache: bool = True,
                       evalset: EvalSet | None = None) -> RunResult:
        """One evaluation under a deterministic run id (resumed if a kill interrupted it)."""
        if split == "test" and label != "final":
            raise AssertionError("the test split is only ever scored by the final step")  # defense in depth
        run_id = f"{self.state.opt_id}-{label}-{split}-{space_hash(space)[:10]}"
        result = await run_eval(evalset or self.evalset, self.backend, space, store=self.store, judges=self.judges,
                                split=split if evalset is None else None, run_id=run_id, concurrency=self.concurrency,
                                use_cache=use_cache, space_key=self.space_key)
        self.state.backend_calls += result.backend_calls
        return result

    def budget_left(self) -> int | None:
        if self.budget is None:
            return None
        return self.budget - self.state.backend_calls - self.sizes["test"]  # the final test is always affordable

    # ---------------------------------------------------------------- steps
    async def run(self) -> None:
        st = self.state
        if st.phase == "baseline":
            space = self.version(st.initial_version)
            for split in ("train", "val"):
                self.say(f"baseline: evaluating {split}")
                st.baseline[split] = _score(await self.evaluate(space, split, "base"), split)
            st.best_val, st.best_train = st.baseline["val"].accuracy, st.baseline["train"].accuracy
            st.phase = "propose"
            self.save()
            self.track_epoch(0, st.baseline)
        while st.phase in ("propose", "evaluate"):
            if st.phase == "propose":
                stop = self.should_stop()
                if stop:
                    st.stopped_because, st.phase = stop, "final"
                    self.save()
                    break
                await self.propose()
            if st.phase == "evaluate":
                await self.decide()
        if st.phase == "final":
            await self.final()

    def should_stop(self) -> str | None:
        st = self.state
        if len(st.epochs) >= self.max_epochs:
            return f"reached max_epochs={self.max_epochs}"
        if st.stale_epochs >= self.patience:
            return f"no val gain for {st.stale_epochs} epoch(s) (patience={self.patience})"
        left = self.budget_left()
        if left is not None and left < self.sizes["train"] + self.sizes["val"]:
            return f"budget: {self.state.backend_calls} of {self.budget} backend questions used, too few left for an epoch"
        return None

    def history(self) -> list[TriedChange]:
        out = []
        for e in self.state.epochs:
            if e.decision not in ("accepted", "rejected", "invalid"):
                continue
            base_val = e.base_scores.get("val")
            cand_val = e.candidate_scores.get("val")
            out.append(TriedChange(
                epoch=e.epoch, message=e.message, changes=e.changes, accepted=e.decision == "accepted", reason=e.reason,
                train_fixed=e.train_fixed, train_broken=e.train_broken, val_fixed=len(e.val_fixed),
                val_broken=len(e.val_broken),
                val_delta=(cand_val.accuracy - base_val.accuracy) if base_val and cand_val else 0.0))
        return out

    async def failures(self, result: RunResult) -> list[Failure]:
        verdicts = self.store.get_verdicts(result.run_id)
        out = []
        for row in result.rows:
            if row.split != "train" or row.correct is True:
                continue
            case = self.by_id[row.case_id]
            fa = next((v for v in verdicts.get(row.case_id, []) if v.judge == "failure_analysis"), None)
            out.append(Failure(
                case_id=case.id, question=case.question, gold_sql=case.gold_sql, dialect=case_dialect(case) or "databricks",
                category=case.category, status=row.status, generated_sql=row.sql,
                analysis=str(fa.value) if fa and fa.value is not None else None, rationale=fa.rationale if fa else row.error,
                details=fa.details if fa else {}))
        return out

    async def propose(self) -> None:
        st = self.state
        epoch = len(st.epochs) + 1
        st.epoch = epoch
        base = self.version(st.current_version)
        self.say(f"epoch {epoch}: evaluating train of the current version")
        train = await self.evaluate(base, "train", "cur")
        val = await self.evaluate(base, "val", "cur")  # answers cached: what the candidate is paired with
        record = EpochRecord(epoch=epoch, base_version=st.current_version,
                             base_scores={"train": _score(train, "train"), "val": _score(val, "val")})
        failures = await self.failures(train)
        if not failures:
            record.decision, record.reason = "empty", "no failing train question left"
            st.epochs.append(record)
            st.stopped_because, st.phase = record.reason, "final"
            self.save()
            return
        self.say(f"epoch {epoch}: {len(failures)} failing train question(s); proposing with {self.proposer.name}")
        changes = self.proposer.propose(base, failures, budget=self.max_changes, history=self.history())
        record.message = changes.message
        record.changes = [c.model_dump(exclude_none=True) for c in changes.changes]
        if not changes.changes:
            record.decision, record.reason = "empty", f"proposer {self.proposer.name!r} has nothing more to propose"
            st.epochs.append(record)
            st.stopped_because, st.phase = record.reason, "final"
            self.save()
            return
        try:
            candidate, journal = apply_changes(base, changes, columns=self.columns(base))
            ensure_valid(candidate)  # Genie's rules and per-space limits, before anything is asked
        except InvalidSpace as e:
            record.decision, record.reason = "invalid", f"change set rejected by validation: {e}"
            st.epochs.append(record)
            st.stale_epochs += 1
            self.save()
            self.track_epoch(epoch, record.base_scores, record)
            return
        version = self.store.put_space_version(candidate, space_key=self.space_key, parent_id=st.current_version,
                                               message=changes.message or f"epoch {epoch}",
                                               author=f"chaos-llama optimize ({self.proposer.name})")
        record.candidate_version = version.version_id
        record.diff = diff_spaces(base, candidate)
        record.journal = journal.model_dump(mode="json")
        st.epochs.append(record)
        st.phase = "evaluate"
        self.save()

    def columns(self, space: Space) -> dict[str, list[str]] | None:
        data = TableData(self.backend, space)
        cols = data.all_columns()
        return cols if any(cols.values()) else None

    async def decide(self) -> None:
        st = self.state
        record = st.epochs[-1]
        base, candidate = self.version(record.base_version), self.version(record.candidate_version or "")
        self.say(f"epoch {record.epoch}: evaluating the candidate on train and val")
        base_runs = {s: await self.evaluate(base, s, "cur") for s in ("train", "val")}
        cand_runs = {s: await self.evaluate(candidate, s, "cand") for s in ("train", "val")}
        record.candidate_scores = {s: _score(cand_runs[s], s) for s in ("train", "val")}
        before = {**_correct(base_runs["train"]), **_correct(base_runs["val"])}
        after = {**_correct(cand_runs["train"]), **_correct(cand_runs["val"])}
        paired = stats.compare(before, after)
        fixed, broken = paired.fixed, paired.broken
        if self.reasks and (fixed or broken):
            fixed, broken = await self.confirm(base, candidate, fixed, broken, record)
        val_ids = {c.id for c in self.evalset.split("val")}
        record.train_fixed = [q for q in fixed if q not in val_ids]
        record.train_broken = [q for q in broken if q not in val_ids]
        record.val_fixed = [q for q in fixed if q in val_ids]
        record.val_broken = [q for q in broken if q in val_ids]
        p = stats.sign_test(len(fixed), len(broken))
        record.p_value = p
        evidence = (f"{len(fixed)} fixed vs {len(broken)} broken on train+val (val {len(record.val_fixed)} vs "
                    f"{len(record.val_broken)}), sign test p={p:.4f}")
        if len(fixed) > len(broken) and p <= self.alpha and len(record.val_broken) <= len(record.val_fixed):
            record.decision, record.reason = "accepted", f"{evidence} <= alpha={self.alpha}"
            st.current_version = record.candidate_version or st.current_version
        else:
            why = ("val lost more than it gained" if len(record.val_broken) > len(record.val_fixed)
                   else f"not significant (alpha={self.alpha})" if len(fixed) > len(broken) else "no net gain")
            record.decision, record.reason = "rejected", f"{evidence}: {why}; reverted"
            # Revert through the journal: exact, and checked against the base version's content.
            restored = revert(candidate, Journal.model_validate(record.journal))
            if space_hash(restored) != space_hash(base):
                raise AssertionError("journal revert did not restore the base version")  # never expected
            st.current_version = record.base_version
        cand_val = record.candidate_scores["val"].accuracy
        if record.decision == "accepted" and (cand_val > st.best_val or
                                              (cand_val == st.best_val and record.candidate_scores["train"].accuracy > st.best_train)):
            improved = cand_val > st.best_val
            st.best_version, st.best_val = st.current_version, cand_val
            st.best_train = record.candidate_scores["train"].accuracy
            st.stale_epochs = 0 if improved else st.stale_epochs + 1
        else:
            st.stale_epochs += 1
        st.phase = "propose"
        self.save()
        self.say(f"epoch {record.epoch}: {record.decision} ({record.reason})")
        self.track_epoch(record.epoch, record.candidate_scores, record)

    async def confirm(self, base: Space, candidate: Space, fixed: list[str], broken: list[str],
                      record: EpochRecord) -> tuple[list[str], list[str]]:
        """Ask flipped questions again on both versions; keep only flips that hold every time."""
        flipped = EvalSet(name=f"{self.evalset.name}-flipped-e{record.epoch}",
                          cases=[self.by_id[q] for q in fixed + broken])
        base_ok: dict[str, list[bool]] = {q: [] for q in fixed + broken}
        cand_ok: dict[str, list[bool]] = {q: [] for q in fixed + broken}
        for k in range(self.reasks):
            for space, sink, label in ((base, base_ok, "cur"), (candidate, cand_ok, "cand")):
                res = await self.evaluate(space, "flipped", f"e{record.epoch}-reask{k}-{label}", use_cache=False,
                                          evalset=flipped)
                for q, ok in _correct(res).items():
                    sink[q].append(ok)
        record.reasked = len(fixed + broken) * self.reasks * 2
        kept_fixed = [q for q in fixed if not any(base_ok[q]) and all(cand_ok[q])]
        kept_broken = [q for q in broken if all(base_ok[q]) and not any(cand_ok[q])]
        return kept_fixed, kept_broken

    async def final(self) -> None:
        """Score the best version on val (cached) and, once, on test."""
        st = self.state
        best = self.version(st.best_version)
        self.say("final: scoring the best version on val and, once, on test")
        val = await self.evaluate(best, "val", "cur")
        test = await self.evaluate(best, "test", "final")
        vs, ts = _score(val, "val"), _score(test, "test")
        st.final = FinalScore(version=st.best_version, val=vs, test=ts, val_test_gap=vs.accuracy - ts.accuracy)
        st.status, st.phase, st.finished_at = "completed", "done", _now()
        st.stopped_because = st.stopped_because or "finished"
        self.save()
        if self.tracker is not None:
            self.tracker.log_metrics({"final_val_accuracy": vs.accuracy, "final_test_accuracy": ts.accuracy,
                                      "val_test_gap": st.final.val_test_gap}, step=len(st.epochs))

    def track_epoch(self, epoch: int, scores: dict[str, SplitScore], record: EpochRecord | None = None) -> None:
        if self.tracker is None:
            return
        metrics = {f"{s}_accuracy": sc.accuracy for s, sc in scores.items()}
        metrics["backend_calls"] = self.state.backend_calls
        if record is not None:
            metrics.update({"accepted": float(record.decision == "accepted"), "fixed": len(record.train_fixed) + len(record.val_fixed),
                            "broken": len(record.train_broken) + len(record.val_broken)})
            if record.p_value is not None:
                metrics["p_value"] = record.p_value
        self.tracker.log_metrics(metrics, step=epoch)


def _result(state: OptimizationState, store: Store, space_title: str, evalset: EvalSet | None = None) -> OptimizationResult:
    best = store.get_space_version(state.best_version, space_key=state.space_key).space
    remaining: list[Failure] = []
    train_run = next((sc.run_id for e in reversed(state.epochs) for sc in [e.candidate_scores.get("train")]
                      if sc and e.decision == "accepted" and e.candidate_version == state.best_version), None)
    train_run = train_run or (state.baseline.get("train").run_id if state.baseline.get("train") else None)
    if train_run:
        from ..runner import build_run_result

        res = build_run_result(store, train_run, evalset=evalset)
        cases = {c.id: c for c in (evalset or store.get_evalset(res.evalset_hash)).cases}
        verdicts = store.get_verdicts(train_run)
        for row in res.rows:
            if row.split == "train" and row.correct is not True:
                fa = next((v for v in verdicts.get(row.case_id, []) if v.judge == "failure_analysis"), None)
                c = cases[row.case_id]
                remaining.append(Failure(case_id=c.id, question=c.question, gold_sql=c.gold_sql, category=c.category,
                                         status=row.status, generated_sql=row.sql,
                                         analysis=str(fa.value) if fa and fa.value is not None else None,
                                         rationale=fa.rationale if fa else row.error))
    return OptimizationResult(
        opt_id=state.opt_id, space_title=space_title, proposer=state.proposer, settings=state.settings,
        status=state.status, stopped_because=state.stopped_because, initial_version=state.initial_version,
        best_version=state.best_version, baseline=state.baseline, epochs=state.epochs, final=state.final,
        backend_calls=state.backend_calls, best_space_yaml=space_to_yaml(best), remaining_failures=remaining,
        tracking_run_id=state.tracking_run_id, tracking_uri=state.settings.get("tracking_uri"))


def load_result(store: Store, opt_id: str) -> OptimizationResult:
    """The result of a stored optimization (finished or not), e.g. for the MCP `report` tool."""
    state = load_state(store, opt_id)
    if state is None:
        from ..errors import did_you_mean
        from .state import list_states

        known = [s.opt_id for s in list_states(store)]
        raise InvalidConfig(f"no optimization {opt_id!r} in {store.path}.{did_you_mean(opt_id, known)}", field="opt_id")
    title = store.get_space_version(state.initial_version, space_key=state.space_key).space.title
    return _result(state, store, title)


async def optimize_async(
    space: Space,
    evalset: EvalSet,
    backend: Any,
    *,
    store: Store,
    proposer: str | Proposer = "heuristic",
    max_epochs: int = 5,
    patience: int = 2,
    budget: int | None = None,
    seed: int = 0,
    workspace: str | Path | None = None,
    tracking: str | bool | None = None,
    experiment: str | None = None,
    alpha: float = 0.05,
    max_changes: int = 40,
    reasks: int | None = None,
    judges: Sequence[str] = JUDGES,
    concurrency: int = 4,
    proposer_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    opt_id: str | None = None,
) -> OptimizationResult:
    """Optimize `space` on `evalset`'s train split, select by val, score test once; see `optimize`."""
    if max_epochs < 1 or patience < 1:
        raise InvalidConfig(f"max_epochs and patience must be >= 1, got {max_epochs!r} and {patience!r}", field="max_epochs")
    if not 0 < alpha < 1:
        raise InvalidConfig(f"alpha must be between 0 and 1, got {alpha!r}", field="alpha")
    if any(c.split is None for c in evalset.cases):
        evalset = assign_splits(evalset, seed=seed)
    sizes = {s: len(evalset.split(s)) for s in ("train", "val", "test")}
    empty = [s for s, n in sizes.items() if n == 0]
    if empty:
        raise InvalidConfig(f"eval set {evalset.name!r} has no {empty[0]} questions; optimization needs train, val and test "
                            f"(counts: {sizes})", field="evalset")
    if budget is not None and budget < 2 * (sizes["train"] + sizes["val"]) + sizes["test"]:
        raise InvalidConfig(f"budget {budget} backend questions is too small: a baseline and one epoch on "
                            f"{sizes['train']} train + {sizes['val']} val questions plus the final {sizes['test']} test "
                            f"questions need {2 * (sizes['train'] + sizes['val']) + sizes['test']}", field="budget")
    workspace = Path(workspace) if workspace is not None else None
    deterministic = _is_deterministic(backend)
    reasks = (0 if deterministic else 2) if reasks is None else reasks
    name = proposer if isinstance(proposer, str) else getattr(proposer, "name", type(proposer).__name__)
    settings = {"proposer": name, "max_epochs": max_epochs, "patience": patience, "budget": budget, "seed": seed,
                "alpha": alpha, "max_changes": max_changes, "reasks": reasks, "judges": list(judges)}
    opt_id = opt_id or optimization_id(space, evalset, backend.identity(), settings)
    state = load_state(store, opt_id)
    space_key = Store.space_key_for(space)
    if state is None:
        version = store.put_space_version(space, space_key=space_key, message="optimization start")
        state = OptimizationState(opt_id=opt_id, space_key=space_key, evalset_hash=evalset_hash(evalset),
                                  backend=backend.identity(), proposer=name, settings=settings,
                                  initial_version=version.version_id, current_version=version.version_id,
                                  best_version=version.version_id, started_at=_now())
        save_state(store, state)
    elif state.evalset_hash != evalset_hash(evalset):
        raise InvalidConfig(f"optimization {opt_id!r} was started on another eval set; pass a new opt_id", field="opt_id")
    if state.status == "completed":
        return _result(state, store, space.title, evalset)

    if isinstance(proposer, str):
        options = dict(proposer_options or {})
        if name == "heuristic":
            options.setdefault("data", TableData(backend, space))
        proposer = get_proposer(name, **options)

    tracker = None
    if tracking:
        from ..tracking import Tracker, default_tracking_uri

        uri = default_tracking_uri(workspace or Path(store.path).parent) if tracking is True else str(tracking)
        state.settings["tracking_uri"] = uri
        try:
            tracker = Tracker(uri, experiment=experiment or f"chaos-llama/{space_key}",
                              artifact_root=(workspace or Path(store.path).parent) / "mlartifacts")
        except Exception as e:  # noqa: BLE001 - an unusable tracking store, said before anything is spent
            raise InvalidConfig(f"MLflow tracking to {uri!r} is not available ({type(e).__name__}: {e}); "
                                "fix the tracking URI or run without tracking (--no-tracking)", field="tracking_uri") from None
        state.tracking_run_id = tracker.start(run_name=opt_id, run_id=state.tracking_run_id,
                                              params={**settings, "backend": state.backend, "evalset": evalset.name,
                                                      "train": sizes["train"], "val": sizes["val"], "test": sizes["test"]},
                                              tags={"chaos_llama.opt_id": opt_id, "chaos_llama.space": space_key})
        save_state(store, state)

    loop = _Loop(space, evalset, backend, store=store, proposer=proposer, state=state, judges=judges,
                 concurrency=concurrency, reasks=reasks, alpha=alpha, max_changes=max_changes, max_epochs=max_epochs,
                 patience=patience, budget=budget, tracker=tracker, progress=progress, workspace=workspace)
    try:
        await loop.run()
    except BaseException:
        if tracker is not None:
            tracker.finish("KILLED")  # the run reopens under the same id on resume
        raise
    result = _result(state, store, space.title, evalset)
    if tracker is not None:
        _log_artifacts(tracker, result, store)
        tracker.finish("FINISHED")
    return result


def _log_artifacts(tracker: Any, result: OptimizationResult, store: Store) -> None:
    """Every version as YAML, each epoch's diff, per-question results and the report."""
    from ..report import render_html, render_markdown

    seen = set()
    for vid in [result.initial_version] + [e.candidate_version for e in result.epochs if e.candidate_version]:
        if vid in seen:
            continue
        seen.add(vid)
        space = store.get_space_version(vid).space
        tracker.log_text(space_to_yaml(space), f"versions/{vid[:12]}.yaml")
    for e in result.epochs:
        if e.diff:
            tracker.log_text(e.diff, f"diffs/epoch_{e.epoch:02d}_{e.decision}.diff")
    rows = []
    for e in result.epochs:
        for s, sc in e.candidate_scores.items():
            if sc.run_id:
                rows += [{"epoch": e.epoch, "version": e.candidate_version, "split": s, "case_id": r.case_id,
                          "status": r.status, "correct": r.correct}
                         for r in _rows(store, sc.run_id)]
    tracker.log_text("\n".join(json.dumps(r) for r in rows), "results/per_question.jsonl")
    tracker.log_text(render_markdown(result), "report/summary.md")
    tracker.log_text(render_html(result), "report/report.html")


def _rows(store: Store, run_id: str) -> list[Any]:
    from ..runner import build_run_result

    return build_run_result(store, run_id).rows


def optimize(space: Space, evalset: EvalSet, backend: Any, **kwargs: Any) -> OptimizationResult:
    """Optimize a space automatically, within a budget, leaving an auditable trail.

    Epochs of: evaluate train → failure analyses → `proposer` returns a ChangeSet → validate →
    apply as a stored candidate version → evaluate train and val → keep (paired sign test on
    train+val flips, val not worse) or revert through the journal. Stops after `max_epochs`, after
    `patience` epochs without a val gain, or when `budget` (backend questions asked, the final
    test included) runs short. The best version by val is scored on test once.

    Args:
        store: the workspace store; the loop state lives there, so calling again with the same
            inputs resumes a killed run (or returns the finished result).
        proposer: a registered name (`heuristic`, `llm`) or a Proposer object.
        tracking: True for MLflow in `<workspace>/mlflow.db`, a tracking URI (e.g. `databricks`),
            or None/False for none.
        alpha: significance level of the one-sided sign test on flipped questions.
        reasks: times each flipped question is asked again on both versions (default 0 for a
            deterministic backend, else 2).
    """
    return asyncio.run(optimize_async(space, evalset, backend, **kwargs))


optimize_sync = optimize
