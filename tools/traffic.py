"""Real traffic as evaluation data: clusters, out-of-domain questions, candidates and "fix these first".

Imported messages (`tools/logs.py`) are deduplicated (the same question up to case, spacing and end
punctuation) and grouped into *families*, the same grouping the eval set uses
(`families.infer_families`): a logged question's family comes from its wording and from the SQL
Genie generated (unless the answer was rated down or failed, which says that SQL is not the
question's). Before grouping, typos are corrected against the space's vocabulary and values the
question names ("EMEA", "Electronics") are left out like numbers, so "stores in EMEA" and "store
count in Latin America" are one family. Eval cases take part in the same grouping, so a cluster is
*covered* when an eval case falls in it; covered clusters carry the eval set's own family name.

Per cluster: traffic (messages), users, ratings, the status mix (COMPLETED with SQL, NO_SQL,
FAILED) and failures: a message fails when Genie failed, answered without SQL, or the user gave a
thumbs-down. "Fix these first" ranks failing clusters by traffic x failure rate (their failing
messages). Coverage is the share of traffic whose cluster has an eval case.

Input validation: a question is *out of domain* when nothing in it grounds to the space: none of
its words (typos corrected, light stemming, generic words like "total" or "month" left out) is a
word of the space's table and column names, descriptions, synonyms, instructions, examples, the
eval set's questions or the data's values. Out-of-domain questions are not failures when refused;
their rate is reported. (The offline engine grounds questions too; this check needs only the
space's metadata, so it works for a Genie space as well.)

Candidates (one per distinct question): thumbs-down, failed and refused questions become
*failure candidates* to triage (a person writes the gold, or accepts a refusal as the right
outcome); thumbs-up answers become *regression candidates* with Genie's SQL as provisional gold.
Both wait for review by a person (`chaos-llama logs accept/reject`, the `logs_review` tool) or an
LLM judge whose agreement with people is known (`review_with_judge`). Accepted candidates join the
eval set file with a family and a split that keeps leakage at 0: a covered family's split, else
one dealt by `families.grouped_splits` (the copilot places what the assistant has seen in train
only, and never shows traffic of a held-out family).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import sqlglot
import yaml
from pydantic import BaseModel, Field
from sqlglot import exp

from .errors import InvalidInput, did_you_mean
from .evalset import (  # the eval-set file's own writer: an appended case reads back equal
    EvalCase,
    EvalSet,
    _case_doc,
    _yaml_dumper,
    assign_splits,
    load_evalset,
    save_evalset,
)
from .families import SPLITS, grouped_splits, infer_families, leakage, normalize_sql, question_words
from .generate.text import STOPWORDS, stem, words
from .judges import get_judge
from .judges.llm import is_llm_judge
from .labels import alignment
from .logs import LoggedMessage, stored_messages, traffic_space
from .results import Answer
from .runner import build_run_result
from .scoring import Outcome
from .space.io import space_hash
from .space.model import Space, text
from .sql import check_read_only
from .store import Store

CANDIDATE = "log_candidate"  # document kind of a candidate's review (key: space id / candidate id)
# Words any domain's questions use: they ground nothing to a particular space.
GENERIC = frozenset("""total number count many much average avg sum mean median top best worst most least highest lowest
    per rate share percent percentage ratio year years yearly annual month months monthly quarter quarterly week weekly day
    days daily today yesterday tomorrow now last next first new current recent value values amount name names id code date
    time compare comparison trend change growth breakdown split report data table tables information info number numbers
    big biggest small smallest high low good bad more less also like want need know see get give show tell please thanks
    help question answer does did done make made use used using want wanted about""".split())
FAILED_STATUSES = ("FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED")
MAX_SAMPLES = 3


# ---------------------------------------------------------------- the space's vocabulary
def sql_literals(sql: str) -> list[str]:
    """The string literals of a query (the values it filters on).

    >>> sql_literals("SELECT 1 FROM t WHERE r = 'EMEA' AND c IN ('Web', 'Mobile App') AND y = 2024")
    ['EMEA', 'Web', 'Mobile App']
    """
    try:
        tree = sqlglot.parse_one(sql, read="databricks")
    except Exception:  # noqa: BLE001 - an unparsable query names no values
        return []
    return [n.this for n in tree.find_all(exp.Literal) if n.is_string and n.this.strip()] if tree else []


class Domain:
    """What a question can ground to in one space: its names, descriptions, synonyms, instructions,
    examples, the eval set's questions and the data's values."""

    def __init__(self, space: Space, *, evalset: EvalSet | None = None, values: Iterable[str] = ()):
        s = space.serialized
        names: list[str] = []  # what names a thing of the space: a word of one grounds a question
        prose: list[str] = [space.title, space.description or ""]  # what describes it: two words of it ground
        sqls: list[str] = []
        values = list(values)
        for t in s.tables:
            names.append(t.identifier.split(".")[-1])
            prose.append(text(t.description))
            for c in t.column_configs:
                if c.exclude:
                    continue
                names += [c.column_name, *(c.synonyms if isinstance(c.synonyms, list) else [c.synonyms or ""])]
                prose.append(text(c.description))
        prose.append(s.instruction_text)
        for e in s.examples:
            prose += [text(e.question), text(e.usage_guidance)]
            sqls.append(text(e.sql))
            for p in e.parameters or []:
                prose.append(text(p.description))
                values += [str(v) for v in ((p.default_value.values if p.default_value else None) or [])]
        for kind in ("filters", "expressions", "measures"):
            for sn in s.snippets(kind):
                names += [sn.display_name or "", sn.alias or "", *(sn.synonyms if isinstance(sn.synonyms, list) else [sn.synonyms or ""])]
                prose.append(text(sn.instruction))
                sqls.append(text(sn.sql))
        prose += [text(q.question) for q in s.config.sample_questions]
        if evalset is not None:
            for c in evalset.cases:
                if not c.expects_refusal:  # a question the space cannot answer grounds nothing
                    prose.append(c.question)
                    sqls += c.gold_sql
        found = {v.strip() for v in values if isinstance(v, str) and v.strip() and not v.strip().isdigit()}
        found |= {v for sql in sqls for v in sql_literals(sql) if not v.isdigit()}
        # longest first, so "Home & Kitchen" is masked before "Home"
        self.values = sorted(found, key=lambda v: (-len(v), v.lower()))
        self._value_re = re.compile(r"(?<![\w])(" + "|".join(re.escape(v) for v in self.values) + r")(?![\w])",
                                    re.IGNORECASE) if self.values else None
        self.names = _terms(names + self.values)
        self.prose = _terms(prose) - self.names
        # typo targets: the space's own words (not its values: "weather" must not become a product's "leather")
        tokens = [w for t in names + prose for w in words(t)]
        self.vocabulary = {w for w in tokens if len(w) >= 3 and w.isalpha() and w not in STOPWORDS and w not in GENERIC}

    def learn(self, questions: Iterable[str], min_questions: int = 3) -> None:
        """Words many users type (in at least `min_questions` distinct questions) are spelled right, not typos."""
        seen = Counter(w for q in questions for w in set(words(q)))
        self.vocabulary |= {w for w, n in seen.items() if n >= min_questions and w.isalpha()}

    def correct(self, question: str) -> str:
        """The question with each unknown word of 4+ letters replaced by the closest word of the space's
        vocabulary, if one is close (only typos: a known English word such as "weather" is never turned
        into a domain word, since stop and generic words are known too).

        Only the typed word changes; spacing and the rest of the text stay as typed.
        """
        def fix(m: re.Match) -> str:
            w = m.group(0)
            lw = w.lower()
            if len(lw) < 4 or lw in self.vocabulary or lw in STOPWORDS or lw in GENERIC or stem(lw) in self.names | self.prose:
                return w
            close = difflib.get_close_matches(lw, self.vocabulary, n=1, cutoff=0.82)
            return close[0] if close else w

        return re.sub(r"[A-Za-z]+", fix, question)

    def mask_values(self, question: str) -> str:
        """The question with the values it names left out (as numbers are), unless nothing would be left."""
        if self._value_re is None:
            return question
        masked = self._value_re.sub(" ", question)
        return masked if question_words(masked) else question

    def grounding(self, question: str) -> list[str]:
        """What in the question grounds to the space: words of its names, synonyms and values, and
        words of its descriptions (these count only two or more together). Empty: out of domain."""
        terms = [t for t in dict.fromkeys(stem(w) for w in words(self.correct(question))) if _content(t)]
        named = [t for t in terms if t in self.names]
        described = [t for t in terms if t in self.prose]
        if self._value_re is not None:
            named += [f"value:{v}" for v in sorted({m.group(0).lower() for m in self._value_re.finditer(question)})]
        return named + described if named or len(described) >= 2 else []


# Words that give a question its shape (what is computed), kept as cues when content words are compared.
_CUES = {**dict.fromkeys(("count", "number", "many"), "#count"), **dict.fromkeys(("total", "sum", "much"), "#total"),
         **dict.fromkeys(("average", "avg", "mean"), "#avg"), **dict.fromkeys(("by", "per", "each", "breakdown"), "#by"),
         **dict.fromkeys(("top", "best", "highest", "most", "biggest", "largest", "lowest", "least", "worst", "bottom", "rank"), "#rank"),
         **dict.fromkeys(("share", "percent", "percentage", "ratio", "rate", "proportion"), "#ratio"),
         **dict.fromkeys(("month", "months", "monthly"), "#month"), **dict.fromkeys(("quarter", "quarterly"), "#quarter"),
         **dict.fromkeys(("week", "weekly"), "#week"), **dict.fromkeys(("day", "daily"), "#day"),
         **dict.fromkeys(("year", "yearly", "annual", "annually"), "#year"), "trend": "#trend"}


def intent(question: str) -> frozenset[str]:
    """A question's intent: its stemmed content words and its cues (count, total, breakdown, ranking, ...).

    >>> sorted(intent("How many stores do we have in")) == sorted(intent("number of stores in"))
    True
    """
    out = set()
    for w in words(question):
        if w in _CUES:
            out.add(_CUES[w])
        elif w not in STOPWORDS and w not in GENERIC and _content(stem(w)):
            out.add(stem(w))
    return frozenset(out)


def _merge(family: dict[str, str], groups: Iterable[list[str]]) -> dict[str, str]:
    """`family` (id -> name) with the families named together in each group made one (the smallest name)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for g in groups:
        names = sorted({root(f) for f in g})
        for n in names[1:]:
            parent[n] = names[0]
    return {k: root(v) for k, v in family.items()}


