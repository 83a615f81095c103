"""What the notifiers send: the JSON webhook body and the Slack-compatible message.

Pure functions of an :class:`streams.alerts.AlertChange`; the sending is
``wallboard/notify.py``.

- :func:`webhook_payload` — ``{"source": "floorwatch", "version": 1, "event":
  "alert.firing", "alert": <AlertChange.to_json()>}``. ``event`` is ``alert.<state>``; the
  receiver can de-duplicate retried deliveries by :func:`delivery_key`.
- :func:`slack_payload` — a Slack incoming-webhook message (``text`` plus one attachment
  with a colour bar and fields), the subset that Mattermost, Rocket.Chat and Discord's
  ``/slack`` endpoints accept too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from streams.alert_rules import METRICS
from streams.alerts import RESOLVED, AlertChange, format_value

PAYLOAD_VERSION: Final = 1
COLOURS: Final = {"critical": "#d0312d", "warning": "#f2a900", RESOLVED: "#2e8540"}
"""Attachment colour by severity (by state for resolved)."""


def delivery_key(change: AlertChange) -> str:
    """One key per change (alert, state, time): the same for every retry of a delivery."""
    return f"{change.alert_id}/{change.state}/{change.at_ms}"


def webhook_payload(change: AlertChange) -> dict[str, Any]:
    """The JSON body a webhook notifier POSTs."""
    return {
        "source": "floorwatch",
        "version": PAYLOAD_VERSION,
        "event": f"alert.{change.state}",
        "alert": change.to_json(),
    }


def slack_payload(change: AlertChange) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook message for ``change``."""
    spec = METRICS.get(change.metric)
    unit = "count" if spec is None else spec.unit
    headline = f"{change.state.upper()}"
    if change.severity is not None and change.state != RESOLVED:
        headline += f" ({change.severity})"
    title = change.description or change.rule
    fields = [
        {"title": "Scope", "value": _escape(str(change.scope)), "short": True},
        {"title": "Value", "value": format_value(change.value, unit), "short": True},
    ]
    if change.threshold is not None and change.state != RESOLVED:
        threshold = f"{change.comparison} {format_value(change.threshold, unit)}"
        fields.append({"title": "Threshold", "value": _escape(threshold), "short": True})
    fields.append({"title": "Since", "value": _utc(change.since_ms), "short": True})
    if change.acknowledged_by:
        by = change.acknowledged_by
        if change.acknowledged_note:
            by += f": {change.acknowledged_note}"
        fields.append({"title": "Acknowledged", "value": _escape(by), "short": False})
    colour = COLOURS[RESOLVED] if change.state == RESOLVED else COLOURS.get(change.severity or "")
    attachment: dict[str, Any] = {
        "fallback": _escape(f"{headline}: {change.message}"),
        "color": colour or COLOURS["warning"],
        "title": _escape(f"{headline}: {title}"),
        "text": _escape(change.message),
        "fields": fields,
        "footer": f"Floorwatch · {_escape(change.alert_id)}",
        "ts": change.at_ms // 1000,
    }
    return {"text": _escape(f"{headline}: {change.message}"), "attachments": [attachment]}


def _escape(text: str) -> str:
    """Slack's message escaping: only ``&``, ``<`` and ``>`` (they start links and mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _utc(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


__all__ = ["COLOURS", "PAYLOAD_VERSION", "delivery_key", "slack_payload", "webhook_payload"]
