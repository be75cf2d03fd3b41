"""`chaos-llama emulate`: a wire-compatible Genie REST emulator on 127.0.0.1, until interrupted."""

from __future__ import annotations

import argparse
import os

from ..emulator import DEFAULT_TOKEN, FAULT_KINDS, Emulator
from ..evaluate import open_local_backend
from ..space.io import load_space
from . import EXIT_OK

HELP = "serve a wire-compatible Genie emulator on 127.0.0.1 (for the Databricks backend)"


def parse_latency(value: str) -> tuple[float, float]:
    """'SECONDS' or 'MIN-MAX' as a (min, max) pair of seconds."""
    try:
        lo, _, hi = value.partition("-")
        pair = (float(lo), float(hi or lo))
    except ValueError:
        raise argparse.ArgumentTypeError(f"latency must be 'SECONDS' or 'MIN-MAX', got {value!r}") from None
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"latency must satisfy 0 <= min <= max, got {value!r}")
    return pair


def add_arguments(em: argparse.ArgumentParser) -> None:
    em.add_argument("--space", required=True, help="space file (.yaml or .geniespace.json)")
    em.add_argument("--data", nargs="+", required=True, help="CSV/Parquet files or folders, .duckdb, or a PostgreSQL dump")
    em.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    em.add_argument("--latency", type=parse_latency, default=(0.2, 2.0), help="seconds before an answer, 'MIN-MAX' (default 0.2-2.0)")
    em.add_argument("--rate-per-minute", type=float, default=None, help="questions accepted per minute; 429 beyond (default: unlimited)")
    em.add_argument("--fault-rate", type=float, default=0.0, help="probability of an injected fault per request (default 0)")
    em.add_argument("--faults", default=",".join(FAULT_KINDS), help=f"fault kinds, comma-separated (default: {','.join(FAULT_KINDS)})")
    em.add_argument("--hang", type=float, default=90.0, metavar="SECONDS",
                    help="how long a 'hang' fault holds its response before processing it (default 90, beyond the SDK's HTTP timeout)")
    em.add_argument("--strategy", default="retrieval", choices=["retrieval", "llm"])
    em.add_argument("--seed", type=int, default=0, help="fault/latency seed")


def run(args: argparse.Namespace) -> int:
    space = load_space(args.space)
    engine = open_local_backend(args.data, strategy=args.strategy)
    faults = tuple(f.strip() for f in args.faults.split(",") if f.strip()) if args.faults else ()
    token = os.environ.get("DATABRICKS_TOKEN") or DEFAULT_TOKEN
    emu = Emulator(space, engine, token=token, port=args.port, latency=args.latency, rate_per_minute=args.rate_per_minute,
                   fault_rate=args.fault_rate, faults=faults or FAULT_KINDS, hang_s=args.hang, seed=args.seed)

    def ready(e: Emulator) -> None:
        shown = "$DATABRICKS_TOKEN" if token != DEFAULT_TOKEN else DEFAULT_TOKEN
        print(f"Genie emulator on {e.url}  space_id={e.space_id}  warehouse_id={e.warehouse_id}  token={shown}", flush=True)
        print(f"  DATABRICKS_HOST={e.url} DATABRICKS_TOKEN={shown}  (Ctrl-C to stop)", flush=True)

    try:
        emu.serve_forever(on_ready=ready)
    except KeyboardInterrupt:
        pass
    return EXIT_OK
