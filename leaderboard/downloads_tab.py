"""The download buttons of the leaderboard page; the bytes come from :mod:`leaderboard.downloads`.

- Ranking tab: the view shown as JSON (beside the existing CSV button).
- Details tab: the submission's per-sample details as Parquet (built once per version of its
  files, cached) and its ``results.json``.
"""

from __future__ import annotations

import streamlit as st

from leaderboard import downloads
from leaderboard.ranking import Ranking
from leaderboard.submissions import Submission


def ranking_json_button(ranking: Ranking) -> None:
    """Offer the ranking view as JSON."""
    st.download_button(
        "Download this view as JSON",
        data=downloads.ranking_json(ranking),
        file_name=f"chatgenbench-{ranking.setting}-{ranking.input_type}.json",
        mime="application/json",
        disabled=not ranking.groups,
        key="download-json",
    )


@st.cache_data(max_entries=8, show_spinner="Building the per-sample details…")
def _details(results: str, predictions: str | None, stamp: tuple[int, ...]) -> bytes | str:
    """The details Parquet of a submission's results and predictions, or why there is none
    (``stamp``: the files' modification times, so that a rescored submission is built again)."""
    from chatgenbench.core.errors import ChatGenBenchError

    try:
        return downloads.details_parquet(results, predictions)
    except (ChatGenBenchError, OSError) as error:  # refused or unreadable: shown as text instead
        return str(error)


def submission_buttons(submission: Submission) -> None:
    """Offer a scored submission's details (Parquet) and results JSON."""
    from leaderboard.submissions import RESULTS_FILENAME

    files = [submission.path / RESULTS_FILENAME, submission.predictions_path]
    stamp = tuple(f.stat().st_mtime_ns if f and f.is_file() else 0 for f in files)
    predictions = str(submission.predictions_path) if submission.predictions_path else None
    details = _details(str(files[0]), predictions, stamp)
    try:
        results = downloads.results_json(submission)
    except OSError as error:  # a results file that is not a regular file in the folder
        results = None
        st.text(f"results.json cannot be offered: {error}")
    if isinstance(details, str):
        st.text(f"No per-sample details: {details[:500]}")
    left, right = st.columns(2)
    left.download_button(
        "Download the per-sample details (Parquet)",
        data=details if isinstance(details, bytes) else b"",
        file_name=f"{submission.name}-details.parquet",
        mime="application/vnd.apache.parquet",
        disabled=not isinstance(details, bytes),
        key="download-details",
        help="one row per sample: input, reference, prediction, matches and scores "
        "(with images: chatgenbench export --images)",
    )
    right.download_button(
        "Download results.json",
        data=results or b"",
        file_name=f"{submission.name}-results.json",
        mime="application/json",
        disabled=results is None,
        key="download-results",
    )