def _content(term: str) -> bool:
    return len(term) >= 2 and not term.isdigit() and term not in STOPWORDS and term not in GENERIC


def _terms(texts: Iterable[str]) -> set[str]:
    return {t for x in texts for t in (stem(w) for w in words(x) if w not in STOPWORDS and w not in GENERIC) if _content(t)}


def data_values(backend: Any, space: Space, *, per_column: int = 1000) -> list[str]:
    """Distinct values of the space's text columns from the data (what entity matching would know),
    at most `per_column` each, through `backend.execute` (read-only; a warehouse query per column on Genie)."""
    out: list[str] = []
    for t in space.serialized.tables:
        try:
            table = backend.execute(f"SELECT * FROM {t.identifier} LIMIT 0", space=space)
        except Exception:  # noqa: BLE001 - a table the data lacks offers no values
            continue
        for f in table.schema:
            cfg = t.column(f.name)
            if not pa.types.is_string(f.type) or (cfg is not None and cfg.exclude):
                continue
            try:
                rows = backend.execute(f"SELECT DISTINCT `{f.name}` FROM {t.identifier} WHERE `{f.name}` IS NOT NULL LIMIT {per_column}",
                                       space=space)
            except Exception:  # noqa: BLE001
                continue
            vals = rows.column(0).to_pylist()
            if len(vals) < per_column:  # a column with more distinct values is an identifier, not a vocabulary
                out += [v for v in vals if isinstance(v, str) and 1 < len(v) <= 60]
    return out


