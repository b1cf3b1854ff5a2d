"""The Vote tab's agreement table: how far each image metric agrees with the votes.

The numbers come from :mod:`leaderboard.metric_agreement`; this module only lays them out, one
table per benchmark, setting and kind of weights (votes on images of RANDOM demo weights in a
table of their own, labelled).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from leaderboard.metric_agreement import format_share, metric_agreement, store_scores
from leaderboard.submissions import SubmissionStore
from leaderboard.votes import DEMO_WEIGHTS, VoteStore, submission_weights

CAPTION = (
    "Share of decisive votes in which the image people preferred also scored better on the "
    "metric, with a 95% bootstrap interval (1,000 resamples). Vote ties, metric ties (equal "
    "scores) and images without the metric's score are counted apart, not in the share; 50% is "
    "what a coin would give."
)


_CACHE: dict[tuple, list[dict[str, Any]]] = {}
_CACHE_ENTRIES = 4


def agreement_rows(store: SubmissionStore, votes: VoteStore) -> list[dict[str, Any]]:
    """Return the agreement of every image metric with the counted votes, as table rows.

    Computed again only when a vote was stored, replaced or undone, when what made a
    submission's images changed, or when a voted submission's ``samples.jsonl`` changed."""
    weights = submission_weights(store)
    stored = votes.read().votes
    scores = store_scores(store)
    names = sorted({v.submission_a for v in stored} | {v.submission_b for v in stored})
    key = (
        str(votes.path),
        votes.version(),
        tuple(sorted(weights.items())),
        tuple((name, scores.file_signature(name)) for name in names),
    )
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_ENTRIES:
            _CACHE.clear()
        _CACHE[key] = _rows(metric_agreement(stored, scores, weights=weights))
    return [dict(row) for row in _CACHE[key]]


def _rows(rows: list) -> list[dict[str, Any]]:
    return [
        {
            "group": (row.benchmark, row.setting, row.weights),
            "Question": row.question,
            "Metric": row.label,
            "Agreement (95% interval)": format_share(row),
            "Decisive votes": str(row.n_decisive),
            "Vote ties": str(row.n_vote_ties),
            "Metric ties": str(row.n_metric_ties),
            "Without scores": str(row.n_unscored),
        }
        for row in rows
    ]


def agreement_panel(store: SubmissionStore, votes: VoteStore) -> None:
    """Lay out how far each image metric agrees with people (after the vote results)."""
    st.subheader("How far each metric agrees with people", divider="gray")
    rows = agreement_rows(store, votes)
    if not rows:
        st.info(
            "No counted vote yet on images that have per-image metric scores (CLIP score, "
            "HPS v2, ImageReward: a worker that renders and scores images writes them)."
        )
        return
    st.caption(CAPTION)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row.pop("group"), []).append(row)
    for (benchmark, setting, weights), members in groups.items():
        st.text(f"{benchmark} · {setting}")  # the benchmark name comes from meta.yaml: text
        if weights == DEMO_WEIGHTS:
            st.warning(
                f"{DEMO_WEIGHTS}: votes on noise images from random-weight models; this "
                "agreement says nothing about the metrics on real images."
            )
        key = f"agreement-{benchmark}-{setting}-{weights}"
        st.dataframe(pd.DataFrame(members), hide_index=True, key=key)
