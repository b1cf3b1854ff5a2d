"""Who may do what on the leaderboard: the access policy and the one authorisation function.

The deployment file's ``access`` section (:mod:`leaderboard.deployment`) gives the policy::

    access:
      sign_in: true                # OpenID Connect sign-in (st.login); false: anonymous, as before
      secrets: secrets.toml        # Streamlit secrets file with the [auth] section (null: Streamlit's
                                   #   own places, .streamlit/secrets.toml)
      provider: null               # the [auth.<provider>] section to sign in with (null: [auth])
      maintainers: [ana@example.org]   # identities (e-mail, or issuer#subject) of the maintainers
      uploads_per_day: 5           # per identity, over the last 24 hours
      votes_per_minute: 30         # per identity
      anonymous_votes: false       # true: visitors may vote without signing in; their votes are
                                   #   stored apart, labelled, and left out of the fit unless asked

**Roles.** Everyone (signed in or not) may read the ranking, the details and the gallery. With
sign-in on, a *signed-in user* may upload (within ``uploads_per_day``) and vote (within
``votes_per_minute``); the *owner* of a submission (who uploaded it) may see its job's failure
reason and log and withdraw it; a *maintainer* may do all of that for every submission and also
hide, unhide, retry, re-score, queue an ablation, delete, and read the audit log. With sign-in off
the page is anonymous, as before: anyone may upload and vote, and nobody owns or maintains
anything in the page (maintainers work with the ``chatgenbench`` commands on the server).

:func:`authorize` is the only place these rules live; every action of
:mod:`leaderboard.actions` calls it on the server before it does anything, whatever the page showed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chatgenbench.core.errors import ChatGenBenchError, DeploymentError
from chatgenbench.core.yaml_files import bounded_repr, bounded_text

#: The deployment file the leaderboard page reads its ``access`` section from.
DEPLOYMENT_ENV = "CHATGENBENCH_DEPLOYMENT"
#: Every action the leaderboard knows, with who may take it (shown in the page and the docs).
ACTIONS: dict[str, str] = {
    "upload": "any signed-in user (anyone when sign-in is off)",
    "vote": "any signed-in user (anyone when sign-in is off or anonymous votes are allowed)",
    "see_job": "the submission's owner, or a maintainer",
    "withdraw": "the submission's owner, or a maintainer",
    "hide": "a maintainer",
    "unhide": "a maintainer",
    "retry": "a maintainer",
    "rescore": "a maintainer",
    "queue_ablation": "a maintainer",
    "delete": "a maintainer",
    "read_audit": "a maintainer",
}
OWNER_ACTIONS = frozenset({"see_job", "withdraw"})
MAINTAINER_ACTIONS = frozenset(ACTIONS) - {"upload", "vote"}
DEFAULT_UPLOADS_PER_DAY = 5
DEFAULT_VOTES_PER_MINUTE = 30
IDENTITY_MAX_CHARS = 320  # the longest e-mail address
_KEYS = (
    "sign_in", "secrets", "provider", "maintainers", "uploads_per_day", "votes_per_minute",
    "anonymous_votes",
)  # fmt: skip
_PROVIDER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class NotAllowed(ChatGenBenchError, PermissionError):
    """An action the identity may not take (the message names who, what, and who may)."""


@dataclass(frozen=True)
class Identity:
    """Who is acting: ``id`` is the stable identity (lower-case e-mail, or ``issuer#subject``);
    ``name`` is what the page shows. The anonymous visitor has ``id`` None."""

    id: str | None = None
    name: str = "anonymous"

    @property
    def anonymous(self) -> bool:
        """Whether nobody is signed in."""
        return self.id is None

    @property
    def label(self) -> str:
        """The identity as the audit log records it (``anonymous`` for nobody)."""
        return self.id or "anonymous"


ANONYMOUS = Identity()


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    """Return the :class:`Identity` of an OpenID Connect ID token's claims (``st.user``).

    The identity is the e-mail address (lower case) when the provider gives one and does not say
    it is unverified (``email_verified: false``), else ``<iss>#<sub>``: both are stable per
    person, unlike a display name. Claims without either are the anonymous visitor.
    """
    email = claims.get("email")
    verified = claims.get("email_verified", True) not in (False, "false")
    if isinstance(email, str) and "@" in email and verified:
        ident = email.strip().lower()
    elif isinstance(claims.get("sub"), str) and claims["sub"]:
        ident = f"{claims.get('iss') or ''}#{claims['sub']}"
    else:
        return ANONYMOUS
    ident = ident[:IDENTITY_MAX_CHARS]
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    return Identity(ident, bounded_text(name or ident, 80))


@dataclass(frozen=True)
class AccessPolicy:
    """The ``access`` section of a deployment file (see the module docstring)."""

    sign_in: bool = False
    secrets: str | None = None
    provider: str | None = None
    maintainers: frozenset[str] = field(default_factory=frozenset)
    uploads_per_day: int = DEFAULT_UPLOADS_PER_DAY
    votes_per_minute: int = DEFAULT_VOTES_PER_MINUTE
    anonymous_votes: bool = False

    def is_maintainer(self, identity: Identity) -> bool:
        """Whether ``identity`` is listed as a maintainer (never when sign-in is off)."""
        return self.sign_in and identity.id is not None and identity.id in self.maintainers

    def role(self, identity: Identity, owner: str | None = None) -> str:
        """Return ``maintainer``, ``owner``, ``signed-in`` or ``anonymous`` for ``identity``."""
        if self.is_maintainer(identity):
            return "maintainer"
        if identity.anonymous or not self.sign_in:
            return "anonymous"
        return "owner" if owner is not None and owner == identity.id else "signed-in"


def access_policy_from_dict(raw: Any, *, source: str = "deployment") -> AccessPolicy:
    """Return the :class:`AccessPolicy` of a deployment file's ``access`` mapping (empty or None:
    sign-in off). Raises :class:`DeploymentError` naming ``source``, the key and what was
    expected."""
    if raw is None:
        return AccessPolicy()
    where = f"{source}: access"
    if not isinstance(raw, dict):
        raise DeploymentError(f"{where}: {bounded_repr(raw)} is not a mapping of keys")
    unknown = sorted(str(key) for key in raw if key not in _KEYS)
    if unknown:
        raise DeploymentError(
            f"{where}: unknown key(s) {', '.join(bounded_text(k) for k in unknown[:5])}",
            how_to_fix=f"use only: {', '.join(_KEYS)}",
        )
    values: dict[str, Any] = {}
    for key in ("sign_in", "anonymous_votes"):
        if key in raw and not isinstance(raw[key], bool):
            raise DeploymentError(
                f"{where}.{key}: {bounded_repr(raw[key])}; expected true or false"
            )
        if key in raw:
            values[key] = raw[key]
    for key in ("uploads_per_day", "votes_per_minute"):
        value = raw.get(key)
        if key in raw and (type(value) is not int or not 0 <= value <= 1_000_000):
            raise DeploymentError(
                f"{where}.{key}: {bounded_repr(value)}; expected a whole number from 0 to 1000000"
            )
        if key in raw:
            values[key] = value
    for key in ("secrets", "provider"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise DeploymentError(f"{where}.{key}: {bounded_repr(value)}; expected text or null")
        values[key] = value
    if values["provider"] is not None and not _PROVIDER.match(values["provider"]):
        raise DeploymentError(
            f"{where}.provider: {bounded_repr(values['provider'])}; expected the name of an "
            "[auth.NAME] section of the secrets (letters, digits, '-', '_')"
        )
    maintainers = raw.get("maintainers") or []
    if not isinstance(maintainers, list) or not all(
        isinstance(m, str) and m.strip() and len(m) <= IDENTITY_MAX_CHARS for m in maintainers
    ):
        raise DeploymentError(
            f"{where}.maintainers: {bounded_repr(maintainers)}; expected a list of identities "
            "(e-mail addresses, or issuer#subject)"
        )
    values["maintainers"] = frozenset(_normalised(m) for m in maintainers)
    return AccessPolicy(**values)


def _normalised(identity: str) -> str:
    identity = identity.strip()
    return identity.lower() if "#" not in identity else identity


def authorize(
    policy: AccessPolicy,
    identity: Identity,
    action: str,
    *,
    submission: str | None = None,
    owner: str | None = None,
) -> str:
    """Allow ``identity`` to take ``action`` (a key of :data:`ACTIONS`) on ``submission`` (whose
    uploader is ``owner``), or raise :class:`NotAllowed` saying who they are, what they tried and
    who may. Returns the role the action was allowed under (``maintainer``, ``owner``,
    ``signed-in`` or ``anonymous``).

    The only place the rules live (see the module docstring); quotas are counted apart
    (:mod:`leaderboard.actions`). An unknown action is refused, never allowed.
    """
    if action not in ACTIONS:
        raise NotAllowed(
            f"unknown action {bounded_repr(action)}; expected one of {', '.join(ACTIONS)}"
        )
    role = policy.role(identity, owner)
    what = action.replace("_", " ") + (
        f" submission {bounded_repr(submission)}" if submission else ""
    )
    if action in ("upload", "vote"):
        if not policy.sign_in or role != "anonymous":
            return role
        if action == "vote" and policy.anonymous_votes:
            return role
        raise NotAllowed(
            f"{identity.label} may not {what}: sign-in is required",
            how_to_fix="sign in (the button in the sidebar), then try again",
        )
    if role == "maintainer":
        return role
    if action in OWNER_ACTIONS and role == "owner":
        return role
    if not policy.sign_in:
        how = "sign-in is off: maintainers use the chatgenbench commands on the server"
    elif identity.anonymous:
        how = "sign in first"
    else:
        how = "ask a maintainer (listed in the deployment file's access.maintainers)"
    raise NotAllowed(f"{identity.label} may not {what}: only {ACTIONS[action]} may", how_to_fix=how)
