"""The session record: what really happened, for the tablet, export and the client's
integration copy."""
