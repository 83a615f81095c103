// Floorwatch wallboard: renders the screen state the gateway pushes over /ws.
//
// Protocol (subprotocol floorwatch.screen.v1, see wallboard/screen.py): the first message is
// the whole state {"type":"state","seq","meta","set":{section:{key:item}}}; then patches
// {"type":"patch","seq","base","meta","set":{…},"del":{section:[keys]}} from the edition the
// page holds. A patch for another edition, or a lost connection, means a reconnect, and a
// reconnect is a full resync. Every string from the data is inserted as text (textContent),
// never as markup. Ages (longest wait, time in state) tick every second against the
// gateway's clock (offset taken from each message's meta.now_ms).
//
// URL parameters: site, queues, team (the view: comma-separated, passed to the gateway),
// token (viewer or operator token), tv=1 (TV mode: large type, fits the screen without
// scrolling), sort=name|team|state|reason|time|queue (agent board order; -time reverses).
"use strict";

(() => {
  const PROTOCOL = "floorwatch.screen.v1";
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
  const STATE_ORDER = ["not_ready", "after_contact_work", "on_contact", "available", "logged_out"];
  const SEVERITY = { red: 2, amber: 1, green: 0, "": -1 };
  const BADGES = {
    red: "✖ Critical",
    amber: "▲ Warning",
    green: "✔ OK",
    "": "– No data",
  };
  const METRIC_NAMES = {
    service_level: "SL",
    longest_wait_s: "Longest wait",
    waiting: "Waiting",
    at_risk: "At risk",
    abandon_rate: "Abandoned",
    asa_s: "ASA",
  };
  const RETRY_FIRST_MS = 500;
  const RETRY_MAX_MS = 15000;
  const SILENCE_GRACE_S = 2;

  const params = new URLSearchParams(window.location.search);
  const token = params.get("token") || "";
  const tvMode = ["1", "true", "yes", "on"].includes((params.get("tv") || "").toLowerCase());
  const filter = {};
  for (const name of ["site", "queues", "team"]) {
    const values = params.getAll(name).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v);
    if (values.length) filter[name] = values;
  }
  let sortKey = (params.get("sort") || "team").replace(/^-/, "");
  let sortDescending = (params.get("sort") || "").startsWith("-");

  const $ = (id) => document.getElementById(id);
  const view = {
    viewName: $("view-name"),
    floor: $("floor"),
    connection: $("connection"),
    clock: $("clock"),
    banner: $("banner"),
    alertsSection: $("alerts-section"),
    alerts: $("alerts"),
    alertsEmpty: $("alerts-empty"),
    alertsNote: $("alerts-note"),
    queues: $("queues"),
    queuesEmpty: $("queues-empty"),
    groupRows: document.querySelector("#groups tbody"),
    groupsSlHead: $("groups-sl-head"),
    teamsDetails: $("teams-details"),
    teamsSummary: $("teams-summary"),
    teamRows: document.querySelector("#teams tbody"),
    agentsSummary: $("agents-summary"),
    agentsTable: $("agents"),
    agentRows: document.querySelector("#agents tbody"),
    exceptions: $("exceptions"),
  };

  // the screen state: section -> key -> item, and the edition it is
  let sections = null;
  let meta = null;
  let seq = null;
  let clockOffsetMs = 0;
  let lastMessageAt = null;
  let socket = null;
  let connected = false;
  let retryMs = RETRY_FIRST_MS;
  let retryAt = null;
  let teamsOpenedByUser = false;
  const tiles = new Map(); // queue name -> tile parts
  const agentRows = new Map(); // agent id -> row parts
  const groupRows = new Map(); // group key -> row parts

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
    return ms === null || ms === undefined ? null : Math.max(0, (serverNow() - ms) / 1000);
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
    return rolling ? `${rolling[1]} min` : label;
  }

  function definitionName(id) {
    return DEFINITION_NAMES[id] || id;
  }

  function section(name) {
    return (sections && sections[name]) || {};
  }

  // -- colours ------------------------------------------------------------------------------

  // Colour of one figure against its band [amber, red]; same rule as wallboard.colours.colour_of:
  // service level is bad below the band, every other metric at or above it.
  function colourOf(metric, value, band) {
    if (value === null || value === undefined || !band) return "";
    const below = metric === "service_level";
    const [amber, red] = band;
    if (red !== null && red !== undefined && (below ? value < red : value >= red)) return "red";
    if (amber !== null && amber !== undefined && (below ? value < amber : value >= amber)) return "amber";
    return "green";
  }

  function worst(colours) {
    return colours.reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), "");
  }

  function formatMetric(metric, value) {
    if (metric === "service_level" || metric === "abandon_rate") return percent(value);
    if (metric === "longest_wait_s") return duration(value);
    if (metric === "asa_s") return seconds(value);
    return count(value);
  }

  // Why a tile has its colour, in words: the figures past their amber or red edge.
  function breaches(values, bands) {
    const out = [];
    for (const [metric, value] of Object.entries(values)) {
      const colour = colourOf(metric, value, bands[metric]);
      if (colour !== "red" && colour !== "amber") continue;
      const edge = bands[metric][colour === "red" ? 1 : 0];
      const side = metric === "service_level" ? "<" : "≥";
      out.push({ colour, text: `${METRIC_NAMES[metric] || metric} ${formatMetric(metric, value)} ${side} ${formatMetric(metric, edge)}` });
    }
    out.sort((a, b) => SEVERITY[b.colour] - SEVERITY[a.colour]);
    return out;
  }

  function agentBand(agent) {
    const bands = section("settings").agents || { states: {}, reasons: {} };
    if (agent.state === "not_ready" && agent.reason && bands.reasons[agent.reason]) return bands.reasons[agent.reason];
    return bands.states[`${agent.state}_s`] || null;
  }

  // -- connection ---------------------------------------------------------------------------

  function socketUrl() {
    const url = new URL("ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const query = Object.entries(filter).map(([name, values]) => `${name}=${values.map(encodeURIComponent).join(",")}`);
    if (token) query.push(`token=${encodeURIComponent(token)}`);
    url.search = query.join("&");
    return url;
  }

  function connect() {
    retryAt = null;
    renderConnection();
    const current = new WebSocket(socketUrl(), [PROTOCOL]);
    socket = current;
    current.addEventListener("open", () => {
      connected = true;
      renderConnection();
    });
    current.addEventListener("message", (event) => {
      if (socket !== current) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        console.warn("floorwatch: unreadable message", error);
        return;
      }
      if (!receive(message)) {
        console.warn("floorwatch: patch for another edition; resynchronising");
        current.close();
        return;
      }
      // a message that applies is the sign of a working connection: reset the back-off
      retryMs = RETRY_FIRST_MS;
      render();
    });
    current.addEventListener("close", () => {
      if (socket !== current) return;
      socket = null;
      connected = false;
      seq = null; // the next connection starts from a whole state
      // back off exponentially with jitter, so a restarted gateway is not stampeded
      const delay = retryMs * (0.8 + Math.random() * 0.4);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      retryAt = Date.now() + delay;
      setTimeout(connect, delay);
      renderConnection();
    });
  }

  // Apply one message; false when it does not fit the edition held.
  function receive(message) {
    if (message.type === "state") {
      sections = {};
      for (const [name, items] of Object.entries(message.set || {})) sections[name] = { ...items };
    } else if (message.type === "patch") {
      if (sections === null || message.base !== seq) return false;
      for (const [name, items] of Object.entries(message.set || {})) {
        sections[name] = Object.assign(sections[name] || {}, items);
      }
      for (const [name, keys] of Object.entries(message.del || {})) {
        for (const key of keys) if (sections[name]) delete sections[name][key];
      }
    } else {
      return true; // a message type of a later gateway: nothing to do with it
    }
    seq = message.seq;
    meta = message.meta;
    clockOffsetMs = meta.now_ms - Date.now();
    lastMessageAt = Date.now();
    return true;
  }

  function renderConnection() {
    if (connected) {
      setText(view.connection, "live");
      setClass(view.connection, "connection live");
    } else if (retryAt !== null) {
      const inS = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      setText(view.connection, `✖ disconnected · retry in ${inS} s`);
      setClass(view.connection, "connection down");
    } else {
      setText(view.connection, "connecting…");
      setClass(view.connection, "connection connecting");
    }
    renderBanner();
  }

  function renderBanner() {
    let text = "";
    let kind = "banner";
    const silentS = lastMessageAt === null ? 0 : (Date.now() - lastMessageAt) / 1000;
    if (!connected && meta !== null) {
      text = "⚠ Disconnected from the gateway: the figures below are frozen. Reconnecting…";
      kind = "banner down";
    } else if (meta !== null && meta.stale) {
      text = `⚠ Data is stale: ${meta.stale_reason || "no recent update from the workers"}.`;
    } else if (connected && meta !== null && silentS > meta.stale_s + SILENCE_GRACE_S) {
      text = `⚠ No update from the gateway for ${Math.floor(silentS)} s: the figures below may be old.`;
    }
    view.banner.hidden = text === "";
    setText(view.banner, text);
    setClass(view.banner, kind);
    document.body.classList.toggle("is-stale", text !== "");
  }

  // -- rendering ----------------------------------------------------------------------------

  function render() {
    renderBanner();
    renderViewName();
    renderFloor();
    renderAlerts();
    renderQueues();
    renderGroups();
    renderTeams();
    renderAgents();
    tick();
    if (tvMode) fitTv();
  }

  function renderViewName() {
    const applied = section("settings").filter || {};
    const parts = [];
    if ((applied.site || []).length) parts.push(`Site ${applied.site.join(", ")}`);
    if ((applied.queues || []).length) parts.push(`Queues ${applied.queues.join(", ")}`);
    if ((applied.team || []).length) parts.push(`Team ${applied.team.join(", ")}`);
    setText(view.viewName, parts.length ? parts.join(" · ") : "Whole floor");
  }

  const FLOOR_ITEMS = [
    ["waiting", "Waiting"],
    ["longest", "Longest wait"],
    ["at-risk", "At risk"],
    ["sl-interval", "SL interval"],
    ["sl-day", "SL today"],
    ["abandoned-day", "Abandoned today"],
    ["staffed", "Staffed"],
    ["available", "Available"],
    ["on-contact", "On contact"],
    ["not-ready", "Not ready"],
  ];

  function renderFloor() {
    if (view.floor.childElementCount !== FLOOR_ITEMS.length) {
      view.floor.replaceChildren(
        ...FLOOR_ITEMS.map(([key, label]) => {
          const item = el("div");
          item.dataset.key = key;
          item.append(el("dt", "", label), el("dd"));
          return item;
        }),
      );
    }
    const floor = section("groups").floor || { windows: {}, colours: {} };
    const interval = floor.windows.interval || {};
    const day = floor.windows.day || {};
    const definition = floor.definition;
    const staff = section("staff").floor || {};
    const bands = floor.colours || {};
    const values = {
      waiting: [count(floor.waiting), colourOf("waiting", floor.waiting, bands.waiting)],
      "at-risk": [count(floor.at_risk), colourOf("at_risk", floor.at_risk, bands.at_risk)],
      "sl-interval": [percent(interval.service_level), colourOf("service_level", interval.service_level, bands.service_level)],
      "sl-day": [percent(day.service_level), colourOf("service_level", day.service_level, bands.service_level)],
      "abandoned-day": [percent(day.abandon_rate), colourOf("abandon_rate", day.abandon_rate, bands.abandon_rate)],
      staffed: [count(staff.staffed), ""],
      available: [count(staff.available), ""],
      "on-contact": [count(staff.on_contact), ""],
      "not-ready": [count(staff.not_ready), ""],
    };
    for (const item of view.floor.children) {
      const key = item.dataset.key;
      if (key === "sl-interval") setText(item.firstChild, `SL interval (${definitionName(definition)})`);
      if (key in values) {
        setText(item.lastChild, values[key][0]);
        setClass(item.lastChild, values[key][1]);
      }
    }
    view.floor.dataset.oldestQueuedMs = floor.oldest_queued_ms ?? "";
    view.floor.dataset.longestBand = JSON.stringify(bands.longest_wait_s || null);
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
    const alerts = Object.entries(section("alerts")).sort(([a], [b]) => (a < b ? -1 : 1));
    view.alertsEmpty.hidden = alerts.length > 0;
    document.body.classList.toggle("has-alerts", alerts.length > 0);
    view.alerts.replaceChildren(
      ...alerts.map(([id, alert]) => {
        const severity = String(alert.severity || "warning");
        const status = String(alert.state || alert.status || "");
        const item = el("li", `alert ${severity === "critical" ? "critical" : "warning"} ${status === "acknowledged" ? "acknowledged" : ""}`.trim());
        item.append(el("span", "severity", `${severity === "critical" ? "✖" : "▲"} ${severity}`), el("span", "text", describeAlert(alert)));
        if (status) item.append(el("span", "since", status));
        if (!id.startsWith("#")) {
          const button = el("button", "", "Acknowledge");
          button.type = "button";
          button.disabled = status === "acknowledged";
          button.addEventListener("click", () => acknowledge(id, button));
          item.append(button);
        }
        return item;
      }),
    );
  }

  // who acknowledges: asked once, remembered on this screen (shown with the alert everywhere)
  function operatorName() {
    let name = "";
    try { name = window.localStorage.getItem("floorwatch.operator") || ""; } catch (error) { name = ""; }
    if (!name) {
      name = (window.prompt("Your name, shown with the acknowledgement:", "") || "").trim();
      try { if (name) window.localStorage.setItem("floorwatch.operator", name); } catch (error) { /* private mode */ }
    }
    return name || "operator";
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    let note;
    try {
      const headers = token ? { Authorization: `Bearer ${token}` } : {};
      const by = encodeURIComponent(operatorName());
      const response = await fetch(`api/alerts/${encodeURIComponent(id)}/ack?by=${by}`, { method: "POST", headers });
      const body = await response.json().catch(() => ({}));
      if (response.ok) note = `Acknowledged ${id}.`;
      else if (response.status === 401 || response.status === 403) note = `Acknowledging needs the operator token: open this board with ?token=<operator token>. (${body.error || response.statusText})`;
      else note = `Could not acknowledge ${id}: ${body.error || response.statusText}`;
    } catch (error) {
      note = `Could not acknowledge ${id}: ${error}`;
    }
    button.disabled = false;
    view.alertsNote.hidden = false;
    setText(view.alertsNote, note);
  }

  // -- queue tiles --------------------------------------------------------------------------

  // [name, TV name, format, colour metric, value]
  const FIGURES = [
    ["SL", "SL", (w) => percent(w.service_level), "service_level", (w) => w.service_level],
    ["ASA", "ASA", (w) => seconds(w.asa_s), "asa_s", (w) => w.asa_s],
    ["AHT", "AHT", (w) => seconds(w.aht_s)],
    ["Abandoned", "Aband.", (w) => percent(w.abandon_rate), "abandon_rate", (w) => w.abandon_rate],
    ["Offered", null, (w) => count(w.offered)],
    ["Answered", "Answ.", (w) => count(w.answered)],
  ];
  // a TV shows the current interval and the day (the rolling windows are on the desk page)
  const TV_WINDOWS = ["interval", "day"];

  function buildTile(name) {
    const root = el("article", "tile");
    root.dataset.queue = name;
    const header = el("header");
    const title = el("h3", "name", name);
    const badge = el("span", "badge");
    header.append(title, badge);
    const where = el("p", "where");
    const live = el("div", "live");
    const cells = {};
    for (const [key, label] of [["waiting", "Waiting"], ["longest", "Longest wait"], ["atRisk", "At risk"]]) {
      const cell = el("div", `live-${key}`);
      const value = el("span", "value");
      cell.append(el("span", "label", label), value);
      live.append(cell);
      cells[key] = value;
    }
    const why = el("p", "why");
    const figures = el("table", "figures");
    const definition = el("p", "definition");
    const staffing = el("p", "staffing");
    root.append(header, where, live, why, figures, definition, staffing);
    return { root, badge, where, ...cells, why, figures, figuresKey: "", cells: {}, definition, staffing, queue: null, colour: "" };
  }

  // One row per figure and a column per window on the desk; on a TV, turned a quarter, so
  // that the figures take three lines instead of seven.
  function buildFigures(tile, windows) {
    const head = el("thead");
    const headRow = el("tr");
    headRow.append(el("th"));
    const body = el("tbody");
    tile.cells = {};
    const figures = tvMode ? FIGURES.filter((f) => f[1] !== null) : FIGURES;
    if (tvMode) {
      for (const [name, short] of figures) headRow.append(el("th", `f-${name.toLowerCase()}`, short));
      for (const label of windows) {
        const row = el("tr", `window-${label}`);
        row.append(el("th", "", windowName(label)));
        for (const [name] of figures) {
          const cell = el("td", `w-${label}`);
          (tile.cells[name] = tile.cells[name] || []).push(cell);
          row.append(cell);
        }
        body.append(row);
      }
    } else {
      for (const label of windows) headRow.append(el("th", `w-${label}`, windowName(label)));
      for (const [name] of figures) {
        const row = el("tr", `row-${name.toLowerCase()}`);
        row.append(el("th", "", name));
        tile.cells[name] = windows.map((label) => {
          const cell = el("td", `w-${label}`);
          row.append(cell);
          return cell;
        });
        body.append(row);
      }
    }
    head.append(headRow);
    tile.figures.replaceChildren(head, body);
    tile.figuresKey = windows.join(",");
  }

  function updateTile(tile, queue) {
    tile.queue = queue;
    const where = [queue.channel, queue.site, queue.client].filter((x) => x).join(" · ");
    setText(tile.where, where);
    setText(tile.waiting, count(queue.waiting));
    setText(tile.atRisk, count(queue.at_risk));
    const bands = queue.colours || {};
    setClass(tile.waiting, `value ${colourOf("waiting", queue.waiting, bands.waiting)}`.trim());
    setClass(tile.atRisk, `value ${colourOf("at_risk", queue.at_risk, bands.at_risk)}`.trim());
    const windows = Object.keys(queue.windows).filter((label) => !tvMode || TV_WINDOWS.includes(label));
    if (tile.figuresKey !== windows.join(",")) buildFigures(tile, windows);
    const definition = queue.definition;
    for (const [name, , format, metric, value] of FIGURES) {
      if (!tile.cells[name]) continue;
      windows.forEach((label, index) => {
        const cell = tile.cells[name][index];
        const figures = queue.windows[label];
        setText(cell, format(figures));
        if (metric) setClass(cell, `w-${label} ${colourOf(metric, value(figures), bands[metric])}`.trim());
      });
    }
    setText(tile.definition, `SL = ${definitionName(definition)} · threshold ${queue.threshold_s} s · target ${percent(queue.target)}`);
    const agents = queue.agents || {};
    const required = queue.required_agents;
    const short = required === null || required === undefined ? 0 : required - (agents.staffed || 0);
    const staffed = required === null || required === undefined
      ? `${count(agents.staffed)} staffed`
      : `${count(agents.staffed)} staffed of ${required} required${short > 0 ? ` (▲ ${short} short)` : ""}`;
    const text = tvMode
      ? `${staffed} · ${count(agents.available)} avail. · ${count(agents.on_contact)} busy · ` +
        `${count(agents.after_contact_work)} ACW · ${count(agents.not_ready)} NR`
      : `Agents: ${staffed} · ${count(agents.available)} available · ` +
        `${count(agents.on_contact)} on contact · ${count(agents.after_contact_work)} ACW · ` +
        `${count(agents.not_ready)} not ready`;
    setText(tile.staffing, text);
    setClass(tile.staffing, short > 0 ? "staffing short" : "staffing");
  }

  // The tile's colour: the worst of its figures (the longest wait ticks, so this runs every second).
  function colourTile(tile) {
    const queue = tile.queue;
    const interval = queue.windows.interval || {};
    const longest = queue.oldest_queued_ms === null || queue.oldest_queued_ms === undefined ? 0 : ageSince(queue.oldest_queued_ms);
    const bands = queue.colours || {};
    const values = {
      service_level: interval.service_level,
      longest_wait_s: longest,
      waiting: queue.waiting,
      at_risk: queue.at_risk,
      abandon_rate: interval.abandon_rate,
      asa_s: interval.asa_s,
    };
    setText(tile.longest, duration(longest));
    setClass(tile.longest, `value ${colourOf("longest_wait_s", longest, bands.longest_wait_s)}`.trim());
    const colour = worst(Object.entries(values).map(([metric, value]) => colourOf(metric, value, bands[metric])));
    const reasons = breaches(values, bands);
    tile.colour = colour;
    setClass(tile.root, colour ? `tile rag-${colour}` : "tile");
    tile.root.dataset.colour = colour || "none";
    setText(tile.badge, BADGES[colour]);
    setClass(tile.badge, `badge ${colour}`.trim());
    setText(tile.why, reasons.map((r) => r.text).join(" · "));
  }

  function renderQueues() {
    const queues = Object.values(section("queues")).sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
    view.queuesEmpty.hidden = queues.length > 0;
    setText(view.queuesEmpty, sections === null ? "Waiting for the gateway…" : "No queue has reported yet.");
    const seen = new Set();
    queues.forEach((queue, index) => {
      seen.add(queue.queue);
      let tile = tiles.get(queue.queue);
      if (!tile) {
        tile = buildTile(queue.queue);
        tiles.set(queue.queue, tile);
      }
      updateTile(tile, queue);
      if (view.queues.children[index] !== tile.root) view.queues.insertBefore(tile.root, view.queues.children[index] || null);
    });
    for (const [name, tile] of tiles) {
      if (!seen.has(name)) {
        tile.root.remove();
        tiles.delete(name);
      }
    }
  }

  // -- groups and teams ---------------------------------------------------------------------

  function groupLabel(key) {
    if (key === "floor") return "Floor (this view)";
    const [kind, ...rest] = key.split(":");
    return `${kind === "site" ? "Site" : kind === "client" ? "Client" : kind} ${rest.join(":")}`;
  }

  function renderGroups() {
    const groups = section("groups");
    const rank = (key) => (key === "floor" ? 0 : key.startsWith("site:") ? 1 : 2);
    const keys = Object.keys(groups).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    setText(view.groupsSlHead, `SL interval (${definitionName((groups.floor || {}).definition)})`);
    const seen = new Set();
    keys.forEach((key, index) => {
      seen.add(key);
      const group = groups[key];
      let row = groupRows.get(key);
      if (!row) {
        const tr = el("tr");
        const cells = Array.from({ length: 11 }, (_, i) => el(i === 0 ? "th" : "td", i === 0 ? "" : "num"));
        cells[0].scope = "row";
        tr.append(...cells);
        row = { tr, cells };
        groupRows.set(key, row);
      }
      row.group = group;
      const interval = group.windows.interval || {};
      const day = group.windows.day || {};
      const bands = group.colours || {};
      const c = row.cells;
      setText(c[0], groupLabel(key));
      setText(c[1], count(group.queues));
      setText(c[2], count(group.waiting));
      setText(c[4], count(group.at_risk));
      const slInterval = interval.service_level;
      const slDay = day.service_level;
      setText(c[5], percent(slInterval));
      setClass(c[5], `num ${colourOf("service_level", slInterval, bands.service_level)}`.trim());
      setText(c[6], percent(slDay));
      setClass(c[6], `num ${colourOf("service_level", slDay, bands.service_level)}`.trim());
      setText(c[7], seconds(day.asa_s));
      setText(c[8], percent(day.abandon_rate));
      setText(c[9], count(day.offered));
      setText(c[10], count(day.answered));
      if (view.groupRows.children[index] !== row.tr) view.groupRows.insertBefore(row.tr, view.groupRows.children[index] || null);
    });
    for (const [key, row] of groupRows) {
      if (!seen.has(key)) {
        row.tr.remove();
        groupRows.delete(key);
      }
    }
  }

  function reasonsText(counts) {
    return Object.entries(counts.not_ready_by_reason || {})
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([reason, n]) => `${n} ${reason}`)
      .join(", ");
  }

  function renderTeams() {
    const teams = Object.entries(section("staff"))
      .filter(([key]) => key.startsWith("team:"))
      .sort(([a], [b]) => (a < b ? -1 : 1));
    setText(view.teamsSummary, `Teams (${teams.length})`);
    if (!teamsOpenedByUser) view.teamsDetails.open = teams.length > 0 && teams.length <= 12;
    view.teamRows.replaceChildren(
      ...teams.map(([key, counts]) => {
        const tr = el("tr");
        const name = el("th", "", key.slice("team:".length));
        name.scope = "row";
        tr.append(name);
        for (const field of ["logged_in", "staffed", "available", "on_contact", "after_contact_work", "not_ready"]) {
          tr.append(el("td", "num", count(counts[field])));
        }
        tr.append(el("td", "", reasonsText(counts)));
        return tr;
      }),
    );
  }

  // -- agent board --------------------------------------------------------------------------

  function compareAgents(a, b) {
    const text = (value) => String(value ?? "\uffff").toLowerCase();
    let order;
    switch (sortKey) {
      case "name":
        order = text(a.name || a.agent_id).localeCompare(text(b.name || b.agent_id));
        break;
      case "state":
        order = STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state);
        break;
      case "reason":
        order = text(a.reason).localeCompare(text(b.reason));
        break;
      case "time":
        order = (a.since_ms ?? Infinity) - (b.since_ms ?? Infinity); // longest in state first
        break;
      case "queue":
        order = text(a.queue).localeCompare(text(b.queue));
        break;
      default:
        order = text(a.team).localeCompare(text(b.team));
    }
    if (sortDescending) order = -order;
    if (order !== 0) return order;
    return text(a.name || a.agent_id).localeCompare(text(b.name || b.agent_id)) || (a.agent_id < b.agent_id ? -1 : 1);
  }

  function renderSortHeaders() {
    for (const th of view.agentsTable.querySelectorAll("th[data-sort]")) {
      const active = th.dataset.sort === sortKey;
      th.setAttribute("aria-sort", active ? (sortDescending ? "descending" : "ascending") : "none");
      th.classList.toggle("sorted", active);
    }
  }

  function setupSorting() {
    for (const th of view.agentsTable.querySelectorAll("th[data-sort]")) {
      th.querySelector("button").addEventListener("click", () => {
        if (sortKey === th.dataset.sort) sortDescending = !sortDescending;
        else {
          sortKey = th.dataset.sort;
          sortDescending = false;
        }
        // keep the order in the address, so a TV can be pointed at it
        const url = new URL(window.location.href);
        url.searchParams.set("sort", `${sortDescending ? "-" : ""}${sortKey}`);
        window.history.replaceState(null, "", url);
        renderSortHeaders();
        if (sections !== null) renderAgents();
      });
    }
    renderSortHeaders();
  }

  function renderAgents() {
    const counts = section("staff").floor;
    if (counts) {
      const reasons = reasonsText(counts);
      setText(
        view.agentsSummary,
        `${counts.logged_in} logged in · ${counts.staffed} staffed · ${counts.available} available · ` +
          `${counts.on_contact} on contact · ${counts.after_contact_work} ACW · ` +
          `${counts.not_ready} not ready${reasons ? ` (${reasons})` : ""}`,
      );
    }
    const agents = Object.values(section("agents")).sort(compareAgents);
    const seen = new Set();
    agents.forEach((agent, index) => {
      seen.add(agent.agent_id);
      let row = agentRows.get(agent.agent_id);
      if (!row) {
        const tr = el("tr");
        const cells = ["name", "team", "state", "reason", "time num", "queue"].map((kind) => el("td", kind));
        tr.append(...cells);
        row = { tr, cells, highlight: "" };
        agentRows.set(agent.agent_id, row);
      }
      row.agent = agent;
      row.tr.dataset.agent = agent.agent_id;
      const [name, team, stateCell, reason, , queue] = row.cells;
      setText(name, agent.name || agent.agent_id);
      setText(team, agent.team || "");
      setText(stateCell, STATE_NAMES[agent.state] || agent.state);
      setText(reason, agent.reason || "");
      setText(queue, agent.queue || "");
      if (view.agentRows.children[index] !== row.tr) view.agentRows.insertBefore(row.tr, view.agentRows.children[index] || null);
    });
    for (const [id, row] of agentRows) {
      if (!seen.has(id)) {
        row.tr.remove();
        agentRows.delete(id);
      }
    }
  }

  function highlightAgent(row) {
    const agent = row.agent;
    const age = ageSince(agent.since_ms);
    const band = agentBand(agent);
    const colour = colourOf("time_in_state_s", age, band);
    const highlight = colour === "red" || colour === "amber" ? colour : "";
    row.highlight = highlight;
    row.age = age;
    const timeCell = row.cells[4];
    const marker = highlight === "red" ? "✖ " : highlight === "amber" ? "▲ " : "";
    setText(timeCell, `${marker}${duration(age)}`);
    timeCell.title = highlight ? `${STATE_NAMES[agent.state] || agent.state}${agent.reason ? ` (${agent.reason})` : ""} longer than ${duration(band[highlight === "red" ? 1 : 0])}` : "";
    setClass(row.tr, `${agent.state}${highlight ? ` hl hl-${highlight}` : ""}`);
  }

  // The agents past their bands, worst and longest first (the TV shows these instead of the board).
  function renderExceptions() {
    const flagged = [...agentRows.values()]
      .filter((row) => row.highlight)
      .sort((a, b) => SEVERITY[b.highlight] - SEVERITY[a.highlight] || b.age - a.age);
    const items = flagged.map((row) => {
      const agent = row.agent;
      const item = el("li", `exception hl-${row.highlight}`);
      const state = `${STATE_NAMES[agent.state] || agent.state}${agent.reason ? ` (${agent.reason})` : ""}`;
      item.append(
        el("span", "marker", row.highlight === "red" ? "✖" : "▲"),
        el("span", "who", agent.name || agent.agent_id),
        el("span", "what", state),
        el("span", "age", duration(row.age)),
      );
      return item;
    });
    view.exceptions.replaceChildren(...items);
    view.exceptions.hidden = items.length === 0;
  }

  // Everything that moves with the clock alone.
  function tick() {
    setText(view.clock, new Date(serverNow()).toLocaleTimeString());
    if (!connected) renderConnection();
    else renderBanner();
    if (sections === null) return;
    const floorLongest = view.floor.querySelector('[data-key="longest"] dd');
    if (floorLongest) {
      const oldest = view.floor.dataset.oldestQueuedMs;
      const age = oldest ? ageSince(Number(oldest)) : 0;
      setText(floorLongest, duration(age));
      setClass(floorLongest, colourOf("longest_wait_s", age, JSON.parse(view.floor.dataset.longestBand || "null")));
    }
    for (const row of groupRows.values()) {
      const oldest = row.group.oldest_queued_ms;
      const age = oldest === null || oldest === undefined ? 0 : ageSince(oldest);
      setText(row.cells[3], duration(age));
      setClass(row.cells[3], `num ${colourOf("longest_wait_s", age, (row.group.colours || {}).longest_wait_s)}`.trim());
    }
    for (const tile of tiles.values()) colourTile(tile);
    for (const row of agentRows.values()) highlightAgent(row);
    renderExceptions();
  }

  // -- TV mode: the whole view on one screen, type as large as fits -------------------------

  function fitTv() {
    const area = view.queues;
    const n = tiles.size;
    if (n === 0) return;
    const width = area.clientWidth;
    const height = area.clientHeight;
    if (width === 0 || height === 0) return;
    // the grid whose tiles are closest to a 16:10 card, as large as possible
    let best = { cols: 1, score: 0 };
    for (let cols = 1; cols <= n; cols += 1) {
      const rows = Math.ceil(n / cols);
      const score = Math.min(width / cols / 1.6, height / rows);
      if (score > best.score) best = { cols, score };
    }
    const rows = Math.ceil(n / best.cols);
    area.style.gridTemplateColumns = `repeat(${best.cols}, minmax(0, 1fr))`;
    area.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
    // then the largest type at which every tile's content fits inside it
    const tileHeight = height / rows;
    let size = Math.max(8, Math.min(64, tileHeight / 9));
    area.style.setProperty("--tile-font", `${size}px`);
    for (let i = 0; i < 16 && size > 8 && overflowing(); i += 1) {
      size = Math.max(8, size * 0.9);
      area.style.setProperty("--tile-font", `${size}px`);
    }
  }

  function overflowing() {
    for (const tile of tiles.values()) {
      const root = tile.root;
      if (root.scrollHeight > root.clientHeight + 1 || root.scrollWidth > root.clientWidth + 1) return true;
    }
    return false;
  }

  if (tvMode) {
    document.body.classList.add("tv");
    window.addEventListener("resize", fitTv);
  }
  setupSorting();
  // once someone opens or closes the teams table, it stays as they left it
  view.teamsSummary.addEventListener("click", () => {
    teamsOpenedByUser = true;
  });
  setInterval(tick, 1000);
  tick();
  connect();
})();
