"""The leaderboard's actions on a real store: each checks the role on the server, counts the
quota, acts, and writes one line of the audit log (append-only); votes are keyed by identity."""

from __future__ import annotations

import json
import sqlite3

import pytest

from chatgenbench.cli import main as cli_main
from chatgenbench.core.errors import SubmissionError
from leaderboard.actions import (
    ANONYMOUS_VOTES_FILENAME,
    Actions,
    GuardedVotes,
    QuotaExceeded,
    voter_id,
)
from leaderboard.audit import AccessStore
from leaderboard.roles import ANONYMOUS, AccessPolicy, Identity, NotAllowed
from leaderboard.scoring_queue import ScoringQueue
from leaderboard.submissions import SubmissionStore
from leaderboard.votes import Pair, Shown, VoteError, VoteStore
from tests.leaderboard_fixtures import sample_predictions
from tests.vote_fixtures import vote_store

MAINTAINER = Identity("ana@example.org", "Ana")
OWNER = Identity("sam@example.org", "Sam")
STRANGER = Identity("eve@example.org", "Eve")
IDS = [f"sample-{i:04d}" for i in range(1, 7)]
NOFT, RETR = "no-finetune-sample", "retrieval-sample"
META = {"method": "My method", "authors": "A. Person", "setting": "supervised"}


def _policy(**given) -> AccessPolicy:
    return AccessPolicy(sign_in=True, maintainers=frozenset({MAINTAINER.id}), **given)


@pytest.fixture()
def store(tmp_path) -> SubmissionStore:
    return SubmissionStore(vote_store(tmp_path / "store", {NOFT: IDS, RETR: IDS}))


def _actions(store, **given) -> Actions:
    queue = ScoringQueue(store.root / ".queue.sqlite3")
    return Actions(_policy(**given), AccessStore(store.root / ".access.sqlite3"), store, queue)


def _upload(actions: Actions, who: Identity, name: str):
    check = actions.store.check_upload("p.jsonl", sample_predictions(), {**META, "name": name})
    assert check.ok, check.problems
    return actions.upload(who, check, sample_predictions())


def _log(actions: Actions) -> list[tuple]:
    return [(e.who, e.action, e.submission, e.outcome) for e in actions.access.entries()]


def test_an_upload_makes_its_owner_who_withdraws_it_and_a_stranger_cannot(store):
    actions = _actions(store)
    job = _upload(actions, OWNER, "sams-run")
    assert actions.access.owner("sams-run") == OWNER.id and job.submission == "sams-run"
    with pytest.raises(NotAllowed, match="eve@example.org may not withdraw"):
        actions.withdraw(STRANGER, "sams-run", "not mine but I dislike it")
    assert actions.access.state("sams-run") is None  # nothing changed
    actions.withdraw(OWNER, "sams-run")
    assert actions.access.state("sams-run").state == "withdrawn"
    assert (store.root / "sams-run" / "meta.yaml").is_file()  # files kept for the maintainers
    shown, removed = actions.public(store.submissions())
    assert "sams-run" not in [s.name for s in shown]
    assert removed == [
        {"Submission": "sams-run", "State": "withdrawn", "Reason": "withdrawn by its submitter"}
    ]
    assert _log(actions) == [
        (OWNER.id, "upload", "sams-run", "done"),
        (STRANGER.id, "withdraw", "sams-run", "refused"),
        (OWNER.id, "withdraw", "sams-run", "done"),
    ]


def test_a_submitter_cannot_hide_a_maintainer_hides_with_a_public_reason(store):
    actions = _actions(store)
    _upload(actions, OWNER, "sams-run")
    for who in (OWNER, STRANGER, ANONYMOUS):
        with pytest.raises(NotAllowed, match="only a maintainer may"):
            actions.hide(who, "sams-run", "spam")
        with pytest.raises(NotAllowed):
            actions.delete(who, NOFT)
        with pytest.raises(NotAllowed):
            actions.rescore(who, NOFT)
    with pytest.raises(SubmissionError, match="needs a public reason"):
        actions.hide(MAINTAINER, "sams-run", "  ")
    actions.hide(MAINTAINER, "sams-run", "copies another team's predictions")
    (_, removed) = actions.public(store.submissions())
    assert removed[0]["Reason"] == "copies another team's predictions"
    actions.unhide(MAINTAINER, "sams-run")
    assert actions.public(store.submissions())[1] == []
    refused = [line for line in _log(actions) if line[3] == "refused"]
    assert len(refused) == 9 and {line[0] for line in refused} == {
        OWNER.id,
        STRANGER.id,
        "anonymous",
    }


