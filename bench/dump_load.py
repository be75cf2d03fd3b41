"""Loading a `pg_dump --inserts` dump (one INSERT per row): consecutive INSERTs run as one
statement vs one DuckDB statement per INSERT (how the loader ran them before).

Writes a dump of N rows x 4 columns (integer, text, numeric(10,2), date), one INSERT each, and
loads it with `load_pg_dump` twice in the same process: as is (INSERTs batched) and with the batch
size set to 1. Both must load every row; reports the median of `--repeats` timings and the ratio.

    python -m bench.dump_load [--rows 50000] [--repeats 3] [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import add_common_args, finish, machine_line, md_table, median

SECTION = "## Loading a PostgreSQL dump of single-row INSERTs"


def write_dump(path: Path, rows: int) -> Path:
    lines = ["CREATE TABLE public.items (id integer NOT NULL, label text, price numeric(10,2), added date);"]
    lines += [f"INSERT INTO public.items VALUES ({i}, 'item {i}', {i * 1.25:.2f}, '2024-01-{i % 28 + 1:02d}');"
              for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(rows: int = 50_000, repeats: int = 3) -> dict[str, Any]:
    import duckdb

    from chaos_llama.tools.data import pgdump

    out: dict[str, Any] = {"rows": rows, "repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        dump = write_dump(Path(tmp) / "items.sql", rows)
        default = pgdump._BATCH
        for label, batch in (("batched", default), ("one_by_one", 1)):
            pgdump._BATCH = batch
            times = []
            try:
                for _ in range(repeats):
                    con = duckdb.connect()
                    t0 = time.perf_counter()
                    report = pgdump.load_pg_dump(con, dump)
                    times.append(time.perf_counter() - t0)
                    assert report.ok and report.tables == {"items": rows}, report.messages()
                    con.close()
            finally:
                pgdump._BATCH = default
            out[label] = {"batch": batch, "median_s": median(times), "times": times}
    out["ratio"] = out["one_by_one"]["median_s"] / out["batched"]["median_s"]
    return out


def render(res: dict[str, Any]) -> str:
    rows = [(k, res[k]["batch"], res[k]["median_s"]) for k in ("batched", "one_by_one")]
    return "\n".join([
        SECTION, "",
        f"A dump of {res['rows']:,} single-row INSERTs (integer, text, numeric(10,2), date), loaded by "
        f"`tools/data/pgdump.py` in the same process: consecutive INSERTs into one table run as one statement "
        f"(up to {res['batched']['batch']} at a time; a failing batch is rerun statement by statement to name the "
        f"bad line) vs one statement per INSERT. Every row loads both ways. Median of {res['repeats']} timings. "
        "Reproduce: `python -m bench.dump_load`.", "",
        md_table(["mode", "INSERTs per statement", "load (s)"], rows), "",
        f"Batched is **{res['ratio']:.1f}x** faster.", "", machine_line(), "",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    add_common_args(ap)
    args = ap.parse_args(argv)
    res = run(args.rows, args.repeats)
    finish(args, res, SECTION, render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
