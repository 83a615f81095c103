"""The ``alerts:`` section: built-in rules, good rules and notifiers, errors naming the path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import config
from config import load_config
from config.settings import AlertSettings, NotifierSettings, default_alert_rules
from streams.alert_rules import AlertRule, Guard
from streams.alerts import AlertTracker
from streams.errors import ConfigError

CONFIG_DIR = Path(config.__file__).parent
DEFAULT_IDS = [
    "service_level_below_target",
    "projected_service_level_below_target",
    "contacts_at_risk",
    "longest_wait",
    "abandon_rate_high",
    "site_service_level_low",
    "agent_not_ready_too_long",
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "floor.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_for(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(path, env=env or {})
    return str(raised.value)


def test_no_configuration_has_the_built_in_rules_and_no_notifiers() -> None:
    alerts = load_config(None, env={}).alerts

    assert [rule.id for rule in alerts.rules] == DEFAULT_IDS
    assert alerts.notifiers == ()
    assert (alerts.evaluate_ms, alerts.resolve_no_data_s) == (1000, 900.0)
    AlertTracker(alerts.rules)  # every built-in rule is usable


def test_shipped_file_writes_out_exactly_the_built_in_alerts() -> None:
    assert load_config(CONFIG_DIR / "floorwatch.yaml", env={}).alerts == AlertSettings()


def test_built_in_rules_follow_the_configured_rolling_windows(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, "windows: {rolling_min: [60, 15]}"), env={})

    windows = {rule.id: rule.window for rule in loaded.alerts.rules}

    assert windows["service_level_below_target"] == "rolling_15"
    assert windows["abandon_rate_high"] == "rolling_15"
    assert windows["site_service_level_low"] == "rolling_60"
    assert loaded.alerts.rules == default_alert_rules((15, 60))


def test_an_empty_rule_list_turns_alerts_off(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "alerts: {rules: []}"), env={}).alerts.rules == ()


def test_rules_and_notifiers_are_read_into_frozen_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        windows: {rolling_min: [15, 60]}
        alerts:
          evaluate_ms: 500
          resolve_no_data_s: 600
          rules:
            - id: acme.sl
              description: ACME interval service level
              metric: service_level
              window: rolling_15
              definition: answered_only
              match: {clients: acme, queues: ["acme_*", billing]}
              comparison: "<="
              warning: 0.8
              critical: 0.7
              clear: 0.85
              for_s: 90
              clear_for_s: 30
              cooldown_s: 600
              guard: {metric: answered, min: 5}
            - id: red-breaks
              metric: not_ready_s
              scope: agent
              match: {teams: [red]}
              reasons: [break, unspecified]
              comparison: ">"
              critical: 900
          notifiers:
            ops:
              kind: webhook
              url: https://alerts.example.com/floorwatch
              headers: {Authorization: Bearer abc, X-Team: intraday}
              retries: 3
              backoff_s: 0.5
              max_backoff_s: 8
              timeout_s: 5
              queue_size: 50
            slack:
              kind: slack
              url: https://hooks.slack.com/services/T0/B0/XXXX
              min_severity: critical
        """,
    )

    alerts = load_config(path, env={}).alerts

    assert alerts.evaluate_ms == 500
    assert alerts.resolve_no_data_s == 600.0
    assert alerts.rules == (
        AlertRule(
            id="acme.sl",
            description="ACME interval service level",
            metric="service_level",
            window="rolling_15",
            definition="answered_only",
            match=(("queues", ("acme_*", "billing")), ("clients", ("acme",))),
            comparison="<=",
            warning=0.8,
            critical=0.7,
            clear=0.85,
            for_s=90.0,
            clear_for_s=30.0,
            cooldown_s=600.0,
            guard=Guard("answered", 5.0),
        ),
        AlertRule(
            id="red-breaks",
            metric="not_ready_s",
            scope="agent",
            match=(("teams", ("red",)),),
            reasons=("break", "unspecified"),
            comparison=">",
            critical=900.0,
        ),
    )
    assert alerts.notifiers == (
        NotifierSettings(
            name="ops",
            kind="webhook",
            url="https://alerts.example.com/floorwatch",
            headers=(("Authorization", "Bearer abc"), ("X-Team", "intraday")),
            retries=3,
            backoff_s=0.5,
            max_backoff_s=8.0,
            timeout_s=5.0,
            queue_size=50,
        ),
        NotifierSettings(
            name="slack",
            kind="slack",
            url="https://hooks.slack.com/services/T0/B0/XXXX",
            min_severity="critical",
        ),
    )
    AlertTracker(alerts.rules)


def test_notifier_secrets_are_not_shown_in_repr() -> None:
    notifier = NotifierSettings(
        "slack", "slack", "https://hooks.slack.com/services/T0/B0/SECRET", (("X-Token", "t0k3n"),)
    )

    assert "SECRET" not in repr(notifier)
    assert "t0k3n" not in repr(notifier)


