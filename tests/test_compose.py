"""docker-compose.yml cannot run here (no Docker engine): check what can be checked."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from floorwatch.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def floorwatch_services() -> list[tuple[str, list[str]]]:
    return [
        (name, service["command"])
        for name, service in COMPOSE["services"].items()
        if service.get("image") == "floorwatch:local"
    ]


def test_the_stack_has_workers_a_gateway_and_a_simulator() -> None:
    commands = [command[0] for _, command in floorwatch_services()]
    assert commands.count("worker") == 2
    assert commands.count("gateway") == 1
    assert commands.count("simulate") == 1


@pytest.mark.parametrize("name,command", floorwatch_services())
def test_every_floorwatch_service_runs_a_real_command(name: str, command: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0, name


def test_services_reach_kafka_on_its_internal_listener() -> None:
    kafka = COMPOSE["services"]["kafka"]["environment"]
    internal = next(
        address.split("//", 1)[1]
        for address in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
        if address.startswith("INTERNAL://")
    )
    for name, service in COMPOSE["services"].items():
        if service.get("image") == "floorwatch:local":
            assert service["environment"]["FLOORWATCH_BROKER"] == f"kafka://{internal}", name


def test_the_gateway_port_is_published_and_its_healthcheck_uses_it() -> None:
    gateway = COMPOSE["services"]["gateway"]
    port = gateway["command"][gateway["command"].index("--port") + 1]
    assert f"{port}:{port}" in gateway["ports"]
    assert f":{port}/healthz" in " ".join(gateway["healthcheck"]["test"])


def test_the_image_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("streams", "agents", "wallboard", "config", "floorwatch"):
        assert f"COPY {package} {package}" in dockerfile
        assert (ROOT / package / "__init__.py").exists()


# -- Prometheus and Grafana ---------------------------------------------------------------------

PROMETHEUS = yaml.safe_load((ROOT / "config" / "prometheus" / "prometheus.yml").read_text())


def test_the_stack_runs_prometheus_and_grafana_from_official_images() -> None:
    services = COMPOSE["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]


def mounts() -> list[tuple[str, Path, str]]:
    out = []
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", ()):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                out.append((name, ROOT / source, target))
    return out


@pytest.mark.parametrize("name,source,target", mounts())
def test_every_mounted_file_exists(name: str, source: Path, target: str) -> None:
    assert source.exists(), f"{name}: {source} (mounted at {target})"


def test_prometheus_finds_its_config_and_rules_where_they_are_mounted() -> None:
    prometheus = COMPOSE["services"]["prometheus"]
    targets = {target: source for _, source, target in mounts() if _ == "prometheus"}
    config_flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = config_flag.split("=", 1)[1]
    assert targets[config_path] == ROOT / "config/prometheus/prometheus.yml"
    for rule_file in PROMETHEUS["rule_files"]:
        mounted = str(Path(config_path).parent / rule_file)
        assert targets[mounted] == ROOT / "config/prometheus" / rule_file


def scrape_targets(job: str) -> list[str]:
    config = next(c for c in PROMETHEUS["scrape_configs"] if c["job_name"] == job)
    return [t for static in config["static_configs"] for t in static["targets"]]


def test_prometheus_scrapes_the_gateway_on_its_port() -> None:
    gateway = COMPOSE["services"]["gateway"]
    port = gateway["command"][gateway["command"].index("--port") + 1]
    assert scrape_targets("floorwatch-gateway") == [f"{gateway['hostname']}:{port}"]


def test_prometheus_scrapes_every_worker_on_its_metrics_port() -> None:
    workers = {
        name: service
        for name, service in COMPOSE["services"].items()
        if service.get("command") == ["worker"]
    }
    expected = []
    for name, service in workers.items():
        env = service["environment"]
        assert env["FLOORWATCH_WORKER__METRICS_HOST"] == "0.0.0.0", name
        port = env["FLOORWATCH_WORKER__METRICS_PORT"]
        assert int(port) > 0
        assert port in service["expose"], name
        assert f":{port}/metrics" in " ".join(service["healthcheck"]["test"]), name
        assert service["hostname"] == name
        expected.append(f"{name}:{port}")
    assert sorted(scrape_targets("floorwatch-worker")) == sorted(expected)
    assert len(expected) == 2


def test_grafana_reads_the_prometheus_service() -> None:
    datasources = yaml.safe_load(
        (ROOT / "config/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"]
    prometheus = COMPOSE["services"]["prometheus"]
    # Prometheus listens on its default 9090, published as is
    assert not [arg for arg in prometheus["command"] if arg.startswith("--web.listen-address")]
    assert prometheus["ports"] == ["9090:9090"]
    assert [d["url"] for d in datasources] == [f"http://{prometheus['hostname']}:9090"]


def test_grafana_loads_the_dashboards_from_where_they_are_mounted() -> None:
    provider = yaml.safe_load(
        (ROOT / "config/grafana/provisioning/dashboards/floorwatch.yml").read_text()
    )["providers"][0]
    targets = {target: source for name, source, target in mounts() if name == "grafana"}
    assert targets[provider["options"]["path"]] == ROOT / "config/grafana/dashboards"
    assert targets["/etc/grafana/provisioning"] == ROOT / "config/grafana/provisioning"
    uid = yaml.safe_load(
        (ROOT / "config/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]["uid"]
    for path in sorted((ROOT / "config/grafana/dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid, (path.name, panel["title"])


def test_every_dependency_waits_for_health_and_every_awaited_service_has_a_healthcheck() -> None:
    services = COMPOSE["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in services[dependency], dependency
    assert set(services["prometheus"]["depends_on"]) == {"gateway", "worker-1", "worker-2"}
    assert set(services["grafana"]["depends_on"]) == {"prometheus"}


def test_host_ports_are_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for service in COMPOSE["services"].values():
        for mapping in service.get("ports", ()):
            host = mapping.split(":")[0]
            assert f"localhost:{host}" in readme or f"| {host} |" in readme, mapping


def test_promtool_check_config_passes_with_the_rule_files_next_to_it() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: install Debian's prometheus package (make system)")
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=ROOT / "config" / "prometheus",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout
