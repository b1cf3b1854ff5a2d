"""Ranking views built once per generation of the store's index (:mod:`leaderboard.store_index`).

A view (setting, input type, sort, reported rows) of :func:`leaderboard.ranking.build_ranking` is
kept until the index finds the store changed; a page run that changes nothing in the store, or
comes back to a view already built, costs the index's check only.
"""

from __future__ import annotations

from typing import Any

from leaderboard.ranking import build_ranking


def cached_ranking(
    store: Any,
    submissions: list,
    setting: str,
    input_type: str,
    *,
    sort_by: str | None = None,
    include_reported: bool = True,
):
    """Return :func:`leaderboard.ranking.build_ranking` of ``submissions``, built once per
    generation of the store's index when ``submissions`` is the index's current list (what
    ``store.submissions()`` returned), else built afresh."""

    def build():
        return build_ranking(
            submissions, setting, input_type, sort_by=sort_by, include_reported=include_reported
        )

    index = getattr(store, "index", None)
    if index is None:
        return build()
    return index.cached((setting, input_type, sort_by, include_reported), build, submissions)
