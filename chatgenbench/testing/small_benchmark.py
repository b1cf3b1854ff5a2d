"""A small benchmark folder for CPU rendering: the embedded sample with its reference arguments
shrunk (SYNTHETIC).

The sample's reference arguments ask for up to 1024-pixel images and 60 steps: fine on a GPU,
minutes per image on a shared CPU even with tiny random models. :func:`write_small_sample` writes
the sample's 12 records as a benchmark folder whose reference ``width``/``height`` and ``steps``
are shrunk, so that runs that give the method the reference arguments (``evaluate --oracle
arguments``, the Table 6 ablations) render in seconds. The folder is labelled synthetic: its
results never go on a leaderboard.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_small_sample(out_dir: str | os.PathLike, *, size: int = 64, steps: int = 3) -> Path:
    """Write the sample's records with reference size ``size`` and ``steps`` steps; return the
    folder (a benchmark source for every command)."""
    from chatgenbench.benchmark.catalog import sample_catalog
    from chatgenbench.benchmark.folder import write_benchmark_folder
    from chatgenbench.benchmark.loading import load_benchmark

    rows = load_benchmark("supervised", "sample").to_list()
    for row in rows:
        row["arguments"] = dict(row["arguments"], width=size, height=size, steps=steps)
    write_benchmark_folder(
        out_dir,
        {"supervised": rows},
        sample_catalog(),
        source=f"the embedded sample, reference arguments shrunk to {size} px and {steps} steps",
        synthetic=True,
    )
    return Path(out_dir)
