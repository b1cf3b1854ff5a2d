"""The ChatGenBench leaderboard: a store of submissions, a scoring queue, a ranking and a web page.

It is installed with the core package (``pip install -e .``); the web page also needs the
``leaderboard`` extra (``pip install -e '.[leaderboard]'``: streamlit and altair, and selenium for
the browser test). What lives where:

- :mod:`leaderboard.submissions`: the store, one folder per submission (the prediction file,
  ``meta.yaml``, ``results.json``), and the checks an untrusted upload passes before it is stored;
- :mod:`leaderboard.store_location`: where the store and its databases live (``--store``,
  ``$CHATGENBENCH_SUBMISSIONS``, default ``$CHATGENBENCH_HOME/submissions``), one resolver for all;
- :mod:`leaderboard.store_index`: the index that lets a page run list the store in a few stats
  per submission, checked against the files so that it never serves stale rows;
- :mod:`leaderboard.scoring_queue`: the SQLite job queue and the worker that scores a stored
  submission with :func:`chatgenbench.evaluate` (``chatgenbench queue``);
- :mod:`leaderboard.ranking`: one view of the ranking, in comparability groups, beside the
  paper's reported rows;
- :mod:`leaderboard.votes`: the pairwise user study (the paper's Figure 4): pairs drawn from the
  submissions' rendered images, the votes in SQLite and their summary (``chatgenbench votes``);
  :mod:`leaderboard.vote_tab` lays out its tab; :mod:`leaderboard.metric_agreement` says how far
  each image metric agrees with the votes (:mod:`leaderboard.agreement_tab` lays it out);
- ``app.py``: the Streamlit page (``chatgenbench leaderboard`` runs it; :func:`app_path`). It only
  lays out what the three modules above compute;
- ``data/paper_table4.json``: the paper's reported rows with their source, read by
  :func:`leaderboard.ranking.reported_table`.

The core package :mod:`chatgenbench` does not depend on this one: only its ``chatgenbench
leaderboard``, ``chatgenbench queue`` and ``chatgenbench votes`` commands import it, when they
run.
"""

from __future__ import annotations

from pathlib import Path


def app_path() -> Path:
    """Return the path of the leaderboard's Streamlit page, ``app.py`` inside this package.

    ``chatgenbench leaderboard`` passes it to ``streamlit run``; it is found wherever the package
    is installed, not only in a clone of the repository. Takes nothing and raises nothing.
    """
    return Path(__file__).resolve().parent / "app.py"
