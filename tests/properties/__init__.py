"""Property tests (hypothesis): no bytes a model server sends, no inputs a user types and no numbers a run
stores make LlamaBurn fail with anything but its own one-line errors.

- The stream parsers (Ollama NDJSON, OpenAI SSE), fed through respx-mocked HTTP streams into
  ``Backend.stream_chat`` and on through ``measure_stream``, as a run does: they return metrics or raise
  ``BackendError``, nothing else.
- The text modality's input validation (``Modality.parse_inputs``): ``ConfigError`` or valid inputs.
- ``metrics.summarize``, ``metrics.stream_metrics`` and ``compare.compare`` with zero, missing, NaN and
  infinite values: no exception, no NaN out.

Each property runs at most ``EXAMPLES`` (or 200) generated examples with no deadline. The properties over
inputs of any shape (chunks, model lists, floats near the maximum, multi-line server text) are also pinned
with ``@example``s of the inputs that once broke them (docs/reliability.md lists the fixed bugs), so each
of those bugs is checked on every run, whatever hypothesis happens to generate.

``streams.py`` holds the settings, the strategies for server replies, and how a reply is streamed.
"""
