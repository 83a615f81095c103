"""The wallboard page in headless Chromium against a running stack: the embedded broker, a
real worker process, a real gateway process and the simulator (tests/wallboard/stack.py).

Events for the ``lab`` queues are produced by the tests; the simulated floor runs beside
them. ``FLOORWATCH_SCREENSHOT=docs/wallboard.png`` also writes the README's screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from floorwatch.broker import EmbeddedBroker
from tests.pipeline.harness import Process
from tests.wallboard.stack import (
    GATEWAY_LINE,
    LAB_TEAM,
    LIVE_QUEUE,
    RED_QUEUE,
    Stack,
    event,
    free_port,
    now_ms,
    start_stack,
)

pytestmark = pytest.mark.integration

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE_QUEUE = "<img src=x onerror=alert(1)>"
HOSTILE_NAME = "<script>alert(2)</script>"
HOSTILE_REASON = '<b onmouseover="alert(3)">coffee</b>'
SIMULATED_SITES = "?site=london,new_york"
MIN_MS = 60_000
WAIT_MS = 20_000
"""Deadline for what goes through the whole pipeline (broker, worker, broker, gateway)."""


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium is missing: `make system` installs the Debian chromium package")
    return path


@pytest.fixture(scope="module")
def stack(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(broker, tmp_path_factory.mktemp("page-stack"), rate=5)
    try:
        # a live floor from 10 minutes ago on, so every window has figures
        running.start_simulator(5, history_s=600)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        opened.close()
    assert not errors, f"errors on the page: {errors}\n{stack.logs()}"


def tile(page: Page, queue: str) -> Any:
    return page.locator("article.tile").filter(
        has=page.locator("h3.name", has_text=re.compile(f"^{re.escape(queue)}$"))
    )


def queued(queue: str, contact_id: str, ts_ms: int) -> dict[str, Any]:
    return event("contact.queued", ts_ms, contact_id=contact_id, queue=queue)


def answered(queue: str, contact_id: str, agent: str, ts_ms: int) -> list[dict[str, Any]]:
    common = {"contact_id": contact_id, "queue": queue, "agent_id": agent}
    return [event("contact.offered", ts_ms, **common), event("contact.answered", ts_ms, **common)]


def lab_agent(agent_id: str, name: str, ts_ms: int, state: str, **fields: Any) -> dict[str, Any]:
    fields = {"team": LAB_TEAM, "site": "lab", "queues": [RED_QUEUE], **fields}
    return event("agent.state", ts_ms, agent_id=agent_id, state=state, name=name, **fields)


def seconds_of(text: str) -> int:
    """Seconds of a duration shown as m:ss or h:mm:ss (markers such as ▲ ignored)."""
    parts = [int(p) for p in re.sub(r"[^\d:]", "", text).split(":")]
    total = 0
    for part in parts:
        total = total * 60 + part
    return total


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- live figures, colours, safe rendering ------------------------------------------------------


def test_queue_tiles_show_numbers_that_change_when_events_are_produced(
    stack: Stack, page: Page
) -> None:
    page.goto(stack.url)
    expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
    live = tile(page, LIVE_QUEUE)
    expect(live).to_have_count(0)

    t = now_ms()
    stack.produce(queued(LIVE_QUEUE, f"live-{n}", t - 5_000) for n in range(3))
    expect(live.locator(".live-waiting .value")).to_have_text("3", timeout=WAIT_MS)
    expect(live.locator(".row-offered td.w-interval")).to_have_text("3")
    expect(live.locator(".where")).to_have_text("voice · lab")

    stack.produce(
        [*answered(LIVE_QUEUE, "live-0", "wb-ann", t), *answered(LIVE_QUEUE, "live-1", "wb-ann", t)]
    )
    expect(live.locator(".live-waiting .value")).to_have_text("1", timeout=WAIT_MS)
    expect(live.locator(".row-answered td.w-interval")).to_have_text("2")
    # both answered within 20 s of queueing: 2 of 2 offered so far in service level
    expect(live.locator(".row-sl td.w-interval")).to_have_text("100.0 %")
    # the simulated floor is on the page too, with its sites
    expect(tile(page, "acme_billing_voice").locator(".where")).to_have_text(
        "voice · london · acme_energy", timeout=WAIT_MS
    )


def test_a_red_threshold_turns_the_tile_red_and_says_why_in_words(stack: Stack, page: Page) -> None:
    page.goto(f"{stack.url}?queues={RED_QUEUE}")
    expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
    red = tile(page, RED_QUEUE)
    t = now_ms()
    stack.produce([queued(RED_QUEUE, "red-0", t)])
    # colours.yaml: waiting amber from 1, red from 2
    expect(red).to_have_class("tile rag-amber", timeout=WAIT_MS)
    expect(red.locator(".badge")).to_have_text("▲ Warning")
    expect(red.locator(".why")).to_have_text("Waiting 1 ≥ 1")

    stack.produce([queued(RED_QUEUE, "red-1", t)])
    expect(red).to_have_class("tile rag-red", timeout=WAIT_MS)
    expect(red.locator(".badge")).to_have_text("✖ Critical")
    expect(red.locator(".why")).to_contain_text("Waiting 2 ≥ 2")
    expect(red.locator(".live-waiting .value")).to_have_class("value red")
    border = red.evaluate("node => getComputedStyle(node).borderTopColor")
    assert border == "rgb(229, 72, 77)"  # --red


def test_names_from_events_are_shown_as_text_never_run_as_markup(stack: Stack, page: Page) -> None:
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    t = now_ms()
    stack.produce(
        [
            queued(HOSTILE_QUEUE, "hostile-0", t),
            event(
                "agent.state",
                t,
                agent_id="wb-hostile",
                state="not_ready",
                reason=HOSTILE_REASON,
                name=HOSTILE_NAME,
                team="wb_hostile_team",
                site="lab",
                queues=[HOSTILE_QUEUE],
            ),
        ]
    )
    page.goto(f"{stack.url}?site=lab")
    hostile = tile(page, HOSTILE_QUEUE)
    expect(hostile).to_have_count(1, timeout=WAIT_MS)
    assert hostile.locator("h3.name").text_content() == HOSTILE_QUEUE
    row = page.locator('#agents tbody tr[data-agent="wb-hostile"]')
    expect(row.locator("td.name")).to_have_text(HOSTILE_NAME, timeout=WAIT_MS)
    expect(row.locator("td.reason")).to_have_text(HOSTILE_REASON)
    expect(page.locator("#teams tbody")).to_contain_text("wb_hostile_team")
    # nothing of it became markup, and no script ran
    assert page.locator("img").count() == 0
    assert page.locator("main b, main script").count() == 0
    assert page.locator("script").count() == 1  # app.js alone
    row.locator("td.reason").hover()
    assert dialogs == []


def test_longest_wait_and_time_in_state_tick_between_updates_and_the_stale_banner_shows(
    stack: Stack, page: Page
) -> None:
    t = now_ms()
    stack.produce(
        [
            queued(LIVE_QUEUE, "tick-0", t - 40_000),
            lab_agent("wb-tick", "Tia Tick", t - 30_000, "available", queues=[LIVE_QUEUE]),
        ]
    )
    page.goto(f"{stack.url}?queues={LIVE_QUEUE}")
    longest = tile(page, LIVE_QUEUE).locator(".live-longest .value")
    time_in_state = page.locator('#agents tbody tr[data-agent="wb-tick"] td.time')
    expect(time_in_state).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("#banner")).to_be_hidden()

    frames: list[float] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda _: frames.append(now_ms())))
    stack.pause_worker()  # nothing new is published: the gateway has no news to push
    try:
        banner = page.locator("#banner")
        expect(banner).to_be_visible(timeout=WAIT_MS)
        expect(banner).to_contain_text("Data is stale: no snapshot or worker heartbeat for")
        quiet_since = now_ms()
        first_wait = seconds_of(longest.inner_text())
        first_in_state = seconds_of(time_in_state.inner_text())
        assert first_wait >= 40
        page.wait_for_function(
            "([node, before]) => { const t = node.textContent.replace(/[^0-9:]/g, '').split(':')"
            ".reduce((a, p) => a * 60 + Number(p), 0); return t >= before + 2; }",
            arg=[longest.element_handle(), first_wait],
            timeout=5_000,
        )
        assert seconds_of(time_in_state.inner_text()) >= first_in_state + 2
        assert not [f for f in frames if f > quiet_since], "ticked only because of messages"
    finally:
        stack.resume_worker()
    expect(page.locator("#banner")).to_be_hidden(timeout=WAIT_MS)


# -- agent board, filters -----------------------------------------------------------------------


def test_agent_board_sorts_by_column_and_highlights_long_not_ready(
    stack: Stack, page: Page
) -> None:
    t = now_ms()
    stack.produce(
        [
            lab_agent("wb-a", "Alba Ames", t - 1 * MIN_MS, "available"),
            lab_agent("wb-b", "Bruno Bell", t - 11 * MIN_MS, "not_ready", reason="meeting"),
            lab_agent("wb-c", "Cleo Cole", t - 6 * MIN_MS, "not_ready", reason="meeting"),
        ]
    )
    page.goto(f"{stack.url}?team={LAB_TEAM}&queues={RED_QUEUE}")
    names = page.locator("#agents tbody td.name")
    expect(names).to_have_count(3, timeout=WAIT_MS)

    page.locator('#agents th[data-sort="time"] button').click()
    expect(names).to_have_text(["Bruno Bell", "Cleo Cole", "Alba Ames"])  # longest first
    expect(page.locator('#agents th[data-sort="time"]')).to_have_attribute("aria-sort", "ascending")
    assert "sort=time" in page.url
    page.locator('#agents th[data-sort="time"] button').click()
    expect(names).to_have_text(["Alba Ames", "Cleo Cole", "Bruno Bell"])
    page.locator('#agents th[data-sort="name"] button').click()
    expect(names).to_have_text(["Alba Ames", "Bruno Bell", "Cleo Cole"])

    # colours.yaml: not ready from 5 min amber, from 10 min red; markers and a title say so
    bruno = page.locator('#agents tbody tr[data-agent="wb-b"]')
    expect(bruno).to_have_class(re.compile(r"\bhl-red\b"))
    expect(bruno.locator("td.time")).to_have_text(re.compile(r"^✖ 11:\d\d$"))
    expect(bruno.locator("td.time")).to_have_attribute(
        "title", "Not ready (meeting) longer than 10:00"
    )
    cleo = page.locator('#agents tbody tr[data-agent="wb-c"]')
    expect(cleo).to_have_class(re.compile(r"\bhl-amber\b"))
    expect(cleo.locator("td.time")).to_have_text(re.compile(r"^▲ 6:\d\d$"))
    alba = page.locator('#agents tbody tr[data-agent="wb-a"]')
    expect(alba).not_to_have_class(re.compile(r"\bhl-"))
    # a sort in the address is where the board starts
    page.goto(f"{stack.url}?team={LAB_TEAM}&queues={RED_QUEUE}&sort=-time")
    expect(names).to_have_text(["Alba Ames", "Cleo Cole", "Bruno Bell"], timeout=WAIT_MS)


def test_filters_in_the_address_show_one_view_with_its_own_roll_up(
    stack: Stack, page: Page
) -> None:
    t = now_ms()
    stack.produce([queued(LIVE_QUEUE, "filter-0", t), queued(RED_QUEUE, "filter-1", t)])
    page.goto(f"{stack.url}?queues={LIVE_QUEUE},{RED_QUEUE}&team={LAB_TEAM}")
    tiles = page.locator("article.tile h3.name")
    expect(tiles).to_have_text([LIVE_QUEUE, RED_QUEUE], timeout=WAIT_MS)
    expect(page.locator("#view-name")).to_have_text(
        f"Queues {LIVE_QUEUE}, {RED_QUEUE} · Team {LAB_TEAM}"
    )
    teams = page.locator("#agents tbody td.team")
    expect(teams.first).to_have_text(LAB_TEAM, timeout=WAIT_MS)
    assert set(teams.all_text_contents()) == {LAB_TEAM}

    def floor_and_tiles() -> tuple[int, int]:
        floor = page.locator('#floor [data-key="waiting"] dd').inner_text()
        waiting = page.locator("article.tile .live-waiting .value").all_text_contents()
        return int(floor), sum(int(w) for w in waiting)

    page.wait_for_function("() => document.querySelectorAll('article.tile').length === 2")
    floor_waiting, tiles_waiting = floor_and_tiles()
    assert floor_waiting == tiles_waiting > 0  # the roll-up is of this view alone
    expect(page.locator("#groups tbody th")).to_have_text(["Floor (this view)", "Site lab"])

    page.goto(f"{stack.url}?site=lab")
    expect(page.locator("#view-name")).to_have_text("Site lab", timeout=WAIT_MS)
    expect(tile(page, LIVE_QUEUE)).to_have_count(1, timeout=WAIT_MS)
    assert tile(page, "acme_billing_voice").count() == 0


# -- TV, reconnect, screenshot ------------------------------------------------------------------


def test_tv_mode_fits_1080p_without_scrolling_in_large_type(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    # 20 queues, as on the floor the fan-out benchmark simulates: 10 simulated, 10 in the lab
    t = now_ms()
    lab = [f"wb_tv_{n:02d}" for n in range(10)]
    stack.produce(queued(queue, f"tv-{n}", t - n * 1000) for n, queue in enumerate(lab))
    queues = ",".join([*stack.config.core.queues, *lab])
    tv = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        tv.goto(f"{stack.url}?tv=1&queues={queues}")
        expect(tv.locator("article.tile")).to_have_count(20, timeout=WAIT_MS)
        tv.wait_for_function("() => document.body.classList.contains('tv')")
        fits = tv.evaluate(
            """() => ({
                scroll: document.documentElement.scrollHeight,
                inner: innerHeight,
                wide: document.documentElement.scrollWidth,
                width: innerWidth,
                clipped: [...document.querySelectorAll('article.tile')]
                    .filter(t => t.scrollHeight > t.clientHeight + 1).map(t => t.dataset.queue),
                tileValue: parseFloat(getComputedStyle(
                    document.querySelector('article.tile .live-waiting .value')).fontSize),
                floorValue: parseFloat(getComputedStyle(
                    document.querySelector('#floor dd')).fontSize),
            })"""
        )
        shot = tmp_path / "tv.png"
        tv.screenshot(path=str(shot))
        assert png_size(shot) == (1920, 1080)
        assert fits["scroll"] <= fits["inner"], fits
        assert fits["wide"] <= fits["width"], fits
        assert fits["clipped"] == [], fits
        # large type: the desk page shows these at 30 px and 24 px
        assert fits["tileValue"] >= 30, fits
        assert fits["floorValue"] >= 32, fits
    finally:
        tv.close()


def test_page_recovers_after_the_gateway_restarts_without_a_reload(
    stack: Stack, page: Page
) -> None:
    page.goto(f"{stack.url}?queues={LIVE_QUEUE}")
    expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
    waiting = tile(page, LIVE_QUEUE).locator(".live-waiting .value")
    expect(waiting).not_to_have_text("", timeout=WAIT_MS)
    page.evaluate("window.__sameDocument = true")

    stack.stop_gateway()
    banner = page.locator("#banner")
    expect(banner).to_be_visible(timeout=WAIT_MS)
    expect(banner).to_contain_text("Disconnected from the gateway")
    expect(page.locator("#connection")).to_contain_text("retry in", timeout=WAIT_MS)
    before = int(waiting.inner_text())

    stack.start_gateway()
    expect(page.locator("#connection")).to_have_text("live", timeout=30_000)
    expect(banner).to_be_hidden(timeout=WAIT_MS)
    stack.produce([queued(LIVE_QUEUE, f"after-restart-{n}", now_ms()) for n in range(2)])
    expect(waiting).to_have_text(str(before + 2), timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True  # recovered without a reload


def test_screenshot_of_the_simulated_floor(stack: Stack, browser: Browser, tmp_path: Path) -> None:
    board = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        board.goto(f"{stack.url}{SIMULATED_SITES}&tv=1")
        expect(board.locator("article.tile")).to_have_count(10, timeout=WAIT_MS)
        expect(board.locator("#connection")).to_have_text("live")
        expect(board.locator("#banner")).to_be_hidden()
        shot = tmp_path / "wallboard.png"
        board.screenshot(path=str(shot))
        assert png_size(shot) == (1920, 1080)
        target = os.environ.get("FLOORWATCH_SCREENSHOT")
        if target:
            shutil.copyfile(shot, target)
    finally:
        board.close()


def test_a_page_opened_with_its_token_passes_it_on_to_the_websocket(
    stack: Stack, page: Page
) -> None:
    stack.produce([queued(LIVE_QUEUE, "token-0", now_ms())])
    port = free_port()
    env = {**stack.env, "FLOORWATCH_VIEWER_TOKEN": "tv-wall-7"}
    guarded = Process(["gateway", "--port", str(port)], env, stack.directory / "guarded.log")
    try:
        guarded.wait_for_line(GATEWAY_LINE, timeout_s=30)
        refused = page.goto(f"http://127.0.0.1:{port}/")
        assert refused is not None and refused.status == 401
        page.goto(f"http://127.0.0.1:{port}/?token=tv-wall-7&queues={LIVE_QUEUE}")
        expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
        expect(tile(page, LIVE_QUEUE)).to_have_count(1, timeout=WAIT_MS)
    finally:
        guarded.stop()
