"""Commands that talk to devices or to the session store: run, demo, apply, session, user."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import secrets
import signal
import sys
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from roomctl.cli.argtypes import seconds
from roomctl.cli.client_cli import preview_preferences, register_clients
from roomctl.cli.overview_cli import register_overview
from roomctl.cli.session_cli import register_session
from roomctl.cli.token_cli import register_tokens
from roomctl.clock import Clock, ScaledClock, SystemClock
from roomctl.control.paths import store_path
from roomctl.errors import SessionError
from roomctl.model.address import HostPort
from roomctl.model.events import EventKind
from roomctl.model.library import Library, find_config, load_library
from roomctl.model.prefs import NO_PREFERENCES
from roomctl.model.state import DeviceState
from roomctl.store.store import ROLES, Store

__all__ = ["register"]

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def room_clock(lib: Library) -> Clock:
    """The system clock, or the faster clock a demo room's config names (shared by the demo
    and every command that steers it)."""
    c = lib.room.clock
    return SystemClock() if c is None else ScaledClock(c.speed, c.start, c.anchor)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def cmd_run(args: argparse.Namespace) -> int:
    from roomctl.control.daemon import Daemon
    from roomctl.control.notify import notify_service
    from roomctl.control.retention import retention_service
    from roomctl.mqtt_api.service import run as mqtt_api
    from roomctl.web.server import WebService

    lib = load_library(find_config(args.config))
    web = lib.room.web
    address = args.listen or HostPort(web.host, web.port)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        daemon = Daemon(lib, room_clock(lib))
        daemon.services += [("sd-notify", notify_service), ("retention", retention_service)]
        web_service = WebService(address)
        daemon.serving["web"] = web_service.listening  # systemd's READY waits for the tablet
        daemon.services.append(("web", web_service))
        daemon.services.append(("mqtt-api", mqtt_api))
        await daemon.run(stop)

    _run_async(main())
    return 0


T = TypeVar("T")


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; an error group from a task group is reduced to its first error."""
    try:
        return asyncio.run(coro)
    except BaseExceptionGroup as group:
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


def cmd_apply(args: argparse.Namespace) -> int:
    from roomctl.control.apply import apply_scene, scene_states
    from roomctl.devices.factory import build_devices
    from roomctl.mqtt.bus import MqttBus

    lib = load_library(find_config(args.config))
    room = lib.room
    scene = lib.scene(args.scene)
    prefs = NO_PREFERENCES
    if args.client:
        from roomctl.model.prefs_report import overrides

        _, version, prefs = preview_preferences(args)  # refuses unknown or deleted clients
        print(f"client {args.client}: preferences v{version}")
        found = overrides(prefs, room.safety)
        if found:
            print("The room's limits override some of the client's choices:")
            print("\n".join(f"  - {sentence}" for sentence in found))
    states = scene_states(room, scene, prefs)
    transition = args.transition if args.transition is not None else scene.fade_s
    if _apply_in_session(args, lib, states, transition):
        return 0

    async def main() -> int:
        bus = None
        if room.mqtt is not None and room.needs_mqtt:
            bus = MqttBus(room.mqtt, f"roomctl-apply-{room.room.id}")
            await bus.start()
        try:
            devices = build_devices(room, bus, room_clock(lib))
            results = await apply_scene(devices, states, transition, timeout_s=args.timeout)
        finally:
            if bus is not None:
                await bus.close()
        for r in results:
            mark = "ok    " if r.ok else "FAILED"
            print(f"{r.device_id:<14} {mark} {r.elapsed_s:6.2f} s  {r.detail}")
        failed = sum(not r.ok for r in results)
        if failed:
            print(f"{failed} of {len(results)} devices failed", file=sys.stderr)
        return 1 if failed else 0

    return _run_async(main())


def _apply_in_session(
    args: argparse.Namespace, lib: Library, states: Mapping[str, DeviceState], fade_s: float
) -> bool:
    """With a session running, `apply` goes through it as manual overrides (the floor, the
    caps, the rise limit and the minimum fades apply); True when it did."""
    from roomctl.cli.handoff import poke
    from roomctl.control.apply import override_commands
    from roomctl.control.lock import holder
    from roomctl.control.session import SessionControl

    _, store = _open(args, lib)
    with store:
        control = SessionControl(lib, store, room_clock(lib))
        control.refresh()
        if control.session is None:
            return False
        by = getpass.getuser()
        for data in override_commands(lib.room, states, fade_s):
            control.command(EventKind.OVERRIDE, data, by=by)
        daemon = holder(Path(store.path)) is not None and poke(Path(store.path))
        print(
            f"session {control.session.id} is running: {args.scene} applied as manual overrides "
            "(the session's safety limits and fades apply; they end with the phase; "
            "`roomctl session end` ends the session)"
        )
        if not daemon:
            print("note: no daemon is running; the room follows when `roomctl run` runs")
        return True


