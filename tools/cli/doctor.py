"""`chaos-llama doctor`: is this machine and project ready? Exit 0 when ready (warnings allowed
unless --strict), 2 when the project file is bad, 1 on any other failure."""

from __future__ import annotations

import argparse

from ..doctor import format_report, run_doctor
from . import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK

HELP = "check Python, packages, the project file, Databricks auth, the space and tracking"


def add_arguments(d: argparse.ArgumentParser) -> None:
    d.add_argument("--config", help="project file (default: ./chaos-llama.yaml or $CHAOS_LLAMA_CONFIG)")
    d.add_argument("--workspace", help="folder for the store, history and budget ledger")
    d.add_argument("--quick", action="store_true", help="skip loading the space, eval set and data")
    d.add_argument("--strict", action="store_true", help="exit non-zero on warnings too")
    d.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("workspace", args.workspace),) if v}
    report = run_doctor(args.config, overrides=overrides, project=not args.quick)
    print(report.model_dump_json(indent=2) if args.json else format_report(report))
    if report.check("config").status == "fail":
        return EXIT_BAD_INPUT
    return EXIT_FAIL if report.failures or (args.strict and report.warnings) else EXIT_OK
