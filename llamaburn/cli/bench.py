"""``llamaburn bench``: one run, assembled by ``prepare_run`` as every face does, measured in this process.

Its inputs options come from the modality's ``Inputs`` model: a field that declares ``cli_flag(...)`` gets
that option, and ``--input NAME=VALUE`` sets any field.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamaburn.cli.commands import backend_options, print_json
from llamaburn.engine.modality import Inputs, field_type
from llamaburn.engine.registry import Registry, load_registry
from llamaburn.errors import ConfigError
from llamaburn.service.request import RunRequest

if typing.TYPE_CHECKING:
    from llamaburn.engine.runner import Run
    from llamaburn.service.assembly import PreparedRun
    from llamaburn.storage.recorder import Recorder

EXIT_CANCELLED = 130


def add_options(bench: argparse.ArgumentParser, argv: list[str]) -> None:
    """The run options, then the chosen modality's declared ones (``--modality`` is read first for that)."""
    bench.add_argument("--modality", default="text", help="benchmark type (default: text)")
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--modality", default="text")
    registry = load_registry()
    form = registry.modality(first.parse_known_args(argv)[0].modality).inputs
    bench.set_defaults(registry=registry, form=form, declared={})
    backend_options(bench)
    bench.add_argument("--model", help="model id (default: the backend's first model)")
    _declared_options(bench, form)
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


def _declared_options(bench: argparse.ArgumentParser, form: type[Inputs]) -> None:
    """One option per ``cli_flag`` a field declares; its value stays text for the ``Inputs`` model to convert."""
    declared: dict[str, tuple[str, bool]] = {}  # argparse dest -> (field, read from a file)
    for name, info in form.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        flag, from_file = extra.get("cli"), extra.get("cli_file")
        if not isinstance(flag, str):
            continue
        unset = info.is_required() or info.default_factory is not None or info.default is None
        default = "" if unset else f" (default: {info.default})"
        group = bench.add_mutually_exclusive_group() if isinstance(from_file, str) else bench
        dest = f"input_{name}"
        metavar = flag.lstrip("-").replace("-", "_").upper()
        group.add_argument(flag, dest=dest, metavar=metavar, help=f"{info.description or name}{default}")
        declared[dest] = (name, False)
        if isinstance(from_file, str):
            group.add_argument(
                from_file, dest=f"file_{name}", type=Path, metavar="FILE", help=f"{name} from a file, one per line"
            )
            declared[f"file_{name}"] = (name, True)
    bench.set_defaults(declared=declared)


def declared_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """The inputs given by the modality's own options (``add_options``), as text for ``Inputs`` to convert."""
    inputs: dict[str, Any] = {}
    for dest, (name, from_file) in args.declared.items():
        value = getattr(args, dest)
        if value is None:
            continue
        if from_file:
            try:
                lines = value.read_text().splitlines()
            except OSError as exc:
                raise ConfigError(f"cannot read {name} file {value}: {exc.strerror}") from None
            inputs[name] = [line for line in lines if line.strip()]
        elif typing.get_origin(field_type(args.form.model_fields[name])[0]) is list:
            inputs[name] = [value]
        else:
            inputs[name] = value
    return inputs


def form_inputs(form: type[Inputs], pairs: list[str], given: set[str]) -> dict[str, Any]:
    """``--input KEY=VALUE`` pairs as form values. Values stay text: the modality's ``Inputs`` model converts
    them (``"32"`` to an int field's 32) and refuses a bad one, or an unknown key, in one line naming it."""
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


def run_request(args: argparse.Namespace) -> RunRequest:
    """The ``RunRequest`` the run options ask for: what ``bench`` and ``check`` measure."""
    inputs = declared_inputs(args)
    inputs |= form_inputs(args.form, args.input, set(inputs))
    if args.read_timeout is not None and args.read_timeout <= 0:
        raise ConfigError(f"--read-timeout: must be > 0 (got {args.read_timeout})")
    return RunRequest.model_construct(
        modality=args.modality,
        inputs=inputs,
        backend=args.backend,
        url=args.url,
        api_key=args.api_key,
        read_timeout=args.read_timeout,
        model=args.model,
        save=not args.no_save,
        local_files=True,
    )


def bench(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args, args.registry, run_request(args)))


def unstored(recorder: Recorder) -> str:
    """The recorder's notice; with no file to hold the run, the CLI adds where its iterations still are."""
    notice = recorder.notice or ""
    return notice if recorder.unsaved is not None else f"{notice}; its iterations are in `--json`'s output only"


@dataclass
class Measured:
    """A run ``measure`` finished: the run, its assembly, and the recorder that stored it (``None`` unsaved)."""

    run: Run
    prepared: PreparedRun
    recorder: Recorder | None


async def measure(args: argparse.Namespace, registry: Registry, request: RunRequest) -> Measured:
    """Run ``request`` in this process, with live progress on stderr unless ``--quiet``; Ctrl-C cancels."""
    from llamaburn.cli.terminal import show_progress
    from llamaburn.modelinfo.service import ModelInfoService
    from llamaburn.service.assembly import BackendPool, plan, prepare_run
    from llamaburn.storage.store import Store

    plan(registry, request.modality, request.inputs, request.backend, request.url, request.model,
         local_files=request.local_files)  # before any I/O
    store = Store() if request.save else None
    backends, model_infos = BackendPool(registry), ModelInfoService(store)
    try:
        try:
            prepared = await prepare_run(request, registry, backends, model_infos)
        finally:
            await model_infos.aclose()
        run = prepared.run
        with prepared.lock():  # refused before anything is stored
            recorder = await prepared.record(store)
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
        await backends.aclose()
    return Measured(run, prepared, recorder)


async def _run(args: argparse.Namespace, registry: Registry, request: RunRequest) -> int:
    from llamaburn.cli.terminal import summary_table

    measured = await measure(args, registry, request)
    run, prepared, recorder = measured.run, measured.prepared, measured.recorder
    backend, model = run.target.backend, run.target.model
    if args.json:
        print_json(
            {
                "run_id": run.id,
                "status": run.status,
                "error": run.error,
                "modality": run.modality.name,
                "backend": backend.name,
                "model": model,
                "config": prepared.config,
                "summary": run.summary,
                "warmups": run.warmups,
                "iterations": run.iterations,
                "system": prepared.system,
                "model_info": prepared.model_info,
                "unsaved": str(recorder.unsaved) if recorder and recorder.unsaved else None,
            }
        )
    else:
        resent = f", {run.reconnects} sent again on a fresh connection" if run.reconnects else ""
        print(f"run {run.id}: {run.status}, {len(run.iterations)} iterations of {model} on {backend.label}{resent}")
        if run.summary:
            print(summary_table(run.summary))
    if recorder is not None and recorder.error:
        print(f"llamaburn: error: {unstored(recorder)}", file=sys.stderr)
        return 1
    if run.status == "failed":
        print(f"llamaburn: error: {run.error}", file=sys.stderr)
        return 1
    return EXIT_CANCELLED if run.status == "cancelled" else 0
