"""``chatgen-base``: the published ChatGen-Base checkpoints (InternVL2-2B/4B/8B fine-tunes).

Run it by naming the checkpoint::

    chatgenbench baseline run chatgen-base -o checkpoint=ChengyouJia/ChatGen-Base-2B \\
        --benchmark SOURCE --out pred.jsonl

The checkpoint loads with ``trust_remote_code`` (InternVL2 ships its own code), which is acceptable
only because the user names it: there is no default checkpoint. Each row becomes one
:func:`baselines.internvl.build_conversation` (published system prompt, history as dialogue turns,
reference images as 448px tiles); the free-text answer goes through
:func:`baselines.answer_parser.parse_answer` and the model name is matched to the catalogue
(:func:`baselines.answer_parser.resolve_model`).

An answer that is not fully parsed still gives a row with its id (what could be read; an empty
prompt and model when nothing could), and its raw text, parse status and notes go to the notes file
``PRED.notes.jsonl`` next to the predictions. Generation is greedy by default (``do_sample=false``)
so that a run can be repeated; the model cards sample (``do_sample=True``): set
``-o generation.do_sample=true`` to do the same (seeded per row).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from baselines.answer_parser import parse_answer, resolve_model
from baselines.internvl import load_chat_model, system_prompts
from baselines.row_chat import DEFAULT_GENERATION, ask
from chatgenbench.predictions.adapters import AdapterOptionError


def answer_to_prediction(row_id: str, raw: str, catalog, extra_notes: Sequence[str] = ()) -> dict:
    """Parse one answer into a prediction dict; attach ``_notes`` unless it parsed cleanly."""
    from chatgenbench.predictions.adapters import NOTES_KEY

    parsed = parse_answer(raw)
    model, resolution = resolve_model(parsed.model, catalog)
    prediction: dict[str, Any] = {
        "id": row_id,
        "prompt": parsed.prompt or "",
        "negative_prompt": parsed.negative_prompt or "",
        "model": model or "",
        "arguments": dict(parsed.arguments),
    }
    notes = [*extra_notes, *parsed.notes]
    if parsed.status != "parsed" or resolution != "exact" or notes:
        prediction[NOTES_KEY] = {
            "status": parsed.status,
            "format": parsed.format,
            "model_as_written": parsed.model,
            "model_resolution": resolution,
            "notes": notes,
            "raw": raw,
        }
    return prediction


@dataclass
class ChatGenBaseAdapter:
    """A ChatGen-Base checkpoint behind the adapter contract (see the module docstring).

    ``chat_model`` and ``tokenizer`` may be given as objects (Python only; anything with
    InternVL2's ``chat(tokenizer, pixel_values, question, generation_config, history=...,
    return_history=..., num_patches_list=...)``), otherwise ``checkpoint`` is loaded.
    """

    checkpoint: str | None = None
    device: str | None = None
    dtype: str = "auto"
    max_tiles: int = 6
    seed: int = 0
    generation: dict[str, Any] = field(default_factory=dict)
    system_prompts_file: str | None = None
    chat_model: Any = None
    tokenizer: Any = None
    name: str = "chatgen-base"
    _catalog: Any = field(default=None, init=False, repr=False)
    _prompts: dict[str, str] | None = field(default=None, init=False, repr=False)
    _status: Counter = field(default_factory=Counter, init=False, repr=False)
    _resolution: Counter = field(default_factory=Counter, init=False, repr=False)

    def __post_init__(self) -> None:
        self.generation = {**DEFAULT_GENERATION, **(self.generation or {})}
        if self.max_tiles < 1:
            raise ValueError(f"max_tiles must be at least 1, got {self.max_tiles}")
        if self.checkpoint and self.chat_model is None:
            from baselines.checkpoint_check import check_checkpoint

            check_checkpoint(
                self.checkpoint,
                role="chatgen-base checkpoint",
                how_to_get="pass -o checkpoint= a hub id (ChengyouJia/ChatGen-Base-2B, -4B, -8B) "
                "or a local folder holding it",
            )

    def prepare(self, benchmark) -> None:
        """Load the benchmark's catalogue, the system prompts and (once) the checkpoint."""
        from chatgenbench.benchmark.loading import load_benchmark_catalog

        self._catalog = load_benchmark_catalog(benchmark)
        self._prompts = system_prompts(self.system_prompts_file)
        if self.chat_model is None:
            if not self.checkpoint:
                raise AdapterOptionError(
                    "chatgen-base needs a checkpoint: -o checkpoint=ChengyouJia/ChatGen-Base-2B "
                    "(or -4B, -8B, or a local folder). It runs the checkpoint's own code "
                    "(trust_remote_code), so name only a checkpoint you trust."
                )
            self.chat_model, self.tokenizer = load_chat_model(
                self.checkpoint, device=self.device, dtype=self.dtype
            )

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return one prediction per row (one ``chat`` call each)."""
        if self._catalog is None:
            self.prepare("sample")
        predictions = []
        for row in rows:
            raw, conversation = ask(
                self.chat_model,
                self.tokenizer,
                row,
                self._prompts,
                max_tiles=self.max_tiles,
                generation=self.generation,
                seed=self.seed,
            )
            prediction = answer_to_prediction(row["id"], raw, self._catalog, conversation.notes)
            notes = prediction.get("_notes")
            self._status[notes["status"] if notes else "parsed"] += 1
            self._resolution[notes["model_resolution"] if notes else "exact"] += 1
            predictions.append(prediction)
        return predictions

    def describe(self) -> dict[str, Any]:
        """Return the settings and the parse counts of this run."""
        return {
            "checkpoint": self.checkpoint or type(self.chat_model).__name__,
            "dtype": self.dtype,
            "device": self.device,
            "max_tiles": self.max_tiles,
            "seed": self.seed,
            "generation": self.generation,
            "system_prompts": (self._prompts or {}).get("source", self.system_prompts_file),
            "parse_status": dict(self._status),
            "model_resolution": dict(self._resolution),
        }
