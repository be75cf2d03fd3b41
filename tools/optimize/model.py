"""What the optimization loop records and hands around: tried changes, epochs, state, result (failures: tools/failures.py).

Everything is a pydantic model so the loop state lives in the store as JSON (a killed run
resumes from it) and the report and MLflow artifacts are rendered from the same records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..failures import Failure
from ..project import DEFAULT_JUDGES
from ..scoring import DEFAULT_WRONG_COST, Score

SPLITS = ("train", "val", "test")


class TriedChange(BaseModel):
    """A change set tried in an earlier epoch and what it did (the reflective history of proposers).

    Only counts and train question ids are kept: val questions stay out of proposers' sight.
    """

    epoch: int
    message: str
    changes: list[dict[str, Any]]
    accepted: bool
    reason: str
    train_fixed: list[str] = Field(default_factory=list)
    train_broken: list[str] = Field(default_factory=list)
    val_fixed: int = 0
    val_broken: int = 0
    val_delta: float = 0.0  # change of val utility


class OptimizeSettings(BaseModel):
    """How `optimize` runs: proposer, stopping rules, budget, the acceptance test, tracking."""

    proposer: str = "heuristic"
    proposer_options: dict[str, Any] = Field(default_factory=dict)  # e.g. {"config": {"base_url": ..., "model": ...}}
    max_epochs: int = Field(5, ge=1)
    patience: int = Field(2, ge=1, description="stop after this many epochs without a val gain")
    budget: int | None = Field(None, ge=0, description="most backend questions to ask, the final test included")
    seed: int = 0
    alpha: float = Field(0.05, gt=0, lt=1, description="sign-test significance level for keeping a change")
    wrong_cost: float = Field(DEFAULT_WRONG_COST, ge=0, description="what a wrong answer costs against a right answer's +1 "
                                                                    "(a refusal costs 0)")
    max_changes: int = Field(40, ge=1, description="most edits per change set")
    reasks: int | None = Field(None, ge=0, description="re-asks of flipped questions (default: 0 if deterministic, else 2)")
    judges: list[str] = Field(default_factory=lambda: list(DEFAULT_JUDGES))
    concurrency: int = Field(4, ge=1)
    tracking: str | bool | None = Field(None, description="True: MLflow in <workspace>/mlflow.db; a tracking URI; None: off")
    experiment: str | None = None
    workspace: Path | None = None

    def identity(self) -> dict[str, Any]:
        """The settings that decide what the loop does (the optimization id hashes them)."""
        return self.model_dump(mode="json", include={"proposer", "max_epochs", "patience", "budget", "seed", "alpha",
                                                     "wrong_cost", "max_changes", "reasks", "judges"})


class SplitScore(Score):
    """One split's outcomes in one run (right, wrong, refused, error, gold_error and their rates)."""

    run_id: str | None = None
    by_category: dict[str, Score] = Field(default_factory=dict)


class EpochRecord(BaseModel):
    """One epoch: the proposal, the candidate's scores, the paired evidence and the decision."""

    epoch: int
    base_version: str
    candidate_version: str | None = None
    message: str = ""
    changes: list[dict[str, Any]] = Field(default_factory=list)
    diff: str = ""
    journal: dict[str, Any] | None = None  # what the changes replaced, for an exact revert
    base_scores: dict[str, SplitScore] = Field(default_factory=dict)
    candidate_scores: dict[str, SplitScore] = Field(default_factory=dict)
    train_fixed: list[str] = Field(default_factory=list)
    train_broken: list[str] = Field(default_factory=list)
    val_fixed: list[str] = Field(default_factory=list)
    val_broken: list[str] = Field(default_factory=list)
    new_wrong: int = 0  # questions (train+val) the candidate answers wrongly that were not wrong before
    fewer_wrong: int = 0  # questions no longer answered wrongly
    improved: int = 0  # questions whose utility rose (right +1, refused/error 0, wrong -wrong_cost)
    worsened: int = 0
    reasked: int = 0  # flipped questions asked again to confirm the flip (nondeterministic backends)
    p_value: float | None = None  # sign test of improved vs worsened
    wrong_p_value: float | None = None  # sign test that wrong answers were added
    decision: Literal["accepted", "rejected", "invalid", "empty", "pending"] = "pending"
    reason: str = ""


class FinalScore(BaseModel):
    version: str
    val: SplitScore | None = None
    test: SplitScore | None = None
    val_test_gap: float | None = None  # val accuracy minus test accuracy


class OptimizationState(BaseModel):
    """The loop's persistent state (one row in the store), updated after every step."""

    opt_id: str
    space_key: str
    evalset_hash: str
    backend: str
    proposer: str
    settings: dict[str, Any] = Field(default_factory=dict)
    status: Literal["running", "completed", "failed"] = "running"
    phase: str = "baseline"  # baseline | propose | evaluate | decide | final | done
    epoch: int = 0  # the epoch in progress (1-based once started)
    initial_version: str = ""
    current_version: str = ""
    best_version: str = ""
    best_val: float = -1e9  # val utility of the best version (right - wrong_cost * wrong, per question)
    best_train: float = -1e9
    stale_epochs: int = 0  # epochs since val last improved
    backend_calls: int = 0
    epochs: list[EpochRecord] = Field(default_factory=list)
    baseline: dict[str, SplitScore] = Field(default_factory=dict)
    final: FinalScore | None = None
    stopped_because: str | None = None
    tracking_run_id: str | None = None
    tracking_experiment_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class OptimizationResult(BaseModel):
    """What `optimize` returns: the state's story plus the best space and remaining train failures."""

    opt_id: str
    space_title: str
    proposer: str
    settings: dict[str, Any] = Field(default_factory=dict)
    status: str
    stopped_because: str | None = None
    initial_version: str
    best_version: str
    baseline: dict[str, SplitScore] = Field(default_factory=dict)
    epochs: list[EpochRecord] = Field(default_factory=list)
    final: FinalScore | None = None
    backend_calls: int = 0
    best_space_yaml: str = ""
    remaining_failures: list[Failure] = Field(default_factory=list)  # train only: the test split stays unseen
    tracking_run_id: str | None = None
    tracking_uri: str | None = None
    tracking_experiment_id: str | None = None

    @property
    def accepted(self) -> list[EpochRecord]:
        return [e for e in self.epochs if e.decision == "accepted"]
