"""The room over MQTT: retained state, events, commands, Home Assistant discovery, the clinic
overview."""
