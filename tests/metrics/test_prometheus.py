"""Acceptance: a real Prometheus scrapes a real stack, and every dashboard and alert-rule
expression returns data.

On loopback: the embedded broker, a real worker process (with its metrics port), a real
gateway process and ``/usr/bin/prometheus`` scraping both every second, loading
``config/prometheus/alerts.yml``. Crafted traffic gives every expression something to show:
answered contacts (some late, with hold and ACW), abandons, short abandons, flow-outs,
contacts waiting long enough to be at risk, agents available, on contact, in ACW and on a
break for half an hour, a duplicate and a message that is not JSON; a webhook notifier
pointed at a closed port makes the notifier counters fail.

How the expressions are judged:

- Grafana: every panel target and every ``label_values`` variable query of the JSON files
  under ``config/grafana/dashboards``, with ``$queue``, ``$window``, ``$team`` replaced by
  values of this floor and ``$__rate_interval`` by ``1m``, must return at least one sample
  with a number (not NaN).
- Alert rules: an alert expression is empty while nothing is wrong, so "returns data" is
  judged on its parts: the whole expression must evaluate without error, and every metric
  selector inside it (``floorwatch_…``, recording rules ``floorwatch:…`` and ``ALERTS``)
  must return samples. The crafted floor breaches every rule, so every alert is at least
  pending and its ``ALERTS`` series exist; the ``alertstate="firing"`` matcher is dropped
  (firing takes the rules' ``for``, up to 5 min). The rule file is loaded as shipped except
  that its groups are evaluated every second instead of every 15 s.

Then the numbers: waiting, offered, abandoned, flowed out and service level per queue read
from Prometheus equal ``/api/state`` fetched just before or just after (the traffic has
stopped, so they hold still), and the longest wait is within one scrape of it. Last,
``promtool check metrics`` is clean on both ``/metrics`` outputs.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from agents.worker import READY_LINE
from config.loader import load_config
from floorwatch.broker import EmbeddedBroker
from tests.factory import raw
from tests.pipeline.harness import Process, environment, produce
from tests.wallboard.stack import GATEWAY_LINE, free_port

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "config" / "grafana" / "dashboards"
RULES = ROOT / "config" / "prometheus" / "alerts.yml"

VOICE = "fw_voice"
CHAT = "fw_chat"
TEAM = "fw_team"
SUBSTITUTIONS = {
    "$__rate_interval": "1m",
    "$queue": VOICE,
    "$window": "rolling_30",
    "$team": TEAM,
}
SELECTOR = re.compile(r"\b(floorwatch[_:][A-Za-z0-9_:]*|ALERTS)(\{[^}]*\})?")


# -- the floor ------------------------------------------------------------------------------


def floor_config(prefix: str, hook_port: int) -> dict[str, Any]:
    return {
        "topics": {
            "acd_events": f"{prefix}-acd-events",
            "crm_events": f"{prefix}-crm-events",
            "dead_letters": f"{prefix}-dead-letters",
            "snapshots": f"{prefix}-floor-snapshots",
            "intervals": f"{prefix}-floor-intervals",
            "alerts": f"{prefix}-floor-alerts",
            "partitions": 2,
        },
        "worker": {"snapshot_ms": 250},
        "gateway": {"stale_s": 5},
        "sites": [
            {"name": "lab", "timezone": "UTC", "day_reset": "00:00"},
            {"name": "lab2", "timezone": "Europe/London", "day_reset": "00:00"},
        ],
        "clients": [{"name": "acme"}, {"name": "beta"}],
        "queues": [
            {"name": VOICE, "site": "lab", "client": "acme", "channel": "voice",
             "threshold_s": 20, "short_abandon_s": 5},
            {"name": CHAT, "site": "lab2", "client": "beta", "channel": "chat",
             "threshold_s": 60, "short_abandon_s": 5},
        ],
        "teams": [{"name": TEAM, "site": "lab"}, {"name": "fw_chat_team", "site": "lab2"}],
        # the built-in rules (longest_wait fires at once here) and a notifier that cannot
        # deliver, so the notifier counters move
        "alerts": {
            "notifiers": {
                "hook": {
                    "kind": "webhook",
                    "url": f"http://127.0.0.1:{hook_port}/floorwatch",
                    "retries": 0,
                    "timeout_s": 1,
                }
            }
        },
    }  # fmt: skip


def traffic(now: int) -> list[bytes]:
    """Contract events of the last half hour, in time order (see the module docstring)."""
    s = 1000
    events: list[dict[str, Any]] = []

    def agent(agent_id: str, ts: int, state: str, **extra: Any) -> None:
        events.append(raw("agent.state", ts, agent_id=agent_id, state=state, **extra))

    staff = {"team": TEAM, "site": "lab", "queues": [VOICE]}
    agent("fw_a1", now - 31 * 60 * s, "not_ready", reason="break", **staff)
    agent("fw_a2", now - 31 * 60 * s, "available", **staff)
    agent("fw_a3", now - 31 * 60 * s, "available", **staff)
    agent("fw_a4", now - 31 * 60 * s, "available", **staff)
    agent("fw_c1", now - 31 * 60 * s, "available", team="fw_chat_team", site="lab2",
          queues=[CHAT])  # fmt: skip
    agent("fw_a3", now - 60 * s, "on_contact")
    agent("fw_a4", now - 10 * s, "after_contact_work")

    def leg(cid: str, queue: str, queued: int, **outcome: int) -> None:
        common = {"contact_id": cid, "queue": queue}
        events.append(raw("contact.queued", queued, **common))
        if "answered" in outcome:
            answered = outcome["answered"]
            handler = "fw_c1" if queue == CHAT else "fw_a2"
            events.append(raw("contact.answered", answered, agent_id=handler, **common))
            events.append(raw("contact.held", answered + 10 * s, agent_id=handler, **common))
            events.append(raw("contact.resumed", answered + 20 * s, agent_id=handler, **common))
            events.append(raw("contact.ended", answered + 60 * s, agent_id=handler, **common))
            events.append(raw("contact.wrapped", answered + 70 * s, agent_id=handler, **common))
        if "abandoned" in outcome:
            events.append(raw("contact.abandoned", outcome["abandoned"], **common))
        if "flowed" in outcome:
            events.append(raw("contact.flowed_out", outcome["flowed"], reason="timeout", **common))

    start = now - 290 * s
    for i in range(12):  # answered after 40 s: late
        queued = start + i * 5 * s
        leg(f"late-{i}", VOICE, queued, answered=queued + 40 * s)
    for i in range(2):  # answered in 5 s
        queued = start + i * 7 * s
        leg(f"fast-{i}", VOICE, queued, answered=queued + 5 * s)
    for i in range(10):  # abandoned after 30 s
        queued = start + 10 * s + i * 3 * s
        leg(f"ab-{i}", VOICE, queued, abandoned=queued + 30 * s)
    for i in range(2):  # short abandons
        leg(f"short-{i}", VOICE, start + 20 * s + i * s, abandoned=start + 22 * s + i * s)
    for i in range(2):
        leg(f"flow-{i}", VOICE, start + 30 * s + i * s, flowed=start + 80 * s + i * s)
    leg("oldest", VOICE, now - 200 * s)  # still waiting: longest wait beyond 180 s
    for i in range(10):  # still waiting, at risk (>= 15 s of a 20 s threshold)
        leg(f"wait-{i}", VOICE, now - 30 * s + i * s)
    for i in range(3):
        queued = start + i * 10 * s
        leg(f"chat-{i}", CHAT, queued, answered=queued + 4 * s)
    leg("chat-wait", CHAT, now - 5 * s)
    events.sort(key=lambda e: e["ts"])
    encoded = [orjson.dumps(e) for e in events]
    return [*encoded, encoded[-1], b"{not json"]  # a duplicate and a dead letter


# -- the stack ------------------------------------------------------------------------------


@dataclass
class Running:
    gateway_port: int
    worker_metrics_port: int
    prometheus_port: int
    directory: Path
    processes: list[Process]
    prometheus: subprocess.Popen[bytes]

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.directory.glob("*.log"))
        )


def prometheus_config(directory: Path, gateway_port: int, worker_port: int) -> Path:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        group["interval"] = "1s"
    (directory / "alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {
                "job_name": "floorwatch-gateway",
                "static_configs": [{"targets": [f"127.0.0.1:{gateway_port}"]}],
            },
            {
                "job_name": "floorwatch-worker",
                "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
            },
        ],
    }
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def stack(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Running]:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not os.path.exists(binary):
        pytest.fail("prometheus not found: install Debian's prometheus package (make system)")
    config_path = tmp_path / "floorwatch.yaml"
    config_path.write_text(yaml.safe_dump(floor_config(f"prom-{os.getpid()}", free_port())))
    gateway_port, worker_port, prometheus_port = free_port(), free_port(), free_port()
    env = environment(
        broker,
        tmp_path / "data",
        FLOORWATCH_CONFIG=str(config_path),
        FLOORWATCH_WORKER__METRICS_PORT=str(worker_port),
    )
    processes: list[Process] = []
    prometheus: subprocess.Popen[bytes] | None = None
    try:
        worker = Process(["worker"], env, tmp_path / "worker.log")
        processes.append(worker)
        gateway = Process(["gateway", "--port", str(gateway_port)], env, tmp_path / "gw.log")
        processes.append(gateway)
        worker.wait_for_line(READY_LINE, timeout_s=90)
        gateway.wait_for_line(GATEWAY_LINE, timeout_s=30)
        with (tmp_path / "prometheus.log").open("wb") as log:
            prometheus = subprocess.Popen(
                [
                    binary,
                    f"--config.file={prometheus_config(tmp_path, gateway_port, worker_port)}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        yield Running(gateway_port, worker_port, prometheus_port, tmp_path, processes, prometheus)
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=30)
        for process in reversed(processes):
            process.stop()


# -- reading --------------------------------------------------------------------------------


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def query(port: int, expr: str) -> dict[str, Any]:
    """Prometheus's answer to an instant query (``status`` and ``data`` or ``error``)."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:  # 400 / 422 carry the parse error as JSON
        answer = json.loads(error.read())
    return answer


