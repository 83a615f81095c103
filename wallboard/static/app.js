// Floorwatch wallboard: renders the gateway's state pushed over /ws.
//
// Every message is the whole floor ({"type": "state", "state": ...}), so a reconnect is a
// full resync by construction. Every string from the data is inserted as text
// (textContent), never as markup. Ages (longest wait, time in state) tick locally every
// second against the server's clock (the offset is taken from each message's now_ms).
"use strict";

(() => {
  const WINDOW_NAMES = { interval: "Interval", day: "Today" };
  const DEFINITION_NAMES = {
    answered_of_offered: "answered of offered",
    answered_only: "answered only",
    abandons_positive: "abandons count as positive",
    ignore_early_abandons: "early abandons ignored",
  };
  const STATE_NAMES = {
    available: "Available",
    on_contact: "On contact",
    after_contact_work: "After-contact work",
    not_ready: "Not ready",
    logged_out: "Logged out",
  };
  const RETRY_FIRST_MS = 500;
  const RETRY_MAX_MS = 15000;
  const AMBER_BELOW_TARGET = 0.05; // provisional until the wallboard colour thresholds land
  const RISK_FRACTION = 0.75;

  const $ = (id) => document.getElementById(id);
  const view = {
    floor: $("floor"),
    connection: $("connection"),
    clock: $("clock"),
    banner: $("banner"),
    alerts: $("alerts"),
    alertsEmpty: $("alerts-empty"),
    alertsNote: $("alerts-note"),
    queues: $("queues"),
    queuesEmpty: $("queues-empty"),
    agentsSummary: $("agents-summary"),
    agentRows: document.querySelector("#agents tbody"),
  };

  let state = null;
  let clockOffsetMs = 0;
  let connected = false;
  let retryMs = RETRY_FIRST_MS;
  let retryAt = null;
  const tiles = new Map(); // queue name -> tile parts
  const agentRows = new Map(); // agent id -> row parts

  // -- small helpers ------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function setClass(node, name) {
    if (node.className !== name) node.className = name;
  }

  function serverNow() {
    return Date.now() + clockOffsetMs;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
    const total = Math.max(0, Math.floor(seconds));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  function ageSince(ms) {
    return ms === null || ms === undefined ? null : (serverNow() - ms) / 1000;
  }

  function percent(ratio) {
    return ratio === null || ratio === undefined ? "–" : `${(ratio * 100).toFixed(1)} %`;
  }

  function seconds(value) {
    return value === null || value === undefined ? "–" : `${Math.round(value)} s`;
  }

  function count(value) {
    return value === null || value === undefined ? "–" : String(value);
  }

  function windowName(label) {
    if (label in WINDOW_NAMES) return WINDOW_NAMES[label];
    const rolling = /^rolling_(\d+)$/.exec(label);
    return rolling ? `Last ${rolling[1]} min` : label;
  }

  function definitionName(id) {
    return DEFINITION_NAMES[id] || id;
  }

  // Colour of a service level against its target: good, warn or bad ("" without data).
  function slClass(ratio, target) {
    if (ratio === null || ratio === undefined || target === null || target === undefined) return "";
    if (ratio >= target) return "good";
    return ratio >= target - AMBER_BELOW_TARGET ? "warn" : "bad";
  }

  function waitClass(ageS, thresholdS) {
    if (ageS === null || !thresholdS) return "";
    if (ageS >= thresholdS) return "bad";
    return ageS >= RISK_FRACTION * thresholdS ? "warn" : "";
  }

  // -- connection ---------------------------------------------------------------------------

  function connect() {
    retryAt = null;
    const url = new URL("ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      connected = true;
      retryMs = RETRY_FIRST_MS;
      renderConnection();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        console.warn("floorwatch: unreadable message", error);
        return;
      }
      if (message.type === "state") {
        state = message.state;
        clockOffsetMs = state.now_ms - Date.now();
        render();
      }
    });
    socket.addEventListener("close", () => {
      connected = false;
      // back off exponentially with jitter, so a restarted gateway is not stampeded
      const delay = retryMs * (0.8 + Math.random() * 0.4);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      retryAt = Date.now() + delay;
      setTimeout(connect, delay);
      renderConnection();
    });
  }

  function renderConnection() {
    if (connected) {
      setText(view.connection, "live");
      setClass(view.connection, "connection live");
    } else if (retryAt !== null) {
      const inS = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      setText(view.connection, `disconnected · retry in ${inS} s`);
      setClass(view.connection, "connection down");
    } else {
      setText(view.connection, "connecting…");
      setClass(view.connection, "connection connecting");
    }
    renderBanner();
  }

  function renderBanner() {
    let text = "";
    let down = false;
    if (!connected && state !== null) {
      text = "Disconnected from the gateway: the figures below are frozen. Reconnecting…";
      down = true;
    } else if (state !== null && state.stale) {
      text = `Data is stale: ${state.stale_reason || "no recent update from the workers"}.`;
    }
    view.banner.hidden = text === "";
    setText(view.banner, text);
    setClass(view.banner, down ? "banner down" : "banner");
  }

  // -- rendering ----------------------------------------------------------------------------

  function render() {
    renderBanner();
    renderFloor();
    renderAlerts();
    renderQueues();
    renderAgents();
    tick();
  }

  function primaryDefinition(serviceLevels) {
    const ids = Object.keys(serviceLevels || {});
    return ids.includes("answered_of_offered") ? "answered_of_offered" : ids[0];
  }

  function renderFloor() {
    const floor = state.groups.floor;
    const interval = floor.interval || {};
    const day = floor.day || {};
    const definition = primaryDefinition(interval.service_level);
    const agents = state.agents_by_state.floor;
    const items = [
      ["Waiting", count(interval.waiting), "waiting"],
      ["Longest wait", "", "longest"],
      ["At risk", count(interval.at_risk), "at-risk"],
      [`SL interval (${definitionName(definition)})`, percent((interval.service_level || {})[definition]), "sl-interval"],
      ["SL today", percent((day.service_level || {})[definition]), "sl-day"],
      ["Staffed", count(agents.staffed), "staffed"],
      ["Available", count(agents.available), "available"],
      ["On contact", count(agents.on_contact), "on-contact"],
      ["Not ready", count(agents.not_ready), "not-ready"],
    ];
    if (view.floor.childElementCount !== items.length) {
      view.floor.replaceChildren(
        ...items.map(([, , key]) => {
          const item = el("div");
          item.dataset.key = key;
          item.append(el("dt"), el("dd"));
          return item;
        }),
      );
    }
    items.forEach(([label, value], index) => {
      const item = view.floor.children[index];
      setText(item.firstChild, label);
      if (item.dataset.key !== "longest") setText(item.lastChild, value);
    });
    view.floor.dataset.oldestQueuedMs = interval.oldest_queued_ms ?? "";
  }

  function alertId(alert) {
    return alert.alert_id ?? alert.id ?? null;
  }

  function describeAlert(alert) {
    if (alert.message) return String(alert.message);
    const parts = [];
    if (alert.rule) parts.push(String(alert.rule));
    if (alert.scope) parts.push(typeof alert.scope === "string" ? alert.scope : JSON.stringify(alert.scope));
    if (alert.value !== undefined && alert.value !== null) {
      const threshold = alert.threshold !== undefined && alert.threshold !== null ? ` (threshold ${alert.threshold})` : "";
      parts.push(`value ${alert.value}${threshold}`);
    }
    return parts.join(" · ") || JSON.stringify(alert);
  }

  function renderAlerts() {
    const alerts = state.alerts || [];
    view.alertsEmpty.hidden = alerts.length > 0;
    view.alerts.replaceChildren(
      ...alerts.map((alert) => {
        const severity = String(alert.severity || "warning");
        const status = String(alert.state || alert.status || "");
        const item = el("li", `alert ${severity === "critical" ? "critical" : ""} ${status === "acknowledged" ? "acknowledged" : ""}`);
        item.append(el("span", "severity", severity), el("span", "text", describeAlert(alert)));
        if (status) item.append(el("span", "since", status));
        const id = alertId(alert);
        if (id !== null) {
          const button = el("button", "", "Acknowledge");
          button.type = "button";
          button.disabled = status === "acknowledged";
          button.addEventListener("click", () => acknowledge(String(id), button));
          item.append(button);
        }
        return item;
      }),
    );
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    let note;
    try {
      const response = await fetch(`api/alerts/${encodeURIComponent(id)}/ack`, { method: "POST" });
      const body = await response.json().catch(() => ({}));
      note = response.ok ? `Acknowledged ${id}.` : `Could not acknowledge ${id}: ${body.error || response.statusText}`;
    } catch (error) {
      note = `Could not acknowledge ${id}: ${error}`;
    }
    button.disabled = false;
    view.alertsNote.hidden = false;
    setText(view.alertsNote, note);
  }

  function buildTile(queue) {
    const root = el("article", "tile");
    const header = el("header");
    const title = el("h3", "", queue.queue);
    const where = el("div", "where");
    header.append(title, where);
    const live = el("div", "live");
    const waiting = el("span");
    const longest = el("span");
    const atRisk = el("span");
    for (const [label, value] of [["Waiting", waiting], ["Longest wait", longest], ["At risk", atRisk]]) {
      const cell = el("div");
      cell.append(el("span", "", label), value);
      live.append(cell);
    }
    const figures = el("table", "figures");
    const definition = el("p", "definition");
    const staffing = el("p", "staffing");
    root.append(header, live, figures, definition, staffing);
    return { root, where, waiting, longest, atRisk, figures, figuresKey: "", cells: {}, definition, staffing, queue };
  }

  const FIGURE_ROWS = [
    ["SL", (w, q, def) => percent(w.service_level[def])],
    ["ASA", (w) => seconds(w.asa_s)],
    ["AHT", (w) => seconds(w.aht_s)],
    ["Abandoned", (w) => percent(w.abandon_rate)],
    ["Offered", (w) => count(w.offered)],
    ["Answered", (w) => count(w.answered)],
  ];

  function buildFigures(tile, windows) {
    const head = el("thead");
    const headRow = el("tr");
    headRow.append(el("th"));
    for (const label of windows) headRow.append(el("th", "", windowName(label)));
    head.append(headRow);
    const body = el("tbody");
    tile.cells = {};
    for (const [name] of FIGURE_ROWS) {
      const row = el("tr");
      row.append(el("th", "", name));
      tile.cells[name] = windows.map(() => {
        const cell = el("td");
        row.append(cell);
        return cell;
      });
      body.append(row);
    }
    tile.figures.replaceChildren(head, body);
    tile.figuresKey = windows.join(",");
  }

  function updateTile(tile, queue) {
    tile.queue = queue;
    const where = [queue.channel, queue.site, queue.client].filter((x) => x).join(" · ");
    setText(tile.where, where);
    setText(tile.waiting, count(queue.waiting));
    setText(tile.atRisk, count(queue.at_risk));
    setClass(tile.atRisk, queue.at_risk > 0 ? "warn" : "");
    const windows = Object.keys(queue.windows);
    if (tile.figuresKey !== windows.join(",")) buildFigures(tile, windows);
    const definition = (queue.definitions || [])[0] || primaryDefinition(queue.windows.interval?.service_level);
    for (const [name, format] of FIGURE_ROWS) {
      windows.forEach((label, index) => {
        const cell = tile.cells[name][index];
        const figures = queue.windows[label];
        setText(cell, format(figures, queue, definition));
        if (name === "SL") setClass(cell, slClass(figures.service_level[definition], queue.target));
      });
    }
    setText(
      tile.definition,
      `SL = ${definitionName(definition)}, threshold ${queue.threshold_s} s, target ${percent(queue.target)}`,
    );
    const agents = queue.agents || {};
    setText(
      tile.staffing,
      `Agents: ${count(agents.staffed)} staffed · ${count(agents.available)} available · ` +
        `${count(agents.on_contact)} on contact · ${count(agents.after_contact_work)} ACW · ` +
        `${count(agents.not_ready)} not ready`,
    );
    tile.slClass = slClass(queue.windows.interval?.service_level[definition], queue.target);
  }

  function renderQueues() {
    const queues = state.queues || [];
    view.queuesEmpty.hidden = queues.length > 0;
    const seen = new Set();
    for (const queue of queues) {
      seen.add(queue.queue);
      let tile = tiles.get(queue.queue);
      if (!tile) {
        tile = buildTile(queue);
        tiles.set(queue.queue, tile);
      }
      updateTile(tile, queue);
      view.queues.append(tile.root); // (re)appending keeps the server's order
    }
    for (const [name, tile] of tiles) {
      if (!seen.has(name)) {
        tile.root.remove();
        tiles.delete(name);
      }
    }
  }

  function agentSortKey(agent) {
    return `${agent.team || "\uffff"}\u0000${agent.name || agent.agent_id}`;
  }

  function renderAgents() {
    const counts = state.agents_by_state.floor;
    const reasons = Object.entries(counts.not_ready_by_reason || {})
      .map(([reason, n]) => `${n} ${reason}`)
      .join(", ");
    setText(
      view.agentsSummary,
      `${counts.logged_in} logged in · ${counts.staffed} staffed · ${counts.available} available · ` +
        `${counts.on_contact} on contact · ${counts.after_contact_work} ACW · ` +
        `${counts.not_ready} not ready${reasons ? ` (${reasons})` : ""}`,
    );
    const agents = (state.agents || [])
      .filter((agent) => agent.state && agent.state !== "logged_out")
      .sort((a, b) => (agentSortKey(a) < agentSortKey(b) ? -1 : 1));
    const seen = new Set();
    for (const agent of agents) {
      seen.add(agent.agent_id);
      let row = agentRows.get(agent.agent_id);
      if (!row) {
        const tr = el("tr");
        const cells = ["name", "team", "state", "reason", "num", "queue"].map((kind) => el("td", kind));
        tr.append(...cells);
        row = { tr, cells };
        agentRows.set(agent.agent_id, row);
      }
      row.agent = agent;
      const [name, team, stateCell, reason, , queue] = row.cells;
      setClass(row.tr, agent.state);
      setText(name, agent.name || agent.agent_id);
      setText(team, agent.team || "");
      setText(stateCell, STATE_NAMES[agent.state] || agent.state);
      setText(reason, agent.reason || "");
      setText(queue, agent.queue || "");
      view.agentRows.append(row.tr);
    }
    for (const [id, row] of agentRows) {
      if (!seen.has(id)) {
        row.tr.remove();
        agentRows.delete(id);
      }
    }
  }

  // Everything that moves with the clock alone.
  function tick() {
    setText(view.clock, new Date(serverNow()).toLocaleTimeString());
    if (!connected) renderConnection();
    if (state === null) return;
    const floorLongest = view.floor.querySelector('[data-key="longest"] dd');
    if (floorLongest) {
      const oldest = view.floor.dataset.oldestQueuedMs;
      setText(floorLongest, oldest ? duration(ageSince(Number(oldest))) : "0:00");
    }
    for (const tile of tiles.values()) {
      const queue = tile.queue;
      const age = queue.oldest_queued_ms === null || queue.oldest_queued_ms === undefined ? null : ageSince(queue.oldest_queued_ms);
      setText(tile.longest, age === null ? "0:00" : duration(age));
      const wait = waitClass(age, queue.threshold_s);
      setClass(tile.longest, wait);
      const worst = [tile.slClass, wait].includes("bad") ? "red" : [tile.slClass, wait].includes("warn") ? "amber" : tile.slClass === "good" ? "green" : "";
      setClass(tile.root, `tile ${worst}`.trim());
    }
    for (const row of agentRows.values()) {
      setText(row.cells[4], duration(ageSince(row.agent.since_ms)));
    }
  }

  setInterval(tick, 1000);
  tick();
  connect();
})();
