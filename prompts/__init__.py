"""Prompt templates as data; load them with `chaos_llama.prompts.load(name)`.

One prompt per file (`<name>.md`). The first line names the fields the prompt needs, e.g.
`fields: [schema, instructions, examples, question]`, followed by a `---` line; the body uses
`{{field}}` placeholders (double braces so SQL and JSON in the prompt need no escaping).
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass

from ..tools.errors import InvalidConfig, did_you_mean

_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Template:
    """A prompt template and the fields it needs."""

    name: str
    fields: tuple[str, ...]
    body: str

    def render(self, **values: object) -> str:
        """Fill every field; a missing or unknown field is an error naming it."""
        missing = [f for f in self.fields if f not in values]
        if missing:
            raise InvalidConfig(f"prompt '{self.name}' needs field(s) {', '.join(missing)}", field=missing[0])
        unknown = [k for k in values if k not in self.fields]
        if unknown:
            raise InvalidConfig(f"prompt '{self.name}' has no field '{unknown[0]}'." + did_you_mean(unknown[0], self.fields))
        return _FIELD.sub(lambda m: str(values[m.group(1)]), self.body)


def available() -> list[str]:
    """Names of the bundled prompts."""
    root = importlib.resources.files(__name__)
    return sorted(p.name.removesuffix(".md") for p in root.iterdir() if p.name.endswith(".md"))


def load(name: str) -> Template:
    """Load the bundled prompt `name` (file `prompts/<name>.md`)."""
    ref = importlib.resources.files(__name__) / f"{name}.md"
    if not ref.is_file():
        raise InvalidConfig(f"no prompt named '{name}'." + did_you_mean(name, available()))
    raw = ref.read_text(encoding="utf-8")
    head, sep, body = raw.partition("\n---\n")
    m = re.match(r"\s*fields:\s*\[([^\]]*)\]\s*$", head.strip().splitlines()[0] if head.strip() else "")
    if not sep or not m:
        raise InvalidConfig(f"prompt file '{name}.md' must start with 'fields: [...]' and a '---' line", source=f"{name}.md", line=1)
    fields = tuple(f.strip() for f in m.group(1).split(",") if f.strip())
    used = set(_FIELD.findall(body))
    if used != set(fields):
        raise InvalidConfig(f"prompt '{name}' declares fields {sorted(fields)} but uses {sorted(used)}", source=f"{name}.md", line=1)
    return Template(name, fields, body.lstrip("\n"))
