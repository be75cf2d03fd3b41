"""Bad arguments are JSON-RPC invalid params (-32602) naming the field, the bad value and the valid options."""

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from server_helpers import make_app

TAGS = "'add_text_instruction'"

# (tool, arguments, field path, fragments the message must contain)
CASES = [
    ("eval_run", {"split": "test"}, "split", ['"test"', "'train' or 'val'", "eval_final_test"]),
    ("eval_run", {"split": "tran"}, "split", ['"tran"', "Did you mean 'train'?"]),
    ("eval_run", {"split": "train", "repeats": 9}, "repeats", ["got 9", "<= 5"]),
    ("eval_run", {"split": "train", "repeats": "twice"}, "repeats", ['"twice"', "an integer"]),
    ("eval_run", {}, "split", ["is required", "'train'"]),
    ("eval_run", {"spilt": "train"}, "spilt", ["unknown argument 'spilt'", "Did you mean 'split'?"]),
    ("space_propose", {"changes": [{"op": "add_txt_instruction", "content": "x"}]}, "changes[0].op",
     ['"add_txt_instruction"', TAGS, "Did you mean 'add_text_instruction'?"]),
    ("space_propose", {"changes": [{"content": "x"}]}, "changes[0].op", ["missing 'op'", TAGS]),
    ("space_propose", {"changes": [{"op": "add_text_instruction"}]}, "changes[0].content", ["is required", "a string"]),
    ("space_propose", {"changes": [{"op": "add_text_instruction", "contnet": "x"}]}, "changes[0].contnet",
     ["unknown field 'contnet'", "Did you mean 'content'?"]),
    ("space_propose", {"changes": [{"op": "add_join_spec", "left": "a", "right": "b", "condition": "a.x = b.x", "relationship": "MANY"}]},
     "changes[0].relationship", ['"MANY"', "'MANY_TO_ONE'"]),
    ("space_propose", {"changes": "add an instruction"}, "changes", ['"add an instruction"', "a list of objects whose 'op'"]),
    ("eval_failures", {"run_id": "r", "limit": 1000}, "limit", ["got 1000", "<= 50"]),
    ("eval_failures", {"limit": 3}, "run_id", ["is required", "a train run id"]),
    ("judge_run", {"run_id": "r", "judges": "execution"}, "judges", ['"execution"', "a list of strings"]),
    ("space_get", {"full": "yes please"}, "full", ['"yes please"', "true or false"]),
    ("space_apply", {"preview_id": 12}, "message", ["is required"]),
]


@pytest.mark.parametrize("tool, args, field, fragments", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
async def test_schema_failures_are_invalid_params(tmp_path, tool, args, field, fragments):
    """Arguments that fail a tool's input schema come back as -32602, not as a tool result: the message has
    one line per problem; `data` has the tool, the first bad field and, per problem, value and expectation."""
    async with Client(make_app(tmp_path)) as c:
        with pytest.raises(MCPError) as e:
            await c.call_tool(tool, args)
    err = e.value.error
    assert err.code == INVALID_PARAMS
    assert err.message.startswith(f"Invalid arguments for tool {tool!r}:")
    assert err.data["tool"] == tool and field in [p["field"] for p in err.data["errors"]]
    for fragment in fragments:
        assert fragment in err.message, (fragment, err.message)


async def test_unknown_tool_and_several_problems_at_once(tmp_path):
    """An unknown tool name suggests the closest; several bad fields are each reported on their own line."""
    async with Client(make_app(tmp_path)) as c:
        with pytest.raises(MCPError) as e:
            await c.call_tool("eval_rnu", {})
        assert e.value.error.code == INVALID_PARAMS and "Did you mean 'eval_run'?" in e.value.error.message
        with pytest.raises(MCPError) as e:
            await c.call_tool("eval_failures", {"run_id": 5, "limit": 0, "category": ["x"]})
    lines = e.value.error.message.splitlines()
    assert {p["field"] for p in e.value.error.data["errors"]} == {"run_id", "limit", "category"} and len(lines) == 4


async def test_library_input_errors_are_invalid_params_too(tmp_path):
    """Values that pass the schema but not the project (an unknown run, judge or revision) are also -32602."""
    async with Client(make_app(tmp_path)) as c:
        with pytest.raises(MCPError) as e:
            await c.call_tool("space_rollback", {"version": "r7"})
        assert e.value.error.code == INVALID_PARAMS and e.value.error.data["field"] == "version" and "revisions are 1..1" in str(e.value)
        with pytest.raises(MCPError) as e:
            await c.call_tool("report", {"run_ids": ["run-x"]})
        assert e.value.error.code == INVALID_PARAMS and "run-x" in str(e.value)
        # A valid call still works after bad ones: errors leave no state behind.
        assert not (await c.call_tool("space_history", {})).is_error
