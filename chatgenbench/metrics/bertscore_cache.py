"""The reference side of BERTScore, computed once per (references, encoder setting) and kept.

A leaderboard scores many submissions against the same reference prompts; encoding those again for
every submission is half the cost of BERTScore. :func:`score_with_reference_cache` computes the
same F1 as ``bert_score.BERTScorer.score`` (the same tokenisation, encoding, greedy matching and
baseline rescaling: it calls bert-score's own ``get_bert_embedding`` and ``greedy_cos_idf``), but
takes the references' token embeddings and idf weights from a :class:`ReferenceEmbeddingCache`.

An entry lives in ``$CHATGENBENCH_HOME/bertscore-references`` as two files named by its key:

- ``<key>.safetensors``: ``embeddings`` (all reference tokens, ``[tokens, dim]``, float32, as the
  encoder gave them), ``idf`` (``[tokens]``) and ``offsets`` (``[references + 1]``, int64);
- ``<key>.json``: the key, what it was made of (:func:`key_fields`), the references in tensor order,
  the sha256 and size of the tensor file, where the references came from, and ``manifest_sha256``,
  the digest of all of that (:func:`manifest_digest`).

The rows are bound to the texts three ways, so an entry whose manifest lists the right texts in
another order than its rows is never used: the tensor file's own metadata carries the digest of the
ordered texts (:func:`ordered_texts_sha256`), the manifest carries the tensor file's sha256 and its
own digest, and the order must be the one :func:`embed_texts` gives (most tokens first, ties in
text order) with each text's row count equal to its token count under this run's tokenizer.

The key is the sha256 of the key fields (encoder model and its files, layer, idf, baseline
rescaling, tokenizer maximum length, device type, dtype, bert-score / transformers / torch versions)
and of the sorted distinct reference texts, so a changed benchmark or setting never finds an old
entry. On load every part is checked again (the manifest's digest, fields, texts, their order, file
size and sha256, the tensor file's key and ordered-text digest, tensor shapes, token counts); an
entry that fails any check is not used: the references are encoded again, the entry rewritten, and
the reason is reported in :attr:`CacheOutcome.reason`. Files are written through a temporary file
and a rename; the manifest is written last, so a crash leaves no entry that looks complete.

``$CHATGENBENCH_BERTSCORE_CACHE=0`` turns the cache off (see :func:`cache_enabled`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The on-disk format; part of every key.
CACHE_FORMAT = "chatgenbench-bertscore-references/2"
CACHE_ENV = "CHATGENBENCH_BERTSCORE_CACHE"
CACHE_DIR_NAME = "bertscore-references"


def cache_enabled() -> bool:
    """Return False when ``$CHATGENBENCH_BERTSCORE_CACHE`` is ``0``, ``off``, ``false`` or ``no``."""
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "off", "false", "no")


def default_cache_dir() -> Path:
    """Return ``$CHATGENBENCH_HOME/bertscore-references``."""
    from chatgenbench.core.storage import chatgenbench_home

    return chatgenbench_home() / CACHE_DIR_NAME


@dataclass
class CacheOutcome:
    """How the reference side of one scoring call was obtained (recorded in the results).

    ``state``: ``warm`` (taken from the cache), ``cold`` (no entry: encoded and stored),
    ``recomputed`` (an entry was there but failed a check: encoded again, ``reason`` says why),
    ``off`` (the cache is turned off) or ``write_failed`` (encoded; storing failed, ``reason``).
    """

    state: str
    key: str | None = None
    path: str | None = None
    n_references: int = 0
    reason: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def used(self) -> bool:
        """True when the references' embeddings came from the cache."""
        return self.state == "warm"

    def describe(self) -> dict[str, Any]:
        """Return the JSON-ready record (``metric_settings.bertscore.reference_cache``)."""
        return {
            "used": self.used,
            "state": self.state,
            "key": self.key,
            "path": self.path,
            "n_references": self.n_references,
            "reason": self.reason,
        }


