"""Sign-in, roles, quotas and the audit log in a real browser against a real OpenID Connect
provider: ``oidc-provider-mock`` on localhost (started and stopped by the ``oidc_provider``
fixture), the leaderboard served by ``chatgenbench leaderboard`` with a deployment file that
switches sign-in on, and headless Chromium signing in as a submitter (sam), a maintainer (ana)
and a stranger (eve), each in a browser of their own. Skipped like the other browser tests where
Chromium or selenium is absent (a failure under ``$CHATGENBENCH_REQUIRE_BROWSER=1``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.leaderboard.test_leaderboard_browser import (  # noqa: F401  (fixtures, used by name)
    CHROMEDRIVER,
    CHROMIUM,
    _free_port,
    _wait_healthy,
    grid_cells,
    screenshot,
    served_app,
    stop_process,
    table_cells,
    wait_for,
)
from tests.leaderboard_fixtures import sample_predictions
from tests.vote_fixtures import vote_store

pytest.importorskip("oidc_provider_mock", reason="oidc-provider-mock is not installed")

MAINTAINER, SUBMITTER, STRANGER = "ana@example.org", "sam@example.org", "eve@example.org"
IDS = [f"sample-{i:04d}" for i in range(1, 7)]
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1100",
)  # fmt: skip
VOTES_PER_MINUTE = 2


def _cells(driver) -> list[str]:
    """Every cell of the page: the data grids' and the wrapping HTML tables' (the ranking)."""
    return grid_cells(driver) + table_cells(driver)


@pytest.fixture()
def oidc_provider(tmp_path):
    """An OpenID Connect provider on localhost that knows the three test users (their ``sub``
    and ``email`` claims are the address); stopped (by its process handle) in teardown."""
    port = _free_port()
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    command += ["--host", "127.0.0.1"]
    for user in (MAINTAINER, SUBMITTER, STRANGER):
        command += ["--user", user]
    log = open(tmp_path / "oidc-provider.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(f"{url}/.well-known/openid-configuration", process, 30.0, "the provider")
        yield url
    finally:
        stop_process(process)
        log.close()


@pytest.fixture()
def store(tmp_path, monkeypatch, oidc_provider) -> Path:
    """Two rendered sample submissions, and a deployment file with sign-in on (read by the
    served app through ``$CHATGENBENCH_DEPLOYMENT``) whose secrets point at the provider."""
    root = vote_store(tmp_path / "store", {"no-finetune-sample": IDS, "retrieval-sample": IDS})
    (tmp_path / "secrets.toml").write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-of-enough-length"\n'
        'client_id = "chatgenbench-test"\n'
        'client_secret = "not-a-secret"\n'
        f'server_metadata_url = "{oidc_provider}/.well-known/openid-configuration"\n',
        "utf-8",
    )
    (tmp_path / "deployment.yaml").write_text(
        "access:\n"
        "  sign_in: true\n"
        "  secrets: secrets.toml\n"
        f"  maintainers: [{MAINTAINER}]\n"
        "  uploads_per_day: 1\n"
        f"  votes_per_minute: {VOTES_PER_MINUTE}\n",
        "utf-8",
    )
    monkeypatch.setenv("CHATGENBENCH_DEPLOYMENT", str(tmp_path / "deployment.yaml"))
    monkeypatch.setenv("CHATGENBENCH_VOTE_MIN_SECONDS", "0.5")
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    monkeypatch.delenv("CHATGENBENCH_ACCESS_DB", raising=False)
    return root


@pytest.fixture()
def browsers(tmp_path):
    """Open a separate headless Chromium (own profile, so own cookies) per person; all quit in
    teardown."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opened = []

    def open_browser(name: str):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path / f'chromium-{name}'}")
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        opened.append(driver)
        return driver

    try:
        yield open_browser
    finally:
        for driver in opened:
            driver.quit()


def _body(driver) -> str:
    return driver.execute_script("return document.body ? document.body.innerText : ''")


def _button(driver, key: str):
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, f".st-key-{key} button")
    return found[0] if found else None