def _open(args: argparse.Namespace, lib: Library | None = None) -> tuple[Library, Store]:
    """The room's library (`lib` when the command has loaded it already) and its store."""
    from roomctl.control.storage import open_store

    config = find_config(args.config)
    lib = lib if lib is not None else load_library(config)
    store, _ = open_store(store_path(config, lib.room.storage.path), room_clock(lib))
    return lib, store


def cmd_user_add(args: argparse.Namespace) -> int:
    _, store = _open(args)
    with store:
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise SessionError("no password on standard input")
        else:
            try:
                password = getpass.getpass(f"password for {args.username}: ")
            except EOFError:
                raise SessionError(
                    "no terminal to ask for the password; use --password-stdin"
                ) from None
        store.add_user(args.username, password, args.role, by=getpass.getuser())
    print(f"user {args.username} added ({args.role})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from roomctl.control.daemon import Daemon
    from roomctl.sim.demo import run_demo
    from roomctl.web.server import WebService

    if not args.verbose:  # the demo prints the room itself; keep device chatter out of the way
        logging.getLogger().setLevel(logging.WARNING)
    address = args.listen or HostPort("127.0.0.1", 8080)

    def setup(daemon: Daemon) -> None:
        password = secrets.token_urlsafe(12)

        async def first_login(d: Daemon) -> None:
            assert d.store is not None
            await asyncio.to_thread(d.store.add_user, "facilitator", password, "facilitator",
                                    by="demo")  # fmt: skip

        def listening(url: str) -> None:
            print(
                f"The tablet: {url}  (log in as facilitator, password {password}; "
                "shown only now)",
                flush=True,
            )

        daemon.services.append(("web", WebService(address, listening, before=first_login)))

    _run_async(run_demo(arc=args.arc, speed=args.speed, minutes=args.minutes, setup=setup))
    return 0


def _listen(value: str) -> HostPort:
    """`--listen HOST:PORT` (IPv6 in brackets; port 0 picks a free one)."""
    any_port = value.endswith(":0")
    try:
        address = HostPort.parse(value[:-2] if any_port else value)
        if any_port:
            address = HostPort(address.host, 0)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r}: {exc}") from None
    if address.port is None:
        raise argparse.ArgumentTypeError(f"{value!r}: give HOST:PORT, e.g. 0.0.0.0:8080")
    return address


def register(sub: SubParsers, config: argparse.ArgumentParser) -> None:
    """run, demo, apply, session, user; `config` is the shared parent parser with --config."""
    run = sub.add_parser(
        "run", help="run the daemon", description="Run the room's daemon.", parents=[config]
    )
    run.add_argument("--listen", type=_listen, metavar="HOST:PORT",
                     help="where the web app listens (default: the config's web: section)")
    run.set_defaults(handler=cmd_run)

    demo = sub.add_parser(
        "demo",
        help="run the daemon on a built-in emulated room",
        description="Run roomctl on a demo room of emulated devices "
        "(no hardware needed) and follow an arc.",
    )
    demo.add_argument("--arc", default="psilocybin")
    demo.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="how many times faster than real time the session runs (default 60)",
    )
    demo.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="stop after this many real minutes (default: the whole arc)",
    )
    demo.add_argument("--listen", type=_listen, metavar="HOST:PORT",
                      help="where the tablet listens (default 127.0.0.1:8080)")
    demo.set_defaults(handler=cmd_demo)

    apply = sub.add_parser(
        "apply",
        help="apply one scene now and report per device",
        description="Apply one scene once and wait for every device.",
        parents=[config],
    )
    apply.add_argument("scene", metavar="SCENE")
    apply.add_argument(
        "--transition", type=seconds(0, 4 * 3600), metavar="S", help="fade in seconds (0-14400)"
    )
    apply.add_argument(
        "--timeout",
        type=seconds(0.1, 600),
        default=15.0,
        metavar="S",
        help="how long to wait for each device (default 15 s)",
    )
    apply.add_argument(
        "--client", metavar="ID", help="with the client's latest preferences (rehearsal)"
    )
    apply.set_defaults(handler=cmd_apply)

    register_session(sub, config, _open)
    register_clients(sub, config, _open)
    register_tokens(sub, config, _open)
    register_overview(sub, config)

    user = sub.add_parser("user", help="manage logins", description="Manage logins.")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = usub.add_parser("add", help="add a login", description="Add a login.", parents=[config])
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="facilitator")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(handler=cmd_user_add)