def _model_identity(model_type: str) -> dict[str, Any]:
    """Name an encoder's weights: a local folder by its files' names and sizes, else the hub id."""
    folder = Path(model_type)
    if not folder.is_dir():
        return {"hub_id": model_type}
    files = {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }
    config = folder / "config.json"
    return {
        "local_files": files,
        "config_sha256": hashlib.sha256(config.read_bytes()).hexdigest()
        if config.is_file()
        else None,
    }


def key_fields(scorer, setting) -> dict[str, Any]:
    """Return everything besides the texts that decides a reference embedding.

    ``scorer`` is the loaded ``bert_score.BERTScorer``, ``setting`` the
    :class:`chatgenbench.metrics.bertscore.EncoderSetting` it was built from.
    """
    from importlib.metadata import version

    import torch
    import transformers

    device = str(next(scorer._model.parameters()).device)
    dtype = str(next(scorer._model.parameters()).dtype).removeprefix("torch.")
    return {
        "format": CACHE_FORMAT,
        "encoder": setting.name,
        "model": _model_identity(setting.model_type),
        "num_layers": setting.num_layers,
        "idf": bool(setting.idf),
        "rescale_with_baseline": bool(setting.rescale_with_baseline),
        "baseline": os.path.basename(setting.baseline_path) if setting.baseline_path else None,
        "lang": setting.lang,
        "max_length": int(getattr(scorer._tokenizer, "model_max_length", 0) or 0),
        "tokenizer": type(scorer._tokenizer).__name__,
        "device_type": device.split(":")[0],
        "dtype": dtype,
        "bert_score_version": version("bert-score"),
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
    }


def texts_sha256(texts: Sequence[str]) -> str:
    """Return the sha256 of sorted distinct texts (each UTF-8, NUL-separated)."""
    digest = hashlib.sha256()
    for text in sorted(set(texts)):
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def ordered_texts_sha256(texts: Sequence[str]) -> str:
    """Return the sha256 of texts in their order (each UTF-8, NUL-separated): what binds the rows of
    a tensor file to its texts."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def manifest_digest(manifest: dict[str, Any]) -> str:
    """Return the sha256 of a manifest's canonical JSON without its ``manifest_sha256`` field."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def encoding_order(tokenizer, texts: Sequence[str]) -> tuple[list[str], dict[str, list[int]]]:
    """Return distinct ``texts`` in the order :func:`embed_texts` packs them (most tokens first,
    ties in text order) and each text's token ids (bert-score's ``sent_encode``)."""
    from bert_score.utils import sent_encode

    encoded = {text: sent_encode(tokenizer, text) for text in sorted(set(texts))}
    ordered = sorted(encoded, key=lambda text: len(encoded[text]), reverse=True)
    return ordered, encoded


def cache_key(fields: dict[str, Any], references: Sequence[str]) -> str:
    """Return the entry key: sha256 of the key fields and of the distinct reference texts."""
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8"))
    digest.update(texts_sha256(references).encode("ascii"))
    return digest.hexdigest()


@dataclass
class ReferenceEmbeddings:
    """The references' token embeddings, packed: rows ``offsets[i]:offsets[i+1]`` are text ``i``."""

    texts: list[str]
    embeddings: Any  # torch.Tensor [tokens, dim]
    idf: Any  # torch.Tensor [tokens]
    offsets: Any  # torch.Tensor [len(texts) + 1], int64

    def stats(self) -> dict[str, tuple[Any, Any]]:
        """Return text -> (embedding rows, idf rows): views, no copies."""
        bounds = self.offsets.tolist()
        return {
            text: (self.embeddings[bounds[i] : bounds[i + 1]], self.idf[bounds[i] : bounds[i + 1]])
            for i, text in enumerate(self.texts)
        }


