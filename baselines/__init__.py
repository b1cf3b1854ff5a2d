"""Baseline systems for ChatGenBench: adapter modules and the support modules they share.

Adapters, one per module, each registered by name in :mod:`baselines.registry` (:data:`BASELINES`,
which also finds the baselines of other installed packages):

- ``no_finetune``: the paper's Baseline (``no-finetune``);
- ``retrieval``: MiniLM nearest neighbours in the train split or the catalogue (``retrieval``);
- ``chatgen_base``: a ChatGen-Base checkpoint (``chatgen-base``);
- ``chatgen_evo``: ChatGen-Evo's three stages on local weights (``chatgen-evo``).

Support modules, each holding one shared part:

- ``readable_text``: a row's user words and a catalogue name as words;
- ``train_split``: a benchmark's train split as plain columns;
- ``architecture_defaults``: the default generation arguments per architecture;
- ``voting``: majority votes over neighbours or demonstrations;
- ``text_encoder``: the offline MiniLM sentence encoder;
- ``causal_lm``: loading a local causal LM and its tokenizer;
- ``internvl``: InternVL2 tiles, conversation layout, chat call and system prompts;
- ``row_chat``: asking a chat model about one row, seeded per row, and the generation defaults;
- ``answer_parser``: a chat model's free-text answer read into a prediction;
- ``model_tokens``: ModelTokens (chatgen-evo's model selection) and ``train-modeltokens``.

An adapter imports support modules, never another adapter; a support module never imports an
adapter.
"""