def space_values(store: Store, backend: Any, space: Space) -> list[str]:
    """`data_values` of a space version, read once and kept in the store."""
    key = f"{backend.data_identity()}/{space_hash(space)}"
    body = store.get_document("space_values", key)
    if body is None:
        body = json.dumps(data_values(backend, space))
        store.put_document("space_values", key, body)
    return json.loads(body)


# ---------------------------------------------------------------- records
class Cluster(BaseModel):
    """One family of real questions and what happened to them."""

    family: str = Field(description="the eval set's family name when covered, else one inferred from the traffic")
    label: str = Field(description="the most asked question of the cluster")
    questions: int = Field(description="distinct questions")
    traffic: int = Field(description="messages")
    users: int
    positive: int = 0
    negative: int = 0
    statuses: dict[str, int] = Field(default_factory=dict, description="COMPLETED (with SQL), NO_SQL, FAILED, other")
    failures: int = Field(0, description="messages that failed: Genie failed or refused, or the user gave a thumbs-down "
                                         "(out of domain: answered with SQL, or a thumbs-down)")
    failure_rate: float = 0.0
    impact: float = Field(0.0, description="traffic x failure rate: what fixing the cluster is worth")
    covered: bool = False
    eval_cases: list[str] = Field(default_factory=list, description="ids of the eval cases in the cluster")
    splits: list[str] = Field(default_factory=list, description="splits of those eval cases")
    out_of_domain: bool = False
    grounding: list[str] = Field(default_factory=list, description="the label's words that ground to the space")
    samples: list[str] = Field(default_factory=list, description="other phrasings asked")
    last_ms: int | None = None
    right_before: float | None = Field(None, description="share of its eval cases answered right by the version before")
    right_after: float | None = Field(None, description="... and by the version after")


class TrafficReport(BaseModel):
    """The traffic of one space, clustered, against one eval set."""

    space_id: str
    messages: int
    distinct_questions: int
    users: int
    clusters: list[Cluster]
    coverage: float | None = Field(None, description="share of traffic whose cluster has an eval case")
    in_domain_coverage: float | None = Field(None, description="the same over in-domain traffic only")
    out_of_domain: int = Field(0, description="messages whose question grounds to nothing in the space")
    out_of_domain_rate: float | None = None
    out_of_domain_answered: int = Field(0, description="out-of-domain messages Genie answered with SQL anyway")
    observed_success: float | None = Field(None, description="share of in-domain messages that did not fail")
    first_ms: int | None = None
    last_ms: int | None = None

    def fix_first(self, limit: int | None = None) -> list[Cluster]:
        """Failing in-domain clusters, most impact (traffic x failure rate) first."""
        failing = [c for c in self.clusters if c.failures and not c.out_of_domain]
        failing.sort(key=lambda c: (-c.impact, -c.traffic, c.family))
        return failing[:limit] if limit else failing


class Review(BaseModel):
    """A decision on a candidate: by a person, or by an LLM judge of known alignment."""

    decision: Literal["accept", "reject", "approve"]
    by: str = Field(description="'person' or 'judge:<name>'")
    reviewer: str | None = None
    gold_sql: str | None = None
    expect: Literal["answer", "refusal"] = "answer"
    note: str = ""
    judge_kappa: float | None = None
    at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


class Candidate(BaseModel):
    """A real question proposed as an eval case."""

    candidate_id: str
    kind: Literal["failure", "regression"]
    question: str
    family: str
    cluster: str = Field(description="the cluster's label")
    covered: bool
    out_of_domain: bool = False
    messages: int
    thumbs_up: int = 0
    thumbs_down: int = 0
    failed: int = 0
    refused: int = 0
    sql: str | None = Field(None, description="regression: Genie's SQL, the provisional gold; failure: what Genie answered, if anything")
    comments: list[str] = Field(default_factory=list)
    splits: list[str] = Field(default_factory=list, description="splits of the cluster's eval cases")
    state: Literal["pending", "approved", "accepted", "rejected"] = "pending"
    review: Review | None = None
    case_id: str | None = None
    last_ms: int | None = None


class Accepted(BaseModel):
    """A candidate that joined the eval set."""

    candidate_id: str
    case: EvalCase
    split: str
    family: str
    evalset: str
    leakage: dict[str, int] = Field(description="the eval set's leakage counts after the case joined (all 0)")
    cases: int = Field(description="cases in the eval set now")


# ---------------------------------------------------------------- clustering
def _key(question: str) -> str:
    return re.sub(r"\s+", " ", question).strip().strip("?!. ").lower()


def _digest(text_: str) -> str:
    return hashlib.sha256(text_.encode()).hexdigest()[:10]


@functools.lru_cache(maxsize=4096)
def _shape(sql: str) -> str | None:
    return normalize_sql(sql)


def _family_sql(msgs: list[LoggedMessage], known: set[str]) -> str | None:
    """The SQL that speaks for a question's family, if any: Genie's SQL for it that a user rated up, or
    that has the shape of a query known to be right (an eval gold, or SQL rated up elsewhere). Other
    SQL may be a wrong answer, which would group unrelated questions; their wording groups them then."""
    sqls = Counter(m.sql for m in msgs if m.sql and m.status == "COMPLETED" and m.rating != "NEGATIVE")
    liked = {m.sql for m in msgs if m.rating == "POSITIVE"}
    for sql, _ in sqls.most_common():
        if sql in liked or _shape(sql) in known:
            return sql
    return None


def _status(m: LoggedMessage) -> str:
    return "COMPLETED" if m.status == "COMPLETED" else m.status if m.status in ("NO_SQL", "FAILED") else "other"


def _fails(m: LoggedMessage, out_of_domain: bool) -> bool:
    if m.rating == "NEGATIVE":
        return True
    if out_of_domain:
        return bool(m.sql) and m.status == "COMPLETED"  # it answered what the space cannot know
    return m.status in ("NO_SQL", "IN_PROGRESS", *FAILED_STATUSES)


