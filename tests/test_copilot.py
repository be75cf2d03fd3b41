"""Pure helpers of the copilot (the functions behind the MCP tools)."""

from __future__ import annotations

from chaos_llama.tools.copilot import settings_for_example
from chaos_llama.tools.failures import relevant_metadata
from chaos_llama.tools.space.io import load_space

SQL = ("SELECT s.region, SUM(oi.qty) FROM main.retail.orders o JOIN main.retail.stores s ON s.store_id = o.store_id "
       "JOIN main.retail.order_items oi ON oi.ord_id = o.ord_id WHERE o.stat_cd = 'C' GROUP BY s.region")


def test_relevant_metadata_names_touched_columns_configured_or_not():
    """A failure's metadata lists the tables and columns the queries touch: configured columns with
    their description, unconfigured ones as such (what a fix would describe), resolved through aliases."""
    sparse = {m.target: m for m in relevant_metadata(load_space(settings_for_example(which="sparse").space), [SQL])}
    assert {"main.retail.orders", "main.retail.stores", "main.retail.order_items"} <= set(sparse)
    assert {"stores.region", "orders.stat_cd", "order_items.qty"} <= set(sparse)
    assert "no column config" in sparse["orders.stat_cd"].text and "customers.cust_seg" not in sparse
    curated = {m.target: m for m in relevant_metadata(load_space(settings_for_example(which="curated").space), [SQL])}
    assert "no column config" not in curated["orders.stat_cd"].text  # the curated space describes it
