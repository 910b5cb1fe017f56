"""The web faces: the facilitator tablet, the client preparation page and the JSON API, served by
the daemon on its own event loop."""
