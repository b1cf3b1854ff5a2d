"""The page's account panel: Streamlit's native OpenID Connect sign-in, and the page's hooks.

Laid out in the sidebar (who is signed in), on the Submit tab (who uploads) and below the Queue
tab (your submissions, the form to act on one, and the maintainers' audit log).

The deployment file (``$CHATGENBENCH_DEPLOYMENT``, which ``chatgenbench leaderboard --config
FILE`` sets) switches sign-in on with its ``access`` section (:mod:`leaderboard.roles`). The
provider is configured the way Streamlit configures it: an ``[auth]`` section (``redirect_uri``,
``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``) in Streamlit's
secrets (``access.secrets`` names the file; else ``.streamlit/secrets.toml``). Signing in is
``st.login``; the identity comes from ``st.user``'s ID-token claims
(:func:`leaderboard.roles.identity_from_claims`). Without a deployment file, or with sign-in off,
the page is anonymous and says so.

:func:`begin` makes the :class:`PageAccess` of one run of the page (policy, identity, the
actions of :mod:`leaderboard.actions`); the page's hooks reach it through :func:`current`. This
module only lays out and looks up; every decision is :func:`leaderboard.roles.authorize`'s.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from chatgenbench.core.errors import ChatGenBenchError
from leaderboard.actions import Actions, GuardedVotes
from leaderboard.audit import AccessStore, default_access_path
from leaderboard.roles import (
    ACTIONS,
    ANONYMOUS,
    DEPLOYMENT_ENV,
    AccessPolicy,
    Identity,
    identity_from_claims,
)

_KEY = "_chatgenbench_access"
_SESSION = "_chatgenbench_session"
#: The actions the page's "Act on a submission" form offers (every one is checked on the server).
FORM_ACTIONS: dict[str, str] = {
    "withdraw": "Withdraw",
    "hide": "Hide",
    "unhide": "Unhide",
    "rescore": "Re-score",
    "retry": "Retry job",
    "queue_ablation": "Queue ablation",
    "delete": "Delete",
}


@st.cache_resource(show_spinner=False)
def _policy(path: str, mtime: float) -> AccessPolicy:
    from leaderboard.deployment import read_deployment

    return read_deployment(path).access_policy()


def page_policy() -> AccessPolicy:
    """Return the access policy of ``$CHATGENBENCH_DEPLOYMENT`` (sign-in off without one).

    Raises :class:`chatgenbench.core.errors.DeploymentError` for a file that cannot be used."""
    path = os.environ.get(DEPLOYMENT_ENV)
    if not path:
        return AccessPolicy()
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        mtime = 0.0  # read_deployment says what is wrong with the path
    return _policy(str(Path(path).resolve()), mtime)


def auth_configured() -> bool:
    """Whether Streamlit's secrets hold an ``[auth]`` section (st.login cannot work without)."""
    from streamlit.auth_util import get_secrets_auth_section

    try:
        return bool(get_secrets_auth_section())
    except Exception:  # noqa: BLE001  (a malformed secrets file: sign-in cannot work, said)
        return False


def signed_in_identity(policy: AccessPolicy) -> Identity:
    """Return the signed-in identity (``st.user``), or the anonymous visitor."""
    if not policy.sign_in:
        return ANONYMOUS
    try:
        if not st.user.is_logged_in:
            return ANONYMOUS
        claims = st.user.to_dict()
    except Exception:  # noqa: BLE001  (no auth configured or a broken cookie: nobody signed in)
        return ANONYMOUS
    return identity_from_claims(claims)


def session_id() -> str:
    """Return this browser session's random id (the anonymous voter's)."""
    return st.session_state.setdefault(_SESSION, uuid.uuid4().hex)


@dataclass
class PageAccess:
    """The access of one run of the page: the policy, who is looking, and the actions."""

    policy: AccessPolicy
    identity: Identity
    actions: Actions | None  # None when the access database cannot be opened
    problem: str | None = None

    def job_row(self, job) -> dict[str, Any]:
        """The part of ``job`` this visitor may see (all of it with sign-in off)."""
        if self.actions is None:
            return job.to_dict() if not self.policy.sign_in else {"id": job.id, "state": job.state}
        return self.actions.job_row(self.identity, job)

    def public(self, submissions: list) -> tuple[list, list[dict[str, str]]]:
        """The submissions shown, and a line for each withdrawn or hidden one."""
        if self.actions is None:
            return submissions, []
        return self.actions.public(submissions)


