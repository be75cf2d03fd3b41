"""What the optimization loop records and hands around: failures, tried changes, epochs, state, result.

Everything is a pydantic model so the loop state lives in the store as JSON (a killed run
resumes from it) and the report and MLflow artifacts are rendered from the same records.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

SPLITS = ("train", "val", "test")


class Failure(BaseModel):
    """One failing TRAIN question as a proposer sees it: question, gold, what was generated, why it failed."""

    case_id: str
    question: str
    gold_sql: list[str]
    dialect: str = "databricks"  # of the gold SQL (defog golds are PostgreSQL)
    category: str | None = None  # the eval set's category
    status: str = "COMPLETED"
    generated_sql: str | None = None
    analysis: str | None = None  # failure_analysis category, e.g. MISSING_JOIN
    rationale: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


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
    val_delta: float = 0.0


class SplitScore(BaseModel):
    correct: int
    total: int
    accuracy: float
    by_category: dict[str, float] = Field(default_factory=dict)
    run_id: str | None = None


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
    reasked: int = 0  # flipped questions asked again to confirm the flip (nondeterministic backends)
    p_value: float | None = None
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
    best_val: float = -1.0
    best_train: float = -1.0
    stale_epochs: int = 0  # epochs since val last improved
    backend_calls: int = 0
    epochs: list[EpochRecord] = Field(default_factory=list)
    baseline: dict[str, SplitScore] = Field(default_factory=dict)
    final: FinalScore | None = None
    stopped_because: str | None = None
    tracking_run_id: str | None = None
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

    @property
    def accepted(self) -> list[EpochRecord]:
        return [e for e in self.epochs if e.decision == "accepted"]