class _Question:
    def __init__(self, key: str):
        self.key = key
        self.msgs: list[LoggedMessage] = []
        self.case_id = f"log:{_digest(key)}"

    @property
    def text(self) -> str:
        return Counter(m.question for m in self.msgs).most_common(1)[0][0]


class _Analysis:
    """Everything `analyze` and `candidates` share: questions, their families and clusters."""

    def __init__(self, messages: Sequence[LoggedMessage], space: Space, evalset: EvalSet | None, values: Iterable[str]):
        self.domain = Domain(space, evalset=evalset, values=values)
        by_key: dict[str, _Question] = {}
        for m in messages:
            if m.question.strip():
                by_key.setdefault(_key(m.question), _Question(_key(m.question))).msgs.append(m)
        self.questions = list(by_key.values())
        self.domain.learn(q.key for q in self.questions)
        evalset = evalset or EvalSet(name="none", cases=[])
        self.evalset = evalset
        self.grounding = {q.key: self.domain.grounding(q.text) for q in self.questions}
        known = {k for k in (_shape(g) for c in evalset.cases for g in c.gold_sql) if k}
        known |= {k for k in (_shape(m.sql) for m in messages if m.sql and m.rating == "POSITIVE") if k}
        pseudo = []
        for q in self.questions:
            sql = _family_sql(q.msgs, known)
            words_ = self.domain.mask_values(self.domain.correct(q.text))
            pseudo.append(EvalCase(id=q.case_id, question=words_, gold_sql=[sql] if sql else [],
                                   expect="answer" if sql else "refusal"))
        masked = [c.model_copy(update={"question": self.domain.mask_values(c.question)}) for c in evalset.cases]
        joint = infer_families(masked + pseudo)
        # paraphrases Genie answered without a trusted SQL: the same intent (content words and cues) is one family
        by_intent: dict[frozenset[str], list[str]] = defaultdict(list)
        for q, p in zip(self.questions, pseudo):
            sig = intent(p.question)
            if any(not t.startswith("#") for t in sig):
                by_intent[sig].append(joint[q.case_id])
        joint = _merge(joint, by_intent.values())
        own = infer_families(evalset.cases) if evalset.cases else {}
        members: dict[str, list[str]] = defaultdict(list)  # joint family -> eval case ids
        for c in evalset.cases:
            members[joint[c.id]].append(c.id)
        self.split = {c.id: c.split for c in evalset.cases}
        self.family: dict[str, str] = {}  # question key -> family name
        self.eval_cases: dict[str, list[str]] = {}  # family name -> eval case ids
        for q in self.questions:
            ids = members.get(joint[q.case_id], [])
            name = own[ids[0]] if ids else joint[q.case_id]
            self.family[q.key] = name
            self.eval_cases[name] = ids

    def out_of_domain(self, q: _Question) -> bool:
        return not self.grounding[q.key]

    def clusters(self) -> list[Cluster]:
        groups: dict[str, list[_Question]] = defaultdict(list)
        for q in self.questions:
            groups[self.family[q.key]].append(q)
        out = []
        for fam, qs in groups.items():
            qs.sort(key=lambda q: (-len(q.msgs), q.key))
            msgs = [m for q in qs for m in q.msgs]
            ood = all(self.out_of_domain(q) for q in qs)
            failures = sum(_fails(m, self.out_of_domain(q)) for q in qs for m in q.msgs)
            ids = self.eval_cases.get(fam, [])
            out.append(Cluster(
                family=fam, label=qs[0].text, questions=len(qs), traffic=len(msgs), users=len({m.user_id for m in msgs}),
                positive=sum(m.rating == "POSITIVE" for m in msgs), negative=sum(m.rating == "NEGATIVE" for m in msgs),
                statuses=dict(sorted(Counter(_status(m) for m in msgs).items())), failures=failures,
                failure_rate=round(failures / len(msgs), 4), impact=float(failures), covered=bool(ids), eval_cases=ids,
                splits=sorted({self.split[i] for i in ids if self.split.get(i)}, key=SPLITS.index), out_of_domain=ood,
                grounding=self.grounding[qs[0].key], samples=[q.text for q in qs[1:1 + MAX_SAMPLES]],
                last_ms=max((m.created_ms for m in msgs if m.created_ms), default=None)))
        out.sort(key=lambda c: (-c.traffic, c.family))
        return out


def analyze(messages: Sequence[LoggedMessage], space: Space, evalset: EvalSet | None = None, *,
            values: Iterable[str] = (), space_id: str | None = None) -> TrafficReport:
    """Cluster a space's traffic against an eval set (splits assigned) and the space's metadata."""
    a = _Analysis(messages, space, evalset, values)
    clusters = a.clusters()
    total = sum(c.traffic for c in clusters)
    inside = [c for c in clusters if not c.out_of_domain]
    in_total = sum(c.traffic for c in inside)
    ood = [q for q in a.questions if a.out_of_domain(q)]
    ood_msgs = sum(len(q.msgs) for q in ood)
    stamps = [m.created_ms for m in messages if m.created_ms]
    return TrafficReport(
        space_id=space_id or (messages[0].space_id if messages else ""), messages=total, distinct_questions=len(a.questions),
        users=len({m.user_id for m in messages}), clusters=clusters,
        coverage=sum(c.traffic for c in clusters if c.covered) / total if total else None,
        in_domain_coverage=sum(c.traffic for c in inside if c.covered) / in_total if in_total else None,
        out_of_domain=ood_msgs, out_of_domain_rate=ood_msgs / total if total else None,
        out_of_domain_answered=sum(1 for q in ood for m in q.msgs if m.sql and m.status == "COMPLETED"),
        observed_success=1 - sum(c.failures for c in inside) / in_total if in_total else None,
        first_ms=min(stamps, default=None), last_ms=max(stamps, default=None))


