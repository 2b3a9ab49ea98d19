"""The ``llamaburn`` command. Imports stay inside the handlers so ``--help`` answers fast."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llamaburn.engine.modality import Inputs

EXIT_CANCELLED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llamaburn", description="Benchmark local LLM servers.")
    from llamaburn import __version__

    parser.add_argument("--version", action="version", version=f"llamaburn {__version__}")
    _ui_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    _ui_options(commands.add_parser("ui", help="start the app in the browser (the default command)"))

    bench = commands.add_parser("bench", help="run a benchmark and store it in history")
    bench.add_argument("--modality", default="text", help="benchmark type (default: text)")
    _backend_options(bench)
    bench.add_argument("--model", help="model id (default: the backend's first model)")
    prompt = bench.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", help="the prompt to send")
    prompt.add_argument("--prompts-file", type=Path, help="a file of prompts, one per line, used in turn")
    bench.add_argument("--iterations", type=int, help="measured requests (default: 5)")
    bench.add_argument("--warmup", type=int, help="unmeasured requests first (default: 1)")
    bench.add_argument("--max-tokens", type=int, help="most tokens per answer (default: 256)")
    bench.add_argument("--temperature", type=float, help="sampling temperature, 0 to 2 (default: 0.7)")
    bench.add_argument("--seed", type=int, help="sampling seed")
    bench.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any field of the modality's form, e.g. batch_size=32; repeat a list field's key once per item",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    bench.add_argument("--no-save", action="store_true", help="do not store the run in history")
    bench.add_argument("--quiet", action="store_true", help="no live progress on stderr")

    models = commands.add_parser("models", help="list a backend's models")
    _backend_options(models)
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
    history.add_argument("--json", action="store_true")

    compare = commands.add_parser("compare", help="compare two or more stored runs")
    compare.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run ids (or unique prefixes)")
    compare.add_argument("--json", action="store_true")

    export = commands.add_parser("export", help="write all stored runs to stdout")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    return parser


def _ui_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="the app's port (default: 8080)")
    parser.add_argument("--no-show", action="store_true", help="do not open a browser")
    parser.add_argument("--native", action="store_true", help="open in a native window (needs the native extra)")
    parser.add_argument(
        "--lan", action="store_true", help="serve on all interfaces, guarded by an access token (env: LLAMABURN_TOKEN)"
    )


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", help="ollama, openai or embedded (default: Ollama if it answers, else embedded)")
    parser.add_argument("--url", help="the server's URL (Ollama honours OLLAMA_HOST)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LLAMABURN_API_KEY"),
        help="API key for an OpenAI-compatible server (env: LLAMABURN_API_KEY)",
    )
    parser.add_argument("--read-timeout", type=float, help="seconds to wait for data (default: 300)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from llamaburn.errors import ComingSoonError, ConfigError, LlamaBurnError

    try:
        return HANDLERS[args.command or "ui"](args)
    except (ConfigError, ComingSoonError) as exc:
        print(f"llamaburn: error: {exc}", file=sys.stderr)
        return 2
    except LlamaBurnError as exc:
        print(f"llamaburn: error: {exc}", file=sys.stderr)
        return 1


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _bench(args: argparse.Namespace) -> int:
    from llamaburn.engine.registry import load_registry
    from llamaburn.errors import ConfigError
    from llamaburn.service.assembly import plan
    from llamaburn.storage.store import Store

    inputs: dict[str, Any] = {}
    if args.prompt is not None:
        inputs["prompts"] = [args.prompt]
    if args.prompts_file is not None:
        try:
            lines = args.prompts_file.read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read prompts file {args.prompts_file}: {exc.strerror}") from None
        inputs["prompts"] = [line for line in lines if line.strip()]
    for key in ("iterations", "warmup", "max_tokens", "temperature", "seed"):
        if getattr(args, key) is not None:
            inputs[key] = getattr(args, key)
    if args.read_timeout is not None and args.read_timeout <= 0:
        raise ConfigError(f"--read-timeout: must be > 0 (got {args.read_timeout})")
    registry = load_registry()
    inputs |= _form_inputs(registry.modality(args.modality).inputs, args.input, set(inputs))
    checked = plan(registry, args.modality, inputs, args.backend, args.url, args.model)
    store = None if args.no_save else Store()
    return asyncio.run(_bench_async(args, registry, checked, store))


def _form_inputs(form: type[Inputs], pairs: list[str], given: set[str]) -> dict[str, Any]:
    """``--input KEY=VALUE`` pairs as form values. Values stay text: the modality's ``Inputs`` model converts
    them (``"32"`` to an int field's 32) and refuses a bad one, or an unknown key, in one line naming it."""
    from llamaburn.engine.modality import field_type
    from llamaburn.errors import ConfigError

    values: dict[str, Any] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ConfigError(f"--input: expected KEY=VALUE, got {pair!r}")
        if key in given:
            raise ConfigError(f"{key}: set twice, by its own option and by --input")
        field = form.model_fields.get(key)
        if field is not None and typing.get_origin(field_type(field)[0]) is list:
            values.setdefault(key, []).append(value)
        elif key in values:
            raise ConfigError(f"{key}: given twice with --input; only a list field takes one value per repeat")
        else:
            values[key] = value
    return values


async def _bench_async(args: argparse.Namespace, registry: Any, checked: Any, store: Any) -> int:
    import signal

    from llamaburn.cli.report import show_progress, summary_table
    from llamaburn.engine.modality import Target
    from llamaburn.engine.runner import Run
    from llamaburn.errors import LlamaBurnError
    from llamaburn.modelinfo.service import ModelInfoService
    from llamaburn.service.assembly import open_backend, resolve_model, run_config
    from llamaburn.service.server_lock import ServerLock
    from llamaburn.service.system import snapshot
    from llamaburn.storage.recorder import Recorder

    backend = await open_backend(registry, checked.backend, checked.url, args.api_key, args.read_timeout)
    try:
        model = await resolve_model(backend, checked.model)
        try:
            version = await backend.version()
        except LlamaBurnError:
            version = None
        system = snapshot(backend.name, backend.url, version)
        model_infos = ModelInfoService(store)
        try:
            info = (await model_infos.get(backend, model)).model_dump(mode="json")
        finally:
            await model_infos.aclose()
        run = Run(checked.modality, checked.inputs, Target(backend, model))
        config = run_config(checked, backend, model)
        with ServerLock(backend.label, backend.url, run.id):  # refused before anything is stored
            recorder = Recorder(store, run, backend.name, config, system, info) if store else None
            progress: asyncio.Task[None] | None = None
            if not args.quiet:
                progress = asyncio.create_task(show_progress(run.bus.subscribe(), sys.stderr, run.modality.metrics))
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C interrupts without a graceful cancel
                loop.add_signal_handler(signal.SIGINT, run.cancel)
            await run.execute()
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signal.SIGINT)
            for task in (progress, recorder.task if recorder else None):
                if task is not None:
                    await task
    finally:
        await backend.aclose()
    if args.json:
        _print_json(
            {
                "run_id": run.id,
                "status": run.status,
                "error": run.error,
                "modality": run.modality.name,
                "backend": backend.name,
                "model": model,
                "config": config,
                "summary": run.summary,
                "warmups": run.warmups,
                "iterations": run.iterations,
                "system": system,
                "model_info": info,
            }
        )
    else:
        print(f"run {run.id}: {run.status}, {len(run.iterations)} iterations of {model} on {backend.label}")
        if run.summary:
            print(summary_table(run.summary))
    if recorder is not None and recorder.error:
        print(f"llamaburn: error: the run was measured but not fully stored: {recorder.error}", file=sys.stderr)
        return 1
    if run.status == "failed":
        print(f"llamaburn: error: {run.error}", file=sys.stderr)
        return 1
    return EXIT_CANCELLED if run.status == "cancelled" else 0


