"""A worked example: a baseline, ``reference-echo``, in a package of its own.

An adapter takes a batch of benchmark rows and returns one prediction per row (``id``, ``prompt``,
``negative_prompt``, ``model``, ``arguments``). This one answers each row with the benchmark's
own reference prompt and model at a small size: an upper bound for the prompt and the model,
useful to check a pipeline end to end. Its keyword arguments are its options
(``-o size=32``); ``describe()`` is written into the run record. Declared in the
``chatgenbench.baselines`` entry-point group, it is listed by ``chatgenbench baseline list`` and
run by ``chatgenbench baseline run reference-echo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ReferenceEchoAdapter:
    """Answers every row with its reference prompt and model, at ``size`` pixels and 4 steps."""

    name = "reference-echo"

    def __init__(self, size: int = 64) -> None:
        self.size = size

    def describe(self) -> dict[str, Any]:
        """Return the settings written into the run record (``PRED.run.json``)."""
        return {"size": self.size, "steps": 4}

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return one prediction per benchmark row, in the rows' order."""
        return [
            {
                "id": row["id"],
                "prompt": row["prompt"],
                "negative_prompt": row.get("negative_prompt") or "",
                "model": row["model"],
                "arguments": dict(row["arguments"], width=self.size, height=self.size, steps=4),
            }
            for row in rows
        ]
