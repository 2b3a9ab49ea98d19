"""``llamaburn sweep``: a grid of runs (models x input values x concurrency), run by the service's ``Sweep``.

It takes ``bench``'s options (``add_options``: where to run, the modality's declared inputs, ``--input``)
as the base of every point, and adds the axes; it only parses, shows progress and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import typing
from typing import Any

from llamaburn.cli.bench import EXIT_CANCELLED, add_options, declared_inputs, form_inputs
from llamaburn.cli.commands import print_json
from llamaburn.engine.modality import Inputs, field_type
from llamaburn.errors import ConfigError
from llamaburn.service.request import RunRequest

if typing.TYPE_CHECKING:
    from llamaburn.service.sweeper import Cell, Sweep


def add_sweep_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """``bench``'s options for the base request, then the axes."""
    add_options(parser, argv)
    parser.add_argument("--models", metavar="A,B", help="models to sweep (default: --model, or the first)")
    parser.add_argument(
        "--set", action="append", default=[], dest="axes", metavar="FIELD=V1,V2",
        help="sweep a field of the modality's form over these values, e.g. temperature=0,0.7; repeatable",
    )
    parser.add_argument("--concurrency", default="1", metavar="1,2,4", help="simultaneous streams per point")
    parser.add_argument(
        "--depth", metavar="256,1024", help="tokens of context before each prompt (an estimate; see docs/metrics.md)"
    )
    parser.add_argument(
        "--slo", action="append", default=[], metavar="METRIC=MAX",
        help="a request meets its SLO when METRIC <= MAX (e.g. ttft_ms=500); goodput is the share that do",
    )


def _items(option: str, text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ConfigError(f"{option}: expected comma-separated values, got {text!r}")
    return items


def _number(option: str, text: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{option}: {text!r} is not a number") from None


def _pairs(option: str, pairs: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise ConfigError(f"{option}: expected NAME=VALUE, got {pair!r}")
        if key.strip() in found:
            raise ConfigError(f"{option}: {key.strip()} given twice")
        found[key.strip()] = value
    return found


def _settings(form: type[Inputs], axes: dict[str, str], given: set[str]) -> dict[str, list[Any]]:
    """Each swept field's values as text (a list field's value a one-item list): ``Inputs`` converts them."""
    settings: dict[str, list[Any]] = {}
    for name, text in axes.items():
        if name in given:
            raise ConfigError(f"{name}: set twice, by its own option or --input and by --set")
        field = form.model_fields.get(name)
        is_list = field is not None and typing.get_origin(field_type(field)[0]) is list
        settings[name] = [[value] if is_list else value for value in _items(f"--set {name}", text)]
    return settings


def sweep(args: argparse.Namespace) -> int:
    from llamaburn.service.sweep import SweepRequest
    from llamaburn.service.sweeper import Sweep

    if args.models and args.model:
        raise ConfigError("--model and --models: give one of them")
    if args.read_timeout is not None and args.read_timeout <= 0:
        raise ConfigError(f"--read-timeout: must be > 0 (got {args.read_timeout})")
    inputs = declared_inputs(args)
    inputs |= form_inputs(args.form, args.input, set(inputs))
    base = RunRequest.model_construct(
        modality=args.modality, inputs=inputs, backend=args.backend, url=args.url, api_key=args.api_key,
        read_timeout=args.read_timeout, model=args.model, save=not args.no_save, inputs_are_json=False,
        local_files=True,
    )
    request = SweepRequest.model_construct(
        base=base,
        models=_items("--models", args.models) if args.models else [],
        settings=_settings(args.form, _pairs("--set", args.axes), set(inputs)),
        concurrency=[_number("--concurrency", c, int) for c in _items("--concurrency", args.concurrency)],
        depth=[_number("--depth", d, int) for d in _items("--depth", args.depth)] if args.depth else [],
        slo={name: _number(f"--slo {name}", v, float) for name, v in _pairs("--slo", args.slo).items()},
    )
    return asyncio.run(_run(args, Sweep(request, args.registry)))  # the grid is checked before any I/O


async def _run(args: argparse.Namespace, sweep: Sweep) -> int:
    from llamaburn.cli.terminal import bar
    from llamaburn.modelinfo.service import ModelInfoService
    from llamaburn.service.assembly import BackendPool
    from llamaburn.storage.store import Store

    store = Store() if sweep.request.base.save else None
    backends, model_infos = BackendPool(sweep.registry), ModelInfoService(store)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, sweep.cancel)
    try:
        async for cell in sweep.cells(backends, store, model_infos):
            if not args.quiet:
                print(f"{bar(cell.index + 1, cell.total)}  {_where(cell)}: {cell.status}", file=sys.stderr)
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGINT)
        await model_infos.aclose()
        await backends.aclose()
    cells = sweep.cells_done
    if args.json:
        print_json({"sweep_id": sweep.id, "cells": [cell.as_json() for cell in cells], "knees": sweep.knees()})
    else:
        print(f"sweep {sweep.id}: {len(cells)} of {len(sweep.points)} points")
        print(cells_table(cells))
        for line, knee in sweep.knees().items():
            print(f"knee of {line}: " + (f"concurrency {knee}" if knee else "none yet (throughput still rises)"))
    for cell in cells:
        for error in cell.errors:
            print(f"llamaburn: error: point {cell.index + 1} ({_where(cell)}): {error}", file=sys.stderr)
    if sweep.cancelled:
        return EXIT_CANCELLED
    return 1 if any(cell.status != "completed" for cell in cells) else 0


def _where(cell: Cell) -> str:
    return ", ".join(f"{key}={value}" for key, value in cell.coordinates.items())


COLUMNS = ("aggregate_tps", "requests_per_s", "stream_tps_mean", "prompt_tps_mean", "ttft_ms_p50", "ttft_ms_p95",
           "goodput_pct")


def cells_table(cells: list[Cell]) -> str:
    """One row per point: its coordinates, its status and its aggregates (docs/metrics.md, "Sweeps")."""
    from llamaburn.cli.terminal import table

    axes = list(cells[0].coordinates) if cells else []
    rows = [[cell.index + 1, *cell.coordinates.values(), cell.status, *(cell.aggregate[c] for c in COLUMNS)]
            for cell in cells]
    return table(["#", *axes, "status", *COLUMNS], rows)