def begin(store, queue) -> PageAccess:
    """Make and remember the :class:`PageAccess` of this run (``queue`` may be the error that
    opening it raised)."""
    from leaderboard.scoring_queue import ScoringQueue

    problem = None
    try:
        policy = page_policy()
    except ChatGenBenchError as error:  # a broken deployment file: sign-in on, nobody signed in
        policy, problem = AccessPolicy(sign_in=True), f"the deployment file cannot be used: {error}"
    if policy.sign_in and problem is None and not auth_configured():
        problem = (
            "sign-in is on in the deployment file, but Streamlit's secrets have no [auth] "
            "section: nobody can sign in (see docs/sign-in.md)"
        )
    identity = signed_in_identity(policy)
    try:
        access = AccessStore(default_access_path(store.root))
        actions = Actions(policy, access, store, queue if isinstance(queue, ScoringQueue) else None)
    except ChatGenBenchError as error:  # a broken access database: said, the page reads on
        actions, problem = None, str(error)
    page = PageAccess(policy, identity, actions, problem)
    st.session_state[_KEY] = page
    return page


def current() -> PageAccess:
    """Return this run's :class:`PageAccess` (an anonymous, sign-in-off one before :func:`begin`)."""
    page = st.session_state.get(_KEY)
    return page if isinstance(page, PageAccess) else PageAccess(AccessPolicy(), ANONYMOUS, None)


def sign_in_panel() -> None:
    """Lay out who is signed in (sidebar): the sign-in or sign-out button, or that the page is
    anonymous."""
    page = current()
    st.header("Account")
    if page.problem:
        st.error(page.problem)
    if not page.policy.sign_in:
        st.caption("Anonymous: sign-in is off on this leaderboard; anyone may upload and vote.")
        return
    if page.identity.anonymous:
        st.caption("Not signed in. Sign in to upload and vote; reading needs no account.")
        provider = page.policy.provider
        st.button("Sign in", key="sign-in", on_click=st.login, args=(provider,) if provider else ())
        return
    role = page.policy.role(page.identity)
    st.text(f"Signed in as {page.identity.name}")
    st.text(f"Identity: {page.identity.label} · role: {role}")  # claims are text, not Markdown
    st.button("Sign out", key="sign-out", on_click=st.logout)


def upload_notice() -> None:
    """Say, above the upload form, who uploads and how many uploads are left today, or why
    this visitor cannot upload (a notice only: the form stays, and the server decides when it
    is sent, :func:`upload_allowed`)."""
    page = current()
    if page.actions is None:
        if page.policy.sign_in:
            st.error(f"Uploads are closed: {page.problem}")
        return
    if page.policy.sign_in and page.identity.anonymous:
        st.warning("Sign in to upload (the button in the sidebar): an anonymous upload is refused.")
        return
    left = page.actions.uploads_left(page.identity)
    if left is not None:
        st.caption(f"Uploading as {page.identity.label}: {left} upload(s) left today.")


def upload_allowed() -> bool:
    """Check, on the server, that this visitor may upload now (role and quota,
    :meth:`leaderboard.actions.Actions.may_upload`, which writes a refusal to the audit log);
    say why not and return False, or return True. Storing the upload checks again."""
    page = current()
    if page.actions is None:
        if page.policy.sign_in:
            st.error(f"Uploads are closed: {page.problem}")
            return False
        return True
    try:
        page.actions.may_upload(page.identity)
    except ChatGenBenchError as error:  # not signed in, or over the quota: said, not stored
        st.error(f"{error} ({error.how_to_fix})" if error.how_to_fix else str(error))
        return False
    return True


def store_upload(store, queue, check, data: bytes):
    """Store a checked upload and queue it, as this visitor (owner, quota, audit); return the
    job. Raises :class:`chatgenbench.core.errors.ChatGenBenchError` when refused."""
    page = current()
    if page.actions is None:
        if page.policy.sign_in:
            raise ChatGenBenchError(f"uploads are closed: {page.problem}")
        store.add(check, data)  # the access database is broken and sign-in is off: as before
        return queue.enqueue(check.name)
    return page.actions.upload(page.identity, check, data)


def guarded_votes(path, store):
    """Return the votes database as this visitor uses it (:class:`GuardedVotes`; the plain
    :class:`leaderboard.votes.VoteStore` when sign-in is off and the access database is broken).
    Raises :class:`chatgenbench.core.errors.ChatGenBenchError` when sign-in is on and the access
    database cannot be used."""
    page = current()
    actions = page.actions
    if actions is None:
        if not page.policy.sign_in:  # the access database is broken and sign-in is off: as before
            from leaderboard.votes import VoteStore

            return VoteStore(path, submissions=store)
        raise ChatGenBenchError(f"voting is closed: {page.problem}")
    return GuardedVotes(
        path, actions=actions, identity=page.identity, session=session_id(), submissions=store
    )


