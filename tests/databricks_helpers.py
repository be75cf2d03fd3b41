"""Shared setup for the Databricks backend tests: the bundled retail example served by the emulator."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from chaos_llama.tools.backends.databricks import DatabricksGenie
from chaos_llama.tools.emulator import Emulator

TOKEN = "dapi-TEST-5ecret-0123456789abcdef"


@contextmanager
def emulator(retail: Any, **kw: Any):
    space, _, engine = retail
    emu = Emulator(space, engine, token=TOKEN, **kw).start()
    try:
        yield emu
    finally:
        emu.stop()


def with_instruction(space: Any, words: str, id_: str = "f" * 32) -> Any:
    """A copy of `space` with one more text instruction (a new version to push)."""
    from chaos_llama.tools.space.model import TextInstruction

    doc = space.serialized.model_copy(deep=True)
    doc.instructions.text_instructions.append(TextInstruction(id=id_, content=[words]))
    return space.model_copy(update={"serialized": doc})


def backend(emu: Emulator, **kw: Any) -> DatabricksGenie:
    opts: dict[str, Any] = dict(host=emu.url, token=TOKEN, rate_per_minute=None, poll_initial_s=0.01, poll_max_s=0.05,
                                settle_s=0, retry_timeout_s=2, question_timeout_s=30)
    opts.update(kw)
    return DatabricksGenie(emu.space_id, **opts)


_RETAIL: tuple | None = None


def retail_example() -> tuple:
    """(curated space, eval set, LocalGenie) of the bundled retail example, loaded once per process."""
    global _RETAIL
    if _RETAIL is None:
        from chaos_llama.tools.evaluate import bundled_example, load_inputs, open_local_backend

        with bundled_example("retail") as ex:
            space, evalset = load_inputs(ex.curated_space, ex.templates)  # the set the flywheel and Genie tests were written on
            engine = open_local_backend([ex.data])
        _RETAIL = (space, evalset, engine)
    return _RETAIL
