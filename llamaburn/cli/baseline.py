"""``llamaburn baseline set|list|clear``: the runs ``llamaburn check`` compares later runs against."""

from __future__ import annotations

import argparse
from typing import Any

from llamaburn.cli.commands import print_json


def add_parser(commands: Any) -> None:
    """The ``baseline`` command and its actions, on the top-level parser's subcommands."""
    baseline = commands.add_parser("baseline", help="mark, list or clear the runs `check` compares against")
    actions = baseline.add_subparsers(dest="action", metavar="ACTION", required=True)
    chosen = actions.add_parser("set", help="make a stored run the baseline of its host, backend, model and modality")
    chosen.add_argument("run_id", metavar="RUN_ID", help="a run id (or unique prefix)")
    chosen.add_argument("--tag", default="", help="name the baseline, e.g. ollama-0.12 (default: untagged)")
    listed = actions.add_parser("list", help="list the baselines")
    listed.add_argument("--json", action="store_true")
    cleared = actions.add_parser("clear", help="delete baselines: RUN_ID's key's, or every one")
    cleared.add_argument("run_id", nargs="?", metavar="RUN_ID", help="only the baselines of this run's key")
    cleared.add_argument("--tag", help="only the baselines under this tag")


def baseline(args: argparse.Namespace) -> int:
    from llamaburn.cli.terminal import table
    from llamaburn.storage.baselines import Baselines
    from llamaburn.storage.store import Store

    store = Store()
    baselines = Baselines(store)
    if args.action == "set":
        run = store.get_run(args.run_id)
        record = baselines.set(run, args.tag)
        tag = f" (tag {record.tag})" if record.tag else ""
        print(f"baseline{tag} of {record.model} on {record.backend} ({record.modality}) at "
              f"{record.host or 'an unknown host'}: run {run.id}")
        return 0
    if args.action == "clear":
        count = baselines.clear(store.get_run(args.run_id) if args.run_id else None, args.tag)
        print(f"cleared {count} baseline{'s' if count != 1 else ''}")
        return 0
    records = baselines.all()
    if args.json:
        print_json([record.model_dump(mode="json") for record in records])
        return 0
    print(table(
        ["host", "backend", "model", "modality", "tag", "run", "set (UTC)"],
        [[r.host or "-", r.backend, r.model, r.modality, r.tag or "-", r.run_id[:8], f"{r.created_at:%Y-%m-%d %H:%M}"]
         for r in records],
    ))
    return 0