class ReferenceEmbeddingCache:
    """Entries of reference embeddings under ``root`` (default :func:`default_cache_dir`)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def paths(self, key: str) -> tuple[Path, Path]:
        """Return the tensor file and the manifest of ``key``."""
        return self.root / f"{key}.safetensors", self.root / f"{key}.json"

    def load(
        self,
        key: str,
        fields: dict[str, Any],
        texts: Sequence[str],
        tokenizer=None,
    ) -> tuple[ReferenceEmbeddings | None, str | None]:
        """Return the checked entry of ``key`` and None, or None and why it cannot be used.

        The reason is None when there is simply no entry. ``tokenizer`` (the scorer's) checks
        that the entry's texts are in :func:`encoding_order` and that each text has as many rows
        as tokens; without it only the digests bind the order.
        """
        tensors_path, manifest_path = self.paths(key)
        if not manifest_path.is_file():
            return None, None
        manifest, reason = _checked_manifest(manifest_path, key, fields, texts)
        if reason:
            return None, reason
        stored = manifest["texts"]
        encoded = None
        if tokenizer is not None:
            ordered, encoded = encoding_order(tokenizer, texts)
            if stored != ordered:
                return None, (
                    "the entry lists its texts in another order than its rows are packed "
                    "(corrupted)"
                )
        entry, reason = _checked_tensors(tensors_path, manifest, key)
        if reason:
            return None, reason
        if encoded is not None:
            counts = (entry.offsets[1:] - entry.offsets[:-1]).tolist()
            if counts != [len(encoded[text]) for text in stored]:
                return None, (
                    f"tensor file {tensors_path.name}: the rows of its texts do not match their "
                    "token counts (corrupted)"
                )
        return entry, None

    def save(self, key: str, fields: dict[str, Any], entry: ReferenceEmbeddings, **about) -> Path:
        """Write ``entry`` under ``key`` (tensors first, the manifest last); return the tensor file.

        ``about`` (e.g. the benchmark's name and revision) is recorded in the manifest.
        """
        from safetensors.torch import save_file

        from chatgenbench.core.storage import apply_umask, atomic_write_json, sha256_file

        tensors_path, manifest_path = self.paths(key)
        self.root.mkdir(parents=True, exist_ok=True)
        manifest_path.unlink(missing_ok=True)  # an entry without a manifest is no entry
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.root)
        apply_umask(fd)  # shared as the umask says, not mkstemp's 0o600
        os.close(fd)
        try:
            save_file(
                {
                    "embeddings": entry.embeddings.contiguous(),
                    "idf": entry.idf.contiguous(),
                    "offsets": entry.offsets.contiguous(),
                },
                tmp,
                metadata={
                    "format": CACHE_FORMAT,
                    "key": key,
                    "texts_sha256": ordered_texts_sha256(entry.texts),
                },
            )
            os.replace(tmp, tensors_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        manifest = {
            "key": key,
            "fields": fields,
            "texts": entry.texts,
            "texts_sha256": ordered_texts_sha256(entry.texts),
            "bytes": tensors_path.stat().st_size,
            "sha256": sha256_file(tensors_path),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "about": about,
        }
        manifest["manifest_sha256"] = manifest_digest(manifest)
        atomic_write_json(manifest_path, manifest)
        return tensors_path


def _checked_manifest(
    path: Path, key: str, fields: dict[str, Any], texts: Sequence[str]
) -> tuple[dict[str, Any], str | None]:
    """Return an entry's manifest and None, or ``{}`` and why it cannot be used."""
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        return {}, f"manifest {path.name} is unreadable ({error})"
    if not isinstance(manifest, dict):
        return {}, f"manifest {path.name} is not a JSON object (corrupted)"
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        return {}, f"manifest {path.name} fails its own sha256 (edited or corrupted)"
    if manifest.get("key") != key or manifest.get("fields") != fields:
        return {}, "the entry's key or encoder setting differs from this run's (stale)"
    stored = manifest.get("texts")
    if not isinstance(stored, list) or not all(isinstance(t, str) for t in stored):
        return {}, f"manifest {path.name} has no list of texts (corrupted)"
    if texts_sha256(stored) != texts_sha256(texts):
        return {}, "the entry holds other reference texts (stale)"
    if len(stored) != len(set(stored)):
        return {}, "the entry lists a reference twice (corrupted)"
    if manifest.get("texts_sha256") != ordered_texts_sha256(stored):
        return {}, f"manifest {path.name}: its texts do not match their ordered digest (corrupted)"
    return manifest, None


def _checked_tensors(
    path: Path, manifest: dict[str, Any], key: str
) -> tuple[ReferenceEmbeddings | None, str | None]:
    """Return an entry's tensors, checked against its manifest, and None; or None and why not."""
    from chatgenbench.core.storage import sha256_file

    if not path.is_file():
        return None, f"tensor file {path.name} is missing"
    if path.stat().st_size != manifest.get("bytes"):
        return None, f"tensor file {path.name} has the wrong size (corrupted)"
    if sha256_file(path) != manifest.get("sha256"):
        return None, f"tensor file {path.name} fails its sha256 (corrupted)"
    try:
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
        entry = ReferenceEmbeddings(
            manifest["texts"], tensors["embeddings"], tensors["idf"], tensors["offsets"]
        )
    except Exception as error:  # safetensors raises several types for a bad file
        return None, f"tensor file {path.name} cannot be read ({error})"
    if metadata.get("key") != key or metadata.get("texts_sha256") != manifest["texts_sha256"]:
        return None, (
            f"tensor file {path.name} holds the rows of another key or another order of the "
            "texts than its manifest lists (corrupted)"
        )
    problem = _shape_problem(entry)
    if problem:
        return None, f"tensor file {path.name}: {problem} (corrupted)"
    return entry, None


def _shape_problem(entry: ReferenceEmbeddings) -> str | None:
    import torch

    emb, idf, offsets = entry.embeddings, entry.idf, entry.offsets
    if emb.dim() != 2 or idf.dim() != 1 or offsets.dim() != 1:
        return "unexpected tensor ranks"
    if offsets.dtype != torch.int64 or len(offsets) != len(entry.texts) + 1:
        return "offsets do not match the texts"
    if int(offsets[0]) != 0 or int(offsets[-1]) != emb.shape[0] or idf.shape[0] != emb.shape[0]:
        return "offsets do not cover the tokens"
    if len(offsets) > 1 and bool((offsets[1:] <= offsets[:-1]).any()):
        return "offsets are not increasing"
    return None


def _idf_dict(scorer):
    """The idf weights ``BERTScorer.score`` uses: its idf dict, else 1 with CLS and SEP at 0."""
    from collections import defaultdict

    if scorer.idf:
        if not scorer._idf_dict:
            raise ValueError("idf is on but no idf weights were computed (BERTScorer.compute_idf)")
        return scorer._idf_dict
    idf_dict = defaultdict(lambda: 1.0)
    idf_dict[scorer._tokenizer.sep_token_id] = 0
    idf_dict[scorer._tokenizer.cls_token_id] = 0
    return idf_dict


def embed_texts(
    scorer, texts: Sequence[str], batch_size: int, *, progress: bool = False
) -> ReferenceEmbeddings:
    """Encode distinct ``texts`` as ``BERTScorer.score`` does, and pack them.

    The same tokenisation (``sent_encode``), padding, idf weights and encoder call
    (``bert_encode``) as bert-score's ``get_bert_embedding``; each text is tokenised once, and the
    batches are made of texts of equal token counts (bert-score sorts by word count), so less of
    each batch is padding. Padding changes an embedding only in its last bits (below 1e-6 in F1).
    """
    import torch
    from bert_score.utils import bert_encode, padding

    idf_dict = _idf_dict(scorer)
    tokenizer = scorer._tokenizer
    # longest first (ties in text order, so that the batches are the same in every process)
    ordered, encoded = encoding_order(tokenizer, texts)
    starts = range(0, len(ordered), batch_size)
    if progress and ordered:  # nothing to encode: no empty bar
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="BERTScore embeddings", unit="batch")
    device = scorer.device
    pieces, idf_pieces, lengths = [], [], []
    for start in starts:
        tokens = [encoded[text] for text in ordered[start : start + batch_size]]
        padded, lens, mask = padding(tokens, tokenizer.pad_token_id, dtype=torch.long)
        idf, _, _ = padding([[idf_dict[i] for i in a] for a in tokens], 0, dtype=torch.float)
        emb = bert_encode(
            scorer._model, padded.to(device), attention_mask=mask.to(device),
            all_layers=scorer.all_layers,
        ).cpu()  # fmt: skip
        for i, length in enumerate(lens.tolist()):
            pieces.append(emb[i, :length])
            idf_pieces.append(idf[i, :length])
            lengths.append(length)
    if not ordered:
        return ReferenceEmbeddings(
            [], torch.zeros(0, 0), torch.zeros(0), torch.zeros(1, dtype=torch.int64)
        )
    offsets = torch.zeros(len(lengths) + 1, dtype=torch.int64)
    offsets[1:] = torch.tensor(lengths, dtype=torch.int64).cumsum(0)
    return ReferenceEmbeddings(ordered, torch.cat(pieces), torch.cat(idf_pieces), offsets)


def _pad_batch(texts: Sequence[str], stats: dict[str, tuple[Any, Any]], device):
    """bert-score's ``pad_batch_stats``: pad embeddings with 2.0, idf with 0, and the mask."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    emb = [stats[t][0].to(device) for t in texts]
    idf = [stats[t][1].to(device) for t in texts]
    lens = torch.tensor([e.size(0) for e in emb], dtype=torch.long)
    emb_pad = pad_sequence(emb, batch_first=True, padding_value=2.0)
    idf_pad = pad_sequence(idf, batch_first=True)
    max_len = int(lens.max())
    mask = torch.arange(max_len, dtype=torch.long).expand(len(lens), max_len) < lens.unsqueeze(1)
    return emb_pad, mask.to(device), idf_pad


def score_with_reference_cache(
    scorer,
    setting,
    candidates: Sequence[str],
    references: Sequence[str],
    *,
    batch_size: int,
    cache: ReferenceEmbeddingCache | None,
    progress: bool = False,
    about: dict[str, Any] | None = None,
) -> tuple[Any, CacheOutcome]:
    """Return ``(F1 tensor [N], outcome)``: ``scorer.score(candidates, references)``'s F1.

    ``cache`` None computes the references without the cache (state ``off``). A candidate whose
    text is also a reference uses the reference's embedding (bert-score also encodes each distinct
    text once).
    """
    import torch
    from bert_score.utils import greedy_cos_idf

    timings: dict[str, float] = {}
    start = time.perf_counter()
    outcome = CacheOutcome("off", n_references=len(set(references)))
    entry = None
    if cache is not None:
        fields = key_fields(scorer, setting)
        key = cache_key(fields, references)
        tensors_path, _ = cache.paths(key)
        outcome.key, outcome.path = key, str(tensors_path)
        entry, reason = cache.load(key, fields, references, scorer._tokenizer)
        outcome.state = "warm" if entry is not None else ("recomputed" if reason else "cold")
        outcome.reason = reason
    timings["reference_lookup"] = time.perf_counter() - start
    if entry is None:
        start = time.perf_counter()
        entry = embed_texts(scorer, references, batch_size, progress=progress)
        timings["reference_encode"] = time.perf_counter() - start
        if cache is not None:
            start = time.perf_counter()
            try:
                cache.save(outcome.key, fields, entry, **(about or {}))
            except OSError as error:  # a full or read-only disk costs speed, never the scores
                outcome.state, outcome.reason = "write_failed", f"{type(error).__name__}: {error}"
            timings["reference_store"] = time.perf_counter() - start
    stats = entry.stats()
    start = time.perf_counter()
    missing = [text for text in set(candidates) if text not in stats]
    stats.update(embed_texts(scorer, missing, batch_size, progress=progress).stats())
    timings["candidate_encode"] = time.perf_counter() - start

    start = time.perf_counter()
    device = next(scorer._model.parameters()).device
    preds = []
    with torch.no_grad():
        for begin in range(0, len(references), batch_size):
            ref_stats = _pad_batch(references[begin : begin + batch_size], stats, device)
            hyp_stats = _pad_batch(candidates[begin : begin + batch_size], stats, device)
            p, r, f1 = greedy_cos_idf(*ref_stats, *hyp_stats, scorer.all_layers)
            preds.append(torch.stack((p, r, f1), dim=-1).cpu())
    all_preds = torch.cat(preds, dim=0)
    if scorer.rescale_with_baseline:
        all_preds = (all_preds - scorer.baseline_vals) / (1 - scorer.baseline_vals)
    timings["matching"] = time.perf_counter() - start
    outcome.seconds = {k: round(v, 3) for k, v in timings.items()}
    return all_preds[..., 2], outcome
