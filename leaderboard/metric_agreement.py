"""How far each image metric agrees with people: the votes of the user study against the scores.

For every image metric with per-image scores (each metric of the registry,
:data:`chatgenbench.metrics.registry.METRICS`, whose scores the scoring worker wrote per sample
in ``<submission>/samples.jsonl``: CLIP score, HPS v2, ImageReward and any registered one; FID has
no per-image score) and every question of the study (:data:`leaderboard.votes.QUESTIONS`:
quality, relevance to the input), :func:`metric_agreement` gives **the share of decisive votes in
which the image people preferred also scored higher** (lower, for a metric where lower is
better), with a seeded percentile bootstrap interval
(:func:`chatgenbench.metrics.bootstrap.bootstrap_ci` over the 0/1 agreements) and the number of
votes it rests on.

Counted apart, never in the share:

- ``n_vote_ties``: votes answered "tie" (people preferred neither image);
- ``n_metric_ties``: decisive votes where the two images have the same score;
- ``n_unscored``: decisive votes where one image or both have no score of the metric (a
  submission scored without that metric, or not rendered by a worker that scores images), or a
  score that is not a finite number.

The votes are those :func:`leaderboard.votes.summarize` counts: unflagged, one per voter, pair and
question (the last answer). They are grouped like the summary, by benchmark, setting and what made
the images (:data:`leaderboard.votes.DEMO_WEIGHTS` votes are kept apart: noise images from random
weights say nothing of a metric's agreement with people on real images). A share of 0.5 is what a
coin would give; 1.0 is a metric that always picks what people picked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatgenbench.metrics.bootstrap import bootstrap_ci
from leaderboard.submissions import SAMPLES_FILENAME, SubmissionStore
from leaderboard.votes import (
    DEMO_WEIGHTS,
    QUESTIONS,
    REAL_WEIGHTS,
    Vote,
    _latest_answers,
)

#: ``scores(submission, sample_id)`` -> that image's per-image scores by metric name.
ScoreLookup = Callable[[str, str], dict[str, float]]


@dataclass
class MetricAgreement:
    """One metric's agreement with the votes of one benchmark, setting, weights and question."""

    benchmark: str
    setting: str
    weights: str
    question: str
    metric: str
    label: str
    higher_is_better: bool
    n_votes: int  # counted votes of this group (every answer)
    n_decisive: int  # votes with a winner where both images have different scores
    n_agree: int
    share: float | None  # n_agree / n_decisive (None without a decisive vote)
    interval: dict[str, Any] | None  # bootstrap interval of the share (None under 2 votes)
    n_vote_ties: int
    n_metric_ties: int
    n_unscored: int

    def to_dict(self) -> dict[str, Any]:
        """Return the row as a JSON-ready dict."""
        return asdict(self)


def image_metrics() -> list[tuple[str, str, bool]]:
    """Return ``(name, label, higher_is_better)`` of every registered image metric, in order."""
    from chatgenbench.metrics.registry import METRICS

    found = []
    for name in METRICS.names_of("image"):
        metadata = METRICS.entry(name).metadata
        found.append((name, str(metadata["label"]), bool(metadata["higher_is_better"])))
    return found


