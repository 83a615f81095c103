"""Tokens: who may view and who may acknowledge, as pure decisions."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from wallboard.access import Tokens, presented_token, without_token

BOTH = Tokens(viewer="v-secret", operator="o-secret")


@pytest.mark.parametrize(
    ("tokens", "role", "presented", "status"),
    [
        (Tokens(), "viewer", None, None),  # nothing configured: open
        (Tokens(), "operator", None, None),
        (BOTH, "viewer", None, HTTPStatus.UNAUTHORIZED),
        (BOTH, "viewer", "guess", HTTPStatus.FORBIDDEN),
        (BOTH, "viewer", "v-secret", None),
        (BOTH, "viewer", "o-secret", None),  # an operator can view
        (BOTH, "operator", "v-secret", HTTPStatus.FORBIDDEN),  # a viewer cannot acknowledge
        (BOTH, "operator", "o-secret", None),
        (BOTH, "operator", None, HTTPStatus.UNAUTHORIZED),
        (Tokens(viewer="v"), "operator", "v", None),  # no operator token: viewers acknowledge
        (Tokens(operator="o"), "viewer", None, None),  # no viewer token: viewing is open
        (Tokens(operator="o"), "operator", None, HTTPStatus.UNAUTHORIZED),
        (Tokens(operator="o"), "operator", "v", HTTPStatus.FORBIDDEN),
    ],
)
def test_token_decisions(
    tokens: Tokens, role: str, presented: str | None, status: HTTPStatus | None
) -> None:
    denied = tokens.check(role, presented)  # type: ignore[arg-type]
    assert (denied and denied.status) == status


def test_tokens_come_from_the_environment_and_never_show_in_a_repr() -> None:
    tokens = Tokens.from_env(
        {"FLOORWATCH_VIEWER_TOKEN": "v-secret", "FLOORWATCH_OPERATOR_TOKEN": ""}
    )
    assert tokens == Tokens(viewer="v-secret", operator=None)
    assert "v-secret" not in repr(tokens)
    assert repr(tokens) == "Tokens(viewer=set, operator=None)"


@pytest.mark.parametrize(
    ("authorization", "query", "token"),
    [
        ("Bearer abc", "", "abc"),
        ("bearer  abc ", "token=other", "abc"),  # the header wins
        (None, "site=x&token=a%2Fb", "a/b"),
        ("Basic dXNlcjpwYXNz", "token=t", "t"),  # not a bearer credential
        (None, "site=x", None),
        (None, "token=", None),
    ],
)
def test_presented_token(authorization: str | None, query: str, token: str | None) -> None:
    assert presented_token(authorization, query) == token


def test_routes_never_see_the_token_parameter() -> None:
    assert without_token("queue=a&token=s&from=1") == "queue=a&from=1"
    assert without_token("tok%65n=s") == ""
    assert without_token("") == ""
