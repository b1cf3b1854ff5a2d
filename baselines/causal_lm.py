"""Loading a local causal language model and its tokenizer, ready to read or generate.

Used by ``no-finetune``'s optional rewriter, ``chatgen-evo``'s stage-2 selector and the
``train-modeltokens`` command (:mod:`baselines.model_tokens`).
"""

from __future__ import annotations

from typing import Any


def load_causal_lm(
    path: str, *, device: str | None = None, trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """Load a local causal LM and its tokenizer (no hub fetch unless ``path`` is a hub id).

    Returns ``(model, tokenizer)``: the model in eval mode on ``device`` (CUDA when available
    unless named), the tokenizer with a pad token (its EOS) when it has none. ``trust_remote_code``
    runs the checkpoint's own code: only for one the user names. Raises RuntimeError when the
    tokenizer loads empty.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if len(tokenizer) == 0:
        raise RuntimeError(f"the tokenizer of {path} loaded empty; is the folder complete?")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=trust_remote_code)
    return model.eval().to(device), tokenizer