def cluster_right(cluster: Cluster, outcomes: Mapping[str, Outcome | None]) -> float | None:
    """The share of a cluster's eval cases answered right (`outcomes`: case id -> outcome); None if none was scored."""
    scored = [outcomes[i] for i in cluster.eval_cases if outcomes.get(i) not in (None, "gold_error")]
    return sum(o == "right" for o in scored) / len(scored) if scored else None


def traffic_accuracy(report: TrafficReport, outcomes: Mapping[str, Outcome | None]) -> float | None:
    """Accuracy on real traffic: each covered cluster's share of right eval answers (`outcomes`: case id ->
    outcome, e.g. of a version's train, val and test runs), weighted by the cluster's traffic."""
    num = den = 0.0
    for c in report.clusters:
        right = cluster_right(c, outcomes)
        if right is not None:
            num += c.traffic * right
            den += c.traffic
    return num / den if den else None


# ---------------------------------------------------------------- candidates
def _candidate_id(space_id: str, key: str) -> str:
    return "c-" + _digest(f"{space_id}\x00{key}")


def candidates(messages: Sequence[LoggedMessage], space: Space, evalset: EvalSet | None = None, *, store: Store | None = None,
               values: Iterable[str] = (), space_id: str | None = None) -> list[Candidate]:
    """Failure and regression candidates, one per distinct question, with their review state from `store`.

    Failure: a thumbs-down, a failed message or a refusal (an out-of-domain question refused is one
    too, to be accepted as an expected refusal). Regression: thumbs-up answers with SQL and no
    thumbs-down. Most messages first."""
    a = _Analysis(messages, space, evalset, values)
    space_id = space_id or (messages[0].space_id if messages else "")
    labels = {c.family: c.label for c in a.clusters()}
    out: list[Candidate] = []
    for q in a.questions:
        up = sum(m.rating == "POSITIVE" for m in q.msgs)
        down = sum(m.rating == "NEGATIVE" for m in q.msgs)
        failed = sum(m.status in (*FAILED_STATUSES, "IN_PROGRESS") for m in q.msgs)
        refused = sum(m.status == "NO_SQL" for m in q.msgs)
        answered = Counter(m.sql for m in q.msgs if m.sql and m.status == "COMPLETED" and m.rating != "NEGATIVE")
        if down + failed + refused > up:
            kind = "failure"  # mixed signals count against the answer unless thumbs-up outweigh them
        elif up and answered:
            kind = "regression"
        else:
            continue
        sql = answered.most_common(1)[0][0] if answered else next((m.sql for m in reversed(q.msgs) if m.sql), None)
        fam = a.family[q.key]
        ids = a.eval_cases.get(fam, [])
        out.append(Candidate(
            candidate_id=_candidate_id(space_id, q.key), kind=kind, question=q.text, family=fam, cluster=labels[fam], covered=bool(ids),
            out_of_domain=a.out_of_domain(q), messages=len(q.msgs), thumbs_up=up, thumbs_down=down, failed=failed, refused=refused,
            sql=sql, comments=list(dict.fromkeys(c for m in q.msgs for c in m.comments))[:MAX_SAMPLES],
            splits=sorted({a.split[i] for i in ids if a.split.get(i)}, key=SPLITS.index),
            last_ms=max((m.created_ms for m in q.msgs if m.created_ms), default=None)))
    if store is not None:
        out = [_with_review(store, space_id, c) for c in out]
    out.sort(key=lambda c: (c.state != "pending", c.out_of_domain, -c.messages, c.candidate_id))
    return out


def find_candidate(found: Sequence[Candidate], candidate_id: str) -> Candidate:
    by_id = {c.candidate_id: c for c in found}
    if candidate_id not in by_id:
        raise InvalidInput(f"no candidate {candidate_id!r}.{did_you_mean(candidate_id, by_id)}", field="candidate_id")
    return by_id[candidate_id]


def _with_review(store: Store, space_id: str, c: Candidate) -> Candidate:
    """The candidate with its stored review state, if it has one."""
    body = store.get_document(CANDIDATE, f"{space_id}/{c.candidate_id}")
    if not body:
        return c
    saved = json.loads(body)
    return c.model_copy(update={"state": saved["state"], "case_id": saved.get("case_id"),
                                "review": Review.model_validate(saved["review"]) if saved.get("review") else None})


def _save_review(store: Store, space_id: str, c: Candidate) -> None:
    store.put_document(CANDIDATE, f"{space_id}/{c.candidate_id}",
                       json.dumps({"state": c.state, "case_id": c.case_id, "review": c.review.model_dump() if c.review else None}))


def reject(store: Store, space_id: str, candidate: Candidate, *, note: str = "", reviewer: str | None = None) -> Candidate:
    """A person's decision that a candidate is not an eval case (kept, so it is not proposed again)."""
    candidate = candidate.model_copy(update={"state": "rejected", "review": Review(decision="reject", by="person", reviewer=reviewer,
                                                                                 note=note)})
    _save_review(store, space_id, candidate)
    return candidate


def _new_case_id(question: str, taken: set[str]) -> str:
    base = "log_" + _digest(_key(question))[:8]
    out, n = base, 2
    while out in taken:
        out, n = f"{base}_{n}", n + 1
    return out


