"""The ``alerts:`` section: alert rules and notifiers, checked like every other section.

::

    alerts:
      evaluate_ms: 1000
      resolve_no_data_s: 900
      rules:                      # absent: the built-in rules; [] : no rules at all
        - id: service_level_below_target
          metric: service_level
          window: rolling_30
          relative_to: target
          comparison: "<"
          warning: 0.0
          critical: -0.10
          clear: 0.02
          for_s: 120
          guard: {metric: service_level_contacts, min: 10}
      notifiers:                  # a mapping by name, so FLOORWATCH_ variables reach inside
        ops:
          kind: webhook
          url: https://alerts.example.com/floorwatch
          headers: {Authorization: Bearer ...}

Each field is checked on its own (type, range, known names), then the whole rule by
:func:`streams.alert_rules.rule_problems`, whose (field, problem) pairs become errors at the
path of that field. Notifiers are keyed by name rather than listed because environment
overrides reach mapping paths only: ``FLOORWATCH_ALERTS__NOTIFIERS__OPS__HEADERS__AUTHORIZATION``
sets a token without writing it in the file (variable names are lower-cased, which suits
case-insensitive HTTP header names; notifier names are therefore lower case).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Final, TypeVar
from urllib.parse import urlsplit

from config import checks
from config.checks import Check, Invalid, KeyPath
from config.reader import Reader, Section, dotted
from config.settings import (
    NOTIFIER_KINDS,
    AlertSettings,
    NotifierSettings,
    default_alert_rules,
)
from streams.alert_rules import (
    COMPARISONS,
    METRICS,
    RELATIVE_TO,
    SCOPE_KINDS,
    SEVERITIES,
    AlertRule,
    Comparison,
    Guard,
    rule_problems,
)
from streams.errors import NO_VALUE
from streams.settings import SL_DEFINITIONS, ProcessingSettings
from streams.snapshot import DAY, INTERVAL, rolling_label

ALERTS_KEYS: Final = ("evaluate_ms", "resolve_no_data_s", "rules", "notifiers")
RULE_KEYS: Final = (
    "id",
    "description",
    "metric",
    "scope",
    "match",
    "window",
    "definition",
    "relative_to",
    "reasons",
    "comparison",
    "warning",
    "critical",
    "clear",
    "for_s",
    "clear_for_s",
    "cooldown_s",
    "guard",
)
GUARD_KEYS: Final = ("metric", "min", "window")
MATCH_ALL_KEYS: Final = ("queues", "sites", "clients", "channels", "teams", "agents")
NOTIFIER_KEYS: Final = (
    "kind",
    "url",
    "headers",
    "min_severity",
    "retries",
    "backoff_s",
    "max_backoff_s",
    "timeout_s",
    "queue_size",
)
RULE_NESTED: Final[Mapping[str, Collection[str]]] = {"guard": GUARD_KEYS}

L = TypeVar("L", bound=str)

_RULE_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_NOTIFIER_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def read_alerts(reader: Reader, section: Section, processing: ProcessingSettings) -> AlertSettings:
    """The ``alerts`` section; rules are checked against the configured windows."""
    default = AlertSettings()
    windows = [INTERVAL, *(rolling_label(m) for m in processing.rolling_windows_min), DAY]
    if "rules" in section and section.values["rules"] is not None:
        rules = _read_rules(reader, section.items("rules"), windows)
    else:
        rules = default_alert_rules(processing.rolling_windows_min)
    return AlertSettings(
        rules=rules,
        notifiers=_read_notifiers(reader, section),
        evaluate_ms=section.get("evaluate_ms", checks.integer(100, 60_000), default.evaluate_ms),
        resolve_no_data_s=section.get(
            "resolve_no_data_s", checks.number(gt=0), default.resolve_no_data_s
        ),
    )


# -- rules ------------------------------------------------------------------------------------


def _read_rules(
    reader: Reader, items: list[tuple[KeyPath, object]], windows: list[str]
) -> tuple[AlertRule, ...]:
    first_path: dict[str, KeyPath] = {}
    rules = []
    for path, raw in items:
        section = reader.section(raw, path, RULE_KEYS, RULE_NESTED)
        rule = _read_rule(section, windows)
        if rule.id in first_path:
            raise reader.error(
                section.at("id"),
                f"expected a unique rule id, {dotted(first_path[rule.id])} has it too",
                rule.id,
            )
        first_path[rule.id] = path
        rules.append(rule)
    return tuple(rules)


def _read_rule(section: Section, windows: list[str]) -> AlertRule:
    number = checks.optional(checks.number())
    seconds = checks.number(ge=0)
    guard = None
    if section.values.get("guard") is not None:
        guard_section = section.section("guard", GUARD_KEYS)
        guard = Guard(
            metric=guard_section.require("metric", metric),
            min=guard_section.require("min", checks.number(ge=0)),
            window=guard_section.get("window", checks.text, None),
        )
    rule = AlertRule(
        id=section.require("id", rule_id),
        description=section.get("description", checks.optional(checks.text), None),
        metric=section.require("metric", metric),
        scope=section.get("scope", literal(SCOPE_KINDS), "queue"),
        match=_read_match(section.section("match", MATCH_ALL_KEYS)),
        window=section.get("window", checks.text, None),
        definition=section.get("definition", checks.choice(SL_DEFINITIONS), SL_DEFINITIONS[0]),
        relative_to=section.get("relative_to", checks.optional(checks.choice(RELATIVE_TO)), None),
        reasons=section.get("reasons", patterns, ()),
        comparison=section.require("comparison", comparison),
        warning=section.get("warning", number, None),
        critical=section.get("critical", number, None),
        clear=section.get("clear", number, None),
        for_s=section.get("for_s", seconds, 0.0),
        clear_for_s=section.get("clear_for_s", seconds, 0.0),
        cooldown_s=section.get("cooldown_s", seconds, 0.0),
        guard=guard,
    )
    problems = rule_problems(rule, windows)
    if problems:
        where, problem = problems[0]
        keys = tuple(where.split("."))
        value = _value_at(section.values, keys)
        if where == "scope" and value is NO_VALUE:
            problem += " (the scope defaults to 'queue')"
        raise section.reader.error((*section.path, *keys), problem, value)
    return rule


def _value_at(values: Mapping[object, object], keys: tuple[str, ...]) -> object:
    node: object = values
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return NO_VALUE
        node = node[key]
    return node


def _read_match(section: Section) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((key, section.get(key, patterns, ())) for key in MATCH_ALL_KEYS if key in section)


def rule_id(value: object) -> str:
    """A rule id: letters, digits, ``_ . -`` (it is part of every alert id and URL)."""
    if not isinstance(value, str) or not _RULE_ID.fullmatch(value):
        raise Invalid("expected a rule id of letters, digits, '_', '.' or '-'", value)
    return value


def metric(value: object) -> str:
    """A metric rules can judge (:data:`streams.alert_rules.METRICS`)."""
    if isinstance(value, str) and value in METRICS:
        return value
    close = checks.suggestion(value, METRICS) if isinstance(value, str) else None
    if close is not None:
        raise Invalid(f"expected a metric (did you mean {close!r}?)", value)
    raise Invalid(f"expected one of: {', '.join(METRICS)}", value)


def literal(options: tuple[L, ...]) -> Check[L]:
    """One of the strings ``options``, typed as their literal type."""

    def check(value: object) -> L:
        for option in options:
            if value == option:
                return option
        raise Invalid(f"expected one of {checks.quoted(options)}", value)

    return check


def comparison(value: object) -> Comparison:
    """``<``, ``<=``, ``>`` or ``>=`` (quoted: YAML reads a bare ``>`` as folded text)."""
    for known in COMPARISONS:
        if value == known:
            return known
    raise Invalid(
        f"expected {checks.quoted(COMPARISONS)} in quotes (YAML reads a bare > as folded text)",
        value,
    )


def patterns(value: object) -> tuple[str, ...]:
    """One name or pattern (``*`` matches anything), or a list of them."""
    if isinstance(value, str):
        return (checks.text(value),)
    return checks.distinct_list(checks.text, "expected a name, a pattern or a list of them")(value)


# -- notifiers --------------------------------------------------------------------------------


def _read_notifiers(reader: Reader, section: Section) -> tuple[NotifierSettings, ...]:
    raw = section.values.get("notifiers")
    path = section.at("notifiers")
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise reader.error(path, "expected a mapping of notifiers by name", raw)
    out = []
    for name, value in raw.items():
        if not isinstance(name, str) or not _NOTIFIER_NAME.fullmatch(name):
            raise reader.error(
                (*path, str(name)),
                "expected a notifier name in lower case: a-z, 0-9 and '_', starting with a letter",
            )
        out.append(_read_notifier(reader.section(value, (*path, name), NOTIFIER_KEYS), name))
    return tuple(out)


def _read_notifier(section: Section, name: str) -> NotifierSettings:
    default = NotifierSettings(name, "webhook", "")
    backoff_s = section.get("backoff_s", checks.number(gt=0, le=3600), default.backoff_s)
    max_backoff_s = section.get(
        "max_backoff_s", checks.number(gt=0, le=86_400), default.max_backoff_s
    )
    if max_backoff_s < backoff_s:
        raise section.reader.error(
            section.at("max_backoff_s"),
            f"expected a number >= backoff_s ({backoff_s:g})",
            max_backoff_s,
        )
    return NotifierSettings(
        name=name,
        kind=section.require("kind", literal(NOTIFIER_KINDS)),
        url=section.require("url", url),
        headers=section.get("headers", headers, ()),
        min_severity=section.get("min_severity", literal(SEVERITIES), default.min_severity),
        retries=section.get("retries", checks.integer(0, 100), default.retries),
        backoff_s=backoff_s,
        max_backoff_s=max_backoff_s,
        timeout_s=section.get("timeout_s", checks.number(gt=0, le=300), default.timeout_s),
        queue_size=section.get("queue_size", checks.integer(1, 1_000_000), default.queue_size),
    )


def url(value: object) -> str:
    """An ``http://`` or ``https://`` URL with a host."""
    expected = "expected an http:// or https:// URL"
    if not isinstance(value, str) or value != value.strip():
        raise Invalid(expected, value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise Invalid(expected, value) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(expected, value)
    return value


def headers(value: object) -> tuple[tuple[str, str], ...]:
    """HTTP headers: a mapping of token names to single-line string values."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping of header names to values", value)
    out = []
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise Invalid("expected an HTTP header name", name, (str(name),))
        if not isinstance(text, str) or "\r" in text or "\n" in text:
            # the value is likely a secret: say what is wrong without echoing it
            raise Invalid("expected a one-line string (quote numbers)", NO_VALUE, (name,))
        out.append((name, text))
    return tuple(out)


__all__ = ["ALERTS_KEYS", "read_alerts"]
