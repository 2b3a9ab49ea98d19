"""The top-level parser and dispatch. It imports no engine dependency, so ``llamaburn --help`` is fast;
only ``bench`` and ``sweep`` load the registry, to add the chosen modality's declared options."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llamaburn", description="Benchmark local LLM servers.")
    from llamaburn import __version__

    parser.add_argument("--version", action="version", version=f"llamaburn {__version__}")
    _ui_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    _ui_options(commands.add_parser("ui", help="start the app in the browser (the default command)"))

    bench = commands.add_parser("bench", help="run a benchmark and store it in history")
    if "bench" in argv:  # only then is the registry worth loading: the options come from the modality
        from llamaburn.cli.bench import add_options

        add_options(bench, argv[argv.index("bench") + 1 :])

    sweep = commands.add_parser("sweep", help="run a grid of benchmarks: models x input values x concurrency")
    if "sweep" in argv:
        from llamaburn.cli.sweep import add_sweep_options

        add_sweep_options(sweep, argv[argv.index("sweep") + 1 :])

    models = commands.add_parser("models", help="list a backend's models")
    backend_options(models)
    models.add_argument("--info", action="store_true", help="describe each model (size, quant, context, license...)")
    models.add_argument(
        "--gguf", type=Path, metavar="FILE", help="describe a local GGUF file instead of a server's models"
    )
    models.add_argument("--json", action="store_true")

    plugins = commands.add_parser("plugins", help="list modality and backend plugins, and load errors")
    plugins.add_argument("--json", action="store_true")

    history = commands.add_parser("history", help="list stored runs, newest first")
    history.add_argument("--limit", type=int, default=50)
    history.add_argument("--offset", type=int, default=0)
    history.add_argument("--host", help="only the runs measured on this host (as `history --by-host` names it)")
    history.add_argument("--by-host", action="store_true", help="one line per host: its run count and latest run")
    history.add_argument("--sweep", metavar="ID", help="only the runs of this sweep (as `history --by-sweep` names it)")
    history.add_argument("--by-sweep", action="store_true",
                         help="one line per sweep: its points, runs and status (`sweep --resume ID` shows its table)")
    history.add_argument("--json", action="store_true")

    compare = commands.add_parser("compare", help="compare two or more stored runs")
    compare.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run ids (or unique prefixes)")
    compare.add_argument("--json", action="store_true")

    report = commands.add_parser("report", help="write a shareable report of stored runs (HTML, or Markdown)")
    report.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run ids (or unique prefixes)")
    report.add_argument("-o", "--output", type=Path, metavar="FILE", help="the file to write (default: stdout)")
    report.add_argument(
        "--format", choices=("html", "md"), help="html (one self-contained file) or md (default: md for a .md FILE)"
    )

    export = commands.add_parser("export", help="write all stored runs to stdout")
    export.add_argument("--format", choices=("json", "csv"), default="json")

    imported = commands.add_parser("import", help="add the runs of a JSON export (runs already here are skipped)")
    imported.add_argument("file", type=Path, metavar="FILE", help="what `llamaburn export --format json` wrote")

    from llamaburn.cli import baseline, check  # light: what they need loads when they run

    baseline.add_parser(commands)
    check.add_parser(commands, argv)
    return parser


def _ui_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="the app's port (default: 8080)")
    parser.add_argument("--no-show", action="store_true", help="do not open a browser")
    parser.add_argument("--native", action="store_true", help="open in a native window (needs the native extra)")
    parser.add_argument(
        "--lan", action="store_true", help="serve on all interfaces, guarded by an access token (env: LLAMABURN_TOKEN)"
    )


def backend_options(parser: argparse.ArgumentParser) -> None:
    """Where to run: the options ``bench`` and ``models`` share."""
    parser.add_argument("--backend", help="ollama, openai or embedded (default: Ollama if it answers, else embedded)")
    parser.add_argument("--url", help="the server's URL (Ollama honours OLLAMA_HOST)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LLAMABURN_API_KEY"),
        help="API key for an OpenAI-compatible server (env: LLAMABURN_API_KEY)",
    )
    parser.add_argument("--read-timeout", type=float, help="seconds to wait for data (default: 300)")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _ui(args: argparse.Namespace) -> int:
    from llamaburn.server import Launch, launch

    launch(Launch(port=args.port, show=not args.no_show, native=args.native, lan=args.lan))
    return 0


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    if command == "ui":
        return _ui
    if command == "bench":
        from llamaburn.cli import bench

        return bench.bench
    if command in ("baseline", "check"):
        from llamaburn.cli import baseline, check

        return baseline.baseline if command == "baseline" else check.check
    if command == "sweep":
        from llamaburn.cli import sweep

        return sweep.sweep
    if command in ("models", "plugins"):
        from llamaburn.cli import models

        return models.models if command == "models" else models.plugins
    if command == "report":
        from llamaburn.cli import report

        return report.report
    from llamaburn.cli import history

    return {
        "history": history.history,
        "compare": history.compare,
        "export": history.export,
        "import": history.import_runs,
    }[command]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser(argv).parse_args(argv)
        return _handler(args.command or "ui")(args)
    except Exception as exc:
        from llamaburn.errors import ComingSoonError, ConfigError, LlamaBurnError

        if not isinstance(exc, LlamaBurnError):
            raise
        print(f"llamaburn: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ConfigError, ComingSoonError)) else 1
