"""The fault matrix of issue 7: whatever a model server or the network does, a run ends in a clear state.

For every fault, on both protocols (Ollama's NDJSON and the OpenAI-compatible SSE), each face must show a
clear message naming the server, the history must hold the run as ``failed`` or ``cancelled`` with every
completed iteration, and the next ordinary run on the same backend must succeed. The faces:

- **engine**: ``Run`` + ``Recorder`` + ``Store`` on one ``Backend``, as every face uses them;
- **CLI**: ``llamaburn.cli.main`` in-process: the exit code, one ``llamaburn: error: ...`` line on stderr
  and the ``--json`` document;
- **SSE**: the REST API's ``POST /api/benchmark`` and its event stream, which must end with ``error``
  (or ``cancelled``), then ``GET /api/history/{id}``;
- **UI**: the NiceGUI page through the ``user`` fixture: a notification and an event-log line.

Faults are scripted on the fake server per chat request (``tests.harness.servers.Server.arm``), and the
moments that matter (a cancel during a warmup, a restart between two iterations) are hooked on the engine's
own events (``tests.harness.moments``), never guessed with a wall clock. ``matrix.py`` holds the faults and
what each face must show; each ``test_*.py`` here is one kind of trouble, on every face. Runs are a warmup
and 3 iterations, and a mid-run fault hits iteration 2, so each stored run must keep the warmup and
iteration 1. Every test runs on SQLite; those in ``matrix.ON_POSTGRESQL`` (the engine face of every scenario,
and each other face's way to the store once) run on PostgreSQL too.
"""
