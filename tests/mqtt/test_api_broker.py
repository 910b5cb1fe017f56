"""The MQTT API across broker trouble and with a locked-down broker: a broker restart
(reconnect, resubscribe, republish within a few seconds), the Last Will when the daemon dies,
passwords and TLS with a certificate made in the test."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from roomctl.model.config import MqttConfig, MqttTls
from roomctl.mqtt.bus import BrokerUnavailableError, MqttBus
from roomctl.sim.broker import Broker
from tests.helpers import until
from tests.mqtt.certs import make_tls
from tests.mqtt.rig import Message, api_room, observer, small_room, z2m_light

ROOT_DIR = Path(__file__).resolve().parents[2]


async def test_broker_restart_republishes_and_resubscribes(
    tmp_path: Path, private_broker: Broker
) -> None:
    root = "roomctl/restart-room"
    config = small_room(tmp_path, private_broker, "restart-room", "zigbee2mqtt/r-ceiling")
    async with z2m_light(private_broker, "zigbee2mqtt/r-ceiling"), api_room(config) as room:
        async with observer(private_broker, f"{root}/state") as obs:
            await obs.last_json(f"{root}/state")
        announced = room.api.discovery.announced if room.api.discovery else 0
        await private_broker.restart(down_s=0.5)  # no persistence: it forgets everything
        began = time.monotonic()
        async with observer(
            private_broker, f"{root}/state", f"{root}/availability", "homeassistant/#"
        ) as obs:
            await until(lambda: obs.last(f"{root}/state") is not None, what="state again")
            republished = time.monotonic() - began
            await until(lambda: obs.last(f"{root}/availability") is not None)
            assert obs.last(f"{root}/availability").payload == b"online"  # type: ignore[union-attr]
            await until(lambda: any(m.topic.startswith("homeassistant/") for m in obs.messages))
            disc = room.api.discovery
            assert disc is not None
            await until(lambda: disc.announced > announced, what="discovery sent again")
            # the command subscription is back
            room.daemon.session.start("psilocybin", by="test")  # type: ignore[union-attr]
            await obs.publish(f"{root}/cmd/session", "hold")
            await until(lambda: room.api.commands.handled == 1, what="the command after restart")
        assert republished < 8.0, f"state republished {republished:.1f} s after the restart"


def test_last_will_says_offline_when_the_daemon_dies(tmp_path: Path, broker: Broker) -> None:
    """A real `roomctl run`, killed: the broker publishes its will (retained `offline`)."""
    config = small_room(tmp_path, broker, "will-room", "zigbee2mqtt/will-ceiling")
    topic = "roomctl/will-room/availability"

    async def check() -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT_DIR)}
        proc = subprocess.Popen(  # noqa: ASYNC220 - polled
            [sys.executable, "-m", "roomctl", "run", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with observer(broker, topic, "roomctl/will-room/state") as obs:
                await until(lambda: payload(obs.last(topic)) == b"online", 20)
                await until(lambda: obs.last("roomctl/will-room/state") is not None, 20)
                proc.send_signal(signal.SIGKILL)
                await until(lambda: payload(obs.last(topic)) == b"offline", 20)
            async with observer(broker, topic) as late:  # retained
                await until(lambda: late.last(topic) is not None)
                assert payload(late.last(topic)) == b"offline"
        finally:
            proc.kill()
            proc.wait()

    asyncio.run(check())


def payload(message: Message | None) -> bytes | None:
    return None if message is None else message.payload


async def test_passwords_and_tls_with_a_certificate_made_here(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    users = {"room-7": "correct horse"}
    async with Broker.start(users=users, tls=tls) as broker:
        good = MqttConfig(
            host=broker.host,
            port=broker.port,
            username="room-7",
            password="correct horse",
            tls=MqttTls(ca=str(tls.ca)),
        )
        async with observer(broker, "roomctl/#", config=good) as obs:
            await obs.publish("roomctl/tls/x", "over tls", retain=False)
            await until(lambda: obs.last("roomctl/tls/x") is not None)

        wrong_password = good.model_copy(update={"password": SecretStr("nope")})
        other_ca = make_tls(tmp_path, "other")
        wrong_ca = good.model_copy(update={"tls": MqttTls(ca=str(other_ca.ca))})
        plain = good.model_copy(update={"tls": None})
        missing = good.model_copy(update={"tls": MqttTls(ca=str(tmp_path / "missing.pem"))})
        for cfg, reason in (
            (wrong_password, "not authori"),
            (wrong_ca, "certificate verify failed"),
            (plain, ""),
            (missing, "TLS files (mqtt.tls)"),
        ):
            bus = MqttBus(cfg, "refused", timeout_s=2)
            with pytest.raises(BrokerUnavailableError) as caught:
                await bus.start()
            assert reason.lower() in str(caught.value).lower()
            assert "Traceback" not in str(caught.value)
            await bus.close()

        # a whole room with its API behind the password and TLS
        config = small_room(
            tmp_path,
            broker,
            "tls-room",
            "zigbee2mqtt/tls-ceiling",
            username="room-7",
            password="correct horse",
            tls={"ca": str(tls.ca)},
        )
        async with (
            api_room(config) as room,
            observer(broker, "roomctl/tls-room/#", config=good) as obs,
        ):
            await obs.last_json("roomctl/tls-room/state")
            room.daemon.session.start("psilocybin", by="test")  # type: ignore[union-attr]
            await obs.publish("roomctl/tls-room/cmd/cue", "talk")
            await until(lambda: room.api.commands.handled == 1)