def metric_agreement(
    votes: list[Vote],
    scores: ScoreLookup,
    *,
    weights: dict[str, str] | None = None,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[MetricAgreement]:
    """Return one :class:`MetricAgreement` per group, question and image metric that has a
    per-image score for at least one voted image (see the module docstring).

    ``scores`` gives an image's scores (:func:`store_scores`); ``weights`` says which
    submissions' images came from random demo weights (:func:`leaderboard.votes.submission_weights`).
    Rows come in the summary's order: benchmark, setting, weights, question, then the registry's
    metric order.
    """
    made_with = weights or {}
    groups: dict[tuple[str, str, str, str], list[Vote]] = {}
    for vote in _latest_answers(votes):
        if vote.counted:
            kind = made_with.get(vote.submission_a, REAL_WEIGHTS)
            key = (vote.benchmark, vote.setting, kind, vote.question)
            groups.setdefault(key, []).append(vote)
    order = {question: i for i, question in enumerate(QUESTIONS)}
    rows = []
    for (benchmark, setting, kind, question), members in sorted(
        groups.items(), key=lambda item: (*item[0][:3], order.get(item[0][3], len(order)))
    ):
        pairs = [
            (vote.answer, scores(vote.submission_a, vote.sample_id),
             scores(vote.submission_b, vote.sample_id))
            for vote in members
        ]  # fmt: skip
        for name, label, higher in image_metrics():
            if not any(name in a or name in b for _, a, b in pairs):
                continue  # no per-image score of this metric (FID) on any voted image
            row = _agreement(pairs, name, higher, resamples=resamples, level=level, seed=seed)
            rows.append(MetricAgreement(benchmark, setting, kind, question, name, label, higher,
                                        len(members), **row))  # fmt: skip
    return rows


def _agreement(
    pairs: list[tuple[str, dict[str, float], dict[str, float]]],
    metric: str,
    higher_is_better: bool,
    **bootstrap: Any,
) -> dict[str, Any]:
    agreements: list[float] = []
    vote_ties = metric_ties = unscored = 0
    for answer, scores_a, scores_b in pairs:
        if answer == "tie":
            vote_ties += 1
            continue
        score_a, score_b = scores_a.get(metric), scores_b.get(metric)
        if not _finite(score_a) or not _finite(score_b):
            unscored += 1
            continue
        if score_a == score_b:
            metric_ties += 1
            continue
        a_scored_better = score_a > score_b if higher_is_better else score_a < score_b
        agreements.append(1.0 if a_scored_better == (answer == "a") else 0.0)
    interval = bootstrap_ci(agreements, **bootstrap)
    return {
        "n_decisive": len(agreements),
        "n_agree": int(sum(agreements)),
        "share": sum(agreements) / len(agreements) if agreements else None,
        "interval": interval.to_dict() if interval is not None else None,
        "n_vote_ties": vote_ties,
        "n_metric_ties": metric_ties,
        "n_unscored": unscored,
    }


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class StoreScores:
    """Per-image scores of a store's submissions, read from their ``samples.jsonl`` (the scoring
    worker's per-sample scores; values that are not numbers are dropped). A file is read again
    only when it changed (its mtime, size and inode); a submission without one has no scores."""

    def __init__(self, store: SubmissionStore) -> None:
        self.store = store
        self._files: dict[str, tuple[tuple | None, dict[str, dict[str, float]]]] = {}
        self._checked: set[str] = set()

    def __call__(self, submission: str, sample_id: str) -> dict[str, float]:
        """Return the scores of ``submission``'s image of ``sample_id`` (empty when none)."""
        return self._of(submission).get(sample_id, {})

    def begin(self) -> StoreScores:
        """Check every file again at its next use (call once per computation); return self."""
        self._checked.clear()
        return self

    def file_signature(self, submission: str) -> tuple | None:
        """Return the state of ``submission``'s ``samples.jsonl`` as last checked (None: none)."""
        self._of(submission)
        return self._files[submission][0]

    def _of(self, submission: str) -> dict[str, dict[str, float]]:
        from leaderboard.gallery import _read_samples

        cached = self._files.get(submission)
        if cached is not None and submission in self._checked:
            return cached[1]
        self._checked.add(submission)
        try:
            path = self.store.path_for(submission) / SAMPLES_FILENAME
            found = os.stat(path)
        except (OSError, ValueError):  # no such submission or file (SubmissionError is one)
            self._files[submission] = (None, {})
            return {}
        signature = (found.st_mtime_ns, found.st_ctime_ns, found.st_size, found.st_ino)
        if cached is None or cached[0] != signature:
            records = _read_samples(Path(path))
            scores = {sample: dict(r.get("image_scores") or {}) for sample, r in records.items()}
            cached = (signature, scores)
            self._files[submission] = cached
        return cached[1]


def store_scores(store: SubmissionStore) -> StoreScores:
    """Return the score lookup of ``store`` (one per store, kept on it so files are read once)."""
    lookup = getattr(store, "_agreement_scores", None)
    if lookup is None:
        lookup = StoreScores(store)
        store._agreement_scores = lookup
    return lookup.begin()


def format_share(row: MetricAgreement) -> str:
    """Return ``62.5% [55.1%, 69.8%]`` (or ``-`` without a decisive vote)."""
    if row.share is None:
        return "-"
    span = f" [{row.interval['low']:.1%}, {row.interval['high']:.1%}]" if row.interval else ""
    return f"{row.share:.1%}{span}"


def format_agreement(rows: list[MetricAgreement]) -> str:
    """Return the rows as plain text (what ``chatgenbench votes summary`` prints)."""
    if not rows:
        return "metric agreement with the votes: no counted vote on images with per-image scores"
    lines = ["How far each metric agrees with people (share of decisive votes in which the "
             "preferred image also scored better; ties counted apart):"]  # fmt: skip
    group = None
    for row in rows:
        if (row.benchmark, row.setting, row.weights, row.question) != group:
            group = (row.benchmark, row.setting, row.weights, row.question)
            demo = (
                f" · {DEMO_WEIGHTS} (not comparable with real weights)"
                if row.weights == DEMO_WEIGHTS
                else ""
            )
            lines.append(f"  {row.benchmark} · {row.setting}{demo} · {row.question}:")
        lines.append(
            f"    {row.label}: {format_share(row)} of {row.n_decisive} decisive "
            f"vote{'' if row.n_decisive == 1 else 's'}; apart: {row.n_vote_ties} vote "
            f"tie{'' if row.n_vote_ties == 1 else 's'}, {row.n_metric_ties} metric "
            f"tie{'' if row.n_metric_ties == 1 else 's'}, {row.n_unscored} without scores"
        )
    return "\n".join(lines)
