"""Adapters: real contact-centre platforms' events → the event contract (DESIGN.md section 2).

Pure parsers, like the rest of :mod:`streams`: stdlib and orjson only, no clock, no I/O. The
thin runners that tail files, receive webhooks and produce to Kafka live in
:mod:`floorwatch.ingest`.

- :mod:`streams.adapters.asterisk` — Asterisk ``queue_log`` (file and realtime table form);
- :mod:`streams.adapters.twilio` — Twilio TaskRouter Event Callbacks and Event Streams, and
  webhook signature checks;
- :mod:`streams.adapters.connect` — Amazon Connect agent event stream and contact trace
  records;
- :mod:`streams.adapters.common` — rejection reasons, counters, event builders, stable ids.

Every adapter has ``feed(input) -> list[event dict] | Rejection`` and counts what it saw in
``counts`` (:class:`streams.adapters.common.AdapterCounts`). The ones that keep state between
inputs (which call is with which agent, which task is in which queue) expose ``to_state()``
and take ``state=`` back, so a runner can restart exactly where it stopped.
"""
