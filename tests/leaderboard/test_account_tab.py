"""The page's sign-in hooks (leaderboard/account_tab.py) through streamlit.testing's AppTest: the page
says it is anonymous when sign-in is off, and refuses uploads when sign-in is on but nobody can
sign in (no [auth] secrets) or the deployment file is broken."""

from __future__ import annotations

import pytest

from leaderboard.audit import AccessStore, default_access_path
from tests.leaderboard.html_tables import html_tables
from tests.leaderboard.test_leaderboard_app import (  # noqa: F401  (fixture, used by name)
    all_text,
    run_app,
    store,
    upload,
)
from tests.leaderboard_fixtures import sample_predictions


def _sidebar_text(at) -> str:
    parts = [e.value for e in (*at.sidebar.text, *at.sidebar.caption)]
    return "\n".join(parts + [str(e.value) for e in at.sidebar.error])


def test_with_sign_in_off_the_page_says_it_is_anonymous_and_uploads_as_before(
    store,  # noqa: F811 (the imported fixture)
    monkeypatch,
):
    monkeypatch.delenv("CHATGENBENCH_DEPLOYMENT", raising=False)
    at = run_app()
    assert "Anonymous: sign-in is off" in _sidebar_text(at)
    at = upload(at, "mine.jsonl", sample_predictions(), name="mine", method="M", authors="A")
    assert any("Queued as 'mine'" in s.value for s in at.success)
    access = AccessStore(default_access_path(store))
    assert access.owner("mine") is None  # nobody owns an anonymous upload
    assert [(e.who, e.action, e.outcome) for e in access.entries()] == [
        ("anonymous", "upload", "done")
    ]


@pytest.mark.parametrize(
    "deployment, problem",
    [
        ("access:\n  sign_in: true\n", "Streamlit's secrets have no [auth] section"),
        ("access:\n  sign_in: maybe\n", "the deployment file cannot be used"),
    ],
)
def test_with_sign_in_on_and_nobody_able_to_sign_in_uploads_are_refused(
    store,  # noqa: F811 (the imported fixture)
    monkeypatch,
    tmp_path,
    deployment,
    problem,
):
    path = tmp_path / "deployment.yaml"
    path.write_text(deployment, "utf-8")
    monkeypatch.setenv("CHATGENBENCH_DEPLOYMENT", str(path))
    at = run_app()
    assert problem in _sidebar_text(at)
    at = upload(at, "mine.jsonl", sample_predictions(), name="mine", method="M", authors="A")
    assert "may not upload: sign-in is required" in all_text(at)
    assert not (store / "mine").exists()


def _signed_in_app(who: str | None):
    from tests.leaderboard.test_leaderboard_app import APP, AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-test-cookie-secret-of-enough-length",
        "client_id": "id",
        "client_secret": "secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    at.user = {"is_logged_in": who is not None, **({"email": who} if who else {})}
    at.run()
    assert not at.exception, at.exception
    return at


def test_only_the_owner_and_maintainers_see_a_failed_jobs_reason(
    store,  # noqa: F811 (the imported fixture)
    monkeypatch,
    tmp_path,
):
    from leaderboard.scoring_queue import ScoringQueue, default_queue_path

    path = tmp_path / "deployment.yaml"
    path.write_text("access:\n  sign_in: true\n  maintainers: [ana@example.org]\n", "utf-8")
    monkeypatch.setenv("CHATGENBENCH_DEPLOYMENT", str(path))
    AccessStore(default_access_path(store)).set_owner("no-finetune-sample", "sam@example.org")
    queue = ScoringQueue(default_queue_path(store))
    job = queue.enqueue("no-finetune-sample")
    queue.claim("w")
    queue.fail(job.id, "worker log: CUDA out of memory", "w")
    for who, sees in (
        ("sam@example.org", True),
        ("ana@example.org", True),
        ("eve@example.org", False),
        (None, False),
    ):
        at = _signed_in_app(who)
        tables = [df.value for df in at.dataframe] + html_tables(at)  # the queue: a wrapping table
        jobs = [frame for frame in tables if "state" in frame.columns]
        assert list(jobs[0]["state"]) == ["failed"], who
        assert ("error" in jobs[0].columns) is sees, who
        shown = "\n".join(str(frame.to_dict()) for frame in tables)
        assert ("CUDA out of memory" in shown) is sees, who
    at = _signed_in_app("sam@example.org")
    assert "Signed in as sam@example.org" in _sidebar_text(at)
    (mine,) = [df.value for df in at.dataframe if "Failure reason" in df.value.columns]
    assert list(mine["Failure reason"]) == ["worker log: CUDA out of memory"]


def test_a_broken_access_database_is_said_and_with_sign_in_off_the_page_works_as_before(
    store,  # noqa: F811 (the imported fixture)
    monkeypatch,
    capsys,
):
    from chatgenbench.cli import main as cli_main

    monkeypatch.delenv("CHATGENBENCH_DEPLOYMENT", raising=False)
    default_access_path(store).write_bytes(b"not a database at all" * 100)
    at = run_app()
    assert "access database" in _sidebar_text(at) and "not an SQLite database" in _sidebar_text(at)
    at = upload(at, "mine.jsonl", sample_predictions(), name="mine", method="M", authors="A")
    assert any("Queued as 'mine'" in s.value for s in at.success)
    assert cli_main(["leaderboard", "--store", str(store)]) == 2
    assert "access database" in capsys.readouterr().err
