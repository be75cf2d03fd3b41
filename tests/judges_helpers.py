"""Shared helpers for the judge tests: the fixture database, golden-pair parsing, Genie-style results."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from chaos_llama.tools.backends.base import Answer
from chaos_llama.tools.judges.base import GoldResult

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "judges"


def fixture_db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for stmt in (FIXTURES / "fixture_db.sql").read_text().split(";"):
        body = "\n".join(line for line in stmt.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            con.execute(body)
    return con


def run(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    return con.sql(sql).to_arrow_table()


def genie_value(v) -> str | None:
    """Render a value the way Genie's statement API returns it: always a string (Java-style doubles)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 1e7 or abs(v) < 1e-3):
            mant, exp = f"{v:.15E}".split("E")
            mant = mant.rstrip("0").rstrip(".")
            mant = mant if "." in mant else mant + ".0"
            return f"{mant}E{int(exp)}"
        return repr(v)
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def as_genie(table: pa.Table) -> pa.Table:
    """Every column as strings, like a Genie answer."""
    return pa.table(
        {name: pa.array([genie_value(v) for v in table.column(name).to_pylist()], type=pa.string())
         for name in table.column_names}
    )


def answer(sql: str | None, result: pa.Table | None, **kw) -> Answer:
    return Answer(status=kw.pop("status", "COMPLETED"), sql=sql, result=result,
                  row_count=None if result is None else result.num_rows, **kw)


@dataclass
class Pair:
    title: str
    gold: list[str]
    generated: str
    expect: bool
    headers: dict[str, str] = field(default_factory=dict)
    line: int = 0


def _statements(block: str) -> list[str]:
    body = "\n".join(line for line in block.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def load_pairs(path: Path) -> list[Pair]:
    """Parse a golden file of `-- title:` pairs (format described at the top of the file)."""
    text = path.read_text()
    pairs = []
    chunks = re.split(r"^-- title:", text, flags=re.M)
    offset = chunks[0].count("\n") + 1
    for chunk in chunks[1:]:
        title, _, rest = chunk.partition("\n")
        head, sep, generated = rest.partition("\n-- expect:")
        if not sep:
            raise ValueError(f"{path}:{offset}: pair {title.strip()!r} has no '-- expect:' line")
        expect_word, _, generated = generated.partition("\n")
        if expect_word.strip() not in ("equivalent", "different"):
            raise ValueError(f"{path}:{offset}: expect must be equivalent or different, got {expect_word.strip()!r}")
        headers = dict(
            (m.group(1), m.group(2).strip()) for m in re.finditer(r"^-- (\w+):(.*)$", head, flags=re.M)
        )
        gold = _statements(head)
        gen = _statements(generated)
        if not gold or len(gen) != 1:
            raise ValueError(f"{path}:{offset}: pair {title.strip()!r} needs >= 1 gold and exactly 1 generated query")
        pairs.append(Pair(title.strip(), gold, gen[0], expect_word.strip() == "equivalent", headers, offset))
        offset += chunk.count("\n")
    return pairs


def golds(con, sqls: list[str]) -> list[GoldResult]:
    return [GoldResult(sql=s, result=run(con, s)) for s in sqls]
