"""The blind pairwise user study (the paper's Figure 4): pairs to vote on, the votes, their summary.

**Pairs.** A pair is one benchmark sample and two submissions that both have a rendered image for
it (:meth:`leaderboard.submissions.SubmissionStore.rendered_images`), with valid metadata naming
the same benchmark and setting. :func:`candidate_pairs` lists them all, in a fixed order;
:func:`draw_pair` picks one for a voter with a seed (``$CHATGENBENCH_VOTE_SEED``, default 0): the
same seed, voter and round give the same pair and the same sides, and a pair the voter has
answered both questions of is not drawn again. Which submission is shown on the left is drawn too.

**Votes.** Each vote answers one of :data:`QUESTIONS` (image quality; relevance to the input) with
``a``, ``tie`` or ``b`` about a pair, whose two submissions are stored in sorted order (``a``
sorts first) together with the side each was shown on. Votes live in SQLite (WAL;
``$CHATGENBENCH_VOTES_DB``, default ``<store>/.votes.sqlite3``). Rules, enforced by
:meth:`VoteStore.cast`:

- one vote per voter, pair and question counts: **a second vote replaces the first** (the voter
  changed their mind; the row keeps its id, the answer and time are the new ones);
- :meth:`VoteStore.undo_last` deletes the voter's most recent vote (a replaced answer is not
  restored: the pair is simply unanswered again);
- a voter may cast at most :data:`DEFAULT_RATE_LIMIT` votes per :data:`DEFAULT_RATE_WINDOW`
  seconds (``$CHATGENBENCH_VOTE_RATE``, e.g. ``30/60``); a vote over the limit is refused and not
  stored;
- a vote cast less than :data:`DEFAULT_MIN_SECONDS` seconds (``$CHATGENBENCH_VOTE_MIN_SECONDS``)
  after its pair was shown is stored with ``flag = 'too_fast'`` and not counted.

The voter id is anonymous: a random id the page makes for each browser session (a new tab or a
reload is a new voter), unless the deployment file switches sign-in on: then it is a digest of
the signed-in identity and the rate limit is the deployment's ``votes_per_minute``
(:class:`leaderboard.actions.GuardedVotes`). The time a pair was shown is taken on the server,
never from the browser.

**Summary.** :func:`summarize` counts the unflagged votes per benchmark, setting and question:
per pair of methods win / tie / loss with bootstrap intervals, and Bradley-Terry strengths
across all methods (:mod:`chatgenbench.analysis.pairwise`). :func:`export_parquet` writes every vote
(flagged ones too, with their flag) as a Parquet file that ``datasets.load_dataset("parquet")``
reads. A stored row that is not a vote (wrong types, an unknown answer, NULLs: a database edited
or written by another tool) never stops either: it is skipped and counted (:meth:`VoteStore.read`,
``skipped_rows`` in ``chatgenbench votes summary --json``).

**Pairs are checked where votes are recorded.** :meth:`VoteStore.cast` refuses a pair that does
not name two distinct existing submissions of the same benchmark and setting, both with an image
of the sample (:func:`pair_problem`), and stores every pair in sorted order, flipping the answer
and side of one given as (B, A), so a voter's second answer replaces the first either way round.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatgenbench.analysis.pairwise import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    OUTCOMES,
    PairVote,
    PairwiseError,
    bradley_terry,
    tally_pairs,
)
from chatgenbench.analysis.rank_bands import band_text
from chatgenbench.core.errors import ChatGenBenchError
from chatgenbench.core.random_weights import (
    DEMO_WEIGHTS_LABEL,
    demo_weights_warning,
    random_weights_of,
)
from leaderboard import sqlite_store
from leaderboard.store_location import VOTES_ENV, VOTES_FILENAME, database_path
from leaderboard.submissions import SubmissionStore
from leaderboard.wording import plural

VOTES_WHAT = "votes database"  # how errors name the file
SEED_ENV = "CHATGENBENCH_VOTE_SEED"
MIN_SECONDS_ENV = "CHATGENBENCH_VOTE_MIN_SECONDS"
RATE_ENV = "CHATGENBENCH_VOTE_RATE"
#: The two questions of the study, with the text the page asks.
QUESTIONS: dict[str, str] = {
    "quality": "Which image has the better quality?",
    "relevance": "Which image fits the input better?",
}
#: A vote faster than this (seconds from the pair being shown) is stored flagged, not counted.
DEFAULT_MIN_SECONDS = 1.5
#: At most this many votes per voter in :data:`DEFAULT_RATE_WINDOW` seconds.
DEFAULT_RATE_LIMIT = 30
DEFAULT_RATE_WINDOW = 60.0
FLAG_TOO_FAST = "too_fast"
VOTER_MAX_CHARS = 64
_FLIP = {"a": "b", "b": "a", "tie": "tie"}


def shown_text(value: Any) -> str:
    """Return a short repr of a stored or submitted value for a message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    voter TEXT NOT NULL,
    benchmark TEXT NOT NULL,
    setting TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    submission_a TEXT NOT NULL,
    submission_b TEXT NOT NULL,
    method_a TEXT NOT NULL,
    method_b TEXT NOT NULL,
    question TEXT NOT NULL CHECK (question IN ('quality', 'relevance')),
    answer TEXT NOT NULL CHECK (answer IN ('a', 'tie', 'b')),
    left_side TEXT NOT NULL CHECK (left_side IN ('a', 'b')),
    shown_at REAL NOT NULL,
    cast_at REAL NOT NULL,
    seconds REAL NOT NULL,
    flag TEXT,
    seq INTEGER NOT NULL,
    UNIQUE (voter, benchmark, setting, sample_id, submission_a, submission_b, question)
);
CREATE INDEX IF NOT EXISTS votes_voter ON votes (voter, seq);
CREATE TABLE IF NOT EXISTS casts (voter TEXT NOT NULL, cast_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS casts_voter ON casts (voter, cast_at);
"""


class VoteError(ChatGenBenchError, ValueError):
    """A vote that cannot be stored: a bad question or answer, or a voter over the rate limit."""


def default_votes_path(store_root: str | os.PathLike) -> Path:
    """Return ``$CHATGENBENCH_VOTES_DB`` or ``<store_root>/.votes.sqlite3``."""
    return database_path(store_root, VOTES_ENV, VOTES_FILENAME)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise VoteError(f"${name}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise VoteError(f"${name} must not be negative, got {value}")
    return value


def default_rate() -> tuple[int, float]:
    """Return ``(votes, seconds)``: ``$CHATGENBENCH_VOTE_RATE`` (``N/SECONDS``) or 30 per 60 s."""
    raw = os.environ.get(RATE_ENV)
    if not raw:
        return DEFAULT_RATE_LIMIT, DEFAULT_RATE_WINDOW
    count, _, window = raw.partition("/")
    try:
        limit, seconds = int(count), float(window or DEFAULT_RATE_WINDOW)
    except ValueError:
        raise VoteError(f"${RATE_ENV}={raw!r}: expected VOTES/SECONDS, e.g. 30/60") from None
    if limit <= 0 or seconds <= 0:
        raise VoteError(f"${RATE_ENV}={raw!r}: both numbers must be positive")
    return limit, seconds


def default_seed() -> int:
    """Return the pair-drawing seed: ``$CHATGENBENCH_VOTE_SEED`` or 0."""
    raw = os.environ.get(SEED_ENV)
    try:
        return int(raw) if raw else DEFAULT_SEED
    except ValueError:
        raise VoteError(f"${SEED_ENV}={raw!r} is not an integer") from None


# -- pairs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One sample of one benchmark and setting, and two submissions (``submission_a`` sorts first)."""

    benchmark: str
    setting: str
    sample_id: str
    submission_a: str
    submission_b: str

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """The pair as a tuple, for sets and dict keys."""
        return (self.benchmark, self.setting, self.sample_id, self.submission_a, self.submission_b)

    @property
    def reversed(self) -> bool:
        """Whether the two submissions are out of order (``submission_b`` sorts first)."""
        return self.submission_b < self.submission_a

    def normalised(self) -> Pair:
        """Return the same unordered pair with its submissions in sorted order."""
        if not self.reversed:
            return self
        return Pair(
            self.benchmark, self.setting, self.sample_id, self.submission_b, self.submission_a
        )


@dataclass(frozen=True)
class Shown:
    """A pair as shown to a voter: which submission is on the left (``a`` or ``b``)."""

    pair: Pair
    left_side: str

    @property
    def left(self) -> str:
        """The submission shown on the left."""
        return self.pair.submission_a if self.left_side == "a" else self.pair.submission_b

    @property
    def right(self) -> str:
        """The submission shown on the right."""
        return self.pair.submission_b if self.left_side == "a" else self.pair.submission_a

    def answer_for(self, side: str) -> str:
        """Return the stored answer (``a``, ``tie``, ``b``) for a click on ``left``/``tie``/``right``."""
        if side == "tie":
            return "tie"
        if side not in ("left", "right"):
            raise VoteError(f"side {side!r}: expected left, tie or right")
        on_left = side == "left"
        return self.left_side if on_left else ("b" if self.left_side == "a" else "a")


#: What made a submission's images: real weights, or the random demo weights of
#: ``chatgenbench weights demo``. Submissions of the two kinds are never paired, and their votes
#: are summarised apart, so demo images are never ranked beside real ones.
REAL_WEIGHTS = "real weights"
DEMO_WEIGHTS = DEMO_WEIGHTS_LABEL


def images_made_with(submission) -> str:
    """Return :data:`DEMO_WEIGHTS` when the submission's results say its images came from random
    demo weights (``results["random_weights"]["render_models"]``), else :data:`REAL_WEIGHTS`."""
    made_with_demo = random_weights_of(submission.results).get("render_models")
    return DEMO_WEIGHTS if made_with_demo else REAL_WEIGHTS


def submission_weights(store: SubmissionStore) -> dict[str, str]:
    """Return ``{submission name: what made its images}`` for every submission of ``store``."""
    return {submission.name: images_made_with(submission) for submission in store.submissions()}


def candidate_pairs(store: SubmissionStore) -> list[Pair]:
    """Return every pair that can be voted on, sorted.

    Two submissions make a pair for a sample when both have valid metadata with the same
    benchmark and setting, both have a rendered image of the sample, and both images were made
    with the same kind of weights (real, or random demo weights: :func:`images_made_with`).
    """
    by_group: dict[tuple[str, str, str], list[tuple[str, set[str]]]] = {}
    for submission in store.submissions():
        if submission.meta is None:
            continue
        images = store.rendered_images(submission.name)
        if images:
            group = (
                submission.meta.benchmark,
                submission.meta.setting,
                images_made_with(submission),
            )
            by_group.setdefault(group, []).append((submission.name, set(images)))
    pairs = []
    for (benchmark, setting, _), members in sorted(by_group.items()):
        members.sort()
        for i, (name_a, ids_a) in enumerate(members):
            for name_b, ids_b in members[i + 1 :]:
                for sample_id in sorted(ids_a & ids_b):
                    pairs.append(Pair(benchmark, setting, sample_id, name_a, name_b))
    return pairs


def pair_problem(store: SubmissionStore, pair: Pair) -> str | None:
    """Return why ``pair`` cannot be voted on (None: it can).

    A pair names two distinct submissions that exist in ``store`` with valid metadata naming the
    pair's benchmark and setting, that both have a rendered image of the pair's sample, and whose
    images were made with the same kind of weights: what :func:`candidate_pairs` draws from,
    checked again where a vote is recorded.
    """
    if pair.submission_a == pair.submission_b:
        return f"a pair names two distinct submissions, got {pair.submission_a[:80]!r} twice"
    names = set(store.names())
    kinds = set()
    for name in (pair.submission_a, pair.submission_b):
        if name not in names:
            return f"no submission {name[:80]!r} in the store"
        submission = store.load(name)
        meta = submission.meta
        if meta is None:
            return f"submission {name!r} has no valid metadata"
        if (meta.benchmark, meta.setting) != (pair.benchmark, pair.setting):
            return (
                f"submission {name!r} is of benchmark {meta.benchmark!r}, setting "
                f"{meta.setting!r}, not {pair.benchmark[:80]!r}, {pair.setting[:80]!r}"
            )
        if pair.sample_id not in store.rendered_images(name):
            return f"submission {name!r} has no image of sample {pair.sample_id[:80]!r}"
        kinds.add(images_made_with(submission))
    if len(kinds) > 1:
        return "one submission's images come from random demo weights and the other's do not"
    return None


def draw_pair(
    pairs: list[Pair], *, seed: int, voter: str, round: int, exclude: set | None = None
) -> Shown | None:
    """Pick a pair for ``voter``'s ``round``-th draw, and its sides; None when none is left.

    Deterministic: the same ``pairs``, ``seed``, ``voter``, ``round`` and ``exclude`` (pair keys
    already answered) give the same result.
    """
    exclude = exclude or set()
    left = [pair for pair in pairs if pair.key not in exclude]
    if not left:
        return None
    rng = random.Random(f"{seed}:{voter}:{round}")
    pair = left[rng.randrange(len(left))]
    return Shown(pair, "a" if rng.random() < 0.5 else "b")


def chat_turns(row: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the user's chat input of a benchmark row as ``(role, text)`` turns, in order.

    Every history turn, then the freestyle request unless it is already the last turn.
    """
    turns = [
        (str(turn.get("role") or "user"), str(turn["content"]))
        for turn in row.get("history") or []
        if turn.get("content")
    ]
    last = str(row.get("freestyle_input") or "").strip()
    if last and (not turns or turns[-1][1].strip() != last):
        turns.append(("user", last))
    return turns


class SampleInputs:
    """The benchmark rows behind the pairs, loaded once per benchmark and setting."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str], tuple[Any, dict[str, int]]] = {}

    def row(self, benchmark: str, setting: str, sample_id: str) -> dict[str, Any] | None:
        """Return the row of ``sample_id`` (None when the benchmark has no such sample)."""
        key = (benchmark, setting)
        if key not in self._loaded:
            from chatgenbench.benchmark.loading import load_benchmark

            dataset = load_benchmark(setting, benchmark)
            self._loaded[key] = (dataset, {i: n for n, i in enumerate(dataset["id"])})
        dataset, index = self._loaded[key]
        number = index.get(sample_id)
        return None if number is None else dataset[number]


# -- votes -----------------------------------------------------------------------------------------


@dataclass
class Vote:
    """One stored vote (a row of the ``votes`` table)."""

    id: int
    voter: str
    benchmark: str
    setting: str
    sample_id: str
    submission_a: str
    submission_b: str
    method_a: str
    method_b: str
    question: str
    answer: str
    left_side: str
    shown_at: float
    cast_at: float
    seconds: float
    flag: str | None
    seq: int

    @property
    def pair(self) -> Pair:
        """The pair this vote is about."""
        return Pair(
            self.benchmark, self.setting, self.sample_id, self.submission_a, self.submission_b
        )

    @property
    def counted(self) -> bool:
        """Whether the vote counts (it is not flagged)."""
        return self.flag is None

    def to_dict(self) -> dict[str, Any]:
        """Return the vote as a JSON-ready dict, with ISO times beside the Unix ones."""
        data = asdict(self)
        data["cast_time"] = datetime.fromtimestamp(self.cast_at, UTC).isoformat(timespec="seconds")
        return data


_TEXT_FIELDS = (
    "voter", "benchmark", "setting", "sample_id", "submission_a", "submission_b", "method_a",
    "method_b",
)  # fmt: skip
_TIME_FIELDS = ("shown_at", "cast_at", "seconds")


class VoteRowError(ValueError):
    """A stored row that is not a vote (wrong types, unknown answers, NULLs): skipped, counted."""


def vote_from_row(row: dict[str, Any]) -> Vote:
    """Return the :class:`Vote` of a stored row, with its pair in sorted order (a row stored as
    (B, A) has its answer, left side and methods flipped to keep their meaning).

    Raises :class:`VoteRowError` naming the row and field when a value has the wrong type, is
    NULL, or is not one of the allowed answers, questions or sides.
    """
    where = f"row {shown_text(row.get('id'))}"
    if type(row.get("id")) is not int or type(row.get("seq")) is not int:
        raise VoteRowError(
            f"{where}: id and seq must be integers, got {shown_text(row.get('seq'))}"
        )
    for name in _TEXT_FIELDS:
        if not isinstance(row.get(name), str) or not row[name]:
            raise VoteRowError(f"{where}: {name} {shown_text(row.get(name))}, expected text")
    for name in _TIME_FIELDS:
        value = row.get(name)
        if type(value) not in (int, float) or not math.isfinite(value):
            raise VoteRowError(f"{where}: {name} {shown_text(value)}, expected a number")
    for name, allowed in (("question", QUESTIONS), ("answer", OUTCOMES), ("left_side", "ab")):
        if not isinstance(row.get(name), str) or row[name] not in allowed:
            raise VoteRowError(
                f"{where}: {name} {shown_text(row.get(name))}, expected one of {', '.join(allowed)}"
            )
    if row.get("flag") is not None and not isinstance(row["flag"], str):
        raise VoteRowError(f"{where}: flag {shown_text(row['flag'])}, expected text or NULL")
    if row["submission_a"] == row["submission_b"]:
        raise VoteRowError(f"{where}: both sides are submission {shown_text(row['submission_a'])}")
    vote = Vote(**{name: row[name] for name in Vote.__dataclass_fields__})
    if vote.pair.reversed:
        vote.submission_a, vote.submission_b = vote.submission_b, vote.submission_a
        vote.method_a, vote.method_b = vote.method_b, vote.method_a
        vote.answer, vote.left_side = _FLIP[vote.answer], _FLIP[vote.left_side]
    return vote


@dataclass
class StoredVotes:
    """The rows of the votes table: those that are votes, and why each other one was skipped."""

    votes: list[Vote]
    skipped: list[str] = field(default_factory=list)


@dataclass
class CastResult:
    """What :meth:`VoteStore.cast` did: the stored vote, and whether it replaced an earlier one."""

    vote: Vote
    replaced: bool

    @property
    def flagged(self) -> bool:
        """Whether the vote was stored flagged (not counted)."""
        return self.vote.flag is not None


class VoteStore:
    """The votes database. Every method opens its own connection, so it is thread-safe.

    ``min_seconds``, ``rate_limit`` and ``rate_window`` default to the environment (see the module
    docstring). ``submissions``: the store every cast vote is checked against
    (:func:`pair_problem`); a VoteStore without one reads votes but refuses to record any.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        min_seconds: float | None = None,
        rate_limit: int | None = None,
        rate_window: float | None = None,
        submissions: SubmissionStore | None = None,
    ) -> None:
        self.path = Path(path)
        self.submissions = submissions
        limit, window = default_rate()
        self.min_seconds = (
            _env_float(MIN_SECONDS_ENV, DEFAULT_MIN_SECONDS) if min_seconds is None else min_seconds
        )
        self.rate_limit = limit if rate_limit is None else rate_limit
        self.rate_window = window if rate_window is None else rate_window
        # a broken file (not SQLite, truncated, a folder, a wrong schema) is a DatabaseFileError
        sqlite_store.initialise(self.path, _SCHEMA, what=VOTES_WHAT)

    def _connect(self, *, write: bool = False):
        return sqlite_store.connect(self.path, write=write, what=VOTES_WHAT)

    def cast(
        self,
        voter: str,
        shown: Shown,
        question: str,
        answer: str,
        *,
        shown_at: float,
        methods: tuple[str, str] | None = None,
        now: float | None = None,
    ) -> CastResult:
        """Store ``voter``'s ``answer`` (``a``, ``tie``, ``b``) to ``question`` about ``shown``.

        ``shown_at``: when the pair was shown (server time); a vote sooner than ``min_seconds``
        after it is stored flagged ``too_fast``. ``methods``: the display names of submission
        ``a`` and ``b`` (default: their names). The pair is unordered: one given as (B, A) is
        stored as (A, B) with the answer, the side shown on the left and the methods flipped to
        keep their meaning, so a second vote of the voter on the same pair and question replaces
        the first whichever way round it was shown. Raises :class:`VoteError` for a bad question,
        answer or voter id, a pair that cannot be voted on (:func:`pair_problem` against
        ``submissions``), or when the voter is over the rate limit (nothing is stored then).
        """
        if not isinstance(question, str) or not isinstance(answer, str):
            raise VoteError(
                f"question and answer must be text, got {shown_text((question, answer))}"
            )
        if not isinstance(voter, str):
            raise VoteError(f"voter id must be text, got {shown_text(voter)}")
        if type(shown_at) not in (int, float) or not math.isfinite(shown_at):
            raise VoteError(f"shown_at {shown_text(shown_at)}: expected a finite time in seconds")
        if question not in QUESTIONS:
            raise VoteError(f"question {question!r}: expected one of {', '.join(QUESTIONS)}")
        if answer not in OUTCOMES:
            raise VoteError(f"answer {answer!r}: expected one of {', '.join(OUTCOMES)}")
        if not voter or len(voter) > VOTER_MAX_CHARS:
            raise VoteError(f"voter id must be 1 to {VOTER_MAX_CHARS} characters")
        if shown.left_side not in ("a", "b"):
            raise VoteError(f"left side {shown.left_side!r}: expected a or b")
        self._check_pair(shown.pair)
        now = time.time() if now is None else now
        seconds = max(0.0, now - shown_at)
        flag = FLAG_TOO_FAST if seconds < self.min_seconds else None
        method_a, method_b = methods or (shown.pair.submission_a, shown.pair.submission_b)
        if shown.pair.reversed:  # store (A, B): "a" about (B, A) is "b" about (A, B)
            answer, method_a, method_b = _FLIP[answer], method_b, method_a
            shown = Shown(shown.pair.normalised(), _FLIP[shown.left_side])
        pair = shown.pair
        with self._connect(write=True) as db:
            recent = db.execute(
                "SELECT COUNT(*) FROM casts WHERE voter = ? AND cast_at > ?",
                (voter, now - self.rate_window),
            ).fetchone()[0]
            if recent >= self.rate_limit:
                raise VoteError(
                    f"too many votes: at most {self.rate_limit} every {self.rate_window:g} s",
                    how_to_fix="wait a little before voting again",
                )
            db.execute("DELETE FROM casts WHERE cast_at <= ?", (now - self.rate_window,))
            db.execute("INSERT INTO casts (voter, cast_at) VALUES (?, ?)", (voter, now))
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM votes WHERE voter = ?", (voter,)
            ).fetchone()[0]
            existing = db.execute(
                "SELECT id FROM votes WHERE voter = ? AND benchmark = ? AND setting = ? AND "
                "sample_id = ? AND submission_a = ? AND submission_b = ? AND question = ?",
                (voter, *pair.key, question),
            ).fetchone()
            values = (
                method_a,
                method_b,
                answer,
                shown.left_side,
                shown_at,
                now,
                seconds,
                flag,
                seq,
            )
            if existing is not None:
                db.execute(
                    "UPDATE votes SET method_a = ?, method_b = ?, answer = ?, left_side = ?, "
                    "shown_at = ?, cast_at = ?, seconds = ?, flag = ?, seq = ? WHERE id = ?",
                    (*values, existing["id"]),
                )
                vote_id = existing["id"]
            else:
                vote_id = db.execute(
                    "INSERT INTO votes (voter, benchmark, setting, sample_id, submission_a, "
                    "submission_b, question, method_a, method_b, answer, left_side, shown_at, "
                    "cast_at, seconds, flag, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?)",
                    (voter, *pair.key, question, *values),
                ).lastrowid
            row = db.execute("SELECT * FROM votes WHERE id = ?", (vote_id,)).fetchone()
        return CastResult(Vote(**dict(row)), replaced=existing is not None)

    def _check_pair(self, pair: Pair) -> None:
        if self.submissions is None:
            raise VoteError(
                "this vote store was opened without the submissions store to check votes against",
                how_to_fix="open it as VoteStore(path, submissions=SubmissionStore(root))",
            )
        for name, value in zip(("benchmark", "setting", "sample_id"), pair.key):
            if not isinstance(value, str) or not value:
                raise VoteError(f"{name} {shown_text(value)}: expected a non-empty string")
        for value in (pair.submission_a, pair.submission_b):
            if not isinstance(value, str) or not value:
                raise VoteError(f"submission {shown_text(value)}: expected a submission name")
        problem = pair_problem(self.submissions, pair)
        if problem:
            raise VoteError(f"this pair cannot be voted on: {problem}")

    def undo_last(self, voter: str) -> Vote | None:
        """Delete ``voter``'s most recent vote and return it (None when they have none)."""
        with self._connect(write=True) as db:
            row = db.execute(
                "SELECT * FROM votes WHERE voter = ? ORDER BY seq DESC LIMIT 1", (voter,)
            ).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM votes WHERE id = ?", (row["id"],))
        return Vote(**dict(row))

    def votes(self, *, voter: str | None = None, counted_only: bool = False) -> list[Vote]:
        """Return the stored votes in the order they were stored (optionally one voter's, or only
        the counted ones); rows that are not votes are left out (:meth:`read` says which)."""
        return self.read(voter=voter, counted_only=counted_only).votes

    def read(self, *, voter: str | None = None, counted_only: bool = False) -> StoredVotes:
        """Return the stored votes (as :meth:`votes`) and why each malformed row was skipped
        (:func:`vote_from_row`): one bad row never stops a summary or an export."""
        query, params, where = "SELECT * FROM votes", [], []
        if voter is not None:
            where.append("voter = ?")
            params.append(voter)
        if counted_only:
            where.append("flag IS NULL")
        if where:
            query += " WHERE " + " AND ".join(where)
        found = StoredVotes([])
        with self._connect() as db:
            for row in db.execute(query + " ORDER BY id", params):
                try:
                    found.votes.append(vote_from_row(dict(row)))
                except VoteRowError as error:
                    found.skipped.append(str(error))
        return found

    def answers(self, voter: str, pair: Pair) -> dict[str, Vote]:
        """Return ``{question: vote}`` of ``voter`` on ``pair`` (either order)."""
        pair = pair.normalised()
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM votes WHERE voter = ? AND benchmark = ? AND setting = ? AND "
                "sample_id = ? AND submission_a = ? AND submission_b = ?",
                (voter, *pair.key),
            ).fetchall()
        found = {}
        for row in rows:
            try:
                found[row["question"]] = vote_from_row(dict(row))
            except VoteRowError:  # a malformed row answers nothing: the voter may vote again
                continue
        return found

    def answered_pairs(self, voter: str) -> set[tuple[str, str, str, str, str]]:
        """Return the keys of the pairs ``voter`` has answered every question of."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT benchmark, setting, sample_id, submission_a, submission_b FROM votes "
                "WHERE voter = ? GROUP BY 1, 2, 3, 4, 5 HAVING COUNT(DISTINCT question) = ?",
                (voter, len(QUESTIONS)),
            ).fetchall()
        return {tuple(row) for row in rows}

    def version(self) -> tuple:
        """Return a value that changes whenever a vote is stored, replaced or undone."""
        with self._connect() as db:
            return tuple(
                db.execute(
                    "SELECT COUNT(*), COUNT(flag), MAX(id), MAX(cast_at), SUM(seq), "
                    "SUM(id * (CASE answer WHEN 'a' THEN 1 WHEN 'tie' THEN 2 ELSE 3 END)) "
                    "FROM votes"
                ).fetchone()
            )

    def counts(self) -> dict[str, int]:
        """Return ``{"votes", "counted", "flagged", "voters"}``."""
        with self._connect() as db:
            row = db.execute(
                "SELECT COUNT(*), COUNT(*) - COUNT(flag), COUNT(flag), COUNT(DISTINCT voter) "
                "FROM votes"
            ).fetchone()
        return dict(zip(("votes", "counted", "flagged", "voters"), row))


# -- summary ---------------------------------------------------------------------------------------


@dataclass
class QuestionSummary:
    """The counted votes of one benchmark, setting and question, summarised."""

    benchmark: str
    setting: str
    question: str
    n_votes: int
    n_flagged: int
    tallies: list[dict[str, Any]] = field(default_factory=list)
    bradley_terry: dict[str, Any] | None = None
    bradley_terry_not_computed: str | None = None
    weights: str = REAL_WEIGHTS  # what made the images voted on (demo ones are summarised apart)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict."""
        return asdict(self)


def _labels(votes: list[Vote]) -> dict[str, str]:
    """Return submission -> display name (the method name it was last voted under)."""
    labels: dict[str, str] = {}
    for vote in votes:
        labels[vote.submission_a] = vote.method_a
        labels[vote.submission_b] = vote.method_b
    # two submissions of one method name stay apart
    seen: dict[str, list[str]] = {}
    for name, label in labels.items():
        seen.setdefault(label, []).append(name)
    return {
        name: label if len(seen[label]) == 1 else f"{label} [{name}]"
        for name, label in labels.items()
    }


def _latest_answers(votes: list[Vote]) -> list[Vote]:
    """Keep one vote per voter, unordered pair and question: the last cast (rows stored before
    pairs were normalised may hold both (A, B) and (B, A))."""
    latest: dict[tuple, Vote] = {}
    for vote in votes:
        key = (vote.voter, vote.pair.normalised().key, vote.question)
        if key not in latest or (vote.cast_at, vote.id) >= (latest[key].cast_at, latest[key].id):
            latest[key] = vote
    return sorted(latest.values(), key=lambda vote: vote.id)


def summarize(
    votes: list[Vote],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = DEFAULT_SEED,
    weights: dict[str, str] | None = None,
) -> list[QuestionSummary]:
    """Summarise ``votes`` per benchmark, setting and question (flagged votes are not counted).

    ``weights`` (:func:`submission_weights`) says which submissions' images came from random
    demo weights; their votes get summaries of their own, labelled (``QuestionSummary.weights``).

    Each summary has per pair of methods win / tie / loss counts and rates with seeded bootstrap
    intervals (``method_a``'s wins are outcome ``a``), and Bradley-Terry strengths across all
    methods, or the reason they were not computed.
    """
    votes = _latest_answers(votes)
    labels = _labels(votes)
    made_with = weights or {}
    groups: dict[tuple[str, str, str, str], list[Vote]] = {}
    for vote in votes:
        kind = made_with.get(vote.submission_a, REAL_WEIGHTS)
        groups.setdefault((vote.benchmark, vote.setting, kind, vote.question), []).append(vote)
    order = {question: i for i, question in enumerate(QUESTIONS)}
    summaries = []
    for (benchmark, setting, kind, question), members in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2], order[item[0][3]])
    ):
        counted = [
            PairVote(labels[v.submission_a], labels[v.submission_b], v.answer)
            for v in members
            if v.counted
        ]
        summary = QuestionSummary(
            benchmark, setting, question, len(counted), len(members) - len(counted), weights=kind
        )
        options = {"resamples": resamples, "level": level, "seed": seed}
        summary.tallies = [tally.to_dict() for tally in tally_pairs(counted, **options)]
        if not counted:
            summary.bradley_terry_not_computed = "no counted votes"
        else:
            try:
                summary.bradley_terry = bradley_terry(counted, **options).to_dict()
            except PairwiseError as error:
                summary.bradley_terry_not_computed = str(error)
        summaries.append(summary)
    return summaries


