"""The optimization loop: evaluate train → analyse failures → propose → validate → apply as a
candidate version → evaluate train and val → keep or revert; the test split is scored once, at
the end, on the version chosen by val.

Keep-or-revert uses paired, per-question evidence only (tools/scoring.py). Each answer has a
utility: +1 right, 0 refused or error, -wrong_cost wrong (a confident wrong answer costs what a
right answer earns by default). On train+val, the questions whose utility rose must outnumber
those whose utility fell by more than an exact one-sided sign test calls noise (McNemar's exact
test), the change must not add wrong answers beyond noise (the same test on wrong answers added
against removed), and val utility must not fall. Flips are confirmed by asking again when the
backend is nondeterministic. So a change that trades refusals for confident wrong answers is
never kept, and an aggregate delta that noise alone could produce never keeps a change.

The state is written to the store after every step under a deterministic id (from the space,
eval set, backend and settings), and every evaluation has a deterministic run id, so running the
same command again after a kill continues where it stopped and asks only what is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InvalidConfig, InvalidSpace
from ..evalset import EvalSet, assign_splits, evalset_hash
from ..failures import Failure, extract_failures
from ..runner import RunResult, RunSettings, build_run_result, run_eval
from ..scoring import Outcome, breakdown, compare, score
from ..space.changes import Journal, apply_changes, diff_spaces, revert
from ..space.io import space_hash, space_to_yaml
from ..space.model import Space
from ..space.validate import ensure_valid
from ..store import Store, _now
from ..tracking import Tracker, default_tracking_uri, track_run, tracking_uri
from .model import (
    EpochRecord,
    FinalScore,
    OptimizationResult,
    OptimizationState,
    OptimizeSettings,
    SplitScore,
    TriedChange,
)
from .proposers import Proposer, TableData, get_proposer
from .state import load_state, save_state

Progress = Callable[[str], Any]
# given an evaluation's title, a callback for the runner's per-question progress(done, total, case_id, status)
QuestionProgress = Callable[[str], Callable[[int, int, str, str], Any]]


def _score(result: RunResult, split: str) -> SplitScore:
    rows = [r for r in result.rows if r.split == split]
    return SplitScore(**score(rows).model_dump(exclude={"scored", "accuracy", "wrong_rate", "refusal_rate", "error_rate"}),
                      run_id=result.run_id, by_category=breakdown(rows, lambda r: r.category))


def _outcomes(result: RunResult) -> dict[str, Outcome | None]:
    return {r.case_id: r.outcome for r in result.rows}


def _is_deterministic(backend: Any) -> bool:
    """Whether asking twice gives the same answer, as the backend declares it."""
    return bool(getattr(backend, "deterministic", False))


def optimization_id(space: Space, evalset: EvalSet, backend_identity: str, settings: dict[str, Any]) -> str:
    """Deterministic id: the same space, eval set, backend and settings resume the same optimization."""
    doc = json.dumps([space_hash(space), evalset_hash(evalset), backend_identity, settings], sort_keys=True, default=str)
    return "opt-" + hashlib.sha256(doc.encode()).hexdigest()[:12]


class _Loop:
    def __init__(self, space: Space, evalset: EvalSet, backend: Any, *, store: Store, proposer: Proposer,
                 state: OptimizationState, settings: OptimizeSettings, reasks: int, tracker: Any, progress: Progress | None,
                 questions: QuestionProgress | None = None):
        self.space0, self.evalset, self.backend, self.store = space, evalset, backend, store
        self.proposer, self.state, self.settings, self.reasks = proposer, state, settings, reasks
        self.judges = tuple(settings.judges)
        self.tracker, self.progress, self.questions = tracker, progress, questions
        self.space_key = state.space_key
        self.sizes = {s: len(evalset.split(s)) for s in ("train", "val", "test")}
        self.by_id = {c.id: c for c in evalset.cases}

    def utility(self, sc: SplitScore) -> float:
        return sc.utility(self.settings.wrong_cost) or 0.0

    # ---------------------------------------------------------------- plumbing
    def say(self, msg: str) -> None:
        if self.progress is not None:
            self.progress(msg)

    def save(self) -> None:
        save_state(self.store, self.state)

    def version(self, version_id: str) -> Space:
        return self.store.get_space_version(version_id, space_key=self.space_key).space

    def title(self, split: str, label: str) -> str:
        """What an evaluation is, in words (progress lines)."""
        if label == "base":
            return f"baseline, {split}"
        if label == "final":
            return "final, test (scored once)"
        if self.state.phase == "final":
            return f"final, best version, {split}"
        what = {"cur": "current version", "cand": "candidate"}.get(label, "flipped questions asked again")
        return f"epoch {self.state.epoch}, {what}, {split}"

    async def evaluate(self, space: Space, split: str, label: str, *, use_cache: bool = True,
                       evalset: EvalSet | None = None) -> RunResult:
        """One evaluation under a deterministic run id (resumed if a kill interrupted it), logged to MLflow as a child run."""
        if split == "test" and label != "final":
            raise AssertionError("the test split is only ever scored by the final step")  # defense in depth
        run_id = f"{self.state.opt_id}-{label}-{split}-{space_hash(space)[:10]}"
        progress = self.questions(self.title(split, label)) if self.questions is not None else None
        result = await run_eval(evalset or self.evalset, self.backend, space, RunSettings(judges=self.judges, split=split if evalset is None else None, run_id=run_id, concurrency=self.settings.concurrency, use_cache=use_cache, space_key=self.space_key), store=self.store, progress=progress)
        self.state.backend_calls += result.backend_calls
        if self.tracker is not None:
            track_run(self.store, result, space, uri=self.tracker.uri, experiment=self.tracker.experiment,
                      parent_run_id=self.tracker.run_id, source="optimize", questions=split != "test")
        return result

    def budget_left(self) -> int | None:
        if self.settings.budget is None:
            return None
        return self.settings.budget - self.state.backend_calls - self.sizes["test"]  # the final test is always affordable

    # ---------------------------------------------------------------- steps
    async def run(self) -> None:
        st = self.state
        if st.phase == "baseline":
            space = self.version(st.initial_version)
            for split in ("train", "val"):
                self.say(f"baseline: evaluating {split}")
                st.baseline[split] = _score(await self.evaluate(space, split, "base"), split)
            st.best_val, st.best_train = self.utility(st.baseline["val"]), self.utility(st.baseline["train"])
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
        if len(st.epochs) >= self.settings.max_epochs:
            return f"reached max_epochs={self.settings.max_epochs}"
        if st.stale_epochs >= self.settings.patience:
            return f"no val gain for {st.stale_epochs} epoch(s) (patience={self.settings.patience})"
        left = self.budget_left()
        if left is not None and left < self.sizes["train"] + self.sizes["val"]:
            return f"budget: {self.state.backend_calls} of {self.settings.budget} backend questions used, too few left for an epoch"
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
                val_delta=(self.utility(cand_val) - self.utility(base_val)) if base_val and cand_val else 0.0))
        return out

    async def failures(self, result: RunResult) -> list[Failure]:
        return extract_failures(result, self.evalset, self.store, split="train")

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
        changes = self.proposer.propose(base, failures, budget=self.settings.max_changes, history=self.history())
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
        before = {**_outcomes(base_runs["train"]), **_outcomes(base_runs["val"])}
        after = {**_outcomes(cand_runs["train"]), **_outcomes(cand_runs["val"])}
        if self.reasks:
            after = await self.confirm(base, candidate, before, after, record)
        paired = compare(before, after, wrong_cost=self.settings.wrong_cost)
        val_ids = {c.id for c in self.evalset.split("val")}
        record.train_fixed = [q for q in paired.fixed if q not in val_ids]
        record.train_broken = [q for q in paired.broken if q not in val_ids]
        record.val_fixed = [q for q in paired.fixed if q in val_ids]
        record.val_broken = [q for q in paired.broken if q in val_ids]
        record.new_wrong, record.fewer_wrong = len(paired.new_wrong), len(paired.fewer_wrong)
        record.improved, record.worsened = len(paired.improved), len(paired.worsened)
        record.p_value, record.wrong_p_value = paired.p_value, paired.wrong_p_value
        val_gain = self.utility(record.candidate_scores["val"]) - self.utility(record.base_scores["val"])
        alpha = self.settings.alpha
        evidence = (f"utility up on {paired.improved.__len__()} vs down on {len(paired.worsened)} questions of train+val "
                    f"(p={paired.p_value:.4f}); {len(paired.fixed)} fixed, {len(paired.broken)} broken; wrong answers "
                    f"+{len(paired.new_wrong)}/-{len(paired.fewer_wrong)}; val utility {val_gain:+.3f}")
        adds_wrong = len(paired.new_wrong) > len(paired.fewer_wrong) and paired.wrong_p_value <= alpha
        if paired.utility_gain > 0 and paired.p_value <= alpha and not adds_wrong and val_gain >= 0:
            record.decision, record.reason = "accepted", f"{evidence}; p <= alpha={alpha}"
            st.current_version = record.candidate_version or st.current_version
        else:
            why = ("adds wrong answers beyond noise" if adds_wrong
                   else "val utility fell" if val_gain < 0
                   else f"not significant (alpha={alpha})" if paired.utility_gain > 0 else "no net gain")
            record.decision, record.reason = "rejected", f"{evidence}: {why}; reverted"
            # Revert through the journal: exact, and checked against the base version's content.
            restored = revert(candidate, Journal.model_validate(record.journal))
            if space_hash(restored) != space_hash(base):
                raise AssertionError("journal revert did not restore the base version")  # never expected
            st.current_version = record.base_version
        cand_val, cand_train = self.utility(record.candidate_scores["val"]), self.utility(record.candidate_scores["train"])
        if record.decision == "accepted" and (cand_val > st.best_val or (cand_val == st.best_val and cand_train > st.best_train)):
            improved = cand_val > st.best_val
            st.best_version, st.best_val, st.best_train = st.current_version, cand_val, cand_train
            st.stale_epochs = 0 if improved else st.stale_epochs + 1
        else:
            st.stale_epochs += 1
        st.phase = "propose"
        self.save()
        self.say(f"epoch {record.epoch}: {record.decision} ({record.reason})")
        self.track_epoch(record.epoch, record.candidate_scores, record)

    async def confirm(self, base: Space, candidate: Space, before: dict[str, Outcome | None], after: dict[str, Outcome | None],
                      record: EpochRecord) -> dict[str, Outcome | None]:
        """Ask flipped questions again on both versions; a flip that does not hold every time counts as unchanged."""
        flipped = [q for q in before if q in after and before[q] != after[q]]
        if not flipped:
            return after
        sub = EvalSet(name=f"{self.evalset.name}-flipped-e{record.epoch}", cases=[self.by_id[q] for q in flipped])
        seen: dict[str, dict[str, set]] = {q: {"cur": {before[q]}, "cand": {after[q]}} for q in flipped}
        for k in range(self.reasks):
            for space, label in ((base, "cur"), (candidate, "cand")):
                res = await self.evaluate(space, "flipped", f"e{record.epoch}-reask{k}-{label}", use_cache=False, evalset=sub)
                for q, o in _outcomes(res).items():
                    seen[q][label].add(o)
        record.reasked = len(flipped) * self.reasks * 2
        # a flip holds when each version answered the same way every time
        return {**after, **{q: after[q] if len(seen[q]["cur"]) == 1 and len(seen[q]["cand"]) == 1 else before[q] for q in flipped}}

    async def final(self) -> None:
        """Score the best version on val (cached) and, once, on test."""
        st = self.state
        best = self.version(st.best_version)
        self.say("final: scoring the best version on val and, once, on test")
        val = await self.evaluate(best, "val", "cur")
        test = await self.evaluate(best, "test", "final")
        vs, ts = _score(val, "val"), _score(test, "test")
        gap = vs.accuracy - ts.accuracy if vs.accuracy is not None and ts.accuracy is not None else None
        st.final = FinalScore(version=st.best_version, val=vs, test=ts, val_test_gap=gap)
        st.status, st.phase, st.finished_at = "completed", "done", _now()
        st.stopped_because = st.stopped_because or "finished"
        self.save()
        if self.tracker is not None:
            self.tracker.log_metrics({**_metrics("final_val", vs), **_metrics("final_test", ts), "val_test_gap": st.final.val_test_gap},
                                     step=len(st.epochs))

    def track_epoch(self, epoch: int, scores: dict[str, SplitScore], record: EpochRecord | None = None) -> None:
        if self.tracker is None:
            return
        metrics: dict[str, float] = {}
        for s, sc in scores.items():
            metrics.update(_metrics(s, sc))
        metrics["backend_calls"] = self.state.backend_calls
        if record is not None:
            metrics.update({"accepted": float(record.decision == "accepted"), "fixed": len(record.train_fixed) + len(record.val_fixed),
                            "broken": len(record.train_broken) + len(record.val_broken), "new_wrong": record.new_wrong})
            if record.p_value is not None:
                metrics["p_value"] = record.p_value
        self.tracker.log_metrics(metrics, step=epoch)


def _metrics(prefix: str, sc: SplitScore) -> dict[str, float]:
    """A split's accuracy, wrong-answer and refusal rates (and per category) as MLflow metrics."""
    out = {f"{prefix}_{k}": v for k, v in (("accuracy", sc.accuracy), ("wrong_rate", sc.wrong_rate),
                                          ("refusal_rate", sc.refusal_rate)) if v is not None}
    for cat, c in sc.by_category.items():
        name = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in cat)
        out.update({f"{prefix}_{name}_{k}": v for k, v in (("accuracy", c.accuracy), ("wrong_rate", c.wrong_rate)) if v is not None})
    return out


