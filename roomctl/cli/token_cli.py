"""`roomctl token create|list|revoke`: bearer tokens for the web API.  A token is printed once;
only its SHA-256 is stored."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from roomctl.model.library import Library
from roomctl.store.store import Store

__all__ = ["register_tokens"]

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

Opener = Callable[[argparse.Namespace], tuple[Library, Store]]
ROLES = ("facilitator", "readonly", "admin")


def cmd_create(args: argparse.Namespace, opener: Opener) -> int:
    _, store = opener(args)
    with store:
        row, token = store.create_token(args.name, args.role, by=args.by or getpass.getuser())
    print(f"token {row.name} ({row.role}) created; it is shown only now:\n{token}")
    print("use it as:  Authorization: Bearer <token>")
    return 0


def cmd_list(args: argparse.Namespace, opener: Opener) -> int:
    _, store = opener(args)
    with store:
        rows = store.list_tokens(include_revoked=args.all)
    if args.json:
        print(json.dumps([
            {"id": r.id, "name": r.name, "role": r.role, "client_id": r.client_id,
             "created_at": r.created_at, "created_by": r.created_by, "revoked_at": r.revoked_at}
            for r in rows
        ], indent=2))  # fmt: skip
        return 0
    if not rows:
        print("no tokens")
    for r in rows:
        when = datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        scope = f" client {r.client_id}" if r.client_id else ""
        state = " revoked" if r.revoked_at is not None else ""
        print(f"{r.name:<28} {r.role:<12}{scope} created {when} UTC by {r.created_by}{state}")
    return 0


def cmd_revoke(args: argparse.Namespace, opener: Opener) -> int:
    _, store = opener(args)
    with store:
        row = store.revoke_token(args.name, by=args.by or getpass.getuser())
    print(f"token {row.name} revoked")
    return 0


def register_tokens(sub: SubParsers, config: argparse.ArgumentParser, opener: Opener) -> None:
    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", metavar="NAME", help="who acts (default: your login)")
    token = sub.add_parser(
        "token",
        help="bearer tokens for the web API",
        description="Bearer tokens for the web API (Authorization: Bearer …).",
    )
    verbs = token.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    def verb(name: str, text: str, handler: Callable[..., int]) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=text, description=text, parents=[config, by])
        p.set_defaults(handler=lambda a: handler(a, opener))
        return p

    create = verb("create", "create a token and print it once", cmd_create)
    create.add_argument("name", metavar="NAME")
    create.add_argument("--role", choices=ROLES, default="readonly")
    lst = verb("list", "list tokens (never the tokens themselves)", cmd_list)
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--all", action="store_true", help="include revoked tokens")
    revoke = verb("revoke", "revoke a token by name or id", cmd_revoke)
    revoke.add_argument("name", metavar="NAME")
