"""Who may see the board and who may acknowledge alerts: optional tokens from the environment.

- ``FLOORWATCH_VIEWER_TOKEN``: when set, the page (``/``), the websocket (``/ws``) and the
  REST API (``/api/…``) need it, or the operator token, which can do everything a viewer can;
- ``FLOORWATCH_OPERATOR_TOKEN``: when set, acknowledging an alert needs it (the viewer token
  is not enough). When only a viewer token is set, it also allows acknowledging.

A token is presented as ``Authorization: Bearer <token>`` or as ``?token=<token>`` (a TV or a
browser's websocket cannot send headers). No token: 401 with ``WWW-Authenticate``; a wrong
one: 403. The page's own files under ``/static/`` (no data in them), ``/metrics`` (scraped by
Prometheus) and ``/healthz`` (probed by orchestrators) stay open: put them behind the
network's own controls if they must not be.

Tokens are secrets, so they are not configuration: the YAML file and its ``FLOORWATCH_A__B``
overrides never carry them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, Literal
from urllib.parse import unquote

VIEWER_VARIABLE: Final = "FLOORWATCH_VIEWER_TOKEN"
OPERATOR_VARIABLE: Final = "FLOORWATCH_OPERATOR_TOKEN"
TOKEN_PARAMETER: Final = "token"

Role = Literal["viewer", "operator"]


@dataclass(frozen=True)
class Denied:
    """Why a request is refused: 401 (no token) or 403 (a token that does not fit)."""

    status: HTTPStatus
    message: str


@dataclass(frozen=True, repr=False)
class Tokens:
    """The configured tokens (None: that role needs none)."""

    viewer: str | None = None
    operator: str | None = None

    def __repr__(self) -> str:  # never print a secret into a log
        return (
            f"Tokens(viewer={'set' if self.viewer else None}, "
            f"operator={'set' if self.operator else None})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Tokens:
        """The tokens of ``env``; an empty variable counts as unset."""
        return cls(env.get(VIEWER_VARIABLE) or None, env.get(OPERATOR_VARIABLE) or None)

    @property
    def any(self) -> bool:
        return bool(self.viewer or self.operator)

    def check(self, role: Role, presented: str | None) -> Denied | None:
        """None when ``presented`` may act as ``role``; otherwise why not."""
        if role == "operator" and self.operator:
            accepted = [self.operator]
        elif self.viewer:
            accepted = [self.viewer] + ([self.operator] if self.operator else [])
        else:
            return None
        if not presented:
            return Denied(
                HTTPStatus.UNAUTHORIZED,
                f"{role} token required (Authorization: Bearer <token> or ?token=<token>)",
            )
        if any(_same(presented, token) for token in accepted):
            return None
        return Denied(HTTPStatus.FORBIDDEN, f"token not valid for {role} access")


def presented_token(authorization: str | None, query: str) -> str | None:
    """The token a request presents: the bearer credential, else the first ``token``
    parameter of the (undecoded) query string."""
    if authorization:
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip()
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if unquote(name) == TOKEN_PARAMETER and value:
            return unquote(value)
    return None


def without_token(query: str) -> str:
    """``query`` without its ``token`` parameters, so routes never see (or log) a secret."""
    return "&".join(
        part for part in query.split("&") if unquote(part.partition("=")[0]) != TOKEN_PARAMETER
    )


def _same(presented: str, token: str) -> bool:
    # constant time, so the comparison does not reveal how much of a guess was right
    return hmac.compare_digest(presented.encode(), token.encode())


__all__ = [
    "OPERATOR_VARIABLE",
    "TOKEN_PARAMETER",
    "VIEWER_VARIABLE",
    "Denied",
    "Role",
    "Tokens",
    "presented_token",
    "without_token",
]
