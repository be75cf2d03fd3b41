"""Bad arguments -> JSON-RPC invalid params (-32602) that an assistant can act on.

The SDK reports arguments that fail a tool's input schema as a tool error carrying pydantic's
text. Here they become invalid-params errors with one line per problem, each naming the
field (as a path: ``changes[0].content``), the bad value and the valid options, taken from the
tool's JSON schema (enums, discriminator tags, allowed properties, bounds)::

    Invalid arguments for tool 'eval_run':
    split: got "test"; expected 'train' or 'val'

One line per problem because the holdout guard withholds a leaking line, not the whole error.
Values are quoted whole or not at all: a truncated echo of a test question would slip past
the guard, which matches whole questions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from ..tools.errors import did_you_mean

MAX_QUOTED = 400  # longer values are described, never cut
MAX_TEXT = 4_000  # longest free text (an error, a rationale) a tool shows
MAX_PROBLEMS = 5


def clip(value: str | None, limit: int = MAX_TEXT) -> str | None:
    """`value` cut to `limit` characters, saying how much was cut (every echo of input is bounded)."""
    if value is None or len(value) <= limit:
        return value
    return value[:limit] + f"… [{len(value) - limit} more characters not shown]"


def _quote(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) <= MAX_QUOTED:
        return text
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, Mapping):
        return "an object with keys " + ", ".join(sorted(map(str, value))[:20])
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"a {type(value).__name__}"


def _options(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) for v in values)


class _SchemaWalker:
    """Follows a pydantic error location through the arguments and the tool's JSON schema."""

    def __init__(self, schema: Mapping[str, Any]):
        self.defs = schema.get("$defs", {})
        self.root = schema

    def resolve(self, node: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        while node is not None and "$ref" in node:
            node = self.defs.get(node["$ref"].rsplit("/", 1)[-1])
        if node is not None and "anyOf" in node:  # Optional[X]: the non-null branch
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            if len(branches) == 1:
                merged = {**{k: v for k, v in node.items() if k != "anyOf"}, **(self.resolve(branches[0]) or {})}
                return merged
        return node

    def variant(self, node: Mapping[str, Any], value: Any) -> Mapping[str, Any] | None:
        """The branch of a discriminated union that `value` selects (None if it selects none)."""
        disc = node.get("discriminator") or {}
        tag = value.get(disc.get("propertyName")) if isinstance(value, Mapping) else None
        ref = (disc.get("mapping") or {}).get(tag) if isinstance(tag, str) else None
        return self.resolve({"$ref": ref}) if ref else None

    def walk(self, arguments: Any, loc: tuple[Any, ...]) -> tuple[str, Any, Mapping[str, Any] | None, Mapping[str, Any] | None]:
        """(path text, value at loc, schema at loc, schema of the enclosing object)."""
        value: Any = arguments
        node: Mapping[str, Any] | None = self.resolve(self.root)
        parent: Mapping[str, Any] | None = None
        path = ""
        for part in loc:
            if node is not None and "discriminator" in node:
                chosen = self.variant(node, value)
                if isinstance(part, str) and isinstance(value, Mapping) and part not in value and chosen is not None:
                    node = chosen  # pydantic puts the union tag in the location; the caller never wrote it
                    continue
                node = chosen or node
            if isinstance(part, int):
                path += f"[{part}]"
                value = value[part] if isinstance(value, list) and -len(value) <= part < len(value) else None
                node = self.resolve(node.get("items")) if node else None
            else:
                path += ("." if path else "") + str(part)
                parent = node
                value = value.get(part) if isinstance(value, Mapping) else None
                props = (node or {}).get("properties") or {}
                node = self.resolve(props.get(part)) if part in props else None
        return path or "(arguments)", value, node, parent


def _expected(node: Mapping[str, Any] | None) -> str:
    """What the schema accepts at a node, in words."""
    if not node:
        return ""
    if "enum" in node:
        return "one of " + _options(node["enum"])
    if "const" in node:
        return repr(node["const"])
    if "discriminator" in node:
        return f"an object whose {node['discriminator']['propertyName']!r} is one of " + _options(node["discriminator"].get("mapping", {}))
    kind = node.get("type")
    bounds = []
    for key, word in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in node:
            bounds.append(f"{word} {node[key]}")
    for key, word in (("minItems", "at least {} items"), ("maxItems", "at most {} items"), ("minLength", "at least {} characters")):
        if key in node:
            bounds.append(word.format(node[key]))
    if kind == "array":
        inner = _expected(node.get("items") and {k: v for k, v in node["items"].items() if k != "description"})
        text = f"a list of {_plural(inner)}" if inner else "a list"
    else:
        text = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
                "object": "an object"}.get(kind, kind or "")
    return " ".join(x for x in (text, " and ".join(bounds)) if x)


