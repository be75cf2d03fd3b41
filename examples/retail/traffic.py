"""Realistic Genie traffic for the bundled retail example: what a month of users asked, for the data flywheel.

Deterministic (one `random.Random(seed)` drives every choice; timestamps start at a fixed date) and
shaped like real traffic: a few popular questions asked again and again (each user has favourite
questions they re-ask), a long tail, follow-up questions in the same conversation, lower-case and
unpunctuated typing, typos, out-of-domain questions ("what's the weather tomorrow"), and ratings
correlated with correctness: every distinct question is answered by the local engine over the
hosted space and judged against the gold query the generator knows (the execution judge), then
users give a thumbs-up mostly to right answers and a thumbs-down mostly to wrong answers and
refusals, with some noise both ways (users do not check every number).

Half the templates are families the bundled eval set already covers (and the curated space answers);
the others are real needs nobody wrote an eval case for (signups per year, refunds, stores per
region, average discount, returns by reason, orders per promotion): that is what the flywheel finds.

The output is the export format of `chaos_llama.tools.logs` (Genie's message JSON, one conversation
per line), which `chaos-llama logs import traffic.jsonl --space-id ...` and the Genie emulator
(`Emulator.load_conversations`) read. The gold queries are kept apart (`Traffic.truth`): real logs
have none; tests play the person who writes them when accepting a candidate.

    python -m chaos_llama.examples.retail.traffic --out traffic.jsonl [--conversations 120] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

START_MS = 1_748_736_000_000  # 2025-06-01T00:00:00Z: a fixed clock, so the same seed gives the same file
DAY_MS = 86_400_000
NET = "ROUND(SUM(oi.qty * oi.unit_prc * (1 - oi.disc_pct)), 2)"
ORDERS_ITEMS = "FROM main.retail.orders o\nJOIN main.retail.order_items oi ON oi.ord_id = o.ord_id\n"
TO_REGION = "JOIN main.retail.stores s ON s.store_id = o.store_id\nJOIN main.retail.regions r ON r.rgn_id = s.rgn_id\n"

REGIONS = [("AMER", "North America"), ("EMEA", "EMEA"), ("APAC", "Asia Pacific"), ("LATAM", "Latin America")]
CATEGORIES = ["Electronics", "Home & Kitchen", "Apparel", "Beauty & Personal Care", "Sports & Outdoors", "Toys & Games"]
CHANNELS = [("Web", "web"), ("In-Store", "in-store"), ("Mobile App", "mobile app"), ("Marketplace", "marketplace")]
SEGMENTS = [("Consumer", "consumer"), ("Corporate", "corporate"), ("Small Business", "small business")]
TIERS = ["Bronze", "Silver", "Gold", "Platinum"]
YEARS = [2023, 2024, 2025]
PROMOS = ["Black Friday 2023", "Black Friday 2024", "Summer Sale 2024", "Spring Refresh 2025", "Winter Clearance 2025"]


@dataclass(frozen=True)
class Template:
    """A recurring business question: phrasings with slots, a slot sampler and the gold query."""

    name: str
    weight: float  # popularity
    phrasings: tuple[str, ...]
    slots: Callable[[Random], dict[str, Any]]
    gold: Callable[[dict[str, Any]], str]
    covered: bool  # a family of the bundled eval set


def _year(rng: Random) -> dict[str, Any]:
    return {"year": rng.choice(YEARS)}


def _region(rng: Random) -> dict[str, Any]:
    code, name = rng.choice(REGIONS)
    return {"code": code, "region": name}


def _cat(rng: Random) -> dict[str, Any]:
    c = rng.choice(CATEGORIES)
    return {"cat": c, "category": c.lower()}


TEMPLATES: tuple[Template, ...] = (
    # ---- families the bundled eval set covers
    Template("revenue_year", 9, ("What was total net revenue in {year}?", "how much did we sell in {year}",
                                 "Total sales {year}", "revenue for {year}?"),
             _year, lambda s: f"SELECT {NET} AS net_revenue\n{ORDERS_ITEMS}WHERE o.stat_cd = 'C' AND YEAR(o.ord_dt) = {s['year']}",
             True),
    Template("orders_by_channel_year", 4, ("How many orders per sales channel in {year}?", "orders by channel for {year}"),
             _year, lambda s: ("SELECT o.sales_chnl, COUNT(*) AS completed_orders\nFROM main.retail.orders o\n"
                               f"WHERE o.stat_cd = 'C' AND o.ord_dt >= DATE'{s['year']}-01-01' AND o.ord_dt < DATE'{s['year'] + 1}-01-01'\n"
                               "GROUP BY o.sales_chnl\nORDER BY completed_orders DESC"), True),
    Template("revenue_by_category_region", 5, ("Revenue by product category in {region}", "{region} sales by category"),
             _region, lambda s: (f"SELECT p.cat_nm, {NET} AS net_revenue\n{ORDERS_ITEMS}"
                                 f"JOIN main.retail.products p ON p.prod_id = oi.prod_id\n{TO_REGION}"
                                 f"WHERE o.stat_cd = 'C' AND r.rgn_cd = '{s['code']}'\nGROUP BY p.cat_nm\nORDER BY net_revenue DESC"), True),
    Template("top_stores_year", 5, ("Top {n} stores by revenue in {year}", "which {n} stores sold the most in {year}?"),
             lambda r: {"year": r.choice(YEARS), "n": r.choice([3, 5, 10])},
             lambda s: (f"SELECT s.store_nm, {NET} AS net_revenue\n{ORDERS_ITEMS}JOIN main.retail.stores s ON s.store_id = o.store_id\n"
                        f"WHERE o.stat_cd = 'C' AND YEAR(o.ord_dt) = {s['year']}\nGROUP BY s.store_id, s.store_nm\n"
                        f"ORDER BY net_revenue DESC\nLIMIT {s['n']}"), True),
    Template("monthly_revenue_region_year", 4, ("Monthly revenue for {region} in {year}", "{region} revenue by month {year}"),
             lambda r: {**_region(r), **_year(r)},
             lambda s: (f"SELECT DATE_TRUNC('MONTH', o.ord_dt) AS month, {NET} AS net_revenue\n{ORDERS_ITEMS}{TO_REGION}"
                        f"WHERE o.stat_cd = 'C' AND r.rgn_cd = '{s['code']}' AND YEAR(o.ord_dt) = {s['year']}\nGROUP BY 1\nORDER BY 1"),
             True),
    Template("return_rate_channel_year", 3, ("What was the {channel} return rate in {year}?", "return rate of {channel} orders {year}"),
             lambda r: {**dict(zip(("chnl", "channel"), r.choice(CHANNELS))), **_year(r)},
             lambda s: ("SELECT ROUND(100.0 * COUNT_IF(o.stat_cd = 'R') / COUNT(*), 2) AS return_rate_pct\nFROM main.retail.orders o\n"
                        f"WHERE o.stat_cd IN ('C', 'R') AND o.sales_chnl = '{s['chnl']}' AND YEAR(o.ord_dt) = {s['year']}"), True),
    Template("customers_segment_tier", 2, ("How many {segment} customers are {tier} tier?", "number of {tier} {segment} customers"),
             lambda r: {**dict(zip(("seg", "segment"), r.choice(SEGMENTS))), "tier": r.choice(TIERS)},
             lambda s: ("SELECT COUNT(*) AS customers\nFROM main.retail.customers c\n"
                        f"WHERE c.cust_seg = '{s['seg']}' AND c.lylty_tier = '{s['tier']}'"), True),
    # ---- real needs no eval case covers yet
    Template("customers_signup_year", 6, ("How many customers signed up in {year}?", "new customer signups in {year}",
                                          "number of customers who registered in {year}"),
             _year, lambda s: f"SELECT COUNT(*) AS customers\nFROM main.retail.customers c\nWHERE YEAR(c.signup_dt) = {s['year']}",
             False),
    Template("refunds_year", 5, ("Total refunds in {year}", "How much did we refund in {year}?", "refund amount for {year}"),
             _year, lambda s: f"SELECT ROUND(SUM(rt.refund_amt), 2) AS refunds\nFROM main.retail.returns rt\nWHERE YEAR(rt.ret_dt) = {s['year']}",
             False),
    Template("stores_region", 4, ("How many stores do we have in {region}?", "store count in {region}", "number of stores in {region}"),
             _region, lambda s: ("SELECT COUNT(*) AS stores\nFROM main.retail.stores s\nJOIN main.retail.regions r ON r.rgn_id = s.rgn_id\n"
                                 f"WHERE r.rgn_cd = '{s['code']}'"), False),
    Template("avg_discount_category", 3, ("What is the average discount on {category} items?", "average discount rate for {category}"),
             _cat, lambda s: ("SELECT ROUND(AVG(oi.disc_pct), 4) AS avg_discount\nFROM main.retail.order_items oi\n"
                              f"JOIN main.retail.products p ON p.prod_id = oi.prod_id\nWHERE p.cat_nm = '{s['cat'].replace(chr(39), chr(39) * 2)}'"),
             False),
    Template("returns_by_reason_year", 3, ("Returns by reason in {year}", "why did customers return orders in {year}?"),
             _year, lambda s: ("SELECT rt.ret_rsn, COUNT(*) AS returns\nFROM main.retail.returns rt\n"
                               f"WHERE YEAR(rt.ret_dt) = {s['year']}\nGROUP BY rt.ret_rsn\nORDER BY returns DESC"), False),
    Template("orders_promo", 2, ("How many orders used the {promo} promotion?", "orders placed with the {promo} promo"),
             lambda r: {"promo": r.choice(PROMOS)},
             lambda s: ("SELECT COUNT(*) AS orders\nFROM main.retail.orders o\nJOIN main.retail.promotions pr ON pr.promo_id = o.promo_id\n"
                        f"WHERE o.stat_cd = 'C' AND pr.promo_nm = '{s['promo']}'"), False),
)

OUT_OF_DOMAIN = ("What's the weather forecast for tomorrow?", "how do i reset my password", "Who won the world cup in 2022?",
                 "What is the euro exchange rate today?", "how many employees were hired last month",
                 "translate good morning into spanish", "What's the best pizza place nearby?")
COMMENTS_NEGATIVE = ("numbers look wrong", "this ignores the year", "it could not answer", "not what I asked",
                     "wrong totals, please check with jane.doe@shop.example")
COMMENTS_POSITIVE = ("thanks!", "matches my report")


@dataclass
class Truth:
    """What the generator knows about one message and real logs do not: its template and gold query."""

    template: str | None  # None: out of domain
    gold_sql: str | None
    outcome: str  # right / wrong / refused (how the engine did, judged against the gold)
    covered: bool
    typo: bool = False


@dataclass
class Traffic:
    conversations: list[dict[str, Any]]
    truth: dict[str, Truth] = field(default_factory=dict)  # message id -> truth
    space_id: str = ""

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [m for c in self.conversations for m in c["messages"]]

    def write_jsonl(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in self.conversations), encoding="utf-8")
        return path


def _typo(rng: Random, text: str) -> str:
    """One keyboard slip in one longer word: letters swapped, dropped or doubled."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    k = rng.randrange(1, len(w) - 2)
    kind = rng.choice(("swap", "drop", "double"))
    words[i] = (w[:k] + w[k + 1] + w[k] + w[k + 2:] if kind == "swap" else w[:k] + w[k + 1:] if kind == "drop"
                else w[:k] + w[k] + w[k:])
    return " ".join(words)


