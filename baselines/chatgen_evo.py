"""``chatgen-evo``: ChatGen-Evo's three stages, on local weights.

1. **Prompt writing**: an InternVL2-style chat model (``prompt_checkpoint``, loaded with
   ``trust_remote_code`` because the user names it) answers the request laid out as for
   ChatGen-Base (:func:`baselines.internvl.build_conversation`); the prompt and negative prompt are
   read from its answer (:func:`baselines.answer_parser.parse_answer`). The Evo prompt-writing
   system prompt is not published here; the ChatGen-Base ones are used (a setting:
   ``system_prompts_file``).
2. **Model selection with ModelTokens** (:mod:`baselines.model_tokens`): the frozen causal LM
   ``selector_checkpoint`` reads the request and stage 1's prompt, and the model is the argmax over
   the trained model tokens (``model_tokens``, a folder from ``chatgenbench baseline
   train-modeltokens``), restricted to models of the benchmark's catalogue.
3. **Arguments in context**: up to ``n_demonstrations`` train rows of the chosen model (a seeded
   choice per row) are shown to the chat model as ``Request: ... / Arguments: {json}`` examples,
   followed by the new request; its answer is parsed for the five arguments. With
   ``arguments_mode=majority`` no LLM is asked: each argument is the most common among those
   demonstrations (the size as a ``width x height`` pair). An argument the LLM leaves out is taken
   from the demonstrations' majority (noted); a model without demonstrations gets
   :data:`baselines.architecture_defaults.DEFAULT_ARGUMENTS_BY_ARCHITECTURE` (noted).

Published Evo weights may not exist; this adapter needs local ones and says which are missing.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from baselines.answer_parser import parse_answer
from baselines.architecture_defaults import DEFAULT_ARGUMENTS_BY_ARCHITECTURE
from baselines.causal_lm import load_causal_lm
from baselines.internvl import load_chat_model, system_prompts
from baselines.model_tokens import ModelTokens, selection_features, selection_text
from baselines.readable_text import chat_as_prompt
from baselines.row_chat import DEFAULT_GENERATION, ask, row_seed
from baselines.train_split import load_train_split
from baselines.voting import majority_arguments
from chatgenbench.predictions.adapters import AdapterOptionError

ArgumentsMode = Literal["in_context", "majority"]
ARGUMENT_INSTRUCTION = (
    "You choose the generation arguments (sampler, steps, cfg_scale, width, height) of the "
    "text-to-image model {model}. Here are requests that used it and the arguments chosen for "
    "them. Answer with the JSON arguments for the last request only.\n\n"
)


def arguments_question(model: str, demonstrations: Sequence[tuple[str, dict]], request: str) -> str:
    """Return the in-context question of stage 3."""
    lines = [ARGUMENT_INSTRUCTION.format(model=model)]
    for text, arguments in demonstrations:
        shown = {k: v for k, v in arguments.items() if v is not None}
        lines.append(f"Request: {text}\nArguments: {json.dumps(shown)}\n\n")
    lines.append(f"Request: {request}\nArguments:")
    return "".join(lines)


@dataclass
class ChatGenEvoAdapter:
    """ChatGen-Evo's three stages behind the adapter contract (see the module docstring).

    Python callers may pass loaded objects (``chat_model``/``tokenizer`` for stages 1 and 3,
    ``selector_lm``/``selector_tokenizer`` and a :class:`ModelTokens` as ``model_tokens``).
    """

    prompt_checkpoint: str | None = None
    selector_checkpoint: str | None = None
    model_tokens: Any = None
    arguments_mode: ArgumentsMode = "in_context"
    n_demonstrations: int = 5
    selector_trust_remote_code: bool = False
    max_length: int = 256
    device: str | None = None
    dtype: str = "auto"
    max_tiles: int = 6
    seed: int = 0
    generation: dict[str, Any] = field(default_factory=dict)
    system_prompts_file: str | None = None
    chat_model: Any = None
    tokenizer: Any = None
    selector_lm: Any = None
    selector_tokenizer: Any = None
    name: str = "chatgen-evo"
    _catalog: Any = field(default=None, init=False, repr=False)
    _split: Any = field(default=None, init=False, repr=False)
    _allowed: Any = field(default=None, init=False, repr=False)
    _prompts: dict[str, str] | None = field(default=None, init=False, repr=False)
    _counts: Counter = field(default_factory=Counter, init=False, repr=False)

    def __post_init__(self) -> None:
        self.generation = {**DEFAULT_GENERATION, **(self.generation or {})}
        if self.arguments_mode not in ("in_context", "majority"):
            raise ValueError(
                f"arguments_mode must be 'in_context' or 'majority', got {self.arguments_mode!r}"
            )
        self._check_weights()

    def _check_weights(self) -> None:
        """Refuse, in one line, named weights that cannot load here (before any model import)."""
        from baselines.checkpoint_check import check_checkpoint, check_folder

        if self.prompt_checkpoint and self.chat_model is None:
            check_checkpoint(
                self.prompt_checkpoint,
                role="chatgen-evo prompt_checkpoint",
                how_to_get="pass -o prompt_checkpoint= a hub id (ChengyouJia/ChatGen-Evo) or a "
                "local folder holding it",
            )
        if self.selector_checkpoint and self.selector_lm is None:
            check_checkpoint(
                self.selector_checkpoint,
                role="chatgen-evo selector_checkpoint",
                how_to_get="pass -o selector_checkpoint= the local causal LM the model tokens "
                "were trained on",
            )
        if isinstance(self.model_tokens, (str, os.PathLike)):
            from baselines.model_tokens import CONFIG_FILENAME

            check_folder(
                str(self.model_tokens),
                role="chatgen-evo model_tokens",
                needs=CONFIG_FILENAME,
                how_to_get="train them with 'chatgenbench baseline train-modeltokens --base DIR "
                "--out DIR'",
            )

    def prepare(self, benchmark) -> None:
        """Load the catalogue, the train split (demonstrations) and the three stages' weights."""
        import torch

        from chatgenbench.benchmark.loading import load_benchmark_catalog

        self._catalog = load_benchmark_catalog(benchmark)
        self._split = load_train_split(benchmark)
        self._prompts = system_prompts(self.system_prompts_file)
        missing = []
        if self.chat_model is None:
            if self.prompt_checkpoint:
                self.chat_model, self.tokenizer = load_chat_model(
                    self.prompt_checkpoint, device=self.device, dtype=self.dtype
                )
            else:
                missing.append("prompt_checkpoint (stage 1 and 3 chat model)")
        if self.selector_lm is None:
            if self.selector_checkpoint:
                self.selector_lm, self.selector_tokenizer = load_causal_lm(
                    self.selector_checkpoint,
                    device=self.device,
                    trust_remote_code=self.selector_trust_remote_code,
                )
            else:
                missing.append("selector_checkpoint (stage 2 frozen causal LM)")
        if self.model_tokens is None:
            missing.append("model_tokens (a folder from 'chatgenbench baseline train-modeltokens')")
        elif not isinstance(self.model_tokens, ModelTokens):
            self.model_tokens = ModelTokens.load(self.model_tokens)
        if missing:
            raise AdapterOptionError("chatgen-evo needs local weights: " + "; ".join(missing))
        hidden = self.selector_lm.get_output_embeddings().weight.shape[1]
        if int(self.model_tokens.embeddings.shape[1]) != int(hidden):
            raise AdapterOptionError(
                f"the model tokens have size {int(self.model_tokens.embeddings.shape[1])} but the "
                f"selector's hidden size is {int(hidden)}: they were trained on another base"
            )
        allowed = [name in self._catalog for name in self.model_tokens.names]
        if not any(allowed):
            raise AdapterOptionError(
                "none of the model tokens names a model of this benchmark's catalogue"
            )
        self._allowed = torch.tensor(allowed)

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return one prediction per row: stage 1 per row, stage 2 batched, stage 3 per row."""
        from chatgenbench.predictions.adapters import NOTES_KEY

        if self._catalog is None:
            self.prepare("sample")
        stage1 = []
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
            parsed = parse_answer(raw)
            notes = list(conversation.notes)
            if parsed.prompt is None:
                notes.append("stage 1: no prompt in the answer")
            self._counts[f"stage1_{'prompt' if parsed.prompt is not None else 'no_prompt'}"] += 1
            stage1.append((parsed, raw, notes))
        requests = [chat_as_prompt(row) for row in rows]
        texts = [
            selection_text(request, parsed.prompt or "")
            for request, (parsed, _, _) in zip(requests, stage1)
        ]
        hidden, _ = selection_features(
            self.selector_lm, self.selector_tokenizer, texts, max_length=self.max_length
        )
        chosen = self.model_tokens.select(hidden, self._allowed)
        predictions = []
        for row, request, (parsed, raw, notes), choice in zip(rows, requests, stage1, chosen):
            model = self._catalog.get(self.model_tokens.names[choice]).name
            arguments, argument_notes = self._arguments(row["id"], model, request)
            notes += argument_notes
            prediction: dict[str, Any] = {
                "id": row["id"],
                "prompt": parsed.prompt or "",
                "negative_prompt": parsed.negative_prompt or "",
                "model": model,
                "arguments": arguments,
            }
            if notes:
                prediction[NOTES_KEY] = {"notes": notes, "stage1_raw": raw}
            predictions.append(prediction)
        return predictions

    def _seed(self, row_id: str) -> None:
        import torch

        torch.manual_seed(row_seed(self.seed, row_id))

    def _demonstrations(self, row_id: str, model: str) -> list[int]:
        if self._split is None:
            return []
        rows = self._split.rows_of_model(model)
        rng = random.Random(row_seed(self.seed, row_id))
        return rng.sample(rows, min(self.n_demonstrations, len(rows)))

    def _arguments(self, row_id: str, model: str, request: str) -> tuple[dict[str, Any], list[str]]:
        demos = self._demonstrations(row_id, model)
        if not demos:
            self._counts["stage3_architecture_default"] += 1
            architecture = self._catalog.get(model).architecture
            note = f"stage 3: no train demonstration of {model}: {architecture} default arguments"
            return dict(DEFAULT_ARGUMENTS_BY_ARCHITECTURE[architecture]), [note]
        shown = [self._split.arguments[i] for i in demos]
        majority = majority_arguments(shown)
        if self.arguments_mode == "majority":
            self._counts["stage3_majority"] += 1
            return majority, []
        question = arguments_question(
            model, [(self._split.texts[i], self._split.arguments[i]) for i in demos], request
        )
        self._seed(row_id)
        raw = self.chat_model.chat(self.tokenizer, None, question, dict(self.generation))
        raw = raw[0] if isinstance(raw, tuple) else raw
        answered = parse_answer(raw).arguments
        answered.pop("seed", None)
        filled = [key for key in majority if key not in answered]
        notes = (
            [f"stage 3: {', '.join(filled)} not in the answer: demonstrations' majority"]
            if filled
            else []
        )
        self._counts[
            "stage3_in_context_complete" if not filled else "stage3_in_context_filled"
        ] += 1
        return {**majority, **answered}, notes

    def describe(self) -> dict[str, Any]:
        """Return the settings and the per-stage counts of this run."""
        tokens = self.model_tokens
        return {
            "prompt_checkpoint": self.prompt_checkpoint or type(self.chat_model).__name__,
            "selector_checkpoint": self.selector_checkpoint or type(self.selector_lm).__name__,
            "model_tokens": tokens.config if isinstance(tokens, ModelTokens) else tokens,
            "arguments_mode": self.arguments_mode,
            "n_demonstrations": self.n_demonstrations,
            "generation": self.generation,
            "max_tiles": self.max_tiles,
            "seed": self.seed,
            "train_revision": self._split.revision if self._split is not None else None,
            "counts": dict(self._counts),
        }
