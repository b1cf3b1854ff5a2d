"""What the leaderboard offers for download: a submission's details and results, a ranking view.

The page (:mod:`leaderboard.downloads_tab`) only places the buttons; the bytes come from here:

- :func:`details_parquet`: the submission's per-sample details
  (:func:`chatgenbench.analysis.details.export_details`, with its stored predictions, without the
  images) as one Parquet file; refused (:class:`chatgenbench.analysis.details.ExportError`) when
  the results, the predictions and the benchmark do not belong together;
- :func:`results_json`: the stored ``results.json``, byte for byte (bounded);
- :func:`ranking_json`: the ranking view shown, group by group, with the same columns as the CSV
  (:func:`leaderboard.ranking.ranking_csv`); cells as shown, ``null`` where a metric is missing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from leaderboard.ranking import Ranking, group_frame
from leaderboard.submissions import RESULTS_FILENAME, Submission

MAX_RESULTS_BYTES = 256 << 20


def results_json(submission: Submission) -> bytes:
    """Return the stored ``results.json`` of a submission (a regular file inside its folder)."""
    from chatgenbench.core.storage import read_regular_bytes

    return read_regular_bytes(
        submission.path / RESULTS_FILENAME, within=submission.path, max_bytes=MAX_RESULTS_BYTES
    )


def details_parquet(
    results_path: str | os.PathLike, predictions: str | os.PathLike | None
) -> bytes:
    """Return the per-sample details of a scored submission (its ``results.json`` and stored
    ``predictions``) as one Parquet file (no images).

    Raises :class:`chatgenbench.analysis.details.ExportError` for results that cannot be
    exported (not the predictions or benchmark they were scored on, a broken results file).
    """
    from chatgenbench.analysis.details import DATA_DIR, export_details

    with tempfile.TemporaryDirectory(prefix="chatgenbench-details-") as tmp:
        out = Path(tmp) / "details"
        report = export_details(
            results_path,
            out,
            predictions=predictions,
            rows_per_shard=10**9,
        )
        (shard,) = report.shards or [f"{DATA_DIR}/missing"]
        return (out / shard).read_bytes()


def ranking_json(ranking: Ranking) -> str:
    """Return a ranking view as JSON: its view, notes, and each group's rows as shown."""
    groups: list[dict[str, Any]] = []
    for group in ranking.groups:
        frame = group_frame(group)
        groups.append(
            {
                "label": group.label,
                "notes": list(group.notes),
                "rows": json.loads(frame.to_json(orient="records", force_ascii=False)),
            }
        )
    view = {
        "setting": ranking.setting,
        "input_type": ranking.input_type,
        "notes": list(ranking.notes),
        "groups": groups,
        "excluded": [{"submission": name, "why": why} for name, why in ranking.excluded],
    }
    return json.dumps(view, indent=1, ensure_ascii=False)