def _casual(rng: Random, text: str) -> tuple[str, bool]:
    """How people type: lower case, no question mark, now and then a typo (and whether one was made)."""
    if rng.random() < 0.3:
        text = text.lower()
    if rng.random() < 0.3:
        text = text.rstrip("?")
    if rng.random() < 0.12:
        typed = _typo(rng, text)
        return typed, typed != text
    return text, False


def _question(rng: Random, templates: tuple[Template, ...]) -> tuple[str, Template | None, str | None]:
    if rng.random() < 0.08:
        return rng.choice(OUT_OF_DOMAIN), None, None
    t = rng.choices(templates, weights=[x.weight for x in templates])[0]
    slots = t.slots(rng)
    return rng.choice(t.phrasings).format(**slots), t, t.gold(slots)


def _rating(rng: Random, outcome: str, in_domain: bool) -> str | None:
    """Users rate some answers: right ones mostly up, wrong ones and refusals mostly down, with noise."""
    p_up, p_down = {("right", True): (0.5, 0.03), ("wrong", True): (0.1, 0.5), ("refused", True): (0.02, 0.4),
                    ("refused", False): (0.05, 0.02), ("wrong", False): (0.02, 0.4), ("right", False): (0.05, 0.02)}[(outcome, in_domain)]
    x = rng.random()
    return "POSITIVE" if x < p_up else "NEGATIVE" if x < p_up + p_down else None


