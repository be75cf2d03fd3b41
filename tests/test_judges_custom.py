"""The judge registry (get/register/check_needs) and user judges: Python functions and YAML metrics."""

from __future__ import annotations

import pyarrow as pa
import pytest

from chaos_llama.tools.errors import InvalidConfig, InvalidInput, JudgeError
from chaos_llama.tools.evalset import EvalCase
from chaos_llama.tools.judges import JUDGES, check_needs, get_judge, register_judge
from chaos_llama.tools.judges.base import GoldResult, Verdict
from chaos_llama.tools.judges.custom import load_custom_judge, load_metric_file
from judges_helpers import FIXTURES, answer

CASE = EvalCase(id="q", question="Top regions?", gold_sql=["SELECT region FROM customers LIMIT 3"])
GOLD = [GoldResult(sql="SELECT region FROM customers LIMIT 3")]


@pytest.fixture(autouse=True)
def _clean_registry():
    before = dict(JUDGES)
    yield
    JUDGES.clear()
    JUDGES.update(before)


def test_builtins_registered_with_needs_and_descriptions():
    assert {"execution", "sql_equivalence", "sql_valid", "failure_analysis"} <= set(JUDGES)
    for name in ("execution", "sql_equivalence", "sql_valid", "failure_analysis"):  # other tests register their own
        spec = JUDGES[name]
        assert spec.description and spec.needs
    assert get_judge("execution").needs == ("generated.result", "expected.result")


def test_get_judge_suggests():
    with pytest.raises(JudgeError, match="Unknown judge 'exection'. Did you mean 'execution'"):
        get_judge("exection")


def test_check_needs_names_judge_and_field():
    check_needs(["sql_valid", "sql_equivalence"], {"generated.sql", "expected.sql"})
    with pytest.raises(JudgeError) as e:
        check_needs(["sql_valid", "execution"], {"generated.sql", "expected.sql"})
    msg = str(e.value)
    assert "'execution'" in msg and "'generated.result'" in msg and "'expected.result'" in msg
    assert "sql_valid" not in msg
    with pytest.raises(JudgeError, match="Did you mean 'sql_valid'"):
        check_needs(["sql_vald"], {"generated.sql"})


def test_register_judge_rules():
    fn = lambda case, **kw: True  # noqa: E731
    spec = register_judge("always", fn, needs=("generated.sql",), description="always true")
    assert get_judge("always") is spec
    with pytest.raises(JudgeError, match="already registered"):
        register_judge("always", fn)
    register_judge("always", fn, replace=True)
    with pytest.raises(JudgeError, match="already registered"):
        register_judge("execution", fn, replace=True)
    with pytest.raises(JudgeError, match="Did you mean 'generated.sql'"):
        register_judge("x", fn, needs=("generated.sq",))


def test_custom_judge_by_module_path(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES))
    spec = load_custom_judge("custom_judges:mentions_region")
    assert spec.name == "mentions_region" and get_judge("mentions_region") is spec
    assert spec.description.startswith("True when")
    v = spec.fn(CASE, generated=answer("SELECT region FROM t", None), expected=GOLD)
    assert isinstance(v, Verdict) and v.value is True and v.judge == "mentions_region"
    assert spec.fn(CASE, generated=answer("SELECT 1", None), expected=GOLD).value is False


def test_custom_judge_by_file_path_and_return_shapes():
    path = FIXTURES / "custom_judges.py"
    score = load_custom_judge(f"{path}:sql_length_score", name="brevity")
    v = score.fn(CASE, generated=answer("SELECT region FROM customers", None), expected=GOLD, space=None)
    assert v.judge == "brevity" and v.value == 1.0
    d = load_custom_judge(f"{path}:as_dict", register=False).fn(CASE, generated=answer("x", None), expected=GOLD)
    assert d.value == "fine" and d.rationale == "always fine" and d.details == {"question": "Top regions?"}
    vv = load_custom_judge(f"{path}:as_verdict", register=False).fn(CASE, generated=answer("x", None), expected=GOLD)
    assert vv.judge == "as_verdict" and vv.value is True
    bad = load_custom_judge(f"{path}:bad_return", register=False)
    with pytest.raises(JudgeError, match="returned list"):
        bad.fn(CASE, generated=answer("x", None), expected=GOLD)


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ("no_colon_here", "expected 'pkg.module:function'"),
        ("chaos_llama.nope_module:f", "cannot import module"),
        ("tests/fixtures/judges/missing.py:f", "does not exist"),
        (f"{FIXTURES / 'custom_judges.py'}:mention_region", "Did you mean 'mentions_region'"),
    ],
)
def test_custom_judge_errors(ref, fragment):
    with pytest.raises(JudgeError, match=fragment):
        load_custom_judge(ref)


def test_yaml_metrics():
    specs = load_metric_file(FIXTURES / "metrics.yaml")
    assert [s.name for s in specs] == ["uses_limit", "no_select_star", "small_answer", "fast_answer"]
    assert get_judge("small_answer").needs == ("generated.result",)
    assert get_judge("fast_answer").description == "answered in under 2.5 s"
    gen = answer("select * from customers limit 3", pa.table({"a": [1, 2]}), latency_s=3.0)

    def run(name):
        return get_judge(name).fn(CASE, generated=gen, expected=GOLD)

    assert run("uses_limit").value is True
    assert run("no_select_star").value is False
    assert run("small_answer").value is True
    assert run("fast_answer").value is False
    none = answer(None, None, status="NO_SQL")
    assert get_judge("uses_limit").fn(CASE, generated=none, expected=GOLD).value is False
    with pytest.raises(JudgeError, match="'fast_answer' needs field"):
        check_needs(["fast_answer"], {"generated.sql", "generated.result"})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("metrics: [{name: a, type: sql_contain, pattern: x}]", "Did you mean 'sql_contains'"),
        ("- {name: a, type: row_count, minimum: 1}", "field 'a.minimum'"),
        ("- {name: a, type: row_count, min: one}", "min must be int"),
        ("- {name: a, type: sql_regex, pattern: '('}", "invalid regex"),
        ("- {type: sql_regex, pattern: x}", "non-empty string 'name'"),
        ("- {name: a, type: latency_below}", "needs 'seconds'"),
        ("metrics: {a: 1}", "non-empty list"),
        ("- {name: a, type: sql_contains, pattern: x\n- b", "invalid YAML"),
        ("- {name: a, type: sql_contains, pattern: x}\n- {name: a, type: sql_contains, pattern: y}", "duplicate"),
    ],
)
def test_yaml_metric_errors_name_file_and_field(tmp_path, text, fragment):
    path = tmp_path / "bad_metrics.yaml"
    path.write_text(text)
    with pytest.raises(InvalidConfig) as e:
        load_metric_file(path)
    assert isinstance(e.value, InvalidInput)
    assert "bad_metrics.yaml" in str(e.value) and fragment in str(e.value), str(e.value)
