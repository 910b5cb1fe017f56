"""The sample's layer by time alone (pure): primed, playing, fading to 0, then what was before."""

from __future__ import annotations

from roomctl.model.scene import SILENCE, Source
from roomctl.model.state import PlayerState
from roomctl.web.sample import GIVE_UP_S, SampleLayer

PEAK = Source(kind="favorite", name="Peak")
RADIO = Source(kind="uri", name="x-rincon-mp3radio://radio.example/evening")


def test_a_primed_sample_pauses_first_then_plays_fades_and_goes_back() -> None:
    layer = SampleLayer(
        target={"speakers": PlayerState(PEAK, 40)},
        before={"speakers": PlayerState(RADIO, 12)},
        start=100.0,
        prime_s=1.5,
        play_s=30.0,
        fade_s=8.0,
    )
    assert layer.desired(99.0) == {} and not layer.active(99.0)
    assert layer.desired(100.5) == {"speakers": PlayerState(SILENCE, 12)}
    assert layer.desired(101.5) == {"speakers": PlayerState(PEAK, 40)}
    assert layer.desired(131.4) == {"speakers": PlayerState(PEAK, 40)}
    assert layer.desired(131.5 + 4.0) == {"speakers": PlayerState(PEAK, 20)}
    assert layer.desired(139.4)["speakers"].volume in (0, 1)
    assert layer.restoring(139.5) and layer.desired(139.5) == {"speakers": PlayerState(RADIO, 12)}
    assert layer.quiet() == {"speakers": PlayerState(PEAK, 0)}
    assert not layer.active(139.5 + GIVE_UP_S)