def _sign_in(driver, app: str, who: str) -> None:
    """Open the app and sign in through the provider's form as ``who``."""
    from selenium.webdriver.common.by import By

    driver.get(app)
    wait_for(driver, lambda: _button(driver, "sign-in") is not None)
    _click(driver, _button(driver, "sign-in"))
    wait_for(driver, lambda: "Authorize" in _body(driver))  # the provider's page
    field = driver.find_element(By.CSS_SELECTOR, "input[name='sub']")
    field.send_keys(who)
    field.submit()
    wait_for(driver, lambda: f"Signed in as {who}" in _body(driver))


def _click(driver, element) -> None:
    # into the middle of the view first: the page's sticky header covers the top rows
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _tab(driver, title: str) -> None:
    from selenium.webdriver.common.by import By

    wait_for(
        driver,
        lambda: any(t.text == title for t in driver.find_elements(By.CSS_SELECTOR, "[role='tab']")),
    )
    (tab,) = [t for t in driver.find_elements(By.CSS_SELECTOR, "[role='tab']") if t.text == title]
    _click(driver, tab)


def _type(driver, key: str, text: str) -> None:
    """Replace the text of the input keyed ``key`` (waiting for it: the page may be redrawing)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def typed() -> bool:
        found = driver.find_elements(By.CSS_SELECTOR, f".st-key-{key} input")
        if not found:
            return False
        try:
            found[0].send_keys(Keys.CONTROL, "a")
            found[0].send_keys(Keys.DELETE)
            found[0].send_keys(text)
        except StaleElementReferenceException:
            return False
        return True

    wait_for(driver, typed)


def _act(driver, action: str, submission: str, reason: str = "") -> None:
    """Fill the Queue tab's 'Act on a submission' form and apply it."""
    from selenium.webdriver.common.by import By

    _tab(driver, "Queue")
    wait_for(driver, lambda: _button(driver, "act-apply") is not None)
    _type(driver, "act-submission", submission)
    _type(driver, "act-reason", reason)
    labels = driver.find_elements(By.CSS_SELECTOR, ".st-key-act-action label")
    (choice,) = [label for label in labels if label.text == action]
    _click(driver, choice)
    _click(driver, _button(driver, "act-apply"))


def _alert_text(driver) -> str:
    # read in one script: Streamlit redraws alerts, so an element found first may be gone
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(\"[data-testid='stAlert']\"))"
        ".map(e => e.innerText).join('\\n')"
    )


def _upload(driver, tmp_path: Path, name: str) -> None:
    from selenium.webdriver.common.by import By

    _tab(driver, "Submit")
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "input[type='file']"))
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_bytes(sample_predictions())
    driver.find_element(By.CSS_SELECTOR, "input[type='file']").send_keys(str(predictions))
    wait_for(driver, lambda: "predictions.jsonl" in _body(driver))
    _type(driver, "upload_name", name)
    _type(driver, "upload_method", "Sam's method")
    _type(driver, "upload_authors", "Sam")
    _click(
        driver, driver.find_element(By.CSS_SELECTOR, "[data-testid='stFormSubmitButton'] button")
    )


