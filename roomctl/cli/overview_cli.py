"""`roomctl overview`: every room seen on the broker (or bridged brokers), read once; and
`roomctl discovery remove`: take this room out of Home Assistant."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING

from roomctl.errors import ConfigError, Problem
from roomctl.model.config import MqttConfig
from roomctl.model.library import Library, find_config, load_library

__all__ = ["register_overview"]

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _mqtt(args: argparse.Namespace) -> tuple[Library, MqttConfig]:
    lib = load_library(find_config(args.config))
    if lib.room.mqtt is None:
        problem = Problem(str(lib.config_file), None, "mqtt", "no mqtt section: no broker to ask")
        raise ConfigError([problem])
    return lib, lib.room.mqtt


def cmd_overview(args: argparse.Namespace) -> int:
    from roomctl.mqtt.overview import format_rows, read_overview

    _, config = _mqtt(args)
    rows = asyncio.run(read_overview(config, wait_s=args.wait))
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
    else:
        print(format_rows(rows))
    return 0


def cmd_discovery_remove(args: argparse.Namespace) -> int:
    from roomctl.mqtt.bus import MqttBus
    from roomctl.mqtt_api.discovery import Discovery
    from roomctl.mqtt_api.topics import RoomTopics

    lib, config = _mqtt(args)
    topics = RoomTopics.of(config, lib.room.room.id)

    async def main() -> list[str]:
        bus = MqttBus(config, f"roomctl-discovery-{lib.room.room.id}")
        await bus.start()
        try:
            discovery = Discovery(bus, topics, lib)
            await bus.subscribe(topics.discovery_filter, discovery.seen)
            return await discovery.remove()
        finally:
            await bus.close()

    gone = asyncio.run(main())
    print(f"room {lib.room.room.id}: {len(gone)} Home Assistant entities removed", file=sys.stderr)
    return 0


def register_overview(sub: SubParsers, config: argparse.ArgumentParser) -> None:
    ov = sub.add_parser(
        "overview",
        help="list every room seen on the MQTT broker",
        description="List every room seen on the broker (and bridged brokers): phase, scene, "
        "emergency, health, last seen.  Read-only.",
        parents=[config],
    )
    ov.add_argument("--json", action="store_true", help="print JSON")
    ov.add_argument(
        "--wait", type=float, default=1.5, metavar="S", help="seconds to collect (default 1.5)"
    )
    ov.set_defaults(handler=cmd_overview)

    disc = sub.add_parser(
        "discovery",
        help="Home Assistant discovery",
        description="Home Assistant discovery of this room.",
    )
    dsub = disc.add_subparsers(dest="discovery_command", required=True, metavar="COMMAND")
    remove = dsub.add_parser(
        "remove",
        help="remove this room's entities from Home Assistant",
        description="Clear this room's retained discovery configs (stop the daemon first, or "
        "set mqtt.discovery: false, else it announces them again).",
        parents=[config],
    )
    remove.set_defaults(handler=cmd_discovery_remove)