def test_maintainers_rescore_retry_queue_an_ablation_and_delete(store):
    actions = _actions(store)
    job = actions.rescore(MAINTAINER, NOFT)
    actions.queue.claim("w")
    actions.queue.fail(job.id, "boom", "w")
    with pytest.raises(NotAllowed):
        actions.retry(STRANGER, job.id)
    assert actions.retry(MAINTAINER, job.id).state == "pending"
    ablation = actions.queue_ablation(MAINTAINER, NOFT, ("model",))
    assert ablation.submission == f"{NOFT}-oracle-model"
    meta = store.load(ablation.submission).meta
    assert meta is not None and meta.oracle == "model"
    with pytest.raises(SubmissionError, match="expected one or more of"):
        actions.queue_ablation(MAINTAINER, NOFT, ("everything",))
    actions.delete(MAINTAINER, RETR)
    assert not (store.root / RETR).exists()
    with pytest.raises(SubmissionError, match="no submission"):
        actions.delete(MAINTAINER, RETR)
    assert [line[1] for line in _log(actions) if line[3] == "done"] == [
        "rescore", "retry", "queue_ablation", "delete",
    ]  # fmt: skip


def test_an_anonymous_upload_is_refused_when_sign_in_is_on_and_allowed_when_off(store):
    actions = _actions(store)
    check = store.check_upload("p.jsonl", sample_predictions(), {**META, "name": "anon-run"})
    with pytest.raises(NotAllowed, match="sign-in is required"):
        actions.upload(ANONYMOUS, check, sample_predictions())
    assert not (store.root / "anon-run").exists()
    assert _log(actions) == [("anonymous", "upload", None, "refused")]
    off = Actions(AccessPolicy(), actions.access, store, actions.queue)
    off.upload(ANONYMOUS, check, sample_predictions())
    assert (store.root / "anon-run").is_dir() and actions.access.owner("anon-run") is None


def test_uploads_per_day_is_counted_per_identity(store):
    actions = _actions(store, uploads_per_day=2)
    _upload(actions, OWNER, "run-a")
    _upload(actions, OWNER, "run-b")
    assert actions.uploads_left(OWNER) == 0
    with pytest.raises(QuotaExceeded, match="quota of 2 uploads per day"):
        _upload(actions, OWNER, "run-c")
    assert not (store.root / "run-c").exists()
    _upload(actions, STRANGER, "run-d")  # another identity has its own quota
    later = actions.access.entries()[0].at + 24 * 3600 + 1
    assert actions.uploads_left(OWNER, now=later) == 2  # a day later the quota is back


def test_job_failure_reasons_are_for_the_owner_and_maintainers(store):
    actions = _actions(store)
    job = _upload(actions, OWNER, "sams-run")
    actions.queue.claim("w")
    actions.queue.fail(job.id, "Traceback: secret path /srv/x", "w")
    job = actions.queue.get(job.id)
    assert actions.job_row(OWNER, job)["error"].startswith("Traceback")
    assert actions.job_row(MAINTAINER, job)["error"].startswith("Traceback")
    for who in (STRANGER, ANONYMOUS):
        row = actions.job_row(who, job)
        assert "error" not in row and "note" not in row and row["state"] == "failed"
    off = Actions(AccessPolicy(), actions.access, store, actions.queue)
    assert off.job_row(ANONYMOUS, job)["error"]  # sign-in off: as before


