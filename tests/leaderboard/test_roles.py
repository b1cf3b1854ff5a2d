"""The one authorisation function (:func:`leaderboard.roles.authorize`), tested directly: every
action against every role, with sign-in on and off; the policy read from a deployment file."""

from __future__ import annotations

import pytest

from chatgenbench.core.errors import DeploymentError
from leaderboard.deployment import deployment_from_dict
from leaderboard.roles import (
    ACTIONS,
    ANONYMOUS,
    AccessPolicy,
    Identity,
    NotAllowed,
    access_policy_from_dict,
    authorize,
    identity_from_claims,
)

MAINTAINER = Identity("ana@example.org", "Ana")
OWNER = Identity("sam@example.org", "Sam")
STRANGER = Identity("eve@example.org", "Eve")
ON = AccessPolicy(sign_in=True, maintainers=frozenset({MAINTAINER.id}))
OFF = AccessPolicy(sign_in=False, maintainers=frozenset({MAINTAINER.id}))
MAINTAINER_ONLY = ("hide", "unhide", "retry", "rescore", "queue_ablation", "delete", "read_audit")


def _allowed(policy, who, action, owner=OWNER.id) -> bool:
    try:
        authorize(policy, who, action, submission="run-1", owner=owner)
    except NotAllowed:
        return False
    return True


@pytest.mark.parametrize("action", MAINTAINER_ONLY)
def test_only_a_maintainer_takes_maintainer_actions(action):
    assert _allowed(ON, MAINTAINER, action)
    for who in (OWNER, STRANGER, ANONYMOUS):
        assert not _allowed(ON, who, action), (who, action)


@pytest.mark.parametrize("action", ["withdraw", "see_job"])
def test_the_owner_and_maintainers_withdraw_and_see_the_job_a_stranger_does_not(action):
    assert _allowed(ON, OWNER, action)
    assert _allowed(ON, MAINTAINER, action)
    assert not _allowed(ON, STRANGER, action)
    assert not _allowed(ON, ANONYMOUS, action)
    # a submission with no known owner (uploaded before sign-in) is nobody's but the maintainers'
    assert not _allowed(ON, OWNER, action, owner=None)
    assert not _allowed(ON, ANONYMOUS, action, owner=None)


def test_a_stranger_is_refused_with_who_what_and_who_may():
    with pytest.raises(NotAllowed) as caught:
        authorize(ON, STRANGER, "withdraw", submission="run-1", owner=OWNER.id)
    message = str(caught.value)
    assert "eve@example.org" in message and "withdraw" in message and "'run-1'" in message
    assert "owner" in message and caught.value.how_to_fix


def test_uploading_and_voting_need_sign_in_when_it_is_on():
    for action in ("upload", "vote"):
        assert _allowed(ON, STRANGER, action) and _allowed(ON, MAINTAINER, action)
        assert not _allowed(ON, ANONYMOUS, action)
    anonymous_votes = AccessPolicy(sign_in=True, anonymous_votes=True)
    assert _allowed(anonymous_votes, ANONYMOUS, "vote")
    assert not _allowed(anonymous_votes, ANONYMOUS, "upload")


def test_with_sign_in_off_everyone_uploads_and_votes_and_nobody_maintains():
    for who in (ANONYMOUS, STRANGER, MAINTAINER):
        assert _allowed(OFF, who, "upload") and _allowed(OFF, who, "vote")
        for action in (*MAINTAINER_ONLY, "withdraw"):
            assert not _allowed(OFF, who, action), (who, action)
    assert OFF.role(MAINTAINER) == "anonymous"


def test_an_unknown_action_is_refused_even_for_a_maintainer():
    for action in ("Hide", "hide ", "", "drop_table"):
        assert not _allowed(ON, MAINTAINER, action)
    assert set(MAINTAINER_ONLY) | {"upload", "vote", "withdraw", "see_job"} == set(ACTIONS)


def test_identity_is_the_verified_email_else_issuer_and_subject():
    assert identity_from_claims({"email": "Sam@Example.org", "sub": "1"}).id == "sam@example.org"
    unverified = {"email": "ana@example.org", "email_verified": False, "sub": "x", "iss": "I"}
    assert identity_from_claims(unverified).id == "I#x"  # never a maintainer by a claimed e-mail
    assert identity_from_claims({"sub": "42", "iss": "https://idp"}).id == "https://idp#42"
    assert identity_from_claims({}).anonymous
    assert identity_from_claims({"sub": "", "email": "no-at-sign"}).anonymous


def test_the_access_section_of_a_deployment_file(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[auth]\n", "utf-8")
    raw = {
        "sign_in": True,
        "secrets": "secrets.toml",
        "maintainers": [" Ana@Example.org "],
        "uploads_per_day": 2,
        "votes_per_minute": 3,
    }
    deployment = deployment_from_dict({"access": raw}, base_dir=tmp_path)
    policy = deployment.access_policy()
    assert policy.sign_in and policy.is_maintainer(MAINTAINER)
    assert (policy.uploads_per_day, policy.votes_per_minute) == (2, 3)
    assert policy.secrets == str(secrets.resolve())
    assert "access" not in deployment.describe()  # not recorded with rendered jobs
    assert not deployment_from_dict({}).access_policy().sign_in


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"sign_in": "yes"}, "access.sign_in"),
        ({"signin": True}, "unknown key"),
        ({"maintainers": "ana@example.org"}, "access.maintainers"),
        ({"maintainers": [3]}, "access.maintainers"),
        ({"uploads_per_day": -1}, "access.uploads_per_day"),
        ({"votes_per_minute": True}, "access.votes_per_minute"),
        ({"provider": "../x"}, "access.provider"),
        (["sign_in"], "not a mapping"),
    ],
)
def test_a_bad_access_section_names_the_key(raw, fragment):
    with pytest.raises(DeploymentError, match=fragment.replace(".", r"\.")):
        access_policy_from_dict(raw, source="deploy.yaml")


def test_a_secrets_file_that_is_not_there_is_refused(tmp_path):
    with pytest.raises(DeploymentError, match="access.secrets: no such file"):
        deployment_from_dict({"access": {"secrets": "missing.toml"}}, base_dir=tmp_path)


def test_the_leaderboard_command_stops_at_a_bad_access_section(tmp_path, capsys):
    from chatgenbench.cli import main as cli_main

    config = tmp_path / "deployment.yaml"
    config.write_text("access:\n  sign_in: true\n  maintainers: ana@example.org\n", "utf-8")
    store = tmp_path / "store"
    assert cli_main(["leaderboard", "--store", str(store), "--config", str(config)]) == 2
    assert "access.maintainers" in capsys.readouterr().err
