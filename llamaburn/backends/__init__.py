"""Model servers LlamaBurn can measure. Built-ins register through the ``register_backends`` hook."""
