"""MQTT for roomctl: one shared broker connection (`MqttBus`) that drivers and publishers use."""

from roomctl.mqtt.bus import BrokerUnavailableError, MessageHandler, MqttBus, Subscription

__all__ = ["BrokerUnavailableError", "MessageHandler", "MqttBus", "Subscription"]