def test_the_audit_log_is_append_only(store):
    access = AccessStore(store.root / ".access.sqlite3")
    access.record("ana@example.org", "hide", "x\x1b[31m\nred", detail="line\nbreak")
    (entry,) = access.entries()
    assert entry.submission == "x [31m red" and entry.detail == "line break"  # one printable line
    with sqlite3.connect(access.path) as db:
        for statement in ("UPDATE audit SET who = 'eve'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(statement)
    assert access.entries() == [entry]


def test_the_audit_command_prints_and_filters_the_log(store, capsys):
    access = AccessStore(store.root / ".access.sqlite3")
    access.record("ana@example.org", "hide", "run-1", detail="spam")
    access.record("eve@example.org", "withdraw", "run-1", outcome="refused", detail="no")
    assert cli_main(["audit", "--store", str(store.root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("\t") == ["time", "who", "action", "submission", "outcome", "detail"]
    assert out[1].split("\t")[1:] == ["ana@example.org", "hide", "run-1", "done", "spam"]
    assert len(out) == 3
    assert (
        cli_main(["audit", "--store", str(store.root), "--who", "eve@example.org", "--json"]) == 0
    )
    (line,) = json.loads(capsys.readouterr().out)
    assert line["outcome"] == "refused" and line["time"].endswith("+00:00")
    assert cli_main(["audit", "--store", str(store.root / "nowhere")]) == 2


def _shown(sample: str = "sample-0002") -> Shown:
    return Shown(Pair("sample", "supervised", sample, NOFT, RETR), "a")


def _votes(store, actions, who, session, **options) -> GuardedVotes:
    return GuardedVotes(
        store.root / ".votes.sqlite3", actions=actions, identity=who, session=session,
        submissions=store, min_seconds=0, **options,
    )  # fmt: skip


def test_votes_are_keyed_by_identity_across_sessions(store):
    actions = _actions(store)
    first = _votes(store, actions, OWNER, "browser-1")
    first.cast("ignored", _shown(), "quality", "a", shown_at=0.0, now=5.0)
    again = _votes(store, actions, OWNER, "browser-2")  # another browser, after a reload
    assert again.voter_id == first.voter_id == voter_id(OWNER)
    assert again.answers("ignored", _shown().pair)["quality"].answer == "a"
    result = again.cast("ignored", _shown(), "quality", "b", shown_at=0.0, now=6.0)
    assert result.replaced
    (vote,) = VoteStore(store.root / ".votes.sqlite3").votes()
    assert vote.answer == "b" and OWNER.id not in vote.voter  # no e-mail in the votes file
    lines = [e for e in actions.access.entries() if e.action == "vote"]
    assert [e.outcome for e in lines] == ["done", "done"] and "replaced" in lines[1].detail


def test_a_new_session_does_not_reset_the_votes_per_minute_quota(store):
    actions = _actions(store, votes_per_minute=2)
    for number, session in enumerate(("s1", "s2")):
        votes = _votes(store, actions, OWNER, session)
        votes.cast("x", _shown(IDS[number + 1]), "quality", "a", shown_at=0.0, now=10.0 + number)
    fresh = _votes(store, actions, OWNER, "s3")
    with pytest.raises(VoteError, match="at most 2 every 60 s"):
        fresh.cast("x", _shown(IDS[3]), "quality", "a", shown_at=0.0, now=12.0)
    other = _votes(store, actions, STRANGER, "s4")  # someone else votes on
    other.cast("x", _shown(IDS[3]), "quality", "a", shown_at=0.0, now=12.0)
    assert [e.outcome for e in actions.access.entries()] == ["done", "done", "refused", "done"]


def test_anonymous_votes_are_refused_or_stored_apart(store):
    actions = _actions(store)
    anonymous = _votes(store, actions, ANONYMOUS, "s1")
    with pytest.raises(VoteError, match="sign-in is required"):
        anonymous.cast("x", _shown(), "quality", "a", shown_at=0.0, now=5.0)
    allowing = _actions(store, anonymous_votes=True)
    anonymous = _votes(store, allowing, ANONYMOUS, "s1")
    anonymous.cast("x", _shown(), "quality", "a", shown_at=0.0, now=5.0)
    assert VoteStore(store.root / ".votes.sqlite3").votes() == []  # the fit never sees it
    (vote,) = VoteStore(store.root / ANONYMOUS_VOTES_FILENAME).votes()
    assert vote.voter.startswith("anonymous:")
    assert anonymous.answers("x", _shown().pair)["quality"].answer == "a"
    assert anonymous.undo_last("x").id == vote.id


def test_withdrawn_and_hidden_submissions_are_not_voted_on(store):
    from leaderboard.votes import candidate_pairs

    actions = _actions(store)
    votes = _votes(store, actions, OWNER, "s1")
    assert votes.public_pairs(candidate_pairs(store))
    actions.hide(MAINTAINER, RETR, "under review")
    assert votes.public_pairs(candidate_pairs(store)) == []
    with pytest.raises(VoteError, match="retrieval-sample is withdrawn or hidden"):
        votes.cast("x", _shown(), "quality", "a", shown_at=0.0, now=5.0)
    assert VoteStore(store.root / ".votes.sqlite3").votes() == []
