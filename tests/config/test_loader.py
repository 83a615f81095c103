"""Loading configuration: defaults, shipped files, inheritance, environment overrides."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

import config
from config import FloorwatchConfig, load_config, parse_config
from streams.errors import ConfigError
from streams.settings import QueueSettings, SiteSettings

CONFIG_DIR = Path(config.__file__).parent
ALL_DEFINITIONS = (
    "answered_of_offered",
    "answered_only",
    "abandons_positive",
    "ignore_early_abandons",
)


def write(tmp_path: Path, text: str, name: str = "floor.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_no_configuration_gives_the_design_section_5_defaults() -> None:
    loaded = load_config(None, env={})

    assert loaded.source == "<defaults>"
    assert loaded.broker is None
    core = loaded.core
    assert dict(core.sites) == {
        "default": SiteSettings(name="default", timezone="UTC", day_reset_min=0)
    }
    assert core.processing.rolling_windows_min == (30, 60)
    assert dict(core.queues) == {}
    assert dict(core.teams) == {}
    assert dict(core.clients) == {}
    defaults = core.queue_defaults
    assert defaults.site == "default"
    assert defaults.interval_min == 15
    assert defaults.threshold_s == 20.0
    assert defaults.short_abandon_s == 5.0
    assert defaults.definitions == ALL_DEFINITIONS
    assert defaults.definitions[0] == "answered_of_offered"
    assert defaults.target == 0.80
    assert defaults.include_flowouts is False
    assert defaults.channel == "voice"
    assert defaults.risk_fraction == 0.75


def test_no_configuration_topics_are_the_documented_names() -> None:
    topics = load_config(None, env={}).topics

    assert (
        topics.acd_events,
        topics.crm_events,
        topics.dead_letters,
        topics.snapshots,
        topics.intervals,
        topics.alerts,
        topics.partitions,
    ) == (
        "acd-events",
        "crm-events",
        "dead-letters",
        "floor-snapshots",
        "floor-intervals",
        "floor-alerts",
        4,
    )


def test_shipped_default_file_equals_having_no_file() -> None:
    shipped = load_config(CONFIG_DIR / "floorwatch.yaml", env={})
    no_file = load_config(None, env={})

    assert shipped.core == no_file.core
    assert shipped.topics == no_file.topics
    assert shipped.broker == no_file.broker


@pytest.mark.parametrize(
    "path", sorted((CONFIG_DIR / "examples").glob("*.yaml")), ids=lambda path: path.name
)
def test_every_shipped_example_loads(path: Path) -> None:
    assert load_config(path, env={}).source == str(path)


def bpo() -> FloorwatchConfig:
    return load_config(CONFIG_DIR / "examples" / "bpo.yaml", env={})


@pytest.mark.parametrize(
    ("queue", "attribute", "expected"),
    [
        ("acme_billing", "interval_min", 30),
        ("acme_billing", "target", 0.80),  # from defaults
        ("acme_fraud", "include_flowouts", True),
        ("acme_fraud", "threshold_s", 10.0),
        ("acme_chat", "channel", "chat"),
        ("acme_chat", "threshold_s", 60.0),
        ("globex_support", "definitions", ("answered_of_offered", "ignore_early_abandons")),
        ("globex_email", "channel", "email"),
        ("globex_email", "threshold_s", 3600.0),
        ("globex_email", "interval_min", 60),
        ("initech_claims", "site", "london"),  # from defaults
        ("initech_callbacks", "channel", "callback"),
    ],
)
def test_bpo_example_queue_values(queue: str, attribute: str, expected: object) -> None:
    assert getattr(bpo().core.queues[queue], attribute) == expected


def test_bpo_example_has_two_sites_three_clients_eight_queues_four_teams() -> None:
    core = bpo().core

    assert core.sites["london"].timezone == "Europe/London"
    assert core.sites["new_york"] == SiteSettings("new_york", "America/New_York", 360)
    assert list(core.clients) == ["acme", "globex", "initech"]
    assert len(core.queues) == 8
    assert {queue.channel for queue in core.queues.values()} >= {
        "voice",
        "chat",
        "email",
        "callback",
    }
    assert [(team.name, team.site, team.leader) for team in core.teams.values()] == [
        ("red", "london", "Alice Smith"),
        ("blue", "london", "Ben Okafor"),
        ("falcons", "new_york", "Carla Ruiz"),
        ("eagles", "new_york", "Dev Patel"),
    ]


def test_queue_inherits_missing_keys_from_defaults_including_service_level(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        """
        defaults:
          threshold_s: 30
          channel: chat
          service_level:
            definitions: [answered_only, answered_of_offered]
            target: 0.9
            include_flowouts: true
        queues:
          - name: billing
            short_abandon_s: 0
            service_level: {target: 0.95}
        """,
    )

    billing = load_config(path, env={}).core.queues["billing"]

    assert billing == QueueSettings(
        name="billing",
        site="default",
        client=None,
        channel="chat",
        threshold_s=30.0,
        short_abandon_s=0.0,
        definitions=("answered_only", "answered_of_offered"),
        target=0.95,
        include_flowouts=True,
        interval_min=15,
        risk_fraction=0.75,
    )


def test_unknown_queue_gets_the_defaults_under_its_own_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        defaults: {threshold_s: 45, service_level: {target: 0.7}}
        queues: [{name: billing, threshold_s: 10}]
        """,
    )
    core = load_config(path, env={}).core

    unknown = core.queue("x")

    assert unknown == replace(core.queue_defaults, name="x")
    assert (unknown.name, unknown.threshold_s, unknown.target) == ("x", 45.0, 0.7)