def _result(state: OptimizationState, store: Store, space_title: str, evalset: EvalSet | None = None) -> OptimizationResult:
    best = store.get_space_version(state.best_version, space_key=state.space_key).space
    remaining: list[Failure] = []
    train_run = next((sc.run_id for e in reversed(state.epochs) for sc in [e.candidate_scores.get("train")]
                      if sc and e.decision == "accepted" and e.candidate_version == state.best_version), None)
    train_run = train_run or (state.baseline.get("train").run_id if state.baseline.get("train") else None)
    if train_run:
        res = build_run_result(store, train_run, evalset=evalset)
        remaining = extract_failures(res, evalset or store.get_evalset(res.evalset_hash), store, split="train")
    return OptimizationResult(
        opt_id=state.opt_id, space_title=space_title, proposer=state.proposer, settings=state.settings,
        status=state.status, stopped_because=state.stopped_because, initial_version=state.initial_version,
        best_version=state.best_version, baseline=state.baseline, epochs=state.epochs, final=state.final,
        backend_calls=state.backend_calls, best_space_yaml=space_to_yaml(best), remaining_failures=remaining,
        tracking_run_id=state.tracking_run_id, tracking_uri=state.settings.get("tracking_uri"),
        tracking_experiment_id=state.tracking_experiment_id)


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


