"""Tiny random-weight language models built in code, for the baseline tests (no hub, no weights).

- :func:`word_tokenizer`: a word-level ``PreTrainedTokenizerFast`` made with ``tokenizers``;
- :func:`tiny_causal_lm`: a 2-layer GPT-2 with random weights, saved and loaded like a user's model;
- :class:`TinyChat`: that LM behind InternVL2's ``chat(...)`` signature;
- :func:`write_remote_code_chat_model`: a folder whose ``config.json`` ``auto_map`` points at its own
  modelling code, so that ``AutoModel.from_pretrained(folder, trust_remote_code=True)`` runs the same
  path as a real InternVL2 checkpoint.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

SPECIALS = ["[PAD]", "[UNK]", "[EOS]"]


def word_tokenizer(texts: list[str], extra: tuple[str, ...] = ()):
    """Return a word-level fast tokenizer whose vocabulary is every word of ``texts``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words: dict[str, int] = {token: i for i, token in enumerate(SPECIALS)}
    for text in [*texts, *extra]:
        for word in re.findall(r"\w+|[^\w\s]", text):
            words.setdefault(word, len(words))
    backend = Tokenizer(models.WordLevel(vocab=words, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    return tokenizer


def tiny_causal_lm(tokenizer, folder: Path | None = None, *, seed: int = 0, hidden: int = 32):
    """Return a tiny random GPT-2 for ``tokenizer``; with ``folder``, save both and load them back."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=512,
        n_embd=hidden,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = GPT2LMHeadModel(config).eval()
    if folder is None:
        return model, tokenizer
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    loaded_tokenizer = AutoTokenizer.from_pretrained(folder)
    assert len(loaded_tokenizer) == len(tokenizer)
    return AutoModelForCausalLM.from_pretrained(folder).eval(), loaded_tokenizer


class TinyChat:
    """A tiny random LM with InternVL2's ``chat`` signature; records every call it gets."""

    def __init__(self, lm, tokenizer, max_new_tokens: int = 12):
        self.lm, self.max_new_tokens = lm, max_new_tokens
        self.calls: list[dict] = []

    def parameters(self):
        return self.lm.parameters()

    def chat(
        self,
        tokenizer,
        pixel_values,
        question,
        generation_config,
        history=None,
        return_history=False,
        num_patches_list=None,
    ):
        import torch

        self.calls.append(
            {
                "question": question,
                "history": history,
                "tiles": None if pixel_values is None else tuple(pixel_values.shape),
                "num_patches_list": num_patches_list,
                "generation": dict(generation_config),
            }
        )
        text = " ".join(f"{q} {a}" for q, a in history or []) + " " + question
        ids = tokenizer(text, return_tensors="pt").input_ids[:, -200:]
        with torch.no_grad():
            out = self.lm.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=min(self.max_new_tokens, generation_config["max_new_tokens"]),
                do_sample=bool(generation_config.get("do_sample")),
                pad_token_id=tokenizer.pad_token_id,
            )
        answer = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        return (answer, history) if return_history else answer


class ScriptedChat:
    """A stand-in with the ``chat`` signature: ``answer(question, history)`` gives the text."""

    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def parameters(self):
        return iter(())

    def chat(self, tokenizer, pixel_values, question, generation_config, history=None, **kwargs):
        self.calls.append({"question": question, "history": history, "pixel_values": pixel_values})
        return self.answer(question, history)


_CONFIG_CODE = """
from transformers import PretrainedConfig


class TinyChatConfig(PretrainedConfig):
    model_type = "tiny_chat"

    def __init__(self, answer="", **kwargs):
        self.answer = answer
        super().__init__(**kwargs)
"""

_MODEL_CODE = """
import torch
from transformers import PreTrainedModel

from .configuration_tiny_chat import TinyChatConfig


class TinyChatModel(PreTrainedModel):
    config_class = TinyChatConfig

    def __init__(self, config):
        super().__init__(config)
        self.proj = torch.nn.Linear(4, 4)
        self.post_init()

    def chat(self, tokenizer, pixel_values, question, generation_config, history=None,
             return_history=False, num_patches_list=None, **kwargs):
        answer = self.config.answer
        return (answer, history) if return_history else answer
"""


def write_remote_code_chat_model(folder: Path, answer: str, tokenizer) -> Path:
    """Write a model folder that only loads with ``trust_remote_code`` and always answers ``answer``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "configuration_tiny_chat.py").write_text(_CONFIG_CODE)
    (folder / "modeling_tiny_chat.py").write_text(_MODEL_CODE)
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "_tiny_chat_config", folder / "configuration_tiny_chat.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["_tiny_chat_config"] = module
    spec.loader.exec_module(module)
    config = module.TinyChatConfig(answer=answer)
    config.auto_map = {
        "AutoConfig": "configuration_tiny_chat.TinyChatConfig",
        "AutoModel": "modeling_tiny_chat.TinyChatModel",
    }
    data = config.to_dict()
    data["architectures"] = ["TinyChatModel"]
    (folder / "config.json").write_text(json.dumps(data))
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    save_file(
        {"proj.weight": torch.randn(4, 4), "proj.bias": torch.zeros(4)},
        str(folder / "model.safetensors"),
    )
    tokenizer.save_pretrained(folder)
    return folder