def skipped_line(skipped: list[str]) -> str:
    """Return the line that says how many stored rows were skipped as malformed, and the first."""
    return (
        f"{plural(len(skipped), 'malformed vote row')} skipped (not counted), e.g. {skipped[0]}"
        if skipped
        else ""
    )


def format_summary(summaries: list[QuestionSummary], skipped: list[str] | None = None) -> str:
    """Return the summaries as plain text tables (what ``chatgenbench votes summary`` prints),
    after a line on the ``skipped`` malformed rows, if any."""
    lines: list[str] = [skipped_line(skipped)] if skipped else []
    if not summaries:
        return "\n".join([*lines, "no votes yet"])
    for summary in summaries:
        demo = (
            f" · {DEMO_WEIGHTS} (not comparable with real weights)"
            if summary.weights == DEMO_WEIGHTS
            else ""
        )
        lines.append(
            f"{summary.benchmark} · {summary.setting}{demo} · {summary.question}: "
            f"{plural(summary.n_votes, 'counted vote')}, {summary.n_flagged} flagged (not counted)"
        )
        if demo:
            lines.append(f"  {demo_weights_warning()}")
        for tally in summary.tallies:
            rates, ci = tally["rates"], tally["intervals"]
            parts = []
            for key, what in (("a", "A wins"), ("tie", "tie"), ("b", "B wins")):
                interval = ci[key]
                span = f" [{interval['low']:.1%}, {interval['high']:.1%}]" if interval else ""
                parts.append(f"{what} {tally['counts'][key]} ({rates[key]:.1%}{span})")
            lines.append(
                f"  A = {tally['method_a']} vs B = {tally['method_b']}: " + ", ".join(parts)
            )
        if summary.bradley_terry is not None:
            level = summary.bradley_terry["bootstrap"]["level"]
            lines.append(
                f"  Bradley-Terry (rating, {level:.0%} interval; rank = 1 + methods whose "
                "interval lies wholly above):"
            )
            for row in summary.bradley_terry["rows"]:
                span = (
                    f" [{row['rating_low']:.0f}, {row['rating_high']:.0f}]"
                    if row["rating_low"] is not None
                    else ""
                )
                rank = band_text(row["rank"], row.get("rank_upper"))
                lines.append(f"    {rank}. {row['method']}: {row['rating']:.0f}{span}")
        else:
            lines.append(f"  Bradley-Terry: not computed ({summary.bradley_terry_not_computed})")
    return "\n".join(lines)


