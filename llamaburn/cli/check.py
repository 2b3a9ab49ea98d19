"""``llamaburn check``: run a benchmark (``bench``'s options) or take a stored one (``--run``), and compare it
to its baseline. Exit 0 when no metric regresses significantly beyond its threshold, 1 when one does, 2
when the check cannot be made (bad input, no baseline, a failed run, too few iterations to test)."""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llamaburn.cli.commands import print_json

if TYPE_CHECKING:
    from llamaburn.engine.registry import Registry
    from llamaburn.service.regression import CheckResult
    from llamaburn.storage.records import RunRecord
    from llamaburn.storage.store import Store

EXIT_CODES = {"pass": 0, "regression": 1, "untestable": 2}
RUN_OPTIONS = ("backend", "url", "model")


def add_parser(commands: Any, argv: list[str]) -> None:
    """``check``, with ``bench``'s run options (loaded, like bench's, only when ``check`` is the command)."""
    check = commands.add_parser("check", help="compare a run to its baseline; exit 1 on a significant regression")
    if "check" not in argv:
        return
    from llamaburn.cli.bench import add_options

    add_options(check, argv[argv.index("check") + 1 :])
    check.add_argument("--run", metavar="RUN_ID", help="check this stored run instead of running a benchmark")
    check.add_argument("--tag", help="the baseline under this tag (default: the newest baseline of the run's key)")
    check.add_argument(
        "--max-regression",
        metavar="METRIC=PCT,...",
        help="the largest allowed regression per metric, e.g. tps=5%%,ttft_ms=10%% (default: the headline at 5%%)",
    )
    check.add_argument("--junit", type=Path, metavar="FILE", help="also write the verdicts as JUnit XML")


def check(args: argparse.Namespace) -> int:
    from llamaburn.errors import LlamaBurnError

    try:
        return _check(args)
    except LlamaBurnError as exc:  # whatever stopped the check, it is not a regression: 2, never 1
        print(f"llamaburn: error: {exc}", file=sys.stderr)
        return EXIT_CODES["untestable"]


def _check(args: argparse.Namespace) -> int:
    from llamaburn.errors import ConfigError
    from llamaburn.service.compare import samples
    from llamaburn.service.regression import check as check_run
    from llamaburn.service.regression import thresholds
    from llamaburn.storage.baselines import Baselines
    from llamaburn.storage.store import Store

    registry: Registry = args.registry
    store = Store()
    if args.run is None:
        thresholds(args.max_regression, registry.modality(args.modality).metrics)  # refused before measuring
        if args.backend and args.model:  # the key is known before measuring: a missing baseline costs no run
            key = (platform.node(), args.backend, args.model, args.modality)
            if Baselines(store).find_key(key, args.tag) is None:
                raise ConfigError(_no_baseline(*key, args.tag, "RUN_ID"))
        run = _measured(args, registry, store)
    else:
        given = [f"--{name}" for name in RUN_OPTIONS if getattr(args, name) is not None]
        if given:
            raise ConfigError(f"--run checks a stored run: drop {', '.join(given)}")
        run = store.get_run(args.run)
    modality = registry.modalities.get(run.modality)
    if modality is None:
        raise ConfigError(f"run {run.id[:8]} is of modality {run.modality!r}, which is not installed")
    limits = thresholds(args.max_regression, modality.metrics)
    record = Baselines(store).find(run, args.tag)
    if record is None:
        raise ConfigError(_no_baseline(run.host or "", run.backend, run.model, run.modality, args.tag, run.id[:8]))
    baseline = store.get_run(record.run_id)
    result = check_run(run, baseline, record.tag, samples(store, [baseline, run]), modality.metrics, limits)
    if args.junit is not None:
        _write_junit(args.junit, result, run)
    if args.json:
        print_json(result.model_dump(mode="json"))
    else:
        _print(result)
    return EXIT_CODES[result.outcome]


def _no_baseline(host: str, backend: str, model: str, modality: str, tag: str | None, run: str) -> str:
    tagged = f" tagged {tag!r}" if tag else ""
    return (
        f"no baseline{tagged} for {model} on {backend} ({modality}) at {host or 'an unknown host'}: "
        f"set one with `llamaburn baseline set {run}`"
    )


def _measured(args: argparse.Namespace, registry: Registry, store: Store) -> RunRecord:
    """Run the benchmark ``bench`` would, and read it back from history: the check compares stored runs."""
    from llamaburn.cli.bench import measure, run_request, unstored
    from llamaburn.errors import ConfigError

    if args.no_save:
        raise ConfigError("check compares the run it measures with a stored baseline: drop --no-save")
    measured = asyncio.run(measure(args, registry, run_request(args)))
    run = measured.run
    if measured.recorder is not None and measured.recorder.error:
        raise ConfigError(unstored(measured.recorder))
    if run.status != "completed":
        raise ConfigError(f"run {run.id} {run.status}" + (f": {run.error}" if run.error else ""))
    return store.get_run(run.id)


def _print(result: CheckResult) -> None:
    from llamaburn.cli.terminal import table
    from llamaburn.service.regression import explain

    tag = f" (tag {result.baseline_tag})" if result.baseline_tag else ""
    print(f"run {result.run_id[:8]} against baseline {result.baseline_run_id[:8]}{tag}")

    def mean(found: Any) -> str:
        if found is None:
            return "-"
        if found.low is None:
            return f"{found.mean:.2f}"
        return f"{found.mean:.2f} [{found.low:.2f}, {found.high:.2f}]"

    print(table(
        ["metric", "better", "baseline", "run", "change", "max", "p", "verdict"],
        [
            [
                item.metric, item.direction, mean(item.baseline), mean(item.current),
                "-" if item.change_pct is None else f"{item.change_pct:+.1f}%",
                f"{item.max_regression_pct:g}%",
                "-" if item.p_value is None else f"{item.p_value:.3g}",
                item.verdict,
            ]
            for item in result.metrics
        ],
    ))
    for item in result.metrics:
        print(explain(item))
    for warning in result.warnings:
        print(f"warning: {warning}")
    print({"pass": "check passed", "regression": "check FAILED: a significant regression",
           "untestable": "check could not test every metric"}[result.outcome])


def _write_junit(path: Path, result: CheckResult, run: RunRecord) -> None:
    """One test case per metric: a regression is a failure, an untestable metric an error."""
    import xml.etree.ElementTree as ET

    from llamaburn.errors import ConfigError
    from llamaburn.service.regression import explain

    failures = sum(item.verdict == "regression" for item in result.metrics)
    errors = sum(item.verdict == "too few iterations" for item in result.metrics)
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name="llamaburn check", tests=str(len(result.metrics)),
                          failures=str(failures), errors=str(errors))
    for item in result.metrics:
        case = ET.SubElement(suite, "testcase", classname=f"llamaburn.{run.modality}.{run.model}", name=item.metric)
        line = explain(item)
        if item.verdict == "regression":
            ET.SubElement(case, "failure", message=line, type="regression").text = line
        elif item.verdict == "too few iterations":
            ET.SubElement(case, "error", message=line, type="untestable").text = line
        else:
            ET.SubElement(case, "system-out").text = line
    try:
        ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        raise ConfigError(f"--junit: cannot write {path}: {exc.strerror}") from None
