"""Budget ledger, holdout guard and project config: the server's guards on their own."""

import pytest

from chaos_llama.server.guards import WITHHELD, BudgetLedger, HoldoutGuard
from chaos_llama.tools.errors import BudgetExceeded, InvalidConfig
from chaos_llama.tools.project import Budgets, load_config
from chaos_llama.tools.store import Store


def test_ledger_refuses_before_spending_and_persists(tmp_path):
    """A reservation that does not fit raises with what is left and records nothing; spend lives in the
    workspace store and survives a restart."""
    store = Store.open(tmp_path)
    ledger = BudgetLedger(Budgets(backend_questions=10), store)
    ledger.reserve("backend_questions", 7)
    with pytest.raises(BudgetExceeded, match="asked for 4, 3 of 10 left"):
        ledger.reserve("backend_questions", 4)
    assert ledger.spent("backend_questions") == 7 and not ledger.try_reserve("backend_questions", 4)
    ledger.settle("backend_questions", 7, 5)  # cache hits refunded
    store.close()
    again = BudgetLedger(Budgets(backend_questions=10), Store.open(tmp_path))
    assert again.remaining("backend_questions") == 5
    assert {line.kind: line.unit for line in again.status().lines}["backend_questions"].startswith("questions asked")
    # Limits are a frozen copy: changing the config object afterwards raises nothing.
    limits = Budgets(applies=1)
    l2 = BudgetLedger(limits, Store(":memory:"))
    limits.applies = 100
    l2.reserve("applies", 1)
    with pytest.raises(BudgetExceeded):
        l2.reserve("applies", 1)
    with pytest.raises(ValueError, match="Did you mean 'applies'"):
        l2.reserve("aplies", 1)


def test_holdout_guard_withholds_test_content_however_spelled_but_never_an_echo():
    """Test questions, test-only gold lines and ids are withheld however they are spelled or escaped;
    a line a visible gold also has, and anything the request itself carried, are not."""
    g = HoldoutGuard(questions=["What was revenue in Q3?"], gold_sql=["SELECT SUM(amount) AS rev\nFROM t WHERE quarter = 3"],
                     ids=["rev_q3"], visible_sql=["SELECT SUM(amount) AS rev\nFROM t WHERE quarter = 2"])
    assert g.scrub("what  was REVENUE in q3?") == WITHHELD
    assert g.scrub('{"sql": "FROM t WHERE quarter = 3"}') == WITHHELD
    assert g.scrub("line one\nid rev_q3 here\nline three") == f"line one\n{WITHHELD}\nline three"
    assert g.scrub({"ids": ["rev_q30", "prev_q3x"], "n": 3}) == {"ids": ["rev_q30", "prev_q3x"], "n": 3}
    assert g.scrub(["SELECT SUM(amount) AS rev"]) == ["SELECT SUM(amount) AS rev"]  # the train gold has it too
    echo = "unknown run 'What was revenue in Q3?'"
    assert g.scrub(echo, allowed='{"run_id": "What was revenue in Q3?"}') == echo
    assert g.hits == 3


def test_config_file_env_and_overrides(tmp_path, monkeypatch):
    """File < CHAOS_LLAMA_* environment < explicit overrides; paths are relative to the file."""
    f = tmp_path / "chaos-llama.yaml"
    f.write_text("space: s.yaml\nevalset: e.yaml\ndata: [d]\nbudgets: {applies: 3}\nsplit_seed: 1\n")
    cfg = load_config(f, env={"CHAOS_LLAMA_BUDGET_APPLIES": "5", "CHAOS_LLAMA_SEED": "2"}, overrides={"split_seed": 9})
    assert cfg.space == tmp_path / "s.yaml" and cfg.data == [tmp_path / "d"]
    assert cfg.budgets.applies == 5 and cfg.split_seed == 9
    f.write_text("spaec: s.yaml\n")
    with pytest.raises(InvalidConfig, match="Did you mean 'space'"):
        load_config(f, env={})
    with pytest.raises(InvalidConfig, match="CHAOS_LLAMA_BUDGET_APLIES"):
        load_config(None, env={"CHAOS_LLAMA_BUDGET_APLIES": "1"})
    f.write_text("budgets: {applies: -1}\n")
    with pytest.raises(InvalidConfig, match="budgets.applies"):
        load_config(f, env={})


def test_databricks_settings_from_the_environment_and_empty_values_ignored():
    """What a plugin passes: CHAOS_LLAMA_SPACE_ID selects the Databricks backend; unset options arrive empty."""
    cfg = load_config(None, env={"CHAOS_LLAMA_SPACE_ID": "01ef", "CHAOS_LLAMA_WAREHOUSE_ID": "", "CHAOS_LLAMA_PROFILE": "prod",
                                 "CHAOS_LLAMA_CONFIG": "", "CHAOS_LLAMA_SPACE": ""})
    assert cfg.backend.kind == "databricks" and cfg.backend.space_id == "01ef" and cfg.backend.profile == "prod"
    assert cfg.backend.warehouse_id is None and cfg.space is None and cfg.example is None
    assert load_config(None, env={"CHAOS_LLAMA_SPACE_ID": ""}).backend.kind == "local"


def test_server_module_imports_no_heavy_library():
    """Start-up stays light: `chaos-llama serve` up to a built server pulls in none of duckdb, pyarrow,
    sqlglot, pandas, mlflow (other commands' modules are not imported for `serve`)."""
    import subprocess
    import sys

    code = ("import sys, chaos_llama.server.app as a, chaos_llama.tools.cli as c; "
            "from chaos_llama.tools.project import load_config; "
            "import chaos_llama.server.cli as sc; "
            "args = c.build_parser('serve').parse_args(['serve', '--workspace', 'ws']); "
            "assert args.func is sc.run; a.build_app(load_config(env={})); "
            "print(sorted(m for m in ('duckdb','pyarrow','sqlglot','pandas','mlflow','databricks') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
