"""A call that must not hang: run it in a thread and fail the test when it does not return."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest


def run_with_timeout(call: Callable[[], Any], seconds: float) -> Any:
    """Return ``call()``; fail the test when it has not returned after ``seconds`` (it would block
    forever, e.g. on a FIFO). An exception it raises is raised here."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # broad: handed back to the test thread below
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"the call did not return within {seconds} s: it blocks (on a FIFO?)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
