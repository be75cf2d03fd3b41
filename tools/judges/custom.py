"""User judges: Python functions (by module or file path) and simple metrics declared in YAML.

A Python judge is any function called like a built-in judge
(`fn(case, *, generated, expected, space=None, **opts)`; it may accept fewer keywords) returning
bool, a number, a dict (`{"value"|"result": ..., "rationale": ..., "details": ...}`), a string
label or a Verdict; `load_custom_judge` wraps it so it always returns a Verdict.

A metric file is YAML: a list of metrics, or `{metrics: [...]}`. Each metric has a `name` and
a `type`:

```yaml
- {name: uses_limit, type: sql_contains, pattern: "LIMIT", expect: true}   # case-insensitive substring
- {name: no_select_star, type: sql_regex, pattern: "SELECT\\s+\\*", expect: false}
- {name: small_answer, type: row_count, min: 1, max: 100}
- {name: fast, type: latency_below, seconds: 10}
```
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..errors import InvalidConfig, JudgeError, UnknownJudge, did_you_mean
from . import JudgeSpec, register_judge
from .base import Verdict
from .llm import load_judge_file

_JUDGE_KWARGS = ("generated", "expected", "space")


def to_verdict(name: str, out: Any) -> Verdict:
    """Coerce a user judge's return value into a Verdict (JudgeError for unusable values)."""
    if isinstance(out, Verdict):
        return out if out.judge == name else out.model_copy(update={"judge": name})
    if isinstance(out, bool) or out is None:
        return Verdict(judge=name, value=out, rationale="" if out is not None else "judge returned None")
    if isinstance(out, (int, float)):
        return Verdict(judge=name, value=float(out), rationale="")
    if isinstance(out, str):
        return Verdict(judge=name, value=out, rationale="")
    if isinstance(out, dict):
        if "value" not in out and "result" not in out:
            raise JudgeError(f"Judge {name!r} returned a dict without 'value' or 'result': keys {sorted(out)}")
        value = out.get("value", out.get("result"))
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise JudgeError(f"Judge {name!r} returned value {value!r}; expected bool, number or string")
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        return Verdict(judge=name, value=value, rationale=str(out.get("rationale", "")),
                       details=dict(out.get("details") or {}), error=out.get("error"))
    raise JudgeError(f"Judge {name!r} returned {type(out).__name__} {out!r}; expected bool, number, dict or Verdict")