def _plural(text: str) -> str:
    for one, many in (("a string", "strings"), ("an integer", "integers"), ("a number", "numbers"), ("an object", "objects")):
        if text.startswith(one):
            return many + text[len(one):]
    return text


def _problem(err: Mapping[str, Any], walker: _SchemaWalker, arguments: Mapping[str, Any]) -> dict[str, Any]:
    path, value, node, parent = walker.walk(arguments, tuple(err.get("loc", ())))
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    out: dict[str, Any] = {"field": path}
    if kind == "missing":
        out["problem"] = "is required"
        desc = (node or {}).get("description")
        out["expected"] = "expected " + _expected(node) + (f" ({desc})" if desc else "")
        return out
    if kind == "extra_forbidden":
        name = str(err["loc"][-1])
        allowed = sorted((parent or {}).get("properties", {}))
        out["problem"] = f"unknown field {name!r}"
        out["expected"] = "allowed fields: " + ", ".join(allowed) + "." + did_you_mean(name, allowed).rstrip(".")
        return out
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = (node or {}).get("discriminator") or {}
        prop = disc.get("propertyName") or str(ctx.get("discriminator", "")).strip("'")
        tags = list(disc.get("mapping") or [])
        if not tags and ctx.get("expected_tags"):
            tags = [t.strip().strip("'") for t in str(ctx["expected_tags"]).split(",")]
        out["field"] = f"{path}.{prop}"
        if kind == "union_tag_invalid":
            tag = str(ctx.get("tag"))
            out["value"] = tag
            out["problem"] = f"unknown {prop} {_quote(tag)}"
            hint = did_you_mean(tag, tags)
            out["expected"] = ("one of " + _options(tags)) + ("." + hint if hint.startswith(" Did") else "")
        else:
            out["problem"] = f"missing {prop!r}"
            out["expected"] = "one of " + _options(tags)
        return out
    out["value"] = value if value is not None else err.get("input")
    out["problem"] = f"got {_quote(out['value'])}"
    expected = _expected(node)
    if kind == "literal_error" and ctx.get("expected"):
        expected = str(ctx["expected"])
        if isinstance(out["value"], str):
            opts = [o.strip().strip("'") for o in expected.replace(" or ", ",").split(",") if o.strip()]
            hint = did_you_mean(out["value"], opts)
            if hint.startswith(" Did"):
                expected += "." + hint
        desc = (node or {}).get("description")
        if desc:
            expected += f" ({desc})"
    msg = str(err.get("msg", ""))
    out["expected"] = f"expected {expected}" if expected else msg
    if expected and kind not in ("literal_error",) and msg:
        out["expected"] += f" ({msg[0].lower() + msg[1:]})"
    return out


def _line(p: Mapping[str, Any]) -> str:
    return f"{p['field']}: {p['problem']}" + (f"; {p['expected']}" if p.get("expected") else "")


def invalid_arguments(tool: str, errors: list[Mapping[str, Any]], arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> MCPError:
    """An invalid-params error for pydantic `errors` (``ValidationError.errors()``) of `tool`'s arguments."""
    walker = _SchemaWalker(schema)
    problems = [_problem(e, walker, arguments) for e in errors[:MAX_PROBLEMS]]
    more = len(errors) - len(problems)
    lines = [f"Invalid arguments for tool {tool!r}:", *map(_line, problems)]
    if more > 0:
        lines.append(f"... and {more} more problems")
    data = {"tool": tool, "field": problems[0]["field"] if problems else None,
            "errors": [{k: v for k, v in p.items()} for p in problems]}
    return MCPError(code=INVALID_PARAMS, message="\n".join(lines), data=data)


def unknown_arguments(tool: str, names: Iterable[str], schema: Mapping[str, Any]) -> MCPError:
    """An argument the tool does not take (the SDK would silently drop it)."""
    allowed = sorted(schema.get("properties", {}))
    problems = []
    for name in sorted(names):
        hint = did_you_mean(name, allowed)
        problems.append({"field": name, "problem": f"unknown argument {name!r}",
                         "expected": ("allowed arguments: " + (", ".join(allowed) or "none")) + ("." + hint if hint.startswith(" Did") else "")})
    lines = [f"Invalid arguments for tool {tool!r}:", *map(_line, problems)]
    return MCPError(code=INVALID_PARAMS, message="\n".join(lines), data={"tool": tool, "field": problems[0]["field"], "errors": problems})


def unknown_tool(name: str, tools: Iterable[str]) -> MCPError:
    tools = sorted(tools)
    return MCPError(code=INVALID_PARAMS, message=f"Unknown tool {name!r}.{did_you_mean(name, tools)}",
                    data={"field": "name", "value": name, "expected": tools})


__all__ = ["invalid_arguments", "unknown_arguments", "unknown_tool"]
