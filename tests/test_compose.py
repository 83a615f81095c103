"""docker-compose.yml cannot run here (no Docker engine): check what can be checked."""

from __future__ import annotations

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
