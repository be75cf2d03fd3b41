"""`chaos-llama space validate|show|hash|export|normalize`: a space file, checked and converted."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..space import io
from ..space.validate import validate_space
from . import EXIT_BAD_INPUT, EXIT_OK

HELP = "validate, show, hash, export or normalize (sort) a space file"


def add_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("action", choices=["validate", "show", "hash", "export", "normalize"])
    sp.add_argument("path")
    sp.add_argument("--out", help="output path for export (.geniespace.json or .yaml) or normalize (default: the file itself)")


def run(args: argparse.Namespace) -> int:
    space = io.load_space(args.path)
    if args.action == "validate":
        problems = validate_space(space)
        for p in problems:
            print(f"{args.path}: {p.severity}: {p.path}: {p.message}")
        errors = [p for p in problems if p.severity == "error"]
        print(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
        return EXIT_BAD_INPUT if errors else EXIT_OK
    if args.action == "hash":
        print(io.space_hash(space))
    elif args.action == "show":
        print(io.space_to_yaml(space), end="")
    elif args.action == "normalize":
        # ids filled, collections sorted; a new version (new hash) unless it was already sorted
        out = io.save_space(io.normalize(space), args.out or args.path)
        print(f"wrote {out} ({io.space_hash(io.load_space(out))})")
    elif args.action == "export":
        out = Path(args.out or Path(args.path).with_suffix("").name + ".geniespace.json")
        io.save_space(space, out)
        print(f"wrote {out}")
    return EXIT_OK
