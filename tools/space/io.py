"""Read and write spaces: YAML (for people and git), `.geniespace.json` (Asset Bundles), API JSON.

The YAML form keeps Genie's document as is under `serialized_space:` (text fields stay arrays of
strings; multi-line strings become `|` blocks) with the envelope beside it::

    title: Retail sales
    description: Orders, customers and stores
    warehouse_id: abc123
    serialized_space:
      version: 2
      data_sources:
        tables:
          - identifier: main.retail.orders
            ...

A `.geniespace.json` file is the serialized_space body itself: a bundle's
`resources.genie_spaces.<x>.file_path` inlines it into `serialized_space`, while title and warehouse
live in the bundle YAML. A plain `.json` file may be either that body or a GenieSpace API object
(`{"title": ..., "serialized_space": "<JSON string>"}`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import InvalidSpace, SpaceNotFound, did_you_mean
from .model import SerializedSpace, Space

# Envelope keys written before serialized_space, in this order (GenieSpace API field names).
ENVELOPE_KEYS = ("title", "description", "warehouse_id", "space_id", "parent_path")
# Not content: excluded from space_hash.
_VOLATILE_KEYS = ("space_id", "etag", "create_time", "update_time")
SUFFIXES = (".yaml", ".yml", ".geniespace.json", ".json")

# Collections whose items Genie requires to carry an id (`normalize` sorts each by id).
ID_COLLECTIONS = (
    ("config", "sample_questions"),
    ("instructions", "text_instructions"),
    ("instructions", "example_question_sqls"),
    ("instructions", "sql_functions"),
    ("instructions", "join_specs"),
    ("instructions", "sql_snippets", "filters"),
    ("instructions", "sql_snippets", "expressions"),
    ("instructions", "sql_snippets", "measures"),
    ("benchmarks", "questions"),
)
# Fixed namespace: ids filled by normalize() depend only on content, never on the run.
_ID_NAMESPACE = uuid.UUID("5f1d2c3e-8a7b-4c6d-9e0f-a1b2c3d4e5f6")


# --------------------------------------------------------------------------- files
def load_space(path: str | Path) -> Space:
    """Load a space from `.yaml`/`.yml`, `.geniespace.json` or `.json` (body or GenieSpace API object).

    YAML files get missing ids filled from content (`fill_ids`), everything kept in the order
    written, so a space pulled from Genie hashes the same after a trip through YAML; JSON files are
    taken as written, since Genie produced them. A `.geniespace.json` has no title, so the file
    name (without `.geniespace.json`) becomes the title.
    """
    path = Path(path)
    suffix = _suffix(path)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpaceNotFound(f"no space file at '{path}'") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidSpace(f"cannot read space file: {e}", source=str(path)) from e
    if suffix in (".yaml", ".yml"):
        return space_from_yaml(content, source=str(path))
    if suffix == ".geniespace.json":
        space = space_from_geniespace_json(content, source=str(path))
        if "title" not in space.model_fields_set:
            space.title = path.name[: -len(suffix)] or space.title
        return space
    return space_from_geniespace_json(content, source=str(path))


def save_space(space: Space, path: str | Path) -> Path:
    """Write `space` in the format its suffix names; `.json` gets the GenieSpace API object. Atomic."""
    path = Path(path)
    suffix = _suffix(path)
    if suffix in (".yaml", ".yml"):
        content = space_to_yaml(space)
    elif suffix == ".geniespace.json":
        content = space_to_geniespace_json(space)
    else:
        content = json.dumps(space_to_api_dict(space), indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a sibling temp file and rename, so a crash never leaves a half-written space.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in SUFFIXES:
        if name.endswith(s):
            return s
    raise InvalidSpace(f"unsupported space file type '{path.suffix or path.name}'; expected one of {', '.join(SUFFIXES)}",
                       source=str(path))


# --------------------------------------------------------------------------- JSON
def space_to_geniespace_json(space: Space) -> str:
    """The `.geniespace.json` text: the serialized_space body, pretty-printed."""
    return json.dumps(space.to_serialized(), indent=2, ensure_ascii=False) + "\n"


def space_from_geniespace_json(text: str, source: str | None = None) -> Space:
    """Parse a `.geniespace.json` body (or a GenieSpace API object holding `serialized_space`)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidSpace(f"not valid JSON: {e.msg} (column {e.colno})", source=source, line=e.lineno) from None
    if not isinstance(data, dict):
        raise InvalidSpace(f"expected a JSON object (the serialized_space document), got {type(data).__name__}", source=source)
    if "serialized_space" in data:
        envelope = {k: v for k, v in data.items() if k != "serialized_space"}
        return _build(envelope, data["serialized_space"], source=source)
    return _build({}, data, source=source)


