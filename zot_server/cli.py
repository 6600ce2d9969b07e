"""``zot-server`` command line: ``serve`` and the maintenance commands."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable

from . import lazyimports

lazyimports.install()  # before connexion and openapi-core: see zot_server/lazyimports.py

from .registry import DEFAULT_ADDRESS, DEFAULT_PORT, DEFAULT_ROOT, Settings  # noqa: E402

# Subcommands register here: name -> (add_arguments, run). Modules of other commands
# append to it in their own files and are imported in _load_commands().
COMMANDS: dict[
    str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {}


def command(name: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    def register(run: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = (add_arguments, run)
        return run

    return register


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help=f"storage root (default: ./{DEFAULT_ROOT})")
    p.add_argument("--address", help=f"address to bind (default: {DEFAULT_ADDRESS})")
    p.add_argument("--port", type=int, help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    p.add_argument("--config", help="a zot config file (JSON or YAML)")
    p.add_argument("--swagger", help="serve this swagger file instead of swagger/swagger.json")
    p.add_argument("--strict", action="store_true", help="validate every response too")
    p.add_argument(
        "--contract-report",
        help="append spec violations (strict mode) to this JSON-lines file "
        "(default: <root>/.zot-server/contract-violations.jsonl)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Flags over the config file over the defaults."""
    settings = Settings()
    if getattr(args, "config", None):
        from .config import load_settings  # the zot config file reader

        settings = load_settings(args.config)
    if getattr(args, "root", None):
        settings.root = args.root
    if getattr(args, "address", None):
        settings.address = args.address
    if getattr(args, "port", None):
        settings.port = args.port
    if getattr(args, "workers", None):
        settings.workers = args.workers
    if getattr(args, "swagger", None):
        settings.swagger = args.swagger
    if getattr(args, "strict", False):
        settings.strict = True
    if getattr(args, "contract_report", None):
        settings.contract_report = args.contract_report
    return settings


@command("serve", _serve_arguments)
def serve(args: argparse.Namespace) -> int:
    from .server import run

    return run(settings_from_args(args))


def _load_commands() -> None:
    """Import the modules that add further subcommands (each optional)."""
    import importlib

    for module in ("spec_tools", "checker", "bench", "maintenance", "config"):
        try:
            importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise


def main(argv: list[str] | None = None) -> int:
    # connexion imports starlette's test client at import time, which warns about httpx.
    warnings.filterwarnings("ignore", message=".*httpx.*", module="connexion.*")
    given = sys.argv[1:] if argv is None else argv
    if given[:1] != ["serve"]:  # serve needs none of the others (~30 ms of imports at start)
        _load_commands()
    parser = argparse.ArgumentParser(prog="zot-server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, _) in sorted(COMMANDS.items()):
        add_arguments(sub.add_parser(name))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][1](args)


if __name__ == "__main__":
    sys.exit(main())
