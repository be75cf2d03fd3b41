"""The `chaos-llama` command line: a thin face over `chaos_llama.tools`, one module per command group.

Every command is a few lines around one library call. The parser knows every command's name and
help from the table below, but imports a command's module (and so the library it drives) only
when that command runs, so `chaos-llama --help` stays instant and `chaos-llama serve` loads
nothing but the server. This is the one place where the command line defers imports.

Other packages add commands through the ``chaos_llama.commands`` entry-point group (the MCP
server adds ``serve``): each entry point names a module with the same two functions as the
modules here, ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from importlib import metadata

from .. import __version__
from ..errors import ChaosLlamaError, DataLoadWarning, InvalidInput, SpaceNotFound, TrackingWarning

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
ENTRY_POINTS = "chaos_llama.commands"

# command -> (module under chaos_llama.tools.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "create a project from data: CSV/Parquet, a .duckdb file, a PostgreSQL dump or a Unity Catalog schema"),
    "demo": ("demo", "evaluate the bundled sparse and curated example spaces offline"),
    "eval": ("evaluate", "evaluate a space on an eval set"),
    "space": ("space", "validate, show, hash or export a space file"),
    "evalset": ("evalset", "inspect an eval set, freeze stratified splits into it, or import the defog format"),
    "optimize": ("optimize", "optimize a space automatically (train), select by val, score test once"),
    "label": ("label", "record human verdicts and measure judge agreement with them"),
    "logs": ("logs", "the data flywheel: import a Genie space's real traffic, cluster it, review candidates into the eval set"),
    "emulate": ("emulate", "serve a wire-compatible Genie emulator on 127.0.0.1 (for the Databricks backend)"),
    "benchmarks": ("benchmarks", "a Genie space's benchmarks: import/export them, run Genie's own evaluation"),
    "doctor": ("doctor", "check Python, packages, the project file, Databricks auth, the space and tracking"),
    "serve": ("", "run the MCP server (stdio by default)"),  # "": provided through the entry point (server/cli.py)
}


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying what the command kept and how to go on; `main` prints it as one line."""


def _plugins() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINTS)}


def command_module(name: str):
    """The module implementing `name` (a built-in module here, or the one its entry point names)."""
    module = COMMANDS.get(name, ("", ""))[0]
    if module:
        return importlib.import_module(f"{__name__}.{module}")
    plugins = _plugins()
    if name not in plugins:
        raise LookupError(f"command {name!r} is not installed (no {ENTRY_POINTS!r} entry point); reinstall chaos-llama")
    return importlib.import_module(plugins[name].value)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the arguments of `command` are loaded (`None`: every command, e.g. for docs)."""
    p = argparse.ArgumentParser(prog="chaos-llama", description="Test and optimize Databricks AI/BI Genie spaces.")
    p.add_argument("--version", action="version", version=f"chaos-llama {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    helps = {name: h for name, (_, h) in COMMANDS.items()}
    if command is not None and command not in helps:
        helps.update({name: f"(from {ep.value})" for name, ep in _plugins().items() if name not in helps})
    for name, text in helps.items():
        if command is not None and name != command:
            sub.add_parser(name, help=text, add_help=False)  # listed in --help, arguments loaded when it runs
            continue
        module = command_module(name)
        sp = sub.add_parser(name, help=getattr(module, "HELP", text), description=getattr(module, "HELP", text))
        module.add_arguments(sp)
        sp.set_defaults(func=module.run)
    return p


def is_bad_input(e: ChaosLlamaError) -> bool:
    """What the user named is wrong (a file, a field, a judge, a data source): exit 2, not 1."""
    return isinstance(e, (InvalidInput, SpaceNotFound))


def _show_warning(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning) -> None:
    if issubclass(category, (DataLoadWarning, TrackingWarning)):  # already says where and why
        print(f"chaos-llama: warning: {message}", file=sys.stderr)
    else:
        _default(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), "")  # "": no command named, load none
    args = build_parser(command).parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = args.func(args)
            sys.stdout.flush()  # inside the try: a reader that went away (`| head`) is seen here
            return code
    except BrokenPipeError:
        # The reader stopped reading: nothing left to say. Point stdout at devnull so the
        # interpreter's own flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt as e:
        # One line, not a traceback: what was recorded stays recorded (the command says how to go on).
        print(f"chaos-llama: interrupted{f': {e}' if str(e) else ''}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ChaosLlamaError as e:
        print(f"chaos-llama: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT if is_bad_input(e) else EXIT_FAIL
    except FileNotFoundError as e:
        print(f"chaos-llama: error: no such file: {e.filename}", file=sys.stderr)
        return EXIT_BAD_INPUT


__all__ = ["COMMANDS", "EXIT_BAD_INPUT", "EXIT_FAIL", "EXIT_INTERRUPTED", "EXIT_OK", "Interrupted", "build_parser", "is_bad_input",
           "main"]