def space_to_api_dict(space: Space) -> dict[str, Any]:
    """The GenieSpace API object: envelope fields plus `serialized_space` as a JSON string."""
    out = _envelope(space)
    out["serialized_space"] = json.dumps(space.to_serialized(), ensure_ascii=False)
    return out


# --------------------------------------------------------------------------- YAML
class _Dumper(yaml.SafeDumper):
    """Readable YAML: block lists indented under their key, `|` for multi-line strings, no anchors."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text reads best as a `|` block; a one-line segment ending in a newline (Genie splits
    # SQL that way) stays on one line as "SELECT\n". PyYAML falls back to quoting by itself when a
    # block scalar cannot hold the string exactly.
    if "\n" in value.rstrip("\n"):
        style = "|"
    elif value.endswith("\n"):
        style = '"'
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings (Genie values are JSON) and rejects duplicate keys."""

    yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key]})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


# Never fold long lines: a one-word edit then shows as a one-line diff.
_NO_FOLDING = 1_000_000


def space_to_yaml(space: Space) -> str:
    """The agreed YAML form: envelope keys, then `serialized_space:` exactly as Genie's JSON."""
    doc = _envelope(space)
    doc["serialized_space"] = space.to_serialized()
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=_NO_FOLDING, default_flow_style=False)


def space_from_yaml(text: str, source: str | None = None) -> Space:
    """Parse the YAML form; missing ids are filled from content (same file, same ids), order kept."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise InvalidSpace(f"invalid YAML: {e.problem or e}", source=source, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise InvalidSpace(f"invalid YAML: {e}", source=source) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise InvalidSpace(f"expected a mapping with 'title' and 'serialized_space', got {type(data).__name__}",
                           source=source, line=1)
    if "serialized_space" not in data:
        hint = did_you_mean("serialized_space", [k for k in data if isinstance(k, str)])
        if "Did you mean" not in hint:
            hint = ""
        raise InvalidSpace(f"missing 'serialized_space' (the Genie document).{hint}", source=source, line=1)
    envelope = {k: v for k, v in data.items() if k != "serialized_space"}
    value_node = next((v for k, v in root.value if k.value == "serialized_space"), None)
    return fill_ids(_build(envelope, data["serialized_space"], source=source, node=value_node, envelope_node=root))


# --------------------------------------------------------------------------- content
def space_hash(space: Space) -> str:
    """Stable content hash (16 hex): title, description and the serialized document, key order ignored.

    `space_id`, etag and timestamps are not content; neither are warehouse_id and parent_path (where
    the space runs or lives), so the same space deployed twice hashes the same.
    """
    canonical = json.dumps(
        {"title": space.title, "description": space.description, "serialized_space": space.to_serialized()},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def fill_ids(space: Space) -> Space:
    """A copy with missing ids filled deterministically from content; nothing moves.

    Ids are uuid5 of the item's content and collection, so the same file gets the same ids on every
    load. A document whose items all carry ids comes back unchanged (same hash).
    """
    doc = space.to_serialized()
    taken = {item.get("id") for path in ID_COLLECTIONS for item in _items(doc, path)}
    changed = False
    for path in ID_COLLECTIONS:
        items = _items(doc, path)
        if not any(isinstance(item, dict) and not item.get("id") for item in items):
            continue
        filled = []
        for item in items:
            if isinstance(item, dict) and not item.get("id"):
                item = {"id": content_id(path, item, taken), **{k: v for k, v in item.items() if k != "id"}}
                taken.add(item["id"])
            filled.append(item)
        _set_items(doc, path, filled)
        changed = True
    if not changed:
        return space
    return space.model_copy(update={"serialized": SerializedSpace.model_validate(doc)})


def normalize(space: Space) -> Space:
    """A copy with missing ids filled (`fill_ids`) and collections sorted the usual way.

    Id collections are sorted by id, tables and metric views by identifier, column configs by
    column_name. Genie accepts any order (its own exports are not always sorted), so this runs only
    when asked (`chaos-llama space normalize`), never on load. A sorted document comes back unchanged.
    """
    doc = fill_ids(space).to_serialized()
    for path in ID_COLLECTIONS:
        items = _items(doc, path)
        if items:
            _set_items(doc, path, sorted(items, key=lambda it: str(it.get("id", "")) if isinstance(it, dict) else ""))
    ds = doc.get("data_sources") or {}
    for key in ("tables", "metric_views"):
        if isinstance(ds.get(key), list):
            ds[key] = sorted(ds[key], key=lambda t: str(t.get("identifier", "")) if isinstance(t, dict) else "")
            for t in ds[key]:
                if isinstance(t, dict) and isinstance(t.get("column_configs"), list):
                    t["column_configs"] = sorted(
                        t["column_configs"], key=lambda c: str(c.get("column_name", "")) if isinstance(c, dict) else "")
    return space.model_copy(update={"serialized": SerializedSpace.model_validate(doc)})


def content_id(path: tuple[str, ...], item: dict[str, Any], taken: set[Any]) -> str:
    """A 32-hex id derived from the item's content and collection, avoiding `taken` ids."""
    body = json.dumps({k: v for k, v in item.items() if k != "id"}, sort_keys=True, ensure_ascii=False)
    n = 0
    while True:
        ident = uuid.uuid5(_ID_NAMESPACE, f"{'.'.join(path)}\x00{body}\x00{n}").hex
        if ident not in taken:
            return ident
        n += 1  # identical items (or a clash) get the next id in a fixed sequence