def _models(args: argparse.Namespace) -> int:
    from llamaburn.cli.report import table
    from llamaburn.engine.registry import load_registry
    from llamaburn.modelinfo.service import ModelInfoService
    from llamaburn.service.assembly import open_backend
    from llamaburn.storage.store import Store

    async def fetch() -> tuple[str, list[Any], list[Any]]:
        backend = await open_backend(load_registry(), args.backend, args.url, args.api_key, args.read_timeout)
        infos = ModelInfoService(Store()) if args.info else None
        try:
            models = await backend.models()
            described = [await infos.get(backend, m.id) for m in models] if infos else []
            return backend.name, models, described
        finally:
            await backend.aclose()
            if infos:
                await infos.aclose()

    if args.gguf is not None:
        return _describe_gguf(args.gguf, args.json)
    name, models, infos = asyncio.run(fetch())
    if args.json:
        rows = [{"id": m.id, "size_bytes": m.size_bytes, "details": m.details} for m in models]
        for row, info in zip(rows, infos, strict=False):
            row["info"] = info.model_dump(mode="json")
        _print_json({"backend": name, "models": rows})
    elif infos:
        print(
            table(
                ["model", "size", "quant", "family", "format", "context", "capabilities", "license", "HF downloads"],
                [
                    [
                        i.model_id,
                        i.parameter_size,
                        i.quantization,
                        i.family,
                        i.format,
                        i.context_length,
                        ", ".join(i.capabilities) or None,
                        i.license,
                        i.hf_downloads,
                    ]
                    for i in infos
                ],
            )
        )
    else:
        print(
            table(
                ["model", "size (GB)", "details"],
                [
                    [
                        m.id,
                        m.size_bytes / 1e9 if m.size_bytes else None,
                        ", ".join(f"{k}={v}" for k, v in m.details.items() if v and not isinstance(v, list)),
                    ]
                    for m in models
                ],
            )
        )
    return 0