def test_defaults_site_is_the_first_listed_site_when_not_given(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sites:
          - {name: london, timezone: Europe/London}
          - {name: new_york, timezone: America/New_York}
        queues: [{name: billing}]
        teams: [{name: red}]
        """,
    )
    core = load_config(path, env={}).core

    assert core.queue_defaults.site == "london"
    assert core.queues["billing"].site == "london"
    assert core.teams["red"].site == "london"


@pytest.mark.parametrize(
    ("day_reset", "minutes"),
    [('"00:00"', 0), ('"06:00"', 360), ('"7:30"', 450), ('"23:45"', 1425)],
)
def test_day_reset_is_read_as_minutes_after_midnight(
    tmp_path: Path, day_reset: str, minutes: int
) -> None:
    path = write(tmp_path, f"sites: [{{name: x, timezone: UTC, day_reset: {day_reset}}}]\n")

    assert load_config(path, env={}).core.sites["x"].day_reset_min == minutes


def test_mappings_are_read_only_and_keep_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "queues: [{name: zulu}, {name: alpha}, {name: mike}]\n")
    queues = load_config(path, env={}).core.queues

    assert isinstance(queues, MappingProxyType)
    assert list(queues) == ["zulu", "alpha", "mike"]
    with pytest.raises(TypeError):
        queues["new"] = QueueSettings(name="new")  # type: ignore[index]


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("kafka://127.0.0.1:9092", "kafka://127.0.0.1:9092"),
        ("127.0.0.1:9092", "kafka://127.0.0.1:9092"),
        ("KAFKA://broker-1.example.com:19092", "kafka://broker-1.example.com:19092"),
        ('"[::1]:9092"', "kafka://[::1]:9092"),
        ("null", None),
    ],
)
def test_broker_is_normalised_to_a_kafka_url(
    tmp_path: Path, written: str, normalised: str | None
) -> None:
    path = write(tmp_path, f"broker: {written}\n")

    assert load_config(path, env={}).broker == normalised


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "# everything commented out\n")

    loaded = load_config(path, env={})

    assert loaded.source == str(path)
    assert loaded.core == load_config(None, env={}).core


def test_parse_config_does_not_modify_its_input() -> None:
    data: dict[str, object] = {"defaults": {"threshold_s": 30}}

    parse_config(data, "test", env={"FLOORWATCH_DEFAULTS__THRESHOLD_S": "40"})

    assert data == {"defaults": {"threshold_s": 30}}


# Environment overrides ------------------------------------------------------------------

FILE_UNDER_OVERRIDES = """
broker: kafka://file-broker:9092
topics: {partitions: 8}
windows: {rolling_min: [30]}
defaults:
  threshold_s: 30
  service_level: {target: 0.8}
queues: [{name: billing, channel: voice}]
"""


@pytest.mark.parametrize(
    ("env", "read", "expected"),
    [
        pytest.param(
            {"FLOORWATCH_DEFAULTS__SERVICE_LEVEL__TARGET": "0.9"},
            lambda c: c.core.queue_defaults.target,
            0.9,
            id="nested",
        ),
        pytest.param(
            {"FLOORWATCH_DEFAULTS__SERVICE_LEVEL__TARGET": "0.9"},
            lambda c: c.core.queues["billing"].target,
            0.9,
            id="nested-inherited-by-queue",
        ),
        pytest.param(
            {"FLOORWATCH_WINDOWS__ROLLING_MIN": "[15, 60]"},
            lambda c: c.core.processing.rolling_windows_min,
            (15, 60),
            id="list-value",
        ),
        pytest.param(
            {"FLOORWATCH_BROKER": "other-broker:29092"},
            lambda c: c.broker,
            "kafka://other-broker:29092",
            id="broker",
        ),
        pytest.param(
            {"FLOORWATCH_DEFAULTS__THRESHOLD_S": "45"},
            lambda c: c.core.queue_defaults.threshold_s,
            45.0,
            id="beats-file-value",
        ),
        pytest.param(
            {"FLOORWATCH_TOPICS__Partitions": "12"},
            lambda c: c.topics.partitions,
            12,
            id="keys-lower-cased",
        ),
        pytest.param(
            {"FLOORWATCH_PROCESSING__MAX_EVENT_BYTES": "1024"},
            lambda c: c.core.processing.max_event_bytes,
            1024,
            id="section-absent-from-file",
        ),
        pytest.param(
            {"FLOORWATCH_DEFAULTS__SERVICE_LEVEL": "{include_flowouts: true}"},
            lambda c: (c.core.queue_defaults.include_flowouts, c.core.queue_defaults.target),
            (True, 0.8),
            id="mapping-value-replaces-the-section",
        ),
        pytest.param(
            {"FLOORWATCH_TOKEN": "secret", "FLOORWATCH_SITES": "[oops]"},
            lambda c: c.core.queue_defaults.threshold_s,
            30.0,
            id="variables-without-double-underscore-ignored",
        ),
        pytest.param(
            {"FLOORWATCH_BROKER": ""},
            lambda c: c.broker,
            "kafka://file-broker:9092",
            id="empty-broker-variable-is-unset",
        ),
    ],
)
def test_env_overrides_the_file(
    tmp_path: Path,
    env: dict[str, str],
    read: Callable[[FloorwatchConfig], object],
    expected: object,
) -> None:
    path = write(tmp_path, FILE_UNDER_OVERRIDES)

    assert read(load_config(path, env=env)) == expected


def test_floorwatch_config_names_the_file_to_read(tmp_path: Path) -> None:
    path = write(tmp_path, "defaults: {threshold_s: 12}\n")

    loaded = load_config(env={"FLOORWATCH_CONFIG": str(path)})

    assert loaded.source == str(path)
    assert loaded.core.queue_defaults.threshold_s == 12.0


def test_explicit_path_wins_over_floorwatch_config(tmp_path: Path) -> None:
    named = write(tmp_path, "defaults: {threshold_s: 12}\n", "named.yaml")
    explicit = write(tmp_path, "defaults: {threshold_s: 34}\n", "explicit.yaml")

    loaded = load_config(explicit, env={"FLOORWATCH_CONFIG": str(named)})

    assert loaded.core.queue_defaults.threshold_s == 34.0


def test_empty_floorwatch_config_means_no_file() -> None:
    assert load_config(env={"FLOORWATCH_CONFIG": ""}).source == "<defaults>"


def test_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOORWATCH_DEFAULTS__THRESHOLD_S", "33")

    assert load_config(None).core.queue_defaults.threshold_s == 33.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"FLOORWATCH_DEFAULTS__THRESHOLD_S": "-5"},
            "env FLOORWATCH_DEFAULTS__THRESHOLD_S: defaults.threshold_s: "
            "expected a number > 0, got -5",
            id="bad-value",
        ),
        pytest.param(
            {"FLOORWATCH_DEFAULTS__TRESHOLD_S": "5"},
            "env FLOORWATCH_DEFAULTS__TRESHOLD_S: defaults.treshold_s: "
            "unknown key (did you mean 'threshold_s'?)",
            id="unknown-key",
        ),
        pytest.param(
            {"FLOORWATCH_DEFALTS__THRESHOLD_S": "5"},
            "env FLOORWATCH_DEFALTS__THRESHOLD_S: defalts: unknown key (did you mean 'defaults'?)",
            id="unknown-section",
        ),
        pytest.param(
            {"FLOORWATCH_WINDOWS__ROLLING_MIN": "[15, 0]"},
            "env FLOORWATCH_WINDOWS__ROLLING_MIN: windows.rolling_min[1]: "
            "expected an integer from 1 to 1440, got 0",
            id="bad-list-item",
        ),
        pytest.param(
            {"FLOORWATCH_WINDOWS__ROLLING_MIN": "[15, 60"},
            "env FLOORWATCH_WINDOWS__ROLLING_MIN: windows.rolling_min: "
            "expected a YAML value (expected ',' or ']', but got '<stream end>'), got '[15, 60'",
            id="not-yaml",
        ),
        pytest.param(
            {"FLOORWATCH_BROKER": "http://broker:9092"},
            "env FLOORWATCH_BROKER: broker: "
            "expected kafka://host:port (or host:port, or null for embedded), "
            "got 'http://broker:9092'",
            id="bad-broker",
        ),
        pytest.param(
            {"FLOORWATCH_QUEUES__0__THRESHOLD_S": "5"},
            "env FLOORWATCH_QUEUES__0__THRESHOLD_S: queues: "
            "expected a mapping to set '0' in (a list is overridden as a whole), "
            "got [{'name': 'billing', 'channel': 'voice'}]",
            id="into-a-list",
        ),
        pytest.param(
            {"FLOORWATCH_DEFAULTS____THRESHOLD_S": "5"},
            "env FLOORWATCH_DEFAULTS____THRESHOLD_S: "
            "expected FLOORWATCH_<SECTION>__<KEY> with a name between every '__'",
            id="empty-key",
        ),
    ],
)
def test_env_override_error_names_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    path = write(tmp_path, FILE_UNDER_OVERRIDES)

    with pytest.raises(ConfigError) as raised:
        load_config(path, env=env)

    assert str(raised.value) == message


def test_error_in_the_file_still_names_the_file_when_env_overrides_elsewhere(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "defaults: {threshold_s: 0}\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path, env={"FLOORWATCH_DEFAULTS__SERVICE_LEVEL__TARGET": "0.9"})

    assert raised.value.source == str(path)
