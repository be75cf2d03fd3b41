"""`chaos-llama init`: a working project (space, eval set, project file) from data, and what to run next."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..init import InitOptions, init_project
from . import EXIT_OK
from ._common import console

HELP = "create a project from data: CSV/Parquet, a .duckdb file, a PostgreSQL dump or a Unity Catalog schema"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="*", type=Path,
                   help="CSV/Parquet files or folders, a .duckdb file, or a PostgreSQL dump (.sql)")
    p.add_argument("--unity-catalog", metavar="CATALOG.SCHEMA",
                   help="a Unity Catalog schema instead (tables and comments through databricks-sdk, a sample of rows "
                        "through --warehouse-id)")
    p.add_argument("--out", type=Path, default=Path("."), help="the project folder (default: here)")
    p.add_argument("--name", help="project, space and eval set name (default: from the source)")
    p.add_argument("--catalog", default="main", help="catalog of the space's table identifiers (default: main)")
    p.add_argument("--schema", dest="schema_name", help="schema of the identifiers (default: the project name)")
    p.add_argument("--metadata", type=Path, help="table/column descriptions: defog JSON or {table: {description, columns}} "
                                                 "(default: <dump>.json beside a dump)")
    p.add_argument("--questions", type=Path, help="questions to import: a defog question CSV or an eval-set file "
                                                  "(default: a skeleton read off the schema)")
    p.add_argument("--db", help="the database's questions in a defog file of several (default: the project name)")
    p.add_argument("--strict", action="store_true", help="a dump statement that cannot load is fatal")
    p.add_argument("--force", action="store_true", help="overwrite an existing project file")
    p.add_argument("--sample-rows", type=int, default=1000, help="Unity Catalog: rows sampled per table (default 1000)")
    p.add_argument("--host", help="Unity Catalog: workspace URL (default: from the profile or DATABRICKS_HOST)")
    p.add_argument("--profile", help="Unity Catalog: ~/.databrickscfg profile")
    p.add_argument("--warehouse-id", help="Unity Catalog: the SQL warehouse that samples the tables")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")


def run(args: argparse.Namespace) -> int:
    options = InitOptions(
        sources=args.sources, unity_catalog=args.unity_catalog, out=args.out, name=args.name, catalog=args.catalog,
        schema_name=args.schema_name, metadata=args.metadata, questions=args.questions, db=args.db, strict=args.strict,
        force=args.force, sample_rows=args.sample_rows, host=args.host, profile=args.profile, warehouse_id=args.warehouse_id,
    )
    result = init_project(options)
    if args.json:
        print(result.model_dump_json(indent=2))
        return EXIT_OK
    for problem in result.problems:
        print(f"chaos-llama: warning: {problem}", file=sys.stderr)
    out = console()
    rows = sum(t.rows for t in result.tables)
    described = sum(t.described for t in result.tables)
    out.print(f"[bold]{result.folder}[/]: {len(result.tables)} table(s), {rows:,} row(s); {described} with descriptions")
    for t in result.tables:
        out.print(f"  {t.identifier}  {t.rows:,} rows, {t.columns} columns{'' if t.described else '  (no descriptions)'}")
    kind = "imported" if result.imported_questions else "starter questions read off the schema (replace them with real ones)"
    out.print(f"wrote {result.project_file}, {result.space_file}, {result.evalset_file} ({result.questions} questions, {kind})"
              + f"; data: {', '.join(result.data)}")
    out.print("\n[bold]Next:[/]")
    for command in result.next_commands:
        out.print(f"  {command}", markup=False, highlight=False)
    return EXIT_OK
