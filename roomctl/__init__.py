"""roomctl: a session-room controller for lighting, music and temperature."""

__version__ = "0.1.0"