def test_secrets_come_from_floorwatch_variables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        alerts:
          notifiers:
            ops: {kind: webhook, url: "https://alerts.example.com/x"}
        """,
    )
    env = {
        "FLOORWATCH_ALERTS__NOTIFIERS__OPS__HEADERS__AUTHORIZATION": "Bearer s3cr3t",
        "FLOORWATCH_ALERTS__NOTIFIERS__SLACK__KIND": "slack",
        "FLOORWATCH_ALERTS__NOTIFIERS__SLACK__URL": "https://hooks.slack.com/services/T/B/Z",
    }

    notifiers = {n.name: n for n in load_config(path, env=env).alerts.notifiers}

    assert notifiers["ops"].headers == (("authorization", "Bearer s3cr3t"),)
    assert notifiers["slack"].url == "https://hooks.slack.com/services/T/B/Z"


def test_wrong_secret_from_the_environment_names_the_variable_not_its_value(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "alerts: {notifiers: {ops: {kind: webhook, url: 'http://x'}}}")
    variable = "FLOORWATCH_ALERTS__NOTIFIERS__OPS__HEADERS__X_TOKEN"

    message = error_for(path, {variable: "123456"})

    assert message == (
        f"env {variable}: alerts.notifiers.ops.headers.x_token: "
        "expected a one-line string (quote numbers)"
    )
    assert "123456" not in message


BAD_ALERTS = [
    pytest.param(
        "alerts: {rules: {id: x}}",
        "alerts.rules: expected a list, got {'id': 'x'}",
        id="rules-as-mapping",
    ),
    pytest.param(
        "alerts: {rules: [{metric: waiting, comparison: '>', warning: 1}]}",
        "alerts.rules[0].id: required key is missing",
        id="rule-without-id",
    ),
    pytest.param(
        "alerts: {rules: [{id: 'a:b', metric: waiting, comparison: '>', warning: 1}]}",
        "alerts.rules[0].id: expected a rule id of letters, digits, '_', '.' or '-', got 'a:b'",
        id="colon-in-id",
    ),
    pytest.param(
        """
        alerts:
          rules:
            - {id: a, metric: waiting, comparison: ">", warning: 1}
            - {id: a, metric: at_risk, comparison: ">", warning: 1}
        """,
        "alerts.rules[1].id: expected a unique rule id, alerts.rules[0] has it too, got 'a'",
        id="duplicate-id",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: servicelevel, comparison: '<', warning: 1}]}",
        "alerts.rules[0].metric: expected a metric (did you mean 'service_level'?), "
        "got 'servicelevel'",
        id="metric-typo",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warnng: 1}]}",
        "alerts.rules[0].warnng: unknown key (did you mean 'warning'?)",
        id="key-typo",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', min: 1}]}",
        "alerts.rules[0].min: unknown key (did you mean 'guard.min'?)",
        id="guard-key-one-level-too-high",
    ),
    pytest.param(
        """
        alerts:
          rules:
            - id: a
              metric: waiting
              comparison: >
              warning: 1
        """,
        "alerts.rules[0].comparison: expected '<', '<=', '>' or '>=' in quotes "
        "(YAML reads a bare > as folded text), got ''",
        id="bare-greater-than",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: above, warning: 1}]}",
        "alerts.rules[0].comparison: expected '<', '<=', '>' or '>=' in quotes "
        "(YAML reads a bare > as folded text), got 'above'",
        id="comparison-word",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>'}]}",
        "alerts.rules[0].warning: expected a warning or a critical threshold (or both)",
        id="no-threshold",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warning: '10'}]}",
        "alerts.rules[0].warning: expected a number, got '10'",
        id="threshold-as-text",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warning: 10, critical: 5}]}",
        "alerts.rules[0].critical: expected a value above warning (10), got 5",
        id="critical-less-severe-than-warning",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: service_level, window: interval, "
        "comparison: '<', warning: 0.8, clear: 0.7}]}",
        "alerts.rules[0].clear: expected a value above or at warning (0.8), got 0.7",
        id="clear-inside-the-breach",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: service_level, comparison: '<', warning: 0.8}]}",
        "alerts.rules[0].window: metric 'service_level' needs a window",
        id="missing-window",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: service_level, window: rolling_15, "
        "comparison: '<', warning: 0.8}]}",
        "alerts.rules[0].window: expected one of: interval, rolling_30, rolling_60, day, "
        "got 'rolling_15'",
        id="window-not-configured",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, window: day, comparison: '>', warning: 1}]}",
        "alerts.rules[0].window: metric 'waiting' has no window, got 'day'",
        id="window-on-a-live-metric",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: not_ready_s, comparison: '>', warning: 600}]}",
        "alerts.rules[0].scope: metric 'not_ready_s' is measured on: agent "
        "(the scope defaults to 'queue')",
        id="agent-metric-without-agent-scope",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, scope: agent, comparison: '>', warning: 1}]}",
        "alerts.rules[0].scope: metric 'waiting' is measured on: queue, site, client, floor, "
        "got 'agent'",
        id="queue-metric-on-agents",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, scope: queues, comparison: '>', warning: 1}]}",
        "alerts.rules[0].scope: expected one of 'queue', 'site', 'client', 'team', 'agent' or "
        "'floor', got 'queues'",
        id="plural-scope",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warning: 1, "
        "match: {teams: red}}]}",
        "alerts.rules[0].match.teams: a queue scope can match on queues, sites, clients, "
        "channels, got 'red'",
        id="match-attribute-of-another-scope",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warning: 1, "
        "match: {queue: billing}}]}",
        "alerts.rules[0].match.queue: unknown key (did you mean 'queues'?)",
        id="singular-match-key",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warning: 1, "
        "match: {queues: []}}]}",
        "alerts.rules[0].match.queues: expected a name, a pattern or a list of them, got []",
        id="empty-match",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: service_level, window: day, scope: site, "
        "relative_to: target, comparison: '<', warning: 0}]}",
        "alerts.rules[0].relative_to: only a queue has a service-level target, got 'target'",
        id="relative-on-a-site",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warning: 1, for_s: -5}]}",
        "alerts.rules[0].for_s: expected a number >= 0, got -5",
        id="negative-for",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warning: 1, "
        "guard: {metric: offered, min: 10}}]}",
        "alerts.rules[0].guard.window: metric 'offered' needs a window",
        id="guard-needs-a-window",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warning: 1, "
        "guard: {metric: offered}}]}",
        "alerts.rules[0].guard.min: required key is missing",
        id="guard-without-min",
    ),
    pytest.param(
        "alerts: {rules: [{id: a, metric: waiting, comparison: '>', warning: 1, "
        "reasons: [break]}]}",
        "alerts.rules[0].reasons: only the metric 'not_ready_s' takes reasons, got ['break']",
        id="reasons-on-waiting",
    ),
    pytest.param(
        "alerts: {notifiers: [{kind: webhook}]}",
        "alerts.notifiers: expected a mapping of notifiers by name, got [{'kind': 'webhook'}]",
        id="notifiers-as-list",
    ),
    pytest.param(
        "alerts: {notifiers: {Ops: {kind: webhook, url: 'http://x'}}}",
        "alerts.notifiers.Ops: expected a notifier name in lower case: a-z, 0-9 and '_', "
        "starting with a letter",
        id="notifier-name-upper-case",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: email, url: 'http://x'}}}",
        "alerts.notifiers.ops.kind: expected one of 'webhook' or 'slack', got 'email'",
        id="unknown-notifier-kind",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: webhook}}}",
        "alerts.notifiers.ops.url: required key is missing",
        id="notifier-without-url",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: webhook, url: 'ftp://example.com/x'}}}",
        "alerts.notifiers.ops.url: expected an http:// or https:// URL, got 'ftp://example.com/x'",
        id="url-scheme",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: webhook, url: 'https://'}}}",
        "alerts.notifiers.ops.url: expected an http:// or https:// URL, got 'https://'",
        id="url-without-host",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: webhook, url: 'http://x:99999/'}}}",
        "alerts.notifiers.ops.url: expected an http:// or https:// URL, got 'http://x:99999/'",
        id="url-port-out-of-range",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: webhook, url: 'http://x', headers: {'X Bad': v}}}}",
        "alerts.notifiers.ops.headers.X Bad: expected an HTTP header name, got 'X Bad'",
        id="header-name-with-space",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: webhook, url: 'http://x', headers: {X-Token: 42}}}}",
        "alerts.notifiers.ops.headers.X-Token: expected a one-line string (quote numbers)",
        id="header-value-not-a-string",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: webhook, url: 'http://x', retries: -1}}}",
        "alerts.notifiers.ops.retries: expected an integer from 0 to 100, got -1",
        id="negative-retries",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: webhook, url: 'http://x', backoff_s: 10, "
        "max_backoff_s: 5}}}",
        "alerts.notifiers.ops.max_backoff_s: expected a number >= backoff_s (10), got 5.0",
        id="max-backoff-below-backoff",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: webhook, url: 'http://x', queue_size: 0}}}",
        "alerts.notifiers.ops.queue_size: expected an integer from 1 to 1000000, got 0",
        id="zero-queue",
    ),
    pytest.param(
        "alerts: {notifiers: {ops: {kind: slack, url: 'http://x', min_severity: info}}}",
        "alerts.notifiers.ops.min_severity: expected one of 'warning' or 'critical', got 'info'",
        id="unknown-severity",
    ),
    pytest.param(
        "alerts: {evaluate_ms: 10}",
        "alerts.evaluate_ms: expected an integer from 100 to 60000, got 10",
        id="evaluate-too-often",
    ),
    pytest.param(
        "alerts: {rule: []}",
        "alerts.rule: unknown key (did you mean 'rules'?)",
        id="alerts-key-typo",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_ALERTS)
def test_bad_alerts_section_fails_naming_file_path_and_value(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)

    assert error_for(path) == f"{path}: {message}"