def wrap_function(name: str, fn: Callable[..., Any]) -> Callable[..., Verdict]:
    """A judge callable that passes only the keywords `fn` accepts and returns a Verdict."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    takes_all = sig is None or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    accepted = set(sig.parameters) if sig is not None else set()

    def judge(case, *, generated, expected, space=None, **opts) -> Verdict:
        kwargs = {"generated": generated, "expected": expected, "space": space, **opts}
        if not takes_all:
            kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        return to_verdict(name, fn(case, **kwargs))

    judge.__doc__ = fn.__doc__
    judge.__name__ = name
    return judge


def load_custom_judge(ref: str, *, name: str | None = None, register: bool = True, needs: tuple[str, ...] = ()):
    """Load `"pkg.module:function"` or `"path/to/file.py:function"` as a judge (registered unless told not to).

    Returns the JudgeSpec. The judge's name is `name` or the function's name.
    """

    module_ref, sep, attr = ref.rpartition(":")
    if not sep or not module_ref or not attr:
        raise UnknownJudge(f"Custom judge {ref!r}: expected 'pkg.module:function' or 'path/to/file.py:function'")
    if module_ref.endswith(".py") or "/" in module_ref or "\\" in module_ref:
        path = Path(module_ref).expanduser()
        if not path.is_file():
            raise UnknownJudge(f"Custom judge {ref!r}: file {str(path)!r} does not exist")
        mod_name = f"chaos_llama_custom_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise JudgeError(f"Custom judge {ref!r}: cannot import {str(path)!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise JudgeError(f"Custom judge {ref!r}: importing {str(path)!r} failed: {type(e).__name__}: {e}") from e
    else:
        try:
            module = importlib.import_module(module_ref)
        except ImportError as e:
            raise JudgeError(f"Custom judge {ref!r}: cannot import module {module_ref!r}: {e}") from e
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        options = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise UnknownJudge(f"Custom judge {ref!r}: no function {attr!r} in {module_ref!r}.{did_you_mean(attr, options)}")
    jname = name or attr
    wrapped = wrap_function(jname, fn)
    needs = tuple(needs or getattr(fn, "NEEDS", ()) or ())
    description = (fn.__doc__ or "").strip().split("\n")[0] or f"custom judge {ref}"
    if register:
        return register_judge(jname, wrapped, needs=needs, description=description, replace=True)
    return JudgeSpec(name=jname, fn=wrapped, needs=needs, description=description)


# ------------------------------------------------------------------ YAML metrics
_METRIC_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "sql_contains": {"pattern": str, "expect": bool},
    "sql_regex": {"pattern": str, "expect": bool},
    "row_count": {"min": int, "max": int},
    "latency_below": {"seconds": (int, float)},
}
_METRIC_NEEDS = {
    "sql_contains": ("generated.sql",),
    "sql_regex": ("generated.sql",),
    "row_count": ("generated.result",),
    "latency_below": ("generated.latency_s",),
}


def metric_judge(metric: dict[str, Any], *, source: str | None = None) -> tuple[Callable[..., Verdict], tuple[str, ...]]:
    """Build a judge from one metric declaration (validated; InvalidConfig names the field)."""
    name = metric.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidConfig(f"metric needs a non-empty string 'name', got {name!r}", source=source, field="name")
    mtype = metric.get("type")
    if mtype not in _METRIC_FIELDS:
        raise InvalidConfig(f"metric {name!r}: unknown type {mtype!r}.{did_you_mean(str(mtype), _METRIC_FIELDS)}",
                            source=source, field=f"{name}.type")
    allowed = _METRIC_FIELDS[mtype]
    for key, val in metric.items():
        if key in ("name", "type", "description"):
            continue
        if key not in allowed:
            raise InvalidConfig(f"metric {name!r} ({mtype}): unknown field {key!r}.{did_you_mean(key, allowed)}",
                                source=source, field=f"{name}.{key}")
        want = allowed[key]
        if not isinstance(val, want) or (want is int and isinstance(val, bool)):
            wname = want.__name__ if isinstance(want, type) else " or ".join(t.__name__ for t in want)
            raise InvalidConfig(f"metric {name!r}: {key} must be {wname}, got {val!r}", source=source, field=f"{name}.{key}")
    if mtype in ("sql_contains", "sql_regex", "latency_below"):
        required = "seconds" if mtype == "latency_below" else "pattern"
        if required not in metric:
            raise InvalidConfig(f"metric {name!r} ({mtype}) needs {required!r}", source=source, field=f"{name}.{required}")
    if mtype == "row_count" and "min" not in metric and "max" not in metric:
        raise InvalidConfig(f"metric {name!r} (row_count) needs 'min' and/or 'max'", source=source, field=f"{name}.min")
    if mtype == "sql_regex":
        try:
            regex = re.compile(metric["pattern"], re.IGNORECASE)
        except re.error as e:
            raise InvalidConfig(f"metric {name!r}: invalid regex {metric['pattern']!r}: {e}", source=source,
                                field=f"{name}.pattern") from None

    expect = metric.get("expect", True)

    def judge(case, *, generated, expected=(), space=None, **_):
        if mtype in ("sql_contains", "sql_regex"):
            sql = generated.sql
            if not sql:
                return Verdict(judge=name, value=False, rationale="no SQL was generated")
            pat = metric["pattern"]
            found = (pat.lower() in sql.lower()) if mtype == "sql_contains" else regex.search(sql) is not None
            ok = found == expect
            what = f"SQL {'contains' if found else 'does not contain'} {pat!r}"
            return Verdict(judge=name, value=ok, rationale=f"{what} (expected {'present' if expect else 'absent'})",
                           details={"found": found})
        if mtype == "row_count":
            n = generated.result.num_rows if generated.result is not None else generated.row_count
            if n is None:
                return Verdict(judge=name, value=False, rationale="no result rows to count")
            lo, hi = metric.get("min"), metric.get("max")
            ok = (lo is None or n >= lo) and (hi is None or n <= hi)
            return Verdict(judge=name, value=ok, rationale=f"{n} row(s); allowed [{lo if lo is not None else '-inf'}, "
                           f"{hi if hi is not None else 'inf'}]", details={"row_count": n})
        secs = generated.latency_s
        if secs is None:
            return Verdict(judge=name, value=False, rationale="no latency recorded")
        ok = secs < metric["seconds"]
        return Verdict(judge=name, value=ok, rationale=f"latency {secs:.3f}s vs limit {metric['seconds']}s",
                       details={"latency_s": secs})

    judge.__name__ = name
    return judge, _METRIC_NEEDS[mtype]


def load_metric_file(path: str | Path, *, register: bool = True) -> list:
    """Register every metric of a YAML file by name; returns their JudgeSpecs."""

    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidConfig(f"cannot read metric file: {e}", source=source) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise InvalidConfig(f"invalid YAML: {getattr(e, 'problem', e)}", source=source,
                            line=line + 1 if line is not None else None) from None
    if isinstance(doc, dict) and "metrics" in doc:
        doc = doc["metrics"]
    if not isinstance(doc, list) or not doc:
        raise InvalidConfig("expected a non-empty list of metrics (or a 'metrics:' key holding one)", source=source,
                            field="metrics")
    specs, names = [], set()
    for i, metric in enumerate(doc):
        if not isinstance(metric, dict):
            raise InvalidConfig(f"metric #{i + 1} must be a mapping, got {metric!r}", source=source, field=f"metrics[{i}]")
        fn, needs = metric_judge(metric, source=source)
        if metric["name"] in names:
            raise InvalidConfig(f"duplicate metric name {metric['name']!r}", source=source, field=f"{metric['name']}.name")
        names.add(metric["name"])
        description = metric.get("description") or f"{metric['type']} metric from {path.name}"
        if register:
            try:
                specs.append(register_judge(metric["name"], fn, needs=needs, description=description, replace=True))
            except JudgeError as e:
                raise InvalidConfig(str(e), source=source, field=f"{metric['name']}.name") from None
        else:
            specs.append(JudgeSpec(name=metric["name"], fn=fn, needs=needs, description=description))
    return specs


def load_user_judges(metric_files: list[str | Path] | tuple = (), custom: list[str] | tuple = (),
                     llm_judge_files: list[str | Path] | tuple = ()) -> list[str]:
    """Register YAML metric files, Python judges ('file.py:fn' or 'pkg.mod:fn') and YAML files of
    LLM judge definitions; returns their names."""
    names = [spec.name for f in metric_files for spec in load_metric_file(f)]
    names += [load_custom_judge(ref).name for ref in custom]
    if llm_judge_files:

        names += [spec.name for f in llm_judge_files for spec in load_judge_file(f)]
    return names