def _describe_gguf(path: Path, as_json: bool) -> int:
    from llamaburn.backends.gguf import GGUFError, read_gguf
    from llamaburn.cli.report import table
    from llamaburn.errors import ConfigError

    try:
        facts = read_gguf(path)
    except (OSError, GGUFError) as exc:
        raise ConfigError(f"cannot read GGUF file {path}: {exc}") from None
    if as_json:
        _print_json({"file": str(path), "info": facts})
    else:
        print(table(["field", "value"], [[key, value] for key, value in facts.items()]))
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from llamaburn.cli.report import table
    from llamaburn.engine.registry import load_registry

    rows = load_registry().describe()
    if args.json:
        _print_json([row.model_dump() for row in rows])
    else:
        print(
            table(
                ["kind", "name", "label", "status", "from", "error"],
                [
                    [
                        r.kind,
                        r.name,
                        r.label,
                        "available" if r.available else ("error" if r.error else "coming soon"),
                        f"{r.distribution} {r.version}" if r.distribution else "-",
                        r.error,
                    ]
                    for r in rows
                ],
            )
        )
    return 0


def _history(args: argparse.Namespace) -> int:
    from llamaburn.cli.report import table
    from llamaburn.engine.format import titled
    from llamaburn.engine.registry import load_registry
    from llamaburn.storage.store import Store

    runs = Store().list_runs(limit=args.limit, offset=args.offset)
    if args.json:
        _print_json([run.model_dump(mode="json") for run in runs])
        return 0
    modalities = load_registry().modalities

    def headline(run: Any) -> list[Any]:
        """The run's headline metric (its modality's first) and its mean; blanks if the plugin is gone."""
        modality = modalities.get(run.modality)
        if modality is None or not modality.metrics:
            return [None, None]
        metric = modality.metrics[0]
        mean = (run.summary.get(metric.name) or {}).get("mean")
        return [titled(metric), mean]

    print(
        table(
            ["id", "date (UTC)", "modality", "backend", "model", "status", "metric", "mean"],
            [
                [
                    run.id[:8],
                    run.created_at.strftime("%Y-%m-%d %H:%M"),
                    run.modality,
                    run.backend,
                    run.model,
                    run.status,
                    *headline(run),
                ]
                for run in runs
            ],
        )
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from llamaburn.cli.report import table
    from llamaburn.engine.format import titled
    from llamaburn.engine.registry import load_registry
    from llamaburn.service.compare import compare, metric_set
    from llamaburn.storage.store import Store

    store = Store()
    runs = [store.get_run(run_id) for run_id in args.run_ids]
    comparison = compare(runs, metric_set(load_registry().modalities, runs))
    if args.json:
        _print_json(comparison.model_dump(mode="json"))
        return 0
    headers = [
        "metric",
        *(f"{c.model} ({c.id[:8]})" for c in comparison.runs),
        *(f"diff {c.id[:8]}" for c in comparison.runs[1:]),
        "winner",
    ]
    blank = [""] * (len(comparison.runs) - 1)
    rows: list[list[Any]] = [
        ["Size", *(c.parameter_size or "-" for c in comparison.runs), *blank, ""],
        ["Quant", *(c.quantization or "-" for c in comparison.runs), *blank, ""],
    ]
    for row in comparison.rows:
        diffs = [f"{d:+.1f}%" if d is not None else "-" for d in row.diff_pct[1:]]
        winner = comparison.runs[row.winner].id[:8] if row.winner is not None else "-"
        rows.append([titled(row), *row.values, *diffs, winner])
    print(table(headers, rows))
    return 0


def _export(args: argparse.Namespace) -> int:
    from llamaburn.storage.export import write_csv, write_json
    from llamaburn.storage.store import Store

    (write_csv if args.format == "csv" else write_json)(Store(), sys.stdout)
    return 0


def _ui(args: argparse.Namespace) -> int:
    from llamaburn.server import Launch, launch

    launch(Launch(port=args.port, show=not args.no_show, native=args.native, lan=args.lan))
    return 0


HANDLERS = {
    "ui": _ui,
    "bench": _bench,
    "models": _models,
    "plugins": _plugins,
    "history": _history,
    "compare": _compare,
    "export": _export,
}