def accept(store: Store, space_id: str, candidate: Candidate, evalset_path: str | Path, *, gold_sql: str | None = None,
           expect: Literal["answer", "refusal"] | None = None, reason: str | None = None, category: str | None = None,
           note: str = "", reviewer: str | None = None, by: str = "person", splits: Sequence[str] = SPLITS, seed: int = 0,
           backend: Any = None, space: Space | None = None, evalset: EvalSet | None = None) -> Accepted:
    """Add a reviewed candidate to the eval set file, in a split that keeps leakage at 0.

    The gold: `gold_sql` (a person's), else a regression candidate's provisional gold (Genie's SQL);
    a failure candidate needs one unless `expect="refusal"` (the space is right to refuse it). With
    `backend`, the gold must run (read-only). The case's family is the cluster's; its split is that
    family's split in the eval set, else one `families.grouped_splits` deals, among `splits` (the copilot
    places what an assistant has seen in train only). The file keeps its other cases as they were
    (`evalset`: the file as already loaded).
    """
    if candidate.state == "accepted":
        raise InvalidInput(f"candidate {candidate.candidate_id!r} is already in the eval set as {candidate.case_id!r}",
                           field="candidate_id")
    expect = expect or ("refusal" if candidate.out_of_domain and not gold_sql else "answer")
    gold = gold_sql if gold_sql is not None else (candidate.sql if candidate.kind == "regression" else None)
    if expect == "answer" and not (gold and gold.strip()):
        raise InvalidInput(f"candidate {candidate.candidate_id!r} is a failure: give the gold SQL that answers it "
                           "(or accept it as an expected refusal)", field="gold_sql")
    if expect == "refusal":
        gold = None
    if gold is not None:
        check_read_only(gold, dialect="databricks")
        if backend is not None:
            try:
                backend.execute(gold, max_rows=1, space=space)
            except Exception as e:  # noqa: BLE001 - the reviewer fixes the gold
                raise InvalidInput(f"the gold SQL does not run: {e}", field="gold_sql") from None
    path = Path(evalset_path)
    raw = evalset if evalset is not None else load_evalset(path)
    placed = assign_splits(raw, seed=seed)
    taken = {c.id for c in raw.cases}
    case = EvalCase(id=_new_case_id(candidate.question, taken), question=candidate.question, gold_sql=[gold] if gold else [],
                    expect=expect, reason=reason if expect == "refusal" else None, family=candidate.family,
                    category=category or _category_of(placed, candidate) or "traffic", tags=["traffic"],
                    notes=f"from real traffic: {candidate.messages} message(s), {candidate.kind} candidate {candidate.candidate_id}")
    split = _place(placed, case, splits=splits, seed=seed)
    case = case.model_copy(update={"split": split})
    after = placed.model_copy(update={"cases": [*placed.cases, case]})
    leaks = leakage(after.cases)
    if leaks.total > leakage(placed.cases).total:
        raise InvalidInput(f"adding {case.id!r} in any allowed split would add leakage ({leaks.counts()}); review the eval set's "
                           "families first (`chaos-llama evalset freeze`)", field="candidate_id")
    _append_case(path, raw, case)
    review = Review(decision="accept", by=by, reviewer=reviewer, gold_sql=gold, expect=expect, note=note)
    updated = candidate.model_copy(update={"state": "accepted", "case_id": case.id, "review": review})
    _save_review(store, space_id, updated)
    return Accepted(candidate_id=candidate.candidate_id, case=case, split=split, family=candidate.family, evalset=str(path),
                    leakage=leaks.counts() | {"total": leaks.total}, cases=len(after.cases))


def _category_of(evalset: EvalSet, candidate: Candidate) -> str | None:
    """The category of the eval cases the candidate's family already has."""
    fams = infer_families(evalset.cases)
    cats = Counter(c.category for c in evalset.cases if candidate.family in (c.family, fams[c.id]))
    cats.pop(None, None)
    return cats.most_common(1)[0][0] if cats else None


def _place(evalset: EvalSet, case: EvalCase, *, splits: Sequence[str], seed: int) -> str:
    """The split for a new case: its family's, else grouped_splits' deal; the first allowed one that adds no leakage."""
    cases = [*evalset.cases, case.model_copy(update={"split": None})]
    fams = infer_families(cases)
    family_splits = Counter(c.split for c in evalset.cases if fams[c.id] == fams[case.id])
    allowed = [s for s in SPLITS if s in splits]
    if not allowed:
        raise InvalidInput(f"no split to place the case in (allowed: {list(splits)!r})", field="splits")
    if family_splits and not set(family_splits) <= set(allowed):
        raise InvalidInput(f"the candidate's family is in the {'/'.join(sorted(family_splits))} split, which cannot take it here",
                           field="candidate_id")
    if family_splits:
        order = [s for s, _ in family_splits.most_common()]
    else:
        chosen, _ = grouped_splits(cases, seed=seed, families=fams)
        order = [chosen[case.id]]
    order += [s for s in ("train", "val", "test") if s not in order]
    before = leakage(evalset.cases).total
    for split in order:
        if split not in allowed:
            continue
        trial = [*evalset.cases, case.model_copy(update={"split": split})]
        if leakage(trial).total <= before:
            return split
    return next(s for s in order if s in allowed)


def _append_case(path: Path, raw: EvalSet, case: EvalCase) -> None:
    """Add one case to the eval set file, leaving the rest of the file as it is where the format allows
    (YAML: appended to the questions list; JSONL: one more line); else the file is rewritten."""
    expected = [*raw.cases, case]
    original = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        item = yaml.dump([_case_doc(case)], Dumper=_yaml_dumper(), sort_keys=False, allow_unicode=True, width=100)
        indent = re.search(r"^( *)- id:", original, re.MULTILINE)
        pad = indent.group(1) if indent else ""
        appended = original.rstrip("\n") + "\n" + "".join(pad + line + "\n" for line in item.splitlines())
    elif suffix in (".jsonl", ".ndjson"):
        appended = original.rstrip("\n") + "\n" + json.dumps(_case_doc(case), ensure_ascii=False) + "\n"
    else:
        appended = None
    if appended is not None:
        path.write_text(appended, encoding="utf-8")
        try:
            if load_evalset(path).cases == expected:
                return
        except InvalidInput:
            pass
    save_evalset(raw.model_copy(update={"cases": expected}), path)  # a layout appending cannot extend: rewrite it




def traffic_for(store: Store, space: Space, evalset: EvalSet, *, before: Iterable[str] = (), after: Iterable[str] = (),
                backend: Any = None, space_id: str | None = None, seed: int = 0, limit: int = 10) -> FixFirst | None:
    """The "fix these first" report of the space's traffic for an optimization's report (`before`/`after`:
    run ids of the versions compared), or None when no traffic is imported for it."""
    spaces = store.log_spaces()
    if not (space_id in spaces or space.space_id in spaces or len(spaces) == 1):
        return None
    fw = Flywheel(store, space, evalset, space_id=space_id, backend=backend, seed=seed)
    before, after = list(before), list(after)
    return fw.fix_first(limit=limit, before=run_outcomes(store, before) if before else None,
                        after=run_outcomes(store, after) if after else None)


