"""Where the leaderboard's store and its databases live: one resolver for all of them.

The store is the folder of submissions (:mod:`leaderboard.submissions`); beside the submission
folders it holds hidden files that the leaderboard writes:

- ``.queue.sqlite3``: the scoring queue (:mod:`leaderboard.scoring_queue`);
- ``.votes.sqlite3``: the pairwise votes (:mod:`leaderboard.votes`);
- ``.index.sqlite3``: the index of the store (:mod:`leaderboard.store_index`), rebuilt from the
  folders whenever it is missing or out of date;
- ``.incoming/``: uploads being written.

Each place is resolved in this order (the first that is given wins):

============  ======================  ==============================  ===============================
what          flag                    environment                     default
============  ======================  ==============================  ===============================
store         ``--store DIR``         ``$CHATGENBENCH_SUBMISSIONS``   ``$CHATGENBENCH_HOME/submissions``
queue         ``--queue-db FILE``     ``$CHATGENBENCH_QUEUE_DB``      ``STORE/.queue.sqlite3``
votes         ``--votes-db FILE``     ``$CHATGENBENCH_VOTES_DB``      ``STORE/.votes.sqlite3``
============  ======================  ==============================  ===============================

``$CHATGENBENCH_HOME`` defaults to ``~/.cache/chatgenbench``
(:func:`chatgenbench.core.storage.chatgenbench_home`). Until 2026-12 the default store was
``./submissions`` of the folder the command ran in: ``chatgenbench leaderboard`` started anywhere
silently created a store (and two databases) there. Now the store is the same wherever a command
runs, and ``chatgenbench leaderboard`` and the page say which folder they use and how to change it
(:func:`StoreLocation.describe`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STORE_ENV = "CHATGENBENCH_SUBMISSIONS"
QUEUE_ENV = "CHATGENBENCH_QUEUE_DB"
VOTES_ENV = "CHATGENBENCH_VOTES_DB"
STORE_DIRNAME = "submissions"  # under $CHATGENBENCH_HOME
QUEUE_FILENAME = ".queue.sqlite3"
VOTES_FILENAME = ".votes.sqlite3"
INDEX_FILENAME = ".index.sqlite3"

#: What to do when the store holds no submission yet (the page and the command line say it).
EMPTY_STORE_HINT = (
    "The store holds no submission yet, so the ranking shows only the paper's reported rows. "
    "To add one: upload a prediction file on the Submit tab (it is checked at once and queued), "
    "then score the queue with `chatgenbench queue work` (add `--once` to stop when it is "
    "empty). A submission made elsewhere can be copied in as a folder (predictions.jsonl, "
    "meta.yaml) and queued with `chatgenbench queue add NAME`. A clone of the repository has two "
    "scored samples in ./submissions: `chatgenbench leaderboard --store submissions` shows them."
)


@dataclass(frozen=True)
class StoreLocation:
    """The store folder and its databases, each with where its path came from.

    ``*_from`` is ``"--store"`` (a flag), ``"$CHATGENBENCH_SUBMISSIONS"`` (the environment) or
    ``"default"``: how the user chose it, so that messages can say how to change it.
    """

    root: Path
    root_from: str
    queue_db: Path
    queue_from: str
    votes_db: Path
    votes_from: str

    @property
    def index_db(self) -> Path:
        """The store's index (:mod:`leaderboard.store_index`), always inside the store."""
        return self.root / INDEX_FILENAME

    def describe(self) -> list[str]:
        """Return lines that say which store and databases are used, and how to change them."""
        how = {
            "default": "the default under $CHATGENBENCH_HOME",
            "--store": "from --store",
            f"${STORE_ENV}": f"from ${STORE_ENV}",
        }
        lines = [f"store: {self.root} ({how.get(self.root_from, 'from ' + self.root_from)})"]
        for label, path, source in (
            ("queue", self.queue_db, self.queue_from),
            ("votes", self.votes_db, self.votes_from),
        ):
            where = "inside the store" if source == "default" else f"from {source}"
            lines.append(f"{label}: {path} ({where})")
        lines.append(
            f"change it with --store DIR or ${STORE_ENV}=DIR (queue: --queue-db or ${QUEUE_ENV}; "
            f"votes: ${VOTES_ENV}); see docs/store.md"
        )
        return lines


def default_store_dir() -> Path:
    """Return the store used when none is named: ``$CHATGENBENCH_HOME/submissions``."""
    from chatgenbench.core.storage import chatgenbench_home

    return chatgenbench_home() / STORE_DIRNAME


def _absolute(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().absolute()


def resolve_store(
    store: str | os.PathLike | None = None,
    *,
    queue_db: str | os.PathLike | None = None,
    votes_db: str | os.PathLike | None = None,
) -> StoreLocation:
    """Resolve the store and its databases from flags (these arguments), the environment and
    the defaults, in that order (see the module docstring). Paths are made absolute, so a message
    names the folder whatever the working directory. Creates nothing and raises nothing."""
    if store:
        root, root_from = _absolute(store), "--store"
    elif os.environ.get(STORE_ENV):
        root, root_from = _absolute(os.environ[STORE_ENV]), f"${STORE_ENV}"
    else:
        root, root_from = _absolute(default_store_dir()), "default"
    return StoreLocation(
        root,
        root_from,
        *_database(root, queue_db, "--queue-db", QUEUE_ENV, QUEUE_FILENAME),
        *_database(root, votes_db, "--votes-db", VOTES_ENV, VOTES_FILENAME),
    )


def _database(
    root: Path, given: str | os.PathLike | None, flag: str, env: str, filename: str
) -> tuple[Path, str]:
    if given:
        return _absolute(given), flag
    if os.environ.get(env):
        return _absolute(os.environ[env]), f"${env}"
    return root / filename, "default"


def database_path(store_root: str | os.PathLike, env: str, filename: str) -> Path:
    """Return ``$ENV`` or ``<store_root>/FILENAME``: a database of a store already resolved."""
    return Path(os.environ.get(env) or Path(store_root) / filename)
