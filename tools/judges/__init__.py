"""Judges: one module per judge, one registry line each.

A judge is `judge(case, *, generated, expected, space=None, **opts) -> Verdict` and declares the
fields it needs, so a run fails *before* it starts when a field is missing (MLflow's
MissingColumnsException). Field names:

- ``generated.sql``, ``generated.result``, ``generated.latency_s``: from the backend's Answer
- ``expected.sql``, ``expected.result``: the gold queries and their executed results
- ``space``: the space the question was asked against

Judges never raise for a bad answer (no SQL, an error, a wrong result): that is a False verdict
with a rationale. They raise JudgeError only for programming or configuration errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..errors import JudgeError, UnknownJudge, did_you_mean
from . import execution, failure_analysis, llm, sql_equivalence, sql_valid
from .base import GoldResult, Judge, Verdict

FIELDS = frozenset(
    {"generated.sql", "generated.result", "generated.latency_s", "expected.sql", "expected.result", "space"}
)


@dataclass(frozen=True)
class JudgeSpec:
    """A registered judge: its name, callable, the fields it needs and a one-line description."""

    name: str
    fn: Callable[..., Verdict]
    needs: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""


JUDGES: dict[str, JudgeSpec] = {}
_BUILTIN = ("execution", "sql_equivalence", "sql_valid", "failure_analysis")


def register_judge(
    name: str, fn: Callable[..., Verdict], needs: Iterable[str] = (), description: str = "", *, replace: bool = False
) -> JudgeSpec:
    """Register `fn` as judge `name`; `replace=True` allows redefining a non-builtin judge."""
    if not name or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise JudgeError(f"Invalid judge name {name!r}: use letters, digits, '_', '-' or '.'")
    if not callable(fn):
        raise JudgeError(f"Judge {name!r}: {fn!r} is not callable")
    needs = tuple(needs)
    unknown = [f for f in needs if f not in FIELDS]
    if unknown:
        raise JudgeError(f"Judge {name!r} needs unknown field {unknown[0]!r}.{did_you_mean(unknown[0], FIELDS)}")
    if name in JUDGES and (name in _BUILTIN or not replace):
        raise JudgeError(f"A judge named {name!r} is already registered" + ("" if name in _BUILTIN else "; pass replace=True"))
    spec = JudgeSpec(name=name, fn=fn, needs=needs, description=description or (fn.__doc__ or "").strip().split("\n")[0])
    JUDGES[name] = spec
    return spec


def get_judge(name: str) -> JudgeSpec:
    """The registered judge `name`; JudgeError with the closest name otherwise."""
    try:
        return JUDGES[name]
    except KeyError:
        raise UnknownJudge(f"Unknown judge {name!r}.{did_you_mean(name, JUDGES)}") from None


def check_needs(judge_names: Iterable[str], available: set[str]) -> None:
    """Fail before a run when a judge needs a field that will not be available.

    >>> check_needs(["execution"], {"generated.sql", "expected.sql"})
    Traceback (most recent call last):
    ...
    chaos_llama.tools.errors.JudgeError: Judge 'execution' needs field(s) 'generated.result', 'expected.result', which the run does not provide (available: expected.sql, generated.sql).
    """
    problems = []
    for name in judge_names:
        spec = get_judge(name)
        missing = [f for f in spec.needs if f not in available]
        if missing:
            problems.append(f"Judge {name!r} needs field(s) {', '.join(repr(m) for m in missing)}")
    if problems:
        raise JudgeError(
            "; ".join(problems) + f", which the run does not provide (available: {', '.join(sorted(available)) or 'none'})."
        )


for _mod in (execution, sql_equivalence, sql_valid, failure_analysis):
    JUDGES[_mod.NAME] = JudgeSpec(name=_mod.NAME, fn=_mod.judge, needs=tuple(_mod.NEEDS), description=_mod.DESCRIPTION)
for _name, (_fn, _needs, _desc) in llm.REGISTRY.items():  # answers_question, semantically_equivalent, follows_instructions
    JUDGES[_name] = JudgeSpec(name=_name, fn=_fn, needs=_needs, description=_desc)
_BUILTIN += tuple(llm.REGISTRY)
BUILTIN_JUDGES = _BUILTIN  # judges that ship with Chaos Llama (their verdicts may be cached)

__all__ = [
    "BUILTIN_JUDGES", "FIELDS", "JUDGES", "GoldResult", "Judge", "JudgeSpec", "Verdict", "check_needs", "get_judge", "register_judge",
]