# ---------------------------------------------------------------- one space's flywheel (what the CLI and the copilot drive)
class FixFirst(BaseModel):
    """The "fix these first" report: failing clusters by impact, eval-set coverage of real traffic and
    accuracy on it (traffic-weighted eval accuracy of the covered clusters), before and after."""

    space_id: str
    messages: int
    distinct_questions: int
    clusters: int
    coverage: float | None = Field(None, description="share of traffic whose cluster has an eval case")
    coverage_before: float | None = Field(None, description="the same with the eval set before (e.g. before candidates joined)")
    in_domain_coverage: float | None = None
    out_of_domain_rate: float | None = None
    out_of_domain_answered: int = 0
    observed_success: float | None = Field(None, description="share of in-domain messages that did not fail, as logged")
    accuracy_before: float | None = Field(None, description="accuracy on real traffic before (traffic-weighted, covered clusters)")
    accuracy_after: float | None = Field(None, description="the same after")
    top: list[Cluster] = Field(default_factory=list, description="failing clusters, most impact first")
    failing_clusters: int = 0
    withheld: int = Field(0, description="failing clusters not shown: their family is in the held-out test split")

    COLUMNS: ClassVar[tuple[str, ...]] = ("#", "impact", "traffic", "fails", "status mix", "ratings", "eval cases", "eval right", "cluster")

    def table(self) -> list[tuple[str, ...]]:
        """Rows for a plain table (`COLUMNS`): rank, impact, traffic, failure rate, status mix, ratings, the splits
        of the eval cases covering it, their share answered right before -> after, the most asked question."""
        def right(c: Cluster) -> str:
            if c.right_before is None and c.right_after is None:
                return "-"
            return " -> ".join(f"{x:.0%}" if x is not None else "-" for x in (c.right_before, c.right_after))

        return [(str(i), f"{c.impact:g}", str(c.traffic), f"{c.failure_rate:.0%}",
                 " ".join(f"{k} {v}" for k, v in c.statuses.items()), f"+{c.positive}/-{c.negative}",
                 ",".join(c.splits) if c.covered else "no", right(c), c.label) for i, c in enumerate(self.top, 1)]

    def summary(self) -> str:
        def pct(x: float | None) -> str:
            return "-" if x is None else f"{x:.0%}"

        parts = [f"{self.messages} messages, {self.distinct_questions} distinct questions in {self.clusters} clusters",
                 f"eval-set coverage of traffic {pct(self.coverage)}" + (f" (was {pct(self.coverage_before)})" if self.coverage_before is not None else ""),
                 f"out of domain {pct(self.out_of_domain_rate)}" + (f" ({self.out_of_domain_answered} answered with SQL)" if self.out_of_domain_answered else ""),
                 f"logged success {pct(self.observed_success)}"]
        if self.accuracy_before is not None or self.accuracy_after is not None:
            parts.append(f"accuracy on real traffic {pct(self.accuracy_before)} -> {pct(self.accuracy_after)}")
        return "; ".join(parts)


def run_outcomes(store: Store, run_ids: Iterable[str]) -> dict[str, Outcome | None]:
    """Case id -> outcome over several runs (e.g. a version's train, val and test runs; later runs win)."""
    out: dict[str, Outcome | None] = {}
    for run_id in run_ids:
        if store.get_run(run_id) is None:
            raise InvalidInput(f"no run {run_id!r}.{did_you_mean(run_id, [r.run_id for r in store.list_runs(limit=200)])}", field="run")
        out.update({r.case_id: r.outcome for r in build_run_result(store, run_id).rows})
    return out


