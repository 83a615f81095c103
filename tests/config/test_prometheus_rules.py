"""config/prometheus/alerts.yml: valid for Prometheus, unit-tested, and the built-in rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import config
from config.settings import default_alert_rules

RULES_DIR = Path(config.__file__).parent / "prometheus"
RULES = RULES_DIR / "alerts.yml"
RULE_TESTS = RULES_DIR / "alerts_test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool not found: install Debian's prometheus package (make test does)")
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, cwd=RULES_DIR, timeout=120, check=False
    )


def test_promtool_check_rules_passes() -> None:
    result = promtool("check", "rules", RULES.name)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", RULE_TESTS.name)

    assert result.returncode == 0, result.stdout + result.stderr


def alerting_rules() -> list[dict[str, object]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def test_every_built_in_rule_has_a_warning_and_a_critical_prometheus_alert() -> None:
    built_in = default_alert_rules()
    found: dict[str, set[str]] = {}
    for rule in alerting_rules():
        labels = rule["labels"]
        assert isinstance(labels, dict)
        if "rule" in labels:
            found.setdefault(labels["rule"], set()).add(labels["severity"])

    assert found == {
        rule.id: {
            s for s, t in (("warning", rule.warning), ("critical", rule.critical)) if t is not None
        }
        for rule in built_in
    }


def seconds(duration: object) -> float:
    """A Prometheus duration such as ``2m`` or ``30s`` in seconds (absent: 0)."""
    if duration is None:
        return 0.0
    units = {"s": 1, "m": 60, "h": 3600}
    match = re.fullmatch(r"(\d+)([smh])", str(duration))
    assert match is not None, duration
    return float(int(match[1]) * units[match[2]])


def test_prometheus_durations_are_the_built_in_ones() -> None:
    built_in = {rule.id: rule for rule in default_alert_rules()}

    for rule in alerting_rules():
        labels = rule["labels"]
        assert isinstance(labels, dict)
        if "rule" in labels:
            ours = built_in[labels["rule"]]
            assert seconds(rule.get("for")) == ours.for_s, rule["alert"]
            assert seconds(rule.get("keep_firing_for")) == ours.clear_for_s, rule["alert"]


def test_every_alert_has_a_unit_test() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    tested = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", ())
        if case.get("exp_alerts")
    }

    assert tested == {rule["alert"] for rule in alerting_rules()}