async def optimize_async(space: Space, evalset: EvalSet, backend: Any, settings: OptimizeSettings | None = None, *, store: Store,
                         proposer: Proposer | None = None, progress: Progress | None = None,
                         opt_id: str | None = None, questions: QuestionProgress | None = None) -> OptimizationResult:
    """Optimize `space` on `evalset`'s train split, select by val, score test once; see `optimize`."""
    settings = settings or OptimizeSettings()
    if any(c.split is None for c in evalset.cases):
        evalset = assign_splits(evalset, seed=settings.seed)
    sizes = {s: len(evalset.split(s)) for s in ("train", "val", "test")}
    empty = [s for s, n in sizes.items() if n == 0]
    if empty:
        raise InvalidConfig(f"eval set {evalset.name!r} has no {empty[0]} questions; optimization needs train, val and test "
                            f"(counts: {sizes})", field="evalset")
    budget = settings.budget
    if budget is not None and budget < 2 * (sizes["train"] + sizes["val"]) + sizes["test"]:
        raise InvalidConfig(f"budget {budget} backend questions is too small: a baseline and one epoch on "
                            f"{sizes['train']} train + {sizes['val']} val questions plus the final {sizes['test']} test "
                            f"questions need {2 * (sizes['train'] + sizes['val']) + sizes['test']}", field="budget")
    workspace = Path(settings.workspace) if settings.workspace is not None else None
    reasks = (0 if _is_deterministic(backend) else 2) if settings.reasks is None else settings.reasks
    name = getattr(proposer, "name", type(proposer).__name__) if proposer is not None else settings.proposer
    ident = {**settings.identity(), "proposer": name, "reasks": reasks}
    opt_id = opt_id or optimization_id(space, evalset, backend.identity(), ident)
    state = load_state(store, opt_id)
    space_key = Store.space_key_for(space)
    if state is None:
        version = store.put_space_version(space, space_key=space_key, message="optimization start")
        state = OptimizationState(opt_id=opt_id, space_key=space_key, evalset_hash=evalset_hash(evalset),
                                  backend=backend.identity(), proposer=name, settings=ident,
                                  initial_version=version.version_id, current_version=version.version_id,
                                  best_version=version.version_id, started_at=_now())
        save_state(store, state)
    elif state.evalset_hash != evalset_hash(evalset):
        raise InvalidConfig(f"optimization {opt_id!r} was started on another eval set; pass a new opt_id", field="opt_id")
    if state.status == "completed":
        return _result(state, store, space.title, evalset)

    if proposer is None:
        options = dict(settings.proposer_options)
        if name == "heuristic":
            options.setdefault("data", TableData(backend, space))
        proposer = get_proposer(name, **options)

    tracker = None
    if settings.tracking:
        root = workspace or Path(store.path).parent
        uri = tracking_uri(settings.tracking, root) or default_tracking_uri(root)
        state.settings["tracking_uri"] = uri
        try:
            tracker = Tracker(uri, experiment=settings.experiment or f"chaos-llama/{space_key}", artifact_root=root / "mlartifacts")
        except Exception as e:  # noqa: BLE001 - an unusable tracking store, said before anything is spent
            raise InvalidConfig(f"MLflow tracking to {uri!r} is not available ({type(e).__name__}: {e}); "
                                "fix the tracking URI or run without tracking (--no-tracking)", field="tracking_uri") from None
        state.tracking_run_id = tracker.start(run_name=opt_id, run_id=state.tracking_run_id,
                                              params={**ident, "backend": state.backend, "evalset": evalset.name,
                                                      "train": sizes["train"], "val": sizes["val"], "test": sizes["test"]},
                                              tags={"chaos_llama.opt_id": opt_id, "chaos_llama.space": space_key})
        state.tracking_experiment_id = tracker.experiment_id
        save_state(store, state)

    loop = _Loop(space, evalset, backend, store=store, proposer=proposer, state=state, settings=settings, reasks=reasks,
                 tracker=tracker, progress=progress, questions=questions)
    try:
        await loop.run()
    except BaseException:
        if tracker is not None:
            tracker.finish("KILLED")  # the run reopens under the same id on resume
        raise
    result = _result(state, store, space.title, evalset)
    if tracker is not None:
        _log_artifacts(tracker, result, store, train_questions(evalset))
        tracker.finish("FINISHED")
    return result


