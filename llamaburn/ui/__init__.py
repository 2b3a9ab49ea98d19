"""The NiceGUI face: renders the engine's state and subscribes to its events; no benchmark logic here."""
