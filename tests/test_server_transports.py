"""The server as a real process: stdio via the SDK's stdio client, and one streamable-HTTP round trip."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

EXE = shutil.which("chaos-llama", path=str(Path(sys.executable).parent)) or "chaos-llama"


async def test_stdio_subprocess_round_trip(tmp_path):
    """`chaos-llama serve` over stdio: handshake, tool list and a tool call from a subprocess."""
    params = StdioServerParameters(command=EXE, args=["serve", "--workspace", str(tmp_path)], cwd=str(tmp_path))
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert {"space_get", "eval_run", "eval_final_test", "space_propose"} <= names
        info = (await c.call_tool("evalset_info", {})).structured_content
        assert info["splits"]["test"] > 0 and all("question" in q for q in info["train_questions"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([EXE, "serve", "--transport", "http", "--port", str(port), "--workspace", str(tmp_path)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/mcp"
    for _ in range(300):  # readiness poll, not a timing assertion
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            httpx.get(url, timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


async def test_streamable_http_round_trip_on_localhost(http_server):
    """Streamable HTTP bound to 127.0.0.1: list tools and call one."""
    async with Client(http_server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "budget_status" in names
        status = (await c.call_tool("budget_status", {})).structured_content
        assert {l["kind"] for l in status["lines"]} >= {"backend_questions", "final_tests"}