def train_questions(evalset: EvalSet) -> dict[str, str]:
    """Train question texts by id (what the report may show; val and test stay aggregates)."""
    return {c.id: c.question for c in evalset.split("train")}


def _log_artifacts(tracker: Any, result: OptimizationResult, store: Store, questions: dict[str, str]) -> None:
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
                          "status": r.status, "outcome": r.outcome}
                         for r in _rows(store, sc.run_id)]
    tracker.log_text("\n".join(json.dumps(r) for r in rows), "results/per_question.jsonl")
    tracker.log_text(render_markdown(result), "report/summary.md")
    tracker.log_text(render_html(result, questions), "report/report.html")


def _rows(store: Store, run_id: str) -> list[Any]:
    return build_run_result(store, run_id).rows


def optimize(space: Space, evalset: EvalSet, backend: Any, settings: OptimizeSettings | None = None, *, store: Store,
             proposer: Proposer | None = None, progress: Progress | None = None, opt_id: str | None = None,
             questions: QuestionProgress | None = None) -> OptimizationResult:
    """Optimize a space automatically, within a budget, leaving an auditable trail.

    Epochs of: evaluate train → failures (tools/failures.py) → the proposer returns a ChangeSet →
    validate → apply as a stored candidate version → evaluate train and val → keep (paired sign
    tests on train+val, see the module docstring) or revert through the journal. Stops after
    `max_epochs`, after `patience` epochs without a val gain, or when `budget` (backend questions
    asked, the final test included) runs short. The best version by val is scored on test once.

    Args:
        settings: an `OptimizeSettings` (proposer, stopping rules, budget, alpha, wrong_cost, tracking...).
        store: the workspace store; the loop state lives there, so calling again with the same
            inputs resumes a killed run (or returns the finished result).
        proposer: a Proposer object instead of the registered `settings.proposer`.
        progress: called with a line at each phase (baseline, epoch steps, decisions, final).
        questions: called with each evaluation's title; returns the runner's per-question
            progress callback for it (the CLI shows a bar or lines with the time left).
    """
    return asyncio.run(optimize_async(space, evalset, backend, settings, store=store, proposer=proposer, progress=progress,
                                      opt_id=opt_id, questions=questions))
