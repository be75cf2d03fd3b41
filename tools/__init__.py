"""Chaos Llama's domain logic: plain typed functions and models, usable from the CLI, Python and MCP."""

__version__ = "0.1.0"
