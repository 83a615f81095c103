"""The wallboard gateway: the floor state from the output topics, served on one port.

- :mod:`wallboard.hub` — pure: the latest record per key and the floor state built from them;
- :mod:`wallboard.screen` — pure: what a screen is sent (its view of the floor, whole or as
  a patch), encoded once per view;
- :mod:`wallboard.colours` — pure: red/amber/green bands per metric, queue and agent state;
- :mod:`wallboard.access` — pure: viewer and operator tokens;
- :mod:`wallboard.api` — plain-HTTP routes (page, REST, /metrics, /healthz) as functions;
- :mod:`wallboard.metrics` — the Prometheus collector built from the hub at scrape time;
- :mod:`wallboard.feed` — Kafka: every partition of the output topics into the hub;
- :mod:`wallboard.server` — the websockets server, the push to screens, ``run``/``serve``;
- ``static/`` — the page (plain HTML, CSS and JavaScript, no build step).
"""
