"""A wrong configuration fails at start with the file, the path, the problem and the value."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from config import load_config
from streams.errors import ConfigError, FloorwatchError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "floor.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_for(path: Path | str | None, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        load_config(path, env=env or {})
    return raised.value


BAD_CONFIGS = [
    # Numbers, and booleans where numbers belong.
    pytest.param(
        "queues: [{name: a}, {name: b}, {name: c, threshold_s: -20}]",
        "queues[2].threshold_s: expected a number > 0, got -20",
        id="negative-threshold",
    ),
    pytest.param(
        "defaults: {threshold_s: 0}",
        "defaults.threshold_s: expected a number > 0, got 0",
        id="zero-threshold",
    ),
    pytest.param(
        "defaults: {threshold_s: true}",
        "defaults.threshold_s: expected a number > 0, got True",
        id="bool-as-number",
    ),
    pytest.param(
        'defaults: {threshold_s: "20"}',
        "defaults.threshold_s: expected a number > 0, got '20'",
        id="string-as-number",
    ),
    pytest.param(
        "defaults: {threshold_s: .inf}",
        "defaults.threshold_s: expected a number > 0, got inf",
        id="infinite-threshold",
    ),
    pytest.param(
        "defaults: {short_abandon_s: -1}",
        "defaults.short_abandon_s: expected a number >= 0, got -1",
        id="negative-short-abandon",
    ),
    pytest.param(
        "defaults: {risk_fraction: 1.5}",
        "defaults.risk_fraction: expected a number > 0 and <= 1, got 1.5",
        id="risk-fraction-above-one",
    ),
    pytest.param(
        "defaults: {service_level: {target: 80}}",
        "defaults.service_level.target: expected a number > 0 and <= 1, got 80",
        id="target-as-percentage",
    ),
    pytest.param(
        "defaults: {service_level: {target: 0}}",
        "defaults.service_level.target: expected a number > 0 and <= 1, got 0",
        id="zero-target",
    ),
    pytest.param(
        "topics: {partitions: true}",
        "topics.partitions: expected an integer from 1 to 1024, got True",
        id="bool-as-integer",
    ),
    pytest.param(
        "topics: {partitions: 0}",
        "topics.partitions: expected an integer from 1 to 1024, got 0",
        id="zero-partitions",
    ),
    pytest.param(
        "topics: {partitions: 2048}",
        "topics.partitions: expected an integer from 1 to 1024, got 2048",
        id="too-many-partitions",
    ),
    pytest.param(
        "processing: {lateness_horizon_s: 1.5}",
        "processing.lateness_horizon_s: expected a positive integer, got 1.5",
        id="fractional-seconds",
    ),
    pytest.param(
        "processing: {max_event_bytes: 0}",
        "processing.max_event_bytes: expected a positive integer, got 0",
        id="zero-event-bytes",
    ),
    # Booleans.
    pytest.param(
        'defaults: {service_level: {include_flowouts: "yes"}}',
        "defaults.service_level.include_flowouts: expected true or false, got 'yes'",
        id="yes-string-as-bool",
    ),
    pytest.param(
        "defaults: {service_level: {include_flowouts: 1}}",
        "defaults.service_level.include_flowouts: expected true or false, got 1",
        id="one-as-bool",
    ),
    # Unknown keys.
    pytest.param(
        "defaults: {treshold_s: 20}",
        "defaults.treshold_s: unknown key (did you mean 'threshold_s'?)",
        id="typo-with-suggestion",
    ),
    pytest.param(
        "queues: [{name: a, target: 0.9}]",
        "queues[0].target: unknown key (did you mean 'service_level.target'?)",
        id="service-level-key-one-level-too-high",
    ),
    pytest.param(
        "threshold_s: 20",
        "threshold_s: unknown key (did you mean 'defaults.threshold_s'?)",
        id="queue-default-at-top-level",
    ),
    pytest.param(
        "defaults: {service_level: {taget: 0.9}}",
        "defaults.service_level.taget: unknown key (did you mean 'target'?)",
        id="typo-in-service-level",
    ),
    pytest.param(
        "queues: [{name: a, colour: red}]",
        "queues[0].colour: unknown key; expected one of: name, site, client, channel, "
        "threshold_s, short_abandon_s, interval_min, risk_fraction, service_level",
        id="unknown-key-without-suggestion",
    ),
    pytest.param(
        "defaults: {name: billing}",
        "defaults.name: unknown key; expected one of: site, client, channel, threshold_s, "
        "short_abandon_s, interval_min, risk_fraction, service_level",
        id="defaults-have-no-name",
    ),
    # Shapes and names.
    pytest.param(
        "sites: {name: london}",
        "sites: expected a list, got {'name': 'london'}",
        id="sites-as-mapping",
    ),
    pytest.param(
        "defaults: [threshold_s]",
        "defaults: expected a mapping, got ['threshold_s']",
        id="defaults-as-list",
    ),
    pytest.param(
        "queues: [billing]",
        "queues[0]: expected a mapping, got 'billing'",
        id="queue-as-string",
    ),
    pytest.param(
        "queues: [{site: default}]",
        "queues[0].name: required key is missing",
        id="queue-without-name",
    ),
    pytest.param(
        'queues: [{name: ""}]',
        "queues[0].name: expected a non-empty string, got ''",
        id="empty-queue-name",
    ),
    pytest.param(
        'queues: [{name: "billing "}]',
        "queues[0].name: expected a string without leading or trailing spaces, got 'billing '",
        id="queue-name-with-trailing-space",
    ),
    pytest.param(
        "queues: [{name: a}, {name: b}, {name: a}]",
        "queues[2].name: expected a unique name, queues[0] has it too, got 'a'",
        id="duplicate-queue-name",
    ),
    pytest.param(
        "sites: [{name: x}, {name: x}]",
        "sites[1].name: expected a unique name, sites[0] has it too, got 'x'",
        id="duplicate-site-name",
    ),
    pytest.param(
        'teams: [{name: red, leader: ""}]',
        "teams[0].leader: expected a non-empty string, got ''",
        id="empty-leader",
    ),
    # References.
    pytest.param(
        "sites: [{name: london}]\nqueues: [{name: a, site: paris}]",
        "queues[0].site: expected a configured site ('london'), got 'paris'",
        id="queue-at-unknown-site",
    ),
    pytest.param(
        "defaults: {site: london}",
        "defaults.site: expected a configured site ('default'), got 'london'",
        id="defaults-site-without-sites",
    ),
    pytest.param(
        "sites: [{name: london}, {name: leeds}]\nteams: [{name: red, site: paris}]",
        "teams[0].site: expected a configured site ('london' or 'leeds'), got 'paris'",
        id="team-at-unknown-site",
    ),
    pytest.param(
        "clients: [{name: acme}, {name: globex}]\nqueues: [{name: a, client: initech}]",
        "queues[0].client: expected a configured client ('acme' or 'globex'), got 'initech'",
        id="unknown-client",
    ),
    # Sites: time zones and day reset.
    pytest.param(
        "sites: [{name: x, timezone: Europe/Londn}]",
        "sites[0].timezone: expected an IANA time zone name (did you mean 'Europe/London'?), "
        "got 'Europe/Londn'",
        id="misspelt-timezone",
    ),
    pytest.param(
        "sites: [{name: x, timezone: Mars/Olympus}]",
        "sites[0].timezone: expected an IANA time zone name such as 'Europe/London', "
        "got 'Mars/Olympus'",
        id="unknown-timezone",
    ),
    pytest.param(
        "sites: [{name: x, timezone: 1}]",
        "sites[0].timezone: expected an IANA time zone name such as 'Europe/London', got 1",
        id="timezone-not-a-string",
    ),
    pytest.param(
        "sites: [{name: x, day_reset: 10:30}]",
        'sites[0].day_reset: expected a quoted "HH:MM" time '
        "(YAML reads unquoted 10:30 as 630), got 630",
        id="unquoted-day-reset",
    ),
    pytest.param(
        'sites: [{name: x, day_reset: "24:00"}]',
        'sites[0].day_reset: expected a "HH:MM" time from "00:00" to "23:59", got \'24:00\'',
        id="day-reset-past-midnight",
    ),
    pytest.param(
        'sites: [{name: x, day_reset: "6am"}]',
        'sites[0].day_reset: expected a "HH:MM" time from "00:00" to "23:59", got \'6am\'',
        id="day-reset-not-hh-mm",
    ),
    pytest.param(
        """
        sites: [{name: x, day_reset: "06:15"}]
        queues: [{name: a}, {name: b}, {name: c}, {name: d, interval_min: 30}]
        """,
        "queues[3].interval_min: site 'x' starts its day at 06:15 (sites[0].day_reset), "
        "not on a 30-minute boundary; expected 15 or a different day_reset, got 30",
        id="day-reset-not-on-queue-interval",
    ),
    pytest.param(
        """
        sites: [{name: x, day_reset: "06:30"}]
        defaults: {interval_min: 60}
        """,
        "defaults.interval_min: site 'x' starts its day at 06:30 (sites[0].day_reset), "
        "not on a 60-minute boundary; expected 15 or 30 or a different day_reset, got 60",
        id="day-reset-not-on-defaults-interval",
    ),
    pytest.param(
        """
        sites: [{name: x}, {name: y, day_reset: "06:15"}]
        defaults: {interval_min: 30}
        queues: [{name: a, site: y}]
        """,
        "queues[0].interval_min: site 'y' starts its day at 06:15 (sites[1].day_reset), "
        "not on a 30-minute boundary (from defaults); expected 15 or a different day_reset, "
        "got 30",
        id="day-reset-not-on-inherited-interval",
    ),
    pytest.param(
        'sites: [{name: x, day_reset: "06:05"}]',
        "defaults.interval_min: site 'x' starts its day at 06:05 (sites[0].day_reset), "
        "not on a 15-minute boundary (from the built-in default); "
        "expected a day_reset on a quarter hour, got 15",
        id="day-reset-off-every-interval",
    ),
    # Queue measurement rules.
    pytest.param(
        "defaults: {service_level: {definitions: [answered_of_offered, sl_custom]}}",
        "defaults.service_level.definitions[1]: expected one of 'answered_of_offered', "
        "'answered_only', 'abandons_positive' or 'ignore_early_abandons', got 'sl_custom'",
        id="unknown-definition",
    ),
    pytest.param(
        "queues: [{name: a, service_level: {definitions: []}}]",
        "queues[0].service_level.definitions: expected a non-empty list of service-level "
        "definitions (answered_of_offered, answered_only, abandons_positive, "
        "ignore_early_abandons), got []",
        id="empty-definitions",
    ),
    pytest.param(
        "defaults: {service_level: {definitions: [answered_only, answered_only]}}",
        "defaults.service_level.definitions[1]: expected each value once, already listed at "
        "[0], got 'answered_only'",
        id="repeated-definition",
    ),
    pytest.param(
        "defaults: {service_level: {definitions: answered_only}}",
        "defaults.service_level.definitions: expected a non-empty list of service-level "
        "definitions (answered_of_offered, answered_only, abandons_positive, "
        "ignore_early_abandons), got 'answered_only'",
        id="definitions-not-a-list",
    ),
    pytest.param(
        "queues: [{name: a, channel: phone}]",
        "queues[0].channel: expected one of 'voice', 'chat', 'email', 'message' or "
        "'callback', got 'phone'",
        id="unknown-channel",
    ),
    pytest.param(
        "defaults: {interval_min: 20}",
        "defaults.interval_min: expected 15, 30 or 60 (minutes), got 20",
        id="unsupported-interval",
    ),
    pytest.param(
        "defaults: {interval_min: 15.0}",
        "defaults.interval_min: expected 15, 30 or 60 (minutes), got 15.0",
        id="fractional-interval",
    ),
    # Windows.
    pytest.param(
        "windows: {rolling_min: []}",
        "windows.rolling_min: expected a non-empty list of window lengths in minutes, got []",
        id="no-rolling-windows",
    ),
    pytest.param(
        "windows: {rolling_min: 30}",
        "windows.rolling_min: expected a non-empty list of window lengths in minutes, got 30",
        id="rolling-window-not-a-list",
    ),
    pytest.param(
        "windows: {rolling_min: [30, 1441]}",
        "windows.rolling_min[1]: expected an integer from 1 to 1440, got 1441",
        id="rolling-window-over-a-day",
    ),
    pytest.param(
        "windows: {rolling_min: [30, 60, 30]}",
        "windows.rolling_min[2]: expected each value once, already listed at [0], got 30",
        id="repeated-rolling-window",
    ),
    # Topics and broker.
    pytest.param(
        'topics: {alerts: "floor alerts"}',
        "topics.alerts: expected a Kafka topic name: 1 to 249 characters from A-Z, a-z, 0-9, "
        "'.', '_', '-', got 'floor alerts'",
        id="topic-name-with-space",
    ),
    pytest.param(
        f"topics: {{alerts: {'a' * 250}}}",
        "topics.alerts: expected a Kafka topic name: 1 to 249 characters from A-Z, a-z, 0-9, "
        f"'.', '_', '-', got '{'a' * 116}...",  # values are shown cut at 120 characters
        id="topic-name-too-long",
    ),
    pytest.param(
        'topics: {snapshots: ".."}',
        "topics.snapshots: expected a Kafka topic name: 1 to 249 characters from A-Z, a-z, "
        "0-9, '.', '_', '-', got '..'",
        id="topic-name-dot-dot",
    ),
    pytest.param(
        "topics: {crm_events: acd-events}",
        "topics.crm_events: expected a unique topic name, topics.acd_events has it too, "
        "got 'acd-events'",
        id="two-topics-with-one-name",
    ),
    pytest.param(
        "broker: http://broker:9092",
        "broker: expected kafka://host:port (or host:port, or null for embedded), "
        "got 'http://broker:9092'",
        id="broker-wrong-scheme",
    ),
    pytest.param(
        "broker: kafka://broker",
        "broker: expected kafka://host:port (or host:port, or null for embedded), "
        "got 'kafka://broker'",
        id="broker-without-port",
    ),
    pytest.param(
        "broker: broker:70000",
        "broker: expected kafka://host:port (or host:port, or null for embedded), "
        "got 'broker:70000'",
        id="broker-port-out-of-range",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS)
def test_bad_config_fails_naming_file_path_and_value(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)

    assert str(error_for(path)) == f"{path}: {message}"


def test_config_error_carries_source_path_problem_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "queues: [{name: a}, {name: b, threshold_s: -20}]")

    error = error_for(path)

    assert isinstance(error, FloorwatchError)
    assert (error.source, error.path, error.problem, error.value) == (
        str(path),
        "queues[1].threshold_s",
        "expected a number > 0",
        -20,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "defaults:\n  threshold_s: 20\n   channel: voice\n",
            "invalid YAML at line 3, column 11: mapping values are not allowed here",
            id="bad-indentation",
        ),
        pytest.param(
            "sites:\n  - name: x\nqueues:\n  - {name: a\n",
            "invalid YAML at line 5, column 1: expected ',' or '}', but got '<stream end>'",
            id="unclosed-flow-mapping",
        ),
        pytest.param(
            "defaults:\n  threshold_s: 20\n  short_abandon_s: 5\n  threshold_s: 30\n",
            "invalid YAML at line 4, column 3: found the key 'threshold_s' twice",
            id="duplicate-key",
        ),
        pytest.param(
            "- broker: kafka://x:1\n",
            "expected a mapping of sections at the top level, got [{'broker': 'kafka://x:1'}]",
            id="top-level-list",
        ),
        pytest.param(
            "just some text\n",
            "expected a mapping of sections at the top level, got 'just some text'",
            id="top-level-scalar",
        ),
    ],
)
def test_file_that_is_not_a_configuration_fails_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "floor.yaml"
    path.write_text(text, encoding="utf-8")

    assert str(error_for(path)) == f"{path}: {message}"


def test_missing_file_fails_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    assert str(error_for(path)) == f"{path}: no such configuration file"


def test_missing_file_named_by_floorwatch_config_says_so(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    error = error_for(None, env={"FLOORWATCH_CONFIG": str(path)})

    assert str(error) == f"{path}: no such configuration file (named by FLOORWATCH_CONFIG)"


def test_directory_instead_of_file_fails_naming_it(tmp_path: Path) -> None:
    assert str(error_for(tmp_path)) == f"{tmp_path}: cannot read the file: Is a directory"


def test_file_that_is_not_utf8_fails_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "floor.yaml"
    path.write_bytes(b"defaults: {channel: \xff}\n")

    assert str(error_for(path)) == f"{path}: expected UTF-8 text, byte 20 is not"