def removed_notice(removed: list[dict[str, str]]) -> None:
    """Show each withdrawn or hidden submission's public reason in its place (as text)."""
    if removed:
        st.caption("Not shown: withdrawn by their submitters or hidden by the maintainers.")
        st.dataframe(pd.DataFrame(removed), hide_index=True, key="removed-submissions")


def actions_panel() -> None:
    """Lay out, below the queue: this visitor's submissions, the form to act on a submission
    (checked on the server), and, for maintainers, the audit log. Nothing with sign-in off."""
    page = current()
    if not page.policy.sign_in or page.actions is None:
        return
    st.subheader("Your submissions and actions", divider="gray")
    if page.identity.anonymous:
        st.info("Sign in to see your submissions' jobs and to act on them.")
        return
    actions = page.actions
    owned = actions.access.owned_by(page.identity.label)
    states = actions.access.states()
    if owned:
        latest = actions.queue.latest_by_submission() if actions.queue is not None else {}
        rows = []
        for name in owned:
            job = latest.get(name)
            rows.append(
                {
                    "Submission": name,
                    "Shown": states[name].state if name in states else "yes",
                    "Job": "" if job is None else f"{job.id}: {job.stage_text()}",
                    "Failure reason": (job.error or "") if job is not None else "",
                }
            )
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="my-submissions")
    else:
        st.text("You have not uploaded anything yet.")
    _act_form(page)
    if page.policy.is_maintainer(page.identity):
        st.subheader("Audit log (newest last)", divider="gray")
        entries = actions.audit_entries(page.identity, limit=500)
        frame = pd.DataFrame([entry.to_dict() for entry in entries])
        if not frame.empty:
            frame["submission"] = frame["submission"].fillna("-")
            frame = frame[["time", "who", "action", "submission", "outcome", "detail"]]
        st.dataframe(frame, hide_index=True, key="audit-log", width="stretch")


def _act_form(page: PageAccess) -> None:
    with st.form("act", clear_on_submit=False):
        st.caption(
            "Who may do what: "
            + "; ".join(f"{FORM_ACTIONS[a].lower()}: {ACTIONS[a]}" for a in FORM_ACTIONS)
            + ". Every action is checked on the server and written to the audit log."
        )
        name = st.text_input("Submission", max_chars=64, key="act-submission")
        action = st.radio(
            "Action", list(FORM_ACTIONS), format_func=FORM_ACTIONS.get, horizontal=True,
            key="act-action",
        )  # fmt: skip
        reason = st.text_input("Public reason (hide, withdraw)", max_chars=300, key="act-reason")
        detail = st.text_input(
            "Job number (retry) or steps (ablation: prompt, model, arguments)",
            max_chars=60,
            key="act-detail",
        )
        applied = st.form_submit_button("Apply", key="act-apply")
    if applied:
        try:
            st.success(_apply(page, action, name.strip(), reason, detail.strip()))
        except ChatGenBenchError as error:  # refused or impossible: the reason, as text
            st.error(f"{error} ({error.how_to_fix})" if error.how_to_fix else str(error))


def _apply(page: PageAccess, action: str, name: str, reason: str, detail: str) -> str:
    from chatgenbench.core.errors import SubmissionError

    actions, who = page.actions, page.identity
    if action == "retry":
        if not detail.isdigit():
            raise SubmissionError("retry needs the job's number (see the table above)")
        job = actions.retry(who, int(detail))
        return f"Job {job.id} is queued again."
    if not name:
        raise SubmissionError("name the submission to act on")
    if action == "withdraw":
        actions.withdraw(who, name, reason)
    elif action == "hide":
        actions.hide(who, name, reason)
    elif action == "unhide":
        actions.unhide(who, name)
    elif action == "rescore":
        return f"Queued {name} again (job {actions.rescore(who, name).id})."
    elif action == "queue_ablation":
        steps = tuple(step.strip() for step in detail.split(",") if step.strip())
        return f"Queued the ablation (job {actions.queue_ablation(who, name, steps).id})."
    elif action == "delete":
        actions.delete(who, name)
    return f"Done: {FORM_ACTIONS[action].lower()} {name}."
