"""The default offline strategy: ground every word of the question in the space, then compose SQL.

1. `lexicon` indexes what the space offers (measures, filters, dimension expressions, columns,
   tables, value dictionaries, join specs) and `rules` reads what its instructions state.
2. `ground` matches the question's words to it (whole words and phrases, typos tolerated) and
   finds time expressions and operator words.
3. An example SQL whose meaning and parameters fit the whole question is used with its parameters
   filled (`examples`); otherwise `plan` interprets the grounded parts and `compose` writes the SQL
   through the join graph.
4. Otherwise the answer is a refusal naming the words nothing grounds (or the ambiguity).

Every answer carries `details["grounding"]`: which words matched which metadata entry (by its path
in the space), rejected candidates, the rules and joins used, or the ungrounded words.
"""

from __future__ import annotations

import threading
from typing import Any

from ..space.model import Space
from .base import Generation, GenerationContext
from .compose import Composer
from .examples import ExampleIndex, match_example
from .ground import Speller, ground, phrase_finder
from .lexicon import Lexicon, build_lexicon
from .plan import Planner, Refusal
from .rules import Rules, inherit_rules, read_rules
from .trace import answer_trace, refusal_trace

VERSION = "retrieval/grounded-1"


class GroundedGenerator:
    """Offline, deterministic SQL generation from the space's semantics."""

    name = "retrieval"

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Lexicon, Rules, Speller, ExampleIndex]] = {}
        self._lock = threading.Lock()

    def identity(self) -> str:
        return VERSION

    def prepared(self, space: Space, ctx: GenerationContext) -> tuple[Lexicon, Rules, Speller, ExampleIndex]:
        """The space's lexicon, rules, speller and example index (built once per space and data)."""
        key = ctx.space_key
        with self._lock:
            hit = self._cache.get(key) if key else None
        if hit is not None:
            return hit
        lex = build_lexicon(space, ctx)
        rules = read_rules(lex, phrase_finder(lex))
        examples = ExampleIndex(lex, rules, ctx)
        inherit_rules(lex, rules)
        lex.finish()  # example parameters may have added values
        speller = Speller(lex.vocabulary)
        examples.ground_phrasings(speller)
        built = (lex, rules, speller, examples)
        if key:
            with self._lock:
                if len(self._cache) > 32:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = built
        return built

    def generate(self, space: Space, question: str, ctx: GenerationContext) -> Generation:
        lex, rules, speller, examples = self.prepared(space, ctx)
        g = ground(lex, speller, question)
        details: dict[str, Any] = {"strategy": self.name}
        plan, refusal = None, None
        try:
            plan = Planner(lex, rules, g).plan()
        except Refusal as r:
            refusal = r
        tried: list[dict] = []  # this question's own list (the cached index serves concurrent questions)
        fit = match_example(examples, g, ctx, plan, tried)
        if fit is not None:
            details.update(source="example", example=fit.question, example_id=fit.example_id, slots=fit.slots,
                           grounding=fit.trace)
            return Generation(sql=fit.sql, details=details)
        try:
            if refusal is not None:
                raise refusal
            composer = Composer(lex, rules, plan)
            sql = composer.sql()
        except Refusal as r:
            details.update(source=None, grounding=refusal_trace(g, r, tried))
            if tried:
                details["examples_tried"] = tried[:5]
            return Generation(sql=None, reason=r.reason, details=details)
        details.update(source="composed", grounding=answer_trace(g, plan, composer, rules))
        if tried:
            details["examples_tried"] = tried[:5]
        return Generation(sql=sql, details=details)
