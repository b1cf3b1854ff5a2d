"""Every action a person takes on the leaderboard, checked and written to the audit log.

Each method of :class:`Actions` first asks :func:`leaderboard.roles.authorize` (on the server,
whatever the page showed or hid), then counts the identity's quota where one applies, then acts,
and appends one line to the audit log (:class:`leaderboard.audit.AccessStore`): ``done``, or
``refused`` with the reason when the role or the quota said no. :class:`GuardedVotes` does the
same for votes.

- **upload** (:meth:`Actions.upload`): a signed-in user, at most ``uploads_per_day`` in the last
  24 hours; the uploader becomes the submission's owner.
- **withdraw**: the owner or a maintainer; the submission leaves the ranking, the gallery and the
  vote, its files stay in the store.
- **hide** / **unhide**: a maintainer, with a public reason shown in the submission's place.
- **retry** (a failed job), **rescore** (queue a stored submission again), **queue_ablation**
  (a copy of a submission scored with oracle steps, ``<name>-oracle-<steps>``), **delete**
  (its folder removed from the store): a maintainer.
- **see_job** (a job's failure reason and log): the owner or a maintainer; others see its state.
- **vote**: a signed-in user (or anyone, when ``anonymous_votes`` allows), at most
  ``votes_per_minute``; the voter id is derived from the identity (:func:`voter_id`), so a
  second answer to a pair replaces the first across reloads and browsers, and a reload does not
  reset the quota. Anonymous votes go to a database of their own
  (``<store>/.votes-anonymous.sqlite3``), labelled ``anonymous:``, which the page's results and
  the default ``chatgenbench votes summary`` leave out (``--votes-db`` reads it when asked).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatgenbench.core.errors import SubmissionError
from chatgenbench.core.yaml_files import bounded_repr
from chatgenbench.scoring.oracle import ORACLE_STEPS
from leaderboard.audit import DONE, HIDDEN, REFUSED, WITHDRAWN, AccessStore
from leaderboard.roles import AccessPolicy, Identity, NotAllowed, authorize
from leaderboard.scoring_queue import Job, ScoringQueue
from leaderboard.submissions import (
    META_FILENAME,
    PREDICTION_FILENAMES,
    SubmissionStore,
    UploadCheck,
    sanitize_name,
)
from leaderboard.votes import Pair, Shown, VoteError, VoteStore

DAY_SECONDS = 24 * 3600.0
ANONYMOUS_VOTES_FILENAME = ".votes-anonymous.sqlite3"
ANONYMOUS_VOTER_PREFIX = "anonymous:"
#: What everyone may see of a job; the owner and maintainers see all of :meth:`Job.to_dict`.
PUBLIC_JOB_FIELDS = ("id", "submission", "state", "stage", "created", "started", "finished")


class QuotaExceeded(NotAllowed):
    """An identity over its uploads-per-day quota."""


class VoteNotAllowed(VoteError):
    """A vote refused by the role check (a :class:`VoteError`, so the Vote tab says why)."""


def voter_id(identity: Identity) -> str:
    """Return the votes' voter id of a signed-in identity: a digest of it (the same in every
    browser and after every reload; no e-mail address in the votes file or its exports)."""
    if identity.id is None:
        raise ValueError("an anonymous visitor has no stable voter id")
    return "id:" + hashlib.sha256(identity.id.encode("utf-8")).hexdigest()[:40]


@dataclass
class Actions:
    """The leaderboard's actions for one deployment (``policy``) and store."""

    policy: AccessPolicy
    access: AccessStore
    store: SubmissionStore
    queue: ScoringQueue | None = None

    # -- the checks ------------------------------------------------------------------------------

    def allow(self, identity: Identity, action: str, submission: str | None = None) -> str:
        """Authorise ``action`` (:func:`leaderboard.roles.authorize`, with the submission's owner
        from the access database); a refusal is written to the audit log and raised."""
        owner = self.access.owner(submission) if submission else None
        try:
            return authorize(self.policy, identity, action, submission=submission, owner=owner)
        except NotAllowed as error:
            self.access.record(
                identity.label, action, submission, outcome=REFUSED, detail=str(error)
            )
            raise

    def may_see_job(self, identity: Identity, submission: str) -> bool:
        """Whether ``identity`` may read the failure reason and log of ``submission``'s jobs
        (a read: not written to the audit log)."""
        if not self.policy.sign_in:
            return True  # the anonymous page shows every job in full, as before sign-in existed
        owner = self.access.owner(submission)
        try:
            authorize(self.policy, identity, "see_job", submission=submission, owner=owner)
        except NotAllowed:
            return False
        return True

    def job_row(self, identity: Identity, job: Job) -> dict[str, Any]:
        """Return the row of ``job`` that ``identity`` may see: all of it for its owner and the
        maintainers, its public fields for everyone else."""
        row = job.to_dict()
        if self.may_see_job(identity, job.submission):
            return row
        return {key: row[key] for key in PUBLIC_JOB_FIELDS}

    def uploads_left(self, identity: Identity, *, now: float | None = None) -> int | None:
        """Return how many more uploads ``identity`` may make today (None: no quota applies)."""
        if not self.policy.sign_in or identity.anonymous:
            return None
        since = (time.time() if now is None else now) - DAY_SECONDS
        used = self.access.count(identity.label, "upload", since=since)
        return max(0, self.policy.uploads_per_day - used)

    def may_upload(self, identity: Identity, *, now: float | None = None) -> None:
        """Raise :class:`NotAllowed` (role) or :class:`QuotaExceeded` (uploads today) unless
        ``identity`` may upload now; a refusal is written to the audit log."""
        self.allow(identity, "upload")
        left = self.uploads_left(identity, now=now)
        if left is not None and left <= 0:
            error = QuotaExceeded(
                f"{identity.label} may not upload: the quota of {self.policy.uploads_per_day} "
                "uploads per day is used up",
                how_to_fix="upload again when the oldest of today's uploads is 24 hours old",
            )
            self.access.record(identity.label, "upload", outcome=REFUSED, detail=str(error))
            raise error

    # -- the actions -----------------------------------------------------------------------------

    def upload(self, identity: Identity, check: UploadCheck, data: bytes) -> Job:
        """Store a checked upload, make ``identity`` its owner and queue it; return the job."""
        self.may_upload(identity)
        self.store.add(check, data)
        if not identity.anonymous:
            self.access.set_owner(check.name, identity.label)
        job = self._queue().enqueue(check.name)
        self.access.record(identity.label, "upload", check.name, detail=f"job {job.id}")
        return job

    def withdraw(self, identity: Identity, submission: str, reason: str = "") -> None:
        """Take ``submission`` out of the public views (its files stay)."""
        self._existing(submission)
        role = self.allow(identity, "withdraw", submission)
        why = reason.strip() or ("withdrawn by its submitter" if role == "owner" else "withdrawn")
        self.access.set_state(submission, WITHDRAWN, why, identity.label)
        self.access.record(identity.label, "withdraw", submission, detail=why)

    def hide(self, identity: Identity, submission: str, reason: str) -> None:
        """Hide ``submission`` with a public ``reason`` (required) shown in its place."""
        self._existing(submission)
        self.allow(identity, "hide", submission)
        if not reason.strip():
            raise SubmissionError(
                f"hiding {bounded_repr(submission)} needs a public reason",
                how_to_fix="say why in a sentence; it is shown in the submission's place",
            )
        self.access.set_state(submission, HIDDEN, reason.strip(), identity.label)
        self.access.record(identity.label, "hide", submission, detail=reason)

    def unhide(self, identity: Identity, submission: str) -> None:
        """Show a hidden or withdrawn ``submission`` again."""
        self.allow(identity, "unhide", submission)
        self.access.clear_state(submission)
        self.access.record(identity.label, "unhide", submission)

    def retry(self, identity: Identity, job_id: int) -> Job:
        """Put failed job ``job_id`` back in the queue."""
        job = self._queue().get(job_id)
        if job is None:
            raise SubmissionError(f"there is no job {job_id} in the queue")
        self.allow(identity, "retry", job.submission)
        try:
            job = self._queue().retry(job_id)
        except ValueError as error:  # not a failed job: said, nothing changed
            raise SubmissionError(str(error)) from None
        self.access.record(identity.label, "retry", job.submission, detail=f"job {job.id}")
        return job

    def rescore(self, identity: Identity, submission: str) -> Job:
        """Queue ``submission`` to be scored again; return its job."""
        self._existing(submission)
        self.allow(identity, "rescore", submission)
        job = self._queue().enqueue(submission)
        self.access.record(identity.label, "rescore", submission, detail=f"job {job.id}")
        return job

    def queue_ablation(self, identity: Identity, submission: str, steps: tuple[str, ...]) -> Job:
        """Copy ``submission``'s predictions as ``<name>-oracle-<steps>`` with ``oracle: steps``
        in its metadata (the paper's Table 6), and queue it; return its job."""
        import yaml

        folder = self._existing(submission)
        self.allow(identity, "queue_ablation", submission)
        unknown = [step for step in steps if step not in ORACLE_STEPS]
        if not steps or unknown:
            raise SubmissionError(
                f"ablation steps {bounded_repr(list(steps))}: expected one or more of "
                f"{', '.join(ORACLE_STEPS)}"
            )
        meta = yaml.safe_load((folder / META_FILENAME).read_text("utf-8"))
        if not isinstance(meta, dict) or meta.get("oracle"):
            raise SubmissionError(f"{submission!r} is not a full run with readable metadata")
        name = sanitize_name(f"{submission}-oracle-{'-'.join(steps)}")[:64]
        target = self.store.path_for(name)
        if target.exists():
            raise SubmissionError(f"the ablation {name!r} exists already; re-score it instead")
        predictions = self.store.predictions_path(submission)
        if predictions is None or predictions.name not in PREDICTION_FILENAMES.values():
            raise SubmissionError(f"{submission!r} has no prediction file to ablate")
        target.mkdir()
        shutil.copyfile(predictions, target / predictions.name)
        meta["oracle"] = ",".join(steps)
        (target / META_FILENAME).write_text(yaml.safe_dump(meta, sort_keys=False), "utf-8")
        job = self._queue().enqueue(name)
        self.access.record(
            identity.label, "queue_ablation", submission, detail=f"{name}, job {job.id}"
        )
        return job

    def delete(self, identity: Identity, submission: str) -> None:
        """Remove ``submission``'s folder from the store (its audit lines stay)."""
        folder = self._existing(submission)
        self.allow(identity, "delete", submission)
        shutil.rmtree(folder)
        self.access.clear_state(submission)
        self.access.record(identity.label, "delete", submission)

    def audit_entries(self, identity: Identity, **query: Any):
        """Return the audit log's lines (:meth:`AccessStore.entries` with ``query``) for a
        maintainer; anyone else is refused."""
        self.allow(identity, "read_audit")
        return self.access.entries(**query)

    # -- what the public sees --------------------------------------------------------------------

    def public(self, submissions: list) -> tuple[list, list[dict[str, str]]]:
        """Split ``submissions`` into those shown and, for each withdrawn or hidden one, the
        line shown in its place (``Submission``, ``State``, ``Reason``)."""
        states = self.access.states()
        if not any(s.name in states for s in submissions):
            return submissions, []  # the same list, so the index's cached ranking views still apply
        shown = [s for s in submissions if s.name not in states]
        removed = [
            {"Submission": state.submission, "State": state.state, "Reason": state.reason}
            for state in states.values()
            if any(s.name == state.submission for s in submissions)
        ]
        return shown, removed

    def _existing(self, submission: str) -> Path:
        folder = self.store.path_for(submission)
        if not folder.is_dir():
            raise SubmissionError(f"there is no submission {bounded_repr(submission)} in the store")
        return folder

    def _queue(self) -> ScoringQueue:
        if self.queue is None:
            raise SubmissionError("the scoring queue cannot be used (see the Queue tab)")
        return self.queue


