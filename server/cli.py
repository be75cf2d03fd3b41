"""`chaos-llama serve`: the MCP server as a command, plugged into the CLI through the
``chaos_llama.commands`` entry point (the CLI itself never imports the server)."""

from __future__ import annotations

import argparse

from ..tools.project import load_config
from .app import serve

HELP = "run the MCP server (stdio by default)"


def add_arguments(sv: argparse.ArgumentParser) -> None:
    sv.add_argument("--config", help="project file, or a folder: its chaos-llama.yaml, else the bundled example with the "
                                     "workspace in that folder (default: ./chaos-llama.yaml or $CHAOS_LLAMA_CONFIG)")
    sv.add_argument("--transport", default="stdio", choices=["stdio", "http", "sse"])
    sv.add_argument("--host", default="127.0.0.1", help="HTTP/SSE bind address (default: 127.0.0.1; any other needs a token)")
    sv.add_argument("--auth-token", help="HTTP/SSE: every request must send 'Authorization: Bearer <token>' (default: "
                                         "$CHAOS_LLAMA_AUTH_TOKEN; required to bind anything but loopback)")
    sv.add_argument("--allowed-host", action="append", default=[], metavar="HOST[:PORT]",
                    help="HTTP/SSE: another Host header to answer (loopback names and this machine's names are allowed)")
    sv.add_argument("--port", type=int, default=8765)
    sv.add_argument("--workspace", help="folder for the store, history and budget ledger")
    sv.add_argument("--space", help="space file (overrides the project file)")
    sv.add_argument("--evalset", help="eval set file (overrides the project file)")
    sv.add_argument("--data", nargs="+", help="data for the local engine")
    sv.add_argument("--example", help="use a bundled example, e.g. retail")


def run(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("workspace", args.workspace), ("space", args.space), ("evalset", args.evalset),
                                   ("data", args.data), ("example", args.example)) if v}
    serve(load_config(args.config, overrides=overrides), transport=args.transport, host=args.host, port=args.port,
          auth_token=args.auth_token, allowed_hosts=args.allowed_host)
    return 0