class Flywheel:
    """One space's real traffic against one eval set: clusters, candidates, reviews and the report.

    Args:
        store: the workspace store holding the imported traffic.
        space: the space as it is now (its metadata grounds questions).
        evalset: the eval set file (accepted candidates are appended to it), or an EvalSet (read-only use).
        space_id: whose traffic (default: the only space with imported traffic).
        backend: reads the data's values (cached in the store) and checks accepted gold SQL; optional.
    """

    def __init__(self, store: Store, space: Space, evalset: str | Path | EvalSet, *, space_id: str | None = None, backend: Any = None,
                 seed: int = 0):
        self.store, self.space, self.backend, self.seed = store, space, backend, seed
        self.evalset_path = None if isinstance(evalset, EvalSet) else Path(evalset)
        self._raw = evalset if isinstance(evalset, EvalSet) else load_evalset(evalset)
        self.evalset = assign_splits(self._raw, seed=seed)
        self.space_id = traffic_space(store, space_id or (space.space_id if space.space_id in store.log_spaces() else None))
        self.messages = stored_messages(store, self.space_id)
        self.values = space_values(store, backend, space) if backend is not None else []
        self._candidates: list[Candidate] | None = None

    def report(self, evalset: EvalSet | None = None) -> TrafficReport:
        return analyze(self.messages, self.space, evalset or self.evalset, values=self.values, space_id=self.space_id)

    def candidates(self, *, refresh: bool = False) -> list[Candidate]:
        """The candidates with their review state (computed once; reviews through this object keep them current)."""
        if self._candidates is None or refresh:
            self._candidates = candidates(self.messages, self.space, self.evalset, store=self.store, values=self.values,
                                          space_id=self.space_id)
        return self._candidates

    def _reviewed(self, c: Candidate) -> None:
        if self._candidates is not None:
            self._candidates = [c if x.candidate_id == c.candidate_id else x for x in self._candidates]

    def fix_first(self, *, limit: int = 10, before: Mapping[str, Outcome | None] | None = None,
                  after: Mapping[str, Outcome | None] | None = None, evalset_before: EvalSet | None = None,
                  hide_splits: Sequence[str] = ()) -> FixFirst:
        """The report; `before`/`after`: case outcomes of two versions; `hide_splits`: clusters of these
        eval splits are counted but not shown (the copilot never sees held-out families)."""
        rep = self.report()
        if before is not None and after is not None:  # compare like with like: the cases both versions answered
            both = {k for k in before if k in after}
            before, after = {k: before[k] for k in both}, {k: after[k] for k in both}
        failing = [c for c in rep.fix_first() if not set(c.splits) & set(hide_splits)]
        withheld = len(rep.fix_first()) - len(failing)
        failing = [c.model_copy(update={"right_before": cluster_right(c, before) if before is not None else None,
                                        "right_after": cluster_right(c, after) if after is not None else None}) for c in failing]
        return FixFirst(
            space_id=rep.space_id, messages=rep.messages, distinct_questions=rep.distinct_questions, clusters=len(rep.clusters),
            coverage=rep.coverage, in_domain_coverage=rep.in_domain_coverage, out_of_domain_rate=rep.out_of_domain_rate,
            out_of_domain_answered=rep.out_of_domain_answered, observed_success=rep.observed_success,
            coverage_before=self.report(assign_splits(evalset_before, seed=self.seed)).coverage if evalset_before is not None else None,
            accuracy_before=traffic_accuracy(rep, before) if before is not None else None,
            accuracy_after=traffic_accuracy(rep, after) if after is not None else None,
            top=failing[:limit], failing_clusters=len(failing), withheld=withheld)

    def find(self, candidate_id: str) -> Candidate:
        return find_candidate(self.candidates(), candidate_id)

    def accept(self, candidate_id: str, *, splits: Sequence[str] = SPLITS, **review: Any) -> Accepted:
        """Accept a candidate into the eval set file (see `accept`)."""
        if self.evalset_path is None:
            raise InvalidInput("no eval set file to add the case to; name one (--evalset)", field="evalset")
        candidate = self.find(candidate_id)
        done = accept(self.store, self.space_id, candidate, self.evalset_path, splits=splits, seed=self.seed,
                      backend=self.backend, space=self.space, evalset=self._raw, **review)
        self._raw = self._raw.model_copy(update={"cases": [*self._raw.cases, done.case]})  # what the file holds now
        self.evalset = assign_splits(self._raw, seed=self.seed)
        self._reviewed(_with_review(self.store, self.space_id, candidate))
        return done

    def reject(self, candidate_id: str, *, note: str = "", reviewer: str | None = None) -> Candidate:
        done = reject(self.store, self.space_id, self.find(candidate_id), note=note, reviewer=reviewer)
        self._reviewed(done)
        return done

    def review_with_judge(self, judge: str = "answers_question", *, min_labels: int = 20, min_kappa: float = 0.6,
                          limit: int | None = None) -> list[Candidate]:
        """Let an LLM judge review pending regression candidates, if its agreement with people is known:
        at least `min_labels` labels compared (`chaos-llama label add`) and Cohen's kappa >= `min_kappa`.
        Each answer (Genie's SQL, run on the data) the judge passes is *approved* (accept them with
        `accept_approved`), each it fails is rejected; the review records the judge's kappa. The model
        is the judge runtime in scope (`judges.llm.judge_runtime`, or the CHAOS_JUDGE_* variables)."""
        if not is_llm_judge(judge):
            raise InvalidInput(f"{judge!r} is not an LLM judge (e.g. answers_question)", field="judge")
        al = alignment(self.store, judge)
        if al.compared < min_labels or al.kappa is None or al.kappa < min_kappa:
            kappa = "undefined" if al.kappa is None else f"{al.kappa:.2f}"
            raise InvalidInput(f"judge {judge!r} agrees with people on {al.compared} labeled answers (kappa {kappa}); it may "
                               f"review candidates once at least {min_labels} are compared with kappa >= {min_kappa:g}. Label "
                               "more of its verdicts (`chaos-llama label add`), or review the candidates yourself.", field="judge")
        if self.backend is None:
            raise InvalidInput("the judge needs each answer's result: give the data or backend (--data)", field="data")
        spec = get_judge(judge)
        fn = getattr(spec, "fn", spec)
        out = []
        todo = [c for c in self.candidates() if c.state == "pending" and c.kind == "regression" and c.sql]
        for c in todo[:limit] if limit else todo:
            try:
                table = self.backend.execute(c.sql, space=self.space)
                answer = Answer(status="COMPLETED", sql=c.sql, result=table, row_count=table.num_rows)
            except Exception as e:  # noqa: BLE001 - an answer that no longer runs is not approved
                answer = Answer(status="FAILED", sql=c.sql, error=str(e))
            verdict = fn(EvalCase(id=c.candidate_id, question=c.question, gold_sql=[c.sql]), generated=answer, expected=[], space=self.space)
            if not isinstance(verdict.value, bool):
                continue  # no model, or it failed: the candidate stays pending
            review = Review(decision="approve" if verdict.value else "reject", by=f"judge:{judge}", note=verdict.rationale,
                            gold_sql=c.sql if verdict.value else None, judge_kappa=al.kappa)
            c = c.model_copy(update={"state": "approved" if verdict.value else "rejected", "review": review})
            _save_review(self.store, self.space_id, c)
            self._reviewed(c)
            out.append(c)
        return out

    def accept_approved(self, **kw: Any) -> list[Accepted]:
        """Accept every candidate an aligned judge approved (its provisional gold as the gold)."""
        return [self.accept(c.candidate_id, gold_sql=c.review.gold_sql if c.review else None, by=c.review.by if c.review else "judge",
                            note=(c.review.note if c.review else ""), **kw)
                for c in self.candidates() if c.state == "approved"]


__all__ = ["Accepted", "Candidate", "Cluster", "Domain", "FixFirst", "Flywheel", "Review", "TrafficReport", "accept", "analyze",
           "candidates", "cluster_right", "data_values", "find_candidate", "intent", "reject", "run_outcomes", "space_values", "sql_literals",
           "traffic_accuracy", "traffic_for"]
