"""Run the performance suite: ``python -m benchmarks [--quick] [--only NAMES] [--out DIR]``.

Writes ``<out>/<stamp>.json`` and ``<out>/<stamp>.md`` (default ``benchmarks/results/``), and prints the
Markdown. Run it from the repository root, with the project installed with its test and embedded extras.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import accuracy, concurrency, fidelity, footprint, history, pipeline, startup, telemetry
from benchmarks.common import Neighbours, Row, Section, hardware, hardware_line, show

TITLES = {name: module.SECTION for name, module in
          (("fidelity", fidelity), ("accuracy", accuracy), ("pipeline", pipeline), ("footprint", footprint),
           ("history", history), ("startup", startup), ("concurrency", concurrency),
           ("telemetry", telemetry))}
SECTIONS: dict[str, Callable[[bool], Any]] = {
    "fidelity": fidelity.run,
    "accuracy": accuracy.run,
    "pipeline": pipeline.run,
    "footprint": footprint.run,
    "history": history.run,
    "startup": startup.run,
    "concurrency": concurrency.run,
    "telemetry": telemetry.run,
}
RESULTS = Path(__file__).resolve().parent / "results"


def run_section(name: str, quick: bool) -> Section:
    section = Section(TITLES[name])
    neighbours, started = Neighbours(), time.perf_counter()
    print(f"[{datetime.now():%H:%M:%S}] {name}...", file=sys.stderr, flush=True)
    try:
        result = SECTIONS[name](quick)
        section.rows = asyncio.run(result) if inspect.iscoroutine(result) else result
    except Exception as exc:  # one broken section must not lose the others' figures
        traceback.print_exc()
        section.error = f"{type(exc).__name__}: {exc}"
    section.seconds = time.perf_counter() - started
    section.others = neighbours.report()
    return section


def verdict(row: Row) -> str:
    return "" if row.passed is None else "**pass**" if row.passed else "**MISS**"


def markdown(info: dict[str, Any], sections: list[Section], command: str) -> str:
    lines = [
        "# LlamaBurn performance suite",
        "",
        f"- Command: `{command}`",
        f"- Date: {info['date']}",
        f"- Machine: {hardware_line(info)}",
        "- Figures: median of N repeats; spread is p25 to p75 (min, max). Bars are judged on the median.",
        "",
        "| figure | median | spread: p25 to p75 (min, max) | N | bar | result |",
        "|---|---|---|---|---|---|",
    ]
    for section in sections:
        lines.append(f"| **{section.name}** ({section.seconds:.0f} s) | | | | | |")
        if section.error:
            lines.append(f"| section failed: {section.error} | | | | | **MISS** |")
        for row in section.rows:
            value, spread, count = show(row)
            note = f" — {row.note}" if row.note else ""
            lines.append(f"| {row.figure}{note} | {value} | {spread} | {count} | {row.bar} | {verdict(row)} |")
    gated = [row for section in sections for row in section.rows if row.passed is not None]
    missed = [row for row in gated if not row.passed] + [
        Row(s.name, f"section failed: {s.error}", "") for s in sections if s.error
    ]
    passed = sum(1 for row in gated if row.passed)
    failed = ", and a section failed" if any(s.error for s in sections) else ""
    lines += ["", f"Bars: {passed} of {len(gated)} passed{failed}."]
    if missed:
        lines += ["", "Missed:", *(f"- {row.section}: {row.figure}" for row in missed)]
    lines += ["", "What else used the CPU (outside this suite), per section:"]
    for section in sections:
        lines.append(f"- {section.name}: {'; '.join(section.others) or 'nothing above 2% of a core'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (a few minutes)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON and Markdown results")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := [name for name in names if name not in SECTIONS]:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    info = hardware()
    info["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    sections = [run_section(name, args.quick) for name in names]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / (datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else ""))
    document = {
        "command": command.strip(),
        "hardware": info,
        "hardware_line": hardware_line(info),
        "sections": [
            {"name": s.name, "seconds": s.seconds, "error": s.error, "others": s.others,
             "rows": [row.to_json() for row in s.rows]}
            for s in sections
        ],
    }
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    text = markdown(info, sections, command.strip())
    stem.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {stem}.json and {stem}.md", file=sys.stderr)
    failed = any(s.error for s in sections) or any(r.passed is False for s in sections for r in s.rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