class _Judge:
    """Answers each distinct question once with the engine and judges it against its gold."""

    def __init__(self, space: Any, engine: Any):
        from chaos_llama.tools.evalset import EvalCase
        from chaos_llama.tools.judges import get_judge
        from chaos_llama.tools.results import GoldResult

        self.space, self.engine = space, engine
        self._case, self._gold = EvalCase, GoldResult
        spec = get_judge("execution")
        self._execution = getattr(spec, "fn", spec)
        self.cache: dict[str, tuple[Any, str]] = {}

    def __call__(self, question: str, gold: str | None) -> tuple[Any, str]:
        if question not in self.cache:
            answer = self.engine.ask_sync(self.space, question)
            if not answer.sql:
                outcome = "refused"
            elif gold is None:
                outcome = "wrong"  # an out-of-domain question answered with SQL
            else:
                expected = [self._gold(sql=gold, result=self.engine.execute(gold, space=self.space))]
                case = self._case(id="t", question=question, gold_sql=[gold])
                verdict = self._execution(case, generated=answer, expected=expected, space=self.space)
                outcome = "right" if verdict.value is True else "wrong"
            self.cache[question] = (answer, outcome)
        return self.cache[question]


def generate(space: Any, engine: Any, *, conversations: int = 120, users: int = 14, days: int = 30, seed: int = 7,
             start_ms: int = START_MS, templates: tuple[Template, ...] = TEMPLATES) -> Traffic:
    """A month of traffic on `space` (answered by `engine`, a `LocalGenie` over the retail data)."""
    rng = Random(seed)
    judge = _Judge(space, engine)
    space_id = space.space_id or uuid.uuid5(uuid.NAMESPACE_URL, f"chaos-llama:{space.title}").hex
    favourites = {u: [_question(rng, templates) for _ in range(rng.choice((1, 2)))] for u in range(101, 101 + users)}
    times = sorted(start_ms + int(rng.random() * days * DAY_MS) for _ in range(conversations))
    traffic = Traffic(conversations=[], space_id=space_id)
    for at in times:
        user = rng.randrange(101, 101 + users)
        conv_id = uuid.UUID(int=rng.getrandbits(128)).hex
        msgs = []
        for k in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
            text, t, gold = rng.choice(favourites[user]) if rng.random() < 0.35 else _question(rng, templates)
            text, typo = _casual(rng, text)
            answer, outcome = judge(text, gold)
            mid = uuid.UUID(int=rng.getrandbits(128)).hex
            created = at + k * rng.randrange(60_000, 300_000)
            m: dict[str, Any] = {"space_id": space_id, "conversation_id": conv_id, "message_id": mid, "content": text,
                                 "status": "COMPLETED", "created_timestamp": created, "last_updated_timestamp": created + 4000,
                                 "user_id": user}
            if answer.status in ("FAILED", "ERROR"):
                m["status"] = "FAILED"
                m["error"] = {"error": answer.error or answer.reason or "failed", "type": "SQL_EXECUTION_EXCEPTION"}
            if answer.sql:
                m["attachments"] = [{"attachment_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                                     "query": {"query": answer.sql, "description": answer.description or ""}}]
            elif m["status"] == "COMPLETED":
                m["attachments"] = [{"attachment_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                                     "text": {"content": answer.reason or "I could not answer that with the data in this space."}}]
            rating = _rating(rng, outcome, t is not None)
            if rating:
                m["feedback"] = {"rating": rating}
                if rng.random() < 0.3:
                    comment = rng.choice(COMMENTS_POSITIVE if rating == "POSITIVE" else COMMENTS_NEGATIVE)
                    m["feedback"]["comment"] = comment
                    m["comments"] = [{"content": comment, "user_id": user, "created_timestamp": created + 60_000}]
            msgs.append(m)
            traffic.truth[mid] = Truth(template=t.name if t else None, gold_sql=gold, outcome=outcome, covered=bool(t and t.covered),
                                       typo=typo)
        traffic.conversations.append({"conversation_id": conv_id, "space_id": space_id, "title": msgs[0]["content"][:255],
                                      "created_timestamp": at, "user_id": user, "messages": msgs})
    return traffic


def bundled(which: str = "curated", **kw: Any) -> Traffic:
    """Traffic on a bundled retail space (`curated` by default: a space in production with gaps)."""
    from chaos_llama.tools.evaluate import bundled_example, open_local_backend
    from chaos_llama.tools.space.io import load_space

    with bundled_example("retail") as ex:
        space = load_space(ex.curated_space if which == "curated" else ex.sparse_space)
        engine = open_local_backend([ex.data])
    return generate(space, engine, **kw)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="JSONL file to write (one conversation per line)")
    p.add_argument("--conversations", type=int, default=120)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--space", choices=["curated", "sparse"], default="curated", help="the bundled space that answered")
    args = p.parse_args(argv)
    traffic = bundled(args.space, conversations=args.conversations, seed=args.seed)
    traffic.write_jsonl(args.out)
    print(f"{len(traffic.messages)} messages in {len(traffic.conversations)} conversations for space {traffic.space_id} -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