def test_roles_hold_on_the_server_and_the_audit_log_records_every_action(
    store,
    served_app,  # noqa: F811 (the imported fixture)
    browsers,
    tmp_path,
):
    from leaderboard.audit import AccessStore, default_access_path

    # anonymous: reads the ranking; the upload form is there, but sending it is refused
    visitor = browsers("anonymous")
    visitor.get(served_app)
    wait_for(visitor, lambda: "Not signed in" in _body(visitor))
    wait_for(visitor, lambda: "no-finetune (paper Baseline)" in _cells(visitor))
    _upload(visitor, tmp_path, "anon-run")
    wait_for(
        visitor, lambda: "anonymous may not upload: sign-in is required" in _alert_text(visitor)
    )
    assert not (store / "anon-run").exists()

    sam = browsers("sam")
    _sign_in(sam, served_app, SUBMITTER)
    _upload(sam, tmp_path, "sams-run")
    wait_for(sam, lambda: "Queued as 'sams-run'" in _alert_text(sam), timeout=120)
    _act(sam, "Hide", "sams-run", "I want it gone")
    wait_for(sam, lambda: "sam@example.org may not hide" in _alert_text(sam))

    eve = browsers("eve")
    _sign_in(eve, served_app, STRANGER)
    _act(eve, "Withdraw", "sams-run", "not mine")
    wait_for(eve, lambda: "eve@example.org may not withdraw" in _alert_text(eve))

    _act(sam, "Withdraw", "sams-run", "")
    wait_for(sam, lambda: "Done: withdraw sams-run" in _alert_text(sam))

    ana = browsers("ana")
    _sign_in(ana, served_app, MAINTAINER)
    _act(ana, "Hide", "retrieval-sample", "duplicate of another entry")
    wait_for(ana, lambda: "Done: hide retrieval-sample" in _alert_text(ana))
    wait_for(ana, lambda: "duplicate of another entry" in " ".join(_cells(ana)), timeout=30)
    wait_for(ana, lambda: "Audit log (newest last)" in _body(ana))  # maintainers read it
    assert {STRANGER, "refused"} <= set(_cells(ana))
    screenshot(ana, tmp_path, "sign-in-maintainer-queue.png")
    assert "Audit log" not in _body(eve) and "Audit log" not in _body(sam)
    visitor.refresh()
    wait_for(visitor, lambda: "duplicate of another entry" in _cells(visitor), timeout=60)
    assert "withdrawn by its submitter" in _cells(visitor)
    screenshot(visitor, tmp_path, "sign-in-ranking-hidden.png")

    lines = [
        (e.who, e.action, e.submission, e.outcome)
        for e in AccessStore(default_access_path(store)).entries()
    ]
    assert lines == [
        ("anonymous", "upload", None, "refused"),
        (SUBMITTER, "upload", "sams-run", "done"),
        (SUBMITTER, "hide", "sams-run", "refused"),
        (STRANGER, "withdraw", "sams-run", "refused"),
        (SUBMITTER, "withdraw", "sams-run", "done"),
        (MAINTAINER, "hide", "retrieval-sample", "done"),
    ]


def _vote(driver, key: str) -> None:
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By

    def clicked() -> bool:
        found = driver.find_elements(By.CSS_SELECTOR, f".st-key-{key} button")
        if not found:
            return False
        try:
            _click(driver, found[0])
        except (StaleElementReferenceException, ElementClickInterceptedException):
            return False  # the tab was redrawing: try again
        return True

    wait_for(driver, clicked)


def _open_vote_tab(driver) -> None:
    from selenium.webdriver.common.by import By

    _tab(driver, "Vote")
    wait_for(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, ".st-key-vote-undo")) == 1)
    time.sleep(0.8)  # a person looks before answering; faster votes are flagged


def test_votes_need_sign_in_and_a_reload_does_not_reset_the_voters_quota(
    store,
    served_app,  # noqa: F811 (the imported fixture)
    browsers,
    tmp_path,
):
    from leaderboard.actions import voter_id
    from leaderboard.audit import AccessStore, default_access_path
    from leaderboard.roles import Identity
    from leaderboard.votes import VoteStore, default_votes_path

    visitor = browsers("anonymous")
    visitor.get(served_app)
    _open_vote_tab(visitor)
    _vote(visitor, "vote-quality-left")
    wait_for(visitor, lambda: "anonymous may not vote" in _alert_text(visitor))

    sam = browsers("sam")
    _sign_in(sam, served_app, SUBMITTER)
    _open_vote_tab(sam)
    _vote(sam, "vote-quality-left")
    wait_for(sam, lambda: "Vote stored." in _alert_text(sam))
    _vote(sam, "vote-relevance-right")
    votes = VoteStore(default_votes_path(store))
    wait_for(sam, lambda: len(votes.votes()) == 2)
    sam.refresh()  # a new session of the same person: the quota follows the identity
    _open_vote_tab(sam)
    _vote(sam, "vote-quality-left")
    wait_for(sam, lambda: f"at most {VOTES_PER_MINUTE} every 60 s" in _alert_text(sam))
    screenshot(sam, tmp_path, "sign-in-vote-quota.png")
    assert len(votes.votes()) == 2
    assert {vote.voter for vote in votes.votes()} == {voter_id(Identity(SUBMITTER))}
    lines = [
        (e.who, e.action, e.outcome) for e in AccessStore(default_access_path(store)).entries()
    ]
    assert lines == [
        ("anonymous", "vote", "refused"),
        (SUBMITTER, "vote", "done"),
        (SUBMITTER, "vote", "done"),
        (SUBMITTER, "vote", "refused"),
    ]
