"""The I/O shells around :mod:`streams.adapters`: ``floorwatch ingest asterisk|twilio|connect``.

- :mod:`floorwatch.adapters.tail` — follows a growing log file across rename and copytruncate
  rotation, remembering its position;
- :mod:`floorwatch.adapters.state` — small JSON state files written atomically;
- :mod:`floorwatch.adapters.sink` — produces adapter output with the shared
  :class:`floorwatch.kafka.EventProducer` and logs what was rejected;
- :mod:`floorwatch.adapters.asterisk`, :mod:`~floorwatch.adapters.twilio`,
  :mod:`~floorwatch.adapters.connect` — one runner per platform;
- :mod:`floorwatch.adapters.command` — the ``ingest`` command's arguments and dispatch.

The parsing itself stays in the pure core; these modules only read, wait and produce.
"""
