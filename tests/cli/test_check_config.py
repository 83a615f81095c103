"""``floorwatch check-config``, and commands that need a broker when none is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from floorwatch.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_floorwatch_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOORWATCH_CONFIG", raising=False)
    monkeypatch.delenv("FLOORWATCH_BROKER", raising=False)


def test_good_file_passes_with_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "config" / "examples" / "bpo.yaml"

    code = main(["check-config", str(path)])

    out = capsys.readouterr().out
    assert code == 0
    assert out.strip() == f"{path}: OK: 2 sites, 8 queues, 4 teams, broker embedded"


def test_no_file_checks_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out.startswith("<defaults>: OK: 1 site, 0 queues, 0 teams")


def test_wrong_value_fails_naming_file_path_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "floor.yaml"
    path.write_text("queues:\n  - name: sales\n  - name: support\n    threshold_s: -20\n")

    code = main(["check-config", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}: queues[1].threshold_s:" in err
    assert "got -20" in err


def test_missing_file_fails_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "absent.yaml"

    assert main(["check-config", str(path)]) == 2
    assert str(path) in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["worker"], ["gateway"], ["simulate"], ["replay", "events.jsonl"]],
    ids=lambda argv: argv[0],
)
def test_command_without_a_broker_says_to_set_floorwatch_broker(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "set FLOORWATCH_BROKER" in capsys.readouterr().err
