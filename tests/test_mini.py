"""MoraMini: the world's generator, its caption grammar, the shipped judge and the shipped text-to-image weights."""

import json
import warnings

import numpy as np
import pytest

from moranb.errors import InputError
from moranb.mini import world
from moranb.mini.world import ATTRIBUTES, Attributes, parse_caption, random_caption, render_clip, world_batch, world_clip

FRESH = 2 * 10**16  # world seeds neither the trainers nor their held-out measurements use


def test_world_is_deterministic_and_shaped():
    a, attrs_a = world_clip(7)
    b, attrs_b = world_clip(7)
    assert a.dtype == np.uint8 and a.shape == (8, 16, 16, 3)
    assert attrs_a == attrs_b and np.array_equal(a, b)
    assert not np.array_equal(a, world_clip(8)[0])
    assert render_clip(attrs_a, 7, size=32, frames=4).shape == (4, 32, 32, 3)
    assert np.array_equal(render_clip(attrs_a, 7, times=[5])[0], a[5])


def test_world_shows_its_attributes():
    still = render_clip(Attributes("circle", "red", "blue", "still"), 3)
    assert np.array_equal(still[0], still[-1])
    corner = still[0, 0, 0]
    assert tuple(corner) == world.BACKGROUNDS["blue"]
    for motion, axis, sign in (("left", 1, -1), ("right", 1, 1), ("up", 0, -1), ("down", 0, 1)):
        clip = render_clip(Attributes("square", "white", "black", motion), 3).astype(float).sum(-1)
        centre = [np.array(np.nonzero(f > f.mean())).mean(1)[axis] for f in (clip[0], clip[-1])]
        assert sign * (centre[1] - centre[0]) > 2, motion
    grow = render_clip(Attributes("triangle", "green", "gray", "grow"), 3).astype(float)
    covered = [(np.abs(f - world.BACKGROUNDS["gray"]).sum(-1) > 30).sum() for f in (grow[0], grow[-1])]
    assert covered[1] > 1.8 * covered[0]


def test_caption_round_trip_covers_the_grammar():
    for seed in range(300):
        caption = random_caption(seed)
        assert parse_caption(caption).caption == caption
    assert {random_caption(s).split()[2] for s in range(300)} == set(ATTRIBUTES["shape"])
    assert parse_caption("  A Red circle  moving LEFT on a blue background. ") == Attributes("circle", "red", "blue", "left")
    assert parse_caption("a white square standing still on a gray background").motion == "still"


@pytest.mark.parametrize("text, names", [
    ("a red circle", "a <colour> <shape> <motion> on a <background> background"),
    ("a pink circle moving left on a blue background", "red, green, yellow, white"),
    ("a red hexagon moving left on a blue background", "circle, square, triangle"),
    ("a red circle moving sideways on a blue background", "'moving left'"),
    ("a red circle growing on a purple background", "black, blue, gray"),
    ("", "empty"),
])
def test_caption_errors_name_the_allowed_words(text, names):
    with pytest.raises(InputError) as info:
        parse_caption(text)
    assert names in str(info.value) and "\n" not in str(info.value)


def test_world_rejects_bad_input():
    with pytest.raises(InputError, match="seed"):
        world_clip(-1)
    with pytest.raises(InputError, match="size"):
        world_clip(0, size=4)
    with pytest.raises(InputError, match="times"):
        render_clip(Attributes("circle", "red", "blue"), 0, times=[8])