def numbers(answer: dict[str, Any]) -> list[float]:
    """The finite-or-infinite values of an instant vector answer (NaN left out)."""
    if answer.get("status") != "success":
        return []
    values = [float(item["value"][1]) for item in answer["data"]["result"]]
    return [v for v in values if not math.isnan(v)]


def wait_for(condition: Any, timeout_s: float, what: str, logs: Any = lambda: "") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = condition()
        except OSError:  # not listening yet
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{logs()}")
        time.sleep(0.25)


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, expression) of every panel target and variable query, variables substituted."""
    found: list[tuple[str, str]] = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for variable in dashboard["templating"]["list"]:
            text = variable["query"]
            text = text["query"] if isinstance(text, dict) else text
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", text.strip())
            assert match is not None, f"{path.name}: ${variable['name']}: {text}"
            where = f"{path.name} ${variable['name']}"
            found.append((where, f"count by ({match[2]}) ({match[1]})"))
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for name, value in SUBSTITUTIONS.items():
                    expr = expr.replace(name, value)
                assert "$" not in expr, f"{path.name}: unknown variable in {expr}"
                found.append((f"{path.name} {panel['title']!r}", expr))
    return found


def rule_expressions() -> list[tuple[str, str]]:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [
        (rule.get("alert") or rule["record"], rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def selectors(expr: str) -> list[str]:
    """Every metric selector of ``expr`` as an instant query (ranges and
    ``alertstate="firing"`` dropped; see the module docstring)."""
    out = []
    for match in SELECTOR.finditer(expr):
        name, matchers = match[1], match[2] or ""
        matchers = re.sub(r',?\s*alertstate="firing"', "", matchers).replace("{,", "{")
        out.append(f"{name}{matchers}")
    return out


def queue_of(state: dict[str, Any], name: str) -> dict[str, Any]:
    return next(view for view in state["queues"] if view["queue"] == name)


# -- the test -------------------------------------------------------------------------------


def test_prometheus_scrapes_every_dashboard_and_alert_expression_with_the_boards_numbers(
    broker: EmbeddedBroker, stack: Running
) -> None:
    prom = stack.prometheus_port
    wait_for(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{prom}/-/ready", timeout=2).status == 200,
        30,
        "Prometheus ready",
        stack.logs,
    )
    # scraped once before the traffic, so rates (and the lag quantiles) see it arrive
    wait_for(
        lambda: (
            numbers(query(prom, "floorwatch_worker_processing_lag_seconds_count"))
            and numbers(query(prom, "floorwatch_gateway_consuming"))
        ),
        30,
        "a first scrape of the worker and the gateway",
        stack.logs,
    )
    config = load_config(env={"FLOORWATCH_CONFIG": str(stack.directory / "floorwatch.yaml"),
                              "FLOORWATCH_BROKER": broker.url})  # fmt: skip
    produce(broker, config, traffic(int(time.time() * 1000)))
    state_url = f"http://127.0.0.1:{stack.gateway_port}/api/state"

    def folded() -> bool:
        state = get_json(state_url)
        voice = queue_of(state, VOICE) if any(q["queue"] == VOICE for q in state["queues"]) else {}
        return (
            voice.get("waiting") == 11
            and voice["windows"]["rolling_30"]["abandoned"] == 10
            and voice["windows"]["rolling_30"]["handled"] == 14
            and any(a.get("state") == "firing" for a in state["alerts"])
        )

    wait_for(folded, 30, "the floor in /api/state", stack.logs)

    expressions = dashboard_expressions()
    rule_parts = [
        (f"{name}: {selector}", selector)
        for name, expr in rule_expressions()
        for selector in selectors(expr)
    ]
    assert len(expressions) >= 40 and len(rule_parts) >= 40

    def missing() -> list[str]:
        return [
            f"{where}: {expr}"
            for where, expr in [*expressions, *rule_parts]
            if not numbers(query(prom, expr))
        ]

    try:
        wait_for(lambda: not missing(), 45, "every expression to return data")
    except AssertionError:
        pytest.fail("no data for:\n" + "\n".join(missing()) + "\n" + stack.logs())

    # every whole alert-rule expression is valid PromQL for this Prometheus, and every rule
    # evaluates without error
    for name, expr in rule_expressions():
        answer = query(prom, expr)
        assert answer["status"] == "success", (name, answer)
    groups = get_json(f"http://127.0.0.1:{prom}/api/v1/rules")["data"]["groups"]
    health = {rule["name"]: rule["health"] for g in groups for rule in g["rules"]}
    assert set(health.values()) == {"ok"}, health

    # the numbers in Prometheus are those of the board at the same moment
    def same() -> bool:
        before = get_json(state_url)
        scraped = {
            name: {
                item["metric"].get("queue", ""): float(item["value"][1])
                for item in query(prom, expr)["data"]["result"]
                if item["metric"].get("queue") in (VOICE, CHAT)
            }
            for name, expr in {
                "waiting": "floorwatch_queue_waiting",
                "offered": 'floorwatch_queue_offered{window="rolling_30"}',
                "abandoned": 'floorwatch_queue_abandoned{window="rolling_30"}',
                "flowed_out": 'floorwatch_queue_flowed_out{window="rolling_30"}',
                "service_level": 'floorwatch_queue_service_level_ratio{window="rolling_30",'
                ' definition="answered_of_offered"}',
                "longest": "floorwatch_queue_longest_wait_seconds",
            }.items()
        }
        after = get_json(state_url)
        for queue in (VOICE, CHAT):
            views = [queue_of(before, queue), queue_of(after, queue)]
            assert scraped["waiting"][queue] in [v["waiting"] for v in views]
            for field in ("offered", "abandoned", "flowed_out"):
                assert scraped[field][queue] in [v["windows"]["rolling_30"][field] for v in views]
            ratios = [v["windows"]["rolling_30"]["service_level"]["answered_of_offered"]
                      for v in views]  # fmt: skip
            assert any(math.isclose(scraped["service_level"][queue], r) for r in ratios)
            # the longest wait is a "now" figure: within one scrape (1 s) and one push
            oldest = [
                (s["now_ms"] - queue_of(s, queue)["oldest_queued_ms"]) / 1000
                for s in (before, after)
            ]
            assert oldest[0] - 2.5 <= scraped["longest"][queue] <= oldest[1] + 0.5
        return True

    assert same()

    # both expositions are clean for promtool (names, units, help, counter suffixes)
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    for port in (stack.gateway_port, stack.worker_metrics_port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
        lint = subprocess.run(
            [promtool, "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert lint.returncode == 0, (port, lint.stdout + lint.stderr)
    voice = queue_of(get_json(state_url), VOICE)
    assert voice["waiting"] == 11 and voice["windows"]["rolling_30"]["flowed_out"] == 2
