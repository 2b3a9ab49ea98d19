"""``llamaburn models`` and ``llamaburn plugins``: what a server offers, and what this install can run."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from llamaburn.cli.commands import print_json


def models(args: argparse.Namespace) -> int:
    from llamaburn.cli.terminal import table
    from llamaburn.engine.registry import load_registry
    from llamaburn.modelinfo.service import ModelInfoService
    from llamaburn.service.assembly import BackendPool
    from llamaburn.storage.store import Store

    async def fetch() -> tuple[str, list[Any], list[Any]]:
        backends = BackendPool(load_registry())
        infos = ModelInfoService(Store()) if args.info else None
        try:
            backend = await backends.get(args.backend, args.url, args.api_key, args.read_timeout)
            models = await backend.models()
            described = [await infos.get(backend, m.id) for m in models] if infos else []
            return backend.name, models, described
        finally:
            await backends.aclose()
            if infos:
                await infos.aclose()

    if args.gguf is not None:
        return _describe_gguf(args.gguf, args.json)
    name, models, infos = asyncio.run(fetch())
    if args.json:
        rows = [{"id": m.id, "size_bytes": m.size_bytes, "details": m.details} for m in models]
        for row, info in zip(rows, infos, strict=False):
            row["info"] = info.model_dump(mode="json")
        print_json({"backend": name, "models": rows})
    elif infos:
        print(
            table(
                ["model", "size", "quant", "family", "format", "context", "slots", "capabilities", "license",
                 "HF downloads"],
                [
                    [
                        i.model_id,
                        i.parameter_size,
                        i.quantization,
                        i.family,
                        i.format,
                        i.context_length,
                        i.slots,
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
    from llamaburn.cli.terminal import table
    from llamaburn.errors import ConfigError

    try:
        facts = read_gguf(path)
    except (OSError, GGUFError) as exc:
        raise ConfigError(f"cannot read GGUF file {path}: {exc}") from None
    if as_json:
        print_json({"file": str(path), "info": facts})
    else:
        print(table(["field", "value"], [[key, value] for key, value in facts.items()]))
    return 0


def plugins(args: argparse.Namespace) -> int:
    from llamaburn.cli.terminal import table
    from llamaburn.engine.registry import load_registry

    rows = load_registry().describe()
    if args.json:
        print_json([row.model_dump() for row in rows])
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