class GuardedVotes(VoteStore):
    """The votes database as one visitor uses it: every cast is authorised for ``identity``,
    counted against ``votes_per_minute`` and written to the audit log.

    A signed-in voter's id is :func:`voter_id`. An anonymous visitor (allowed only when the
    policy's ``anonymous_votes`` is true and sign-in is on) votes into ``anonymous`` (a separate
    :class:`VoteStore`) under ``anonymous:<session>``; what this store reads (the results) stays
    the signed-in votes. With sign-in off it is the plain store, the voter the page's session id.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        actions: Actions,
        identity: Identity,
        session: str,
        **options: Any,
    ) -> None:
        policy = actions.policy
        if policy.sign_in:
            options.setdefault("rate_limit", policy.votes_per_minute)
            options.setdefault("rate_window", 60.0)
        super().__init__(path, **options)
        self.actions = actions
        self.identity = identity
        self.anonymous: VoteStore | None = None
        if not policy.sign_in:
            self.voter_id = session
        elif identity.anonymous:
            self.voter_id = ANONYMOUS_VOTER_PREFIX + session[:40]
            if policy.anonymous_votes:
                self.anonymous = VoteStore(
                    Path(path).with_name(ANONYMOUS_VOTES_FILENAME), **options
                )
        else:
            self.voter_id = voter_id(identity)

    def public_pairs(self, pairs: list[Pair]) -> list[Pair]:
        """Return the ``pairs`` whose two submissions are neither withdrawn nor hidden."""
        removed = set(self.actions.access.states())
        return [p for p in pairs if not {p.submission_a, p.submission_b} & removed]

    def _check_pair(self, pair: Pair) -> None:
        super()._check_pair(pair)
        removed = {pair.submission_a, pair.submission_b} & set(self.actions.access.states())
        if removed:
            raise VoteError(
                f"this pair cannot be voted on: {', '.join(sorted(removed))} is withdrawn or hidden"
            )

    def _own(self, voter: str) -> VoteStore | None:
        """The store ``voter``'s own votes live in (None: the signed-in one, this)."""
        return self.anonymous if voter.startswith(ANONYMOUS_VOTER_PREFIX) else None

    def cast(self, voter: str, shown: Shown, question: str, answer: str, **options: Any):
        """Authorise and cast (see :meth:`VoteStore.cast`); the voter is always this visitor's."""
        pair = shown.pair
        what = f"{pair.submission_a} vs {pair.submission_b}"
        try:
            self.actions.allow(self.identity, "vote", what)
        except NotAllowed as error:
            raise VoteNotAllowed(str(error), how_to_fix=error.how_to_fix) from None
        target = self._own(self.voter_id)
        if self.actions.policy.sign_in and self.identity.anonymous and target is None:
            raise VoteNotAllowed("anonymous votes are not stored here", how_to_fix="sign in")
        cast = super().cast if target is None else target.cast
        detail = f"{question}: {answer} on sample {pair.sample_id}"
        try:
            result = cast(self.voter_id, shown, question, answer, **options)
        except VoteError as error:
            self.actions.access.record(
                self.identity.label, "vote", what, outcome=REFUSED, detail=f"{detail}: {error}"
            )
            raise
        replaced = " (replaced an earlier answer)" if result.replaced else ""
        self.actions.access.record(self.identity.label, "vote", what, detail=detail + replaced)
        return result

    def undo_last(self, voter: str):
        """Delete this visitor's last vote (:meth:`VoteStore.undo_last`), audited."""
        target = self._own(self.voter_id)
        vote = (super().undo_last if target is None else target.undo_last)(self.voter_id)
        if vote is not None:
            what = f"{vote.submission_a} vs {vote.submission_b}"
            self.actions.access.record(
                self.identity.label, "vote", what, outcome=DONE, detail=f"undo {vote.question}"
            )
        return vote

    def answers(self, voter: str, pair):
        """This visitor's answers on ``pair`` (from the store their votes live in)."""
        target = self._own(self.voter_id)
        return (super().answers if target is None else target.answers)(self.voter_id, pair)

    def answered_pairs(self, voter: str):
        """The pairs this visitor has answered every question of."""
        target = self._own(self.voter_id)
        return (super().answered_pairs if target is None else target.answered_pairs)(self.voter_id)