def _items(doc: dict[str, Any], path: tuple[str, ...]) -> list[Any]:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict):
            return []
        node = node.get(key)
    return node if isinstance(node, list) else []


def _set_items(doc: dict[str, Any], path: tuple[str, ...], items: list[Any]) -> None:
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = items


# --------------------------------------------------------------------------- shared
def _envelope(space: Space) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ENVELOPE_KEYS:
        value = getattr(space, key)
        if value is not None or (key == "title"):
            out[key] = value
    for key, value in (space.model_extra or {}).items():
        out[key] = value
    return out


def _build(envelope: dict[str, Any], doc: Any, *, source: str | None, node: Any = None, envelope_node: Any = None) -> Space:
    """Validate envelope + document into a Space; pydantic errors become InvalidSpace with path (and line)."""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as e:
            raise InvalidSpace(f"serialized_space is a string but not valid JSON: {e.msg}", source=source,
                               line=_line(envelope_node, ["serialized_space"]), field="serialized_space") from None
    if not isinstance(doc, dict):
        raise InvalidSpace(f"serialized_space must be a mapping, got {type(doc).__name__}", source=source,
                           line=_line(envelope_node, ["serialized_space"]), field="serialized_space")
    try:
        serialized = SerializedSpace.model_validate(doc)
    except ValidationError as e:
        raise _as_invalid(e, doc, source, node, prefix="serialized_space.") from None
    try:
        return Space(serialized=serialized, **{k: v for k, v in envelope.items() if isinstance(k, str)})
    except ValidationError as e:
        raise _as_invalid(e, envelope, source, envelope_node) from None


def _as_invalid(e: ValidationError, data: Any, source: str | None, node: Any, prefix: str = "") -> InvalidSpace:
    lines, first_line, first_path = [], None, None
    for err in e.errors()[:10]:
        loc = _real_loc(data, err["loc"])
        path = prefix + _path_str(loc)
        line = _line(node, loc)
        first_line = first_line or line
        first_path = first_path or path
        got = f" (got {err['input']!r:.60})" if err["type"] != "missing" else ""
        lines.append(f"  {path}{f' (line {line})' if line else ''}: {err['msg']}{got}")
    more = f"\n  ... and {e.error_count() - 10} more" if e.error_count() > 10 else ""
    return InvalidSpace("space document does not match Genie's serialized_space v2:\n" + "\n".join(lines) + more,
                        source=source, line=first_line, field=first_path if e.error_count() == 1 else None)


def _real_loc(data: Any, loc: tuple[Any, ...]) -> list[Any]:
    """Pydantic's error location without its union-branch labels (e.g. 'list[str]')."""
    out: list[Any] = []
    node = data
    for k, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and k == len(loc) - 1:
            node = None  # a missing key is the last part of its location
        else:
            continue
        out.append(part)
    return out


def _path_str(loc: list[Any]) -> str:
    s = ""
    for part in loc:
        s += f"[{part}]" if isinstance(part, int) else (f".{part}" if s else str(part))
    return s


def _line(node: Any, loc: list[Any]) -> int | None:
    """1-based YAML line of the deepest node along `loc`, or None without a node tree."""
    if node is None:
        return None
    best = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            match = node.value[part]
        else:
            match = None
        if match is None:
            break
        node, best = match, match.start_mark.line + 1
    return best


__all__ = [
    "content_id",
    "fill_ids",
    "load_space",
    "normalize",
    "save_space",
    "space_from_geniespace_json",
    "space_from_yaml",
    "space_hash",
    "space_to_api_dict",
    "space_to_geniespace_json",
    "space_to_yaml",
]
