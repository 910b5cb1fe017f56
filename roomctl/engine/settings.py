"""How the engine paces and checks devices."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EngineSettings"]


@dataclass(frozen=True)
class EngineSettings:
    min_interval_s: float = 0.5  # never more than 2 commands a second per device
    # A change of the desired state (a tap, a cue) goes out at once when the device has had
    # fewer than two commands in the last second, but never within this of the last one.
    min_gap_s: float = 0.1
    idle_check_s: float = 5.0  # how often a device at rest is looked at again
    readback_s: float = 30.0  # compare readings for manual changes; 0 disables
    health_check_s: float = 5.0  # a device at rest is read at least this often; 0 disables
    # Thermostats (battery TRVs sleep between polls) are read no more often than this.
    thermostat_check_s: float = 60.0
    adopt_manual_changes: bool = True
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_volume_rise_per_10s: float = 6.0
    transition_scale: float = 1.0  # real seconds per clock second (the demo runs faster)
    # A light far from where it should be (first contact, back from an outage) gets there over
    # this many seconds; only an emergency (the `urgent` callback) goes there at once.
    catch_up_s: float = 10.0