#: The columns of the Parquet export, in order, with their meaning.
EXPORT_COLUMNS: dict[str, str] = {
    "id": "the vote's number in the database",
    "voter": "anonymous voter id (one per browser session)",
    "benchmark": "benchmark source of both submissions",
    "setting": "supervised, few_shot or all",
    "sample_id": "the benchmark sample both images were rendered for",
    "submission_a": "the submission that sorts first",
    "submission_b": "the other submission",
    "method_a": "display name of submission_a when the vote was cast",
    "method_b": "display name of submission_b",
    "question": "quality or relevance",
    "answer": "a, tie or b",
    "left_side": "which of a and b was shown on the left",
    "shown_at": "Unix time the pair was shown (server clock)",
    "cast_at": "Unix time the vote was cast",
    "cast_time": "cast_at as ISO 8601, UTC",
    "seconds": "cast_at - shown_at",
    "flag": "null for a counted vote; too_fast when cast under the threshold",
    "seq": "the voter's vote counter (undo removes the highest)",
}


def export_parquet(votes: list[Vote], path: str | os.PathLike) -> Path:
    """Write ``votes`` (every one, flagged included) to a Parquet file; return its path.

    Columns: :data:`EXPORT_COLUMNS`. Written to a temporary name and renamed, so a crash leaves
    no half-written file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [vote.to_dict() for vote in votes]
    types = {
        "id": pa.int64(),
        "seq": pa.int64(),
        "shown_at": pa.float64(),
        "cast_at": pa.float64(),
        "seconds": pa.float64(),
    }
    table = pa.table(
        {
            name: pa.array([record[name] for record in records], type=types.get(name, pa.string()))
            for name in EXPORT_COLUMNS
        }
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
