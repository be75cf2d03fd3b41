"""Tiny text normalization shared by the offline strategies: tokens, light stemming, TF-IDF.

Pure Python on purpose: the retrieval strategy must run offline with no model download, and
the spaces it reads are small (tens of tables, tens of examples).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

STOPWORDS = frozenset(
    """a an the of to in on at for from by with and or is are was were be been being do does did
    what which who whom whose how me my we our us you your i it its this that these those there
    their them they show list give get find tell display please can could would should will all any
    each every per as into than then also just only over under about across during between within
    has have had having much many most more least less some so such same other own both
    where when while whether if not no nor very one""".split()
)

# Generic abbreviations found in warehouse column names (not tuned to any dataset).
ABBREVIATIONS = {
    "qty": "quantity", "amt": "amount", "num": "number", "nbr": "number", "cnt": "count",
    "dt": "date", "ts": "timestamp", "cust": "customer", "prod": "product", "cat": "category",
    "desc": "description", "addr": "address", "pct": "percent", "yr": "year", "mth": "month",
    "dept": "department", "emp": "employee", "acct": "account", "txn": "transaction",
    "trx": "transaction", "inv": "invoice", "cd": "code", "nm": "name", "avg": "average",
    "tot": "total", "amnt": "amount", "prc": "price", "disc": "discount", "ord": "order",
    "mgr": "manager", "loc": "location", "reg": "region", "sku": "sku", "cty": "city",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TOKEN = re.compile(r"[a-z0-9]+")


def words(value: str) -> list[str]:
    """Lower-case word tokens; snake_case and camelCase are split.

    >>> words("orderDate total_amt")
    ['order', 'date', 'total', 'amt']
    """
    return _TOKEN.findall(_CAMEL.sub(" ", value or "").lower())


def stem(word: str) -> str:
    """A deliberately light stemmer: plurals, -ed/-ing, trailing e (both sides stem alike).

    >>> [stem(w) for w in ["categories", "orders", "shipped", "prices", "price", "sales"]]
    ['category', 'order', 'ship', 'pric', 'pric', 'sal']
    """
    w = ABBREVIATIONS.get(word, word)
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith(("sses", "shes", "ches", "xes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
                w = w[:-1]
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def terms(value: str, *, keep_stopwords: bool = False) -> list[str]:
    """Stemmed content terms of a text.

    >>> terms("What were the total sales per region?")
    ['total', 'sal', 'region']
    """
    return [stem(w) for w in words(value) if keep_stopwords or w not in STOPWORDS]


class TfIdf:
    """TF-IDF cosine similarity over a small document collection.

    >>> index = TfIdf([["total", "sal", "region"], ["count", "order"]])
    >>> round(index.similarity(["total", "sal", "region"], 0), 2)
    1.0
    """

    def __init__(self, documents: Iterable[list[str]]):
        self.documents = [list(d) for d in documents]
        df: Counter[str] = Counter()
        for d in self.documents:
            df.update(set(d))
        n = len(self.documents)
        # Smoothed idf: with a handful of examples raw idf is too spiky.
        self.idf = {t: math.log((n + 1) / (c + 1)) + 1.0 for t, c in df.items()}
        self._default_idf = math.log(n + 1) + 1.0
        self._vectors = [self._vector(d) for d in self.documents]

    def _vector(self, tokens: list[str]) -> dict[str, float]:
        tf = Counter(tokens)
        vec = {t: (1 + math.log(c)) * self.idf.get(t, self._default_idf) for t, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}

    def vector(self, tokens: list[str]) -> dict[str, float]:
        """The normalized TF-IDF vector of a token list, weighted by this collection's idf."""
        return self._vector(tokens)

    @staticmethod
    def cosine(a: dict[str, float], b: dict[str, float]) -> float:
        if len(b) < len(a):
            a, b = b, a
        return sum(v * b.get(t, 0.0) for t, v in a.items())

    def similarity(self, tokens: list[str], index: int) -> float:
        q = self._vector(tokens)
        d = self._vectors[index]
        return sum(v * d.get(t, 0.0) for t, v in q.items())

    def rank(self, tokens: list[str]) -> list[tuple[int, float]]:
        """(document index, cosine) pairs, best first."""
        scores = [(i, self.similarity(tokens, i)) for i in range(len(self.documents))]
        return sorted(scores, key=lambda p: (-p[1], p[0]))
