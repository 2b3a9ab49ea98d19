"""The harness our tests share, beside the public fakes of ``llamaburn.testing`` (which it builds on):

- ``servers``: the fake model server scripted per chat request, and restartable on its port;
- ``moments``: exact moments of a run, hooked on the engine's own events, and ``until`` for what a page shows;
- ``api``: the API face alone on an app of its own, in-process or served live, and the calls a client makes;
- ``cli``: the CLI run in-process, its exit code, its ``--json`` document and its one error line;
- ``page``: a simulated browser tab on the app's page (NiceGUI's ``user``), and the service behind it.
"""
