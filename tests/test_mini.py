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
    assert covered[1] > 1.5 * covered[0]  # the radius grows by GROWTH (1.3) per clip
    # A path is two clips: the second starts where the first ends, and still moves (or grows) inside the frame.
    for seed in range(40):
        attrs = world.random_attributes(seed)
        first, second = render_clip(attrs, seed), render_clip(attrs, seed, part=1)
        assert np.array_equal(first[-1], second[0])
        if attrs.motion != "grow":  # nothing leaves the frame: the shape covers as much at the end as at the start
            area = [np.abs(f.astype(float) - world.BACKGROUNDS[attrs.background]).sum() for f in (first[0], second[-1])]
            assert abs(area[1] - area[0]) <= 0.08 * area[0], (seed, attrs, area)  # area, antialiased at 4x


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


# -- the shipped judge -----------------------------------------------------------------------------------------------

def test_judge_reads_fresh_world_clips():
    """>= 98 % per attribute on 200 clips no training or measurement used (half of them the second clip of their
    path), clean and roughened like a generator's."""
    import torch

    from moranb.mini.judge import load_judge, to_tensor
    from moranb.mini.train_judge import roughen

    judge = load_judge()
    clips, labels = world_batch(range(FRESH, FRESH + 200), parts=True)
    x = to_tensor(clips)
    with torch.no_grad():
        for rough in (False, True):
            logits = judge(roughen(x, torch.Generator().manual_seed(1)) if rough else x)
            for name in ATTRIBUTES:
                share = float((logits[name].argmax(1).numpy() == labels[name]).mean())
                assert share >= 0.98, (name, rough, share)


def test_follows_judges_frames_and_clips():
    from PIL import Image

    from moranb.mini.judge import follows
    from moranb.video import Video

    clip, attrs = world_clip(FRESH + 1)
    verdict = follows(Video(clip, world.FPS), attrs.caption)
    assert verdict == {"shape": True, "colour": True, "background": True, "motion": True, "overall": True}
    frame_verdict = follows(Image.fromarray(clip[0]), attrs.caption)
    assert set(frame_verdict) == {"shape", "colour", "background", "overall"} and frame_verdict["overall"]
    other = Attributes(attrs.shape, next(c for c in world.COLOURS if c != attrs.colour), attrs.background, attrs.motion)
    wrong = follows(clip, other.caption)
    assert wrong["colour"] is False and wrong["overall"] is False and wrong["shape"] is True
    with pytest.raises(InputError, match="16x16"):
        follows(np.zeros((32, 32, 3), np.uint8), attrs.caption)
    with pytest.raises(InputError, match="uint8"):
        follows(np.zeros((16, 16, 3), np.float32), attrs.caption)


def test_mini_judge_metric_scores_what_a_run_asked_for():
    """`moranb.eval` reports the judge: the share of the run's asked-for attributes it reads in the video."""
    from moranb.eval import METRICS
    from moranb.mini.verdict import mini_judge
    from moranb.video import Video

    assert "mini_judge" in METRICS
    clip, attrs = world_clip(FRESH + 2)
    video = Video(np.concatenate([clip, clip[::-1]]), world.FPS)  # two segments: the second moves back
    record = {"task": "text_to_video", "enhanced_prompt": attrs.caption, "video": {"segments": [8, 8]}}
    score = mini_judge(Video(clip, world.FPS), {**record, "video": {"segments": [8]}})
    assert score.value == 1.0 and score.reason is None and score.backend == "mini-judge"
    assert attrs.motion == "left"  # shape, colour, background right; segment 2 moves the other way
    backwards = mini_judge(video, record)
    assert backwards.value == 0.8 and backwards.reason == "wrong: motion (segment 2)"
    other = Attributes(attrs.shape, next(c for c in world.COLOURS if c != attrs.colour), attrs.background, attrs.motion)
    wrong = mini_judge(Video(clip, world.FPS), {**record, "enhanced_prompt": other.caption, "video": {"segments": [8]}})
    assert wrong.value == 0.75 and "colour" in wrong.reason
    edit = mini_judge(Video(clip, world.FPS), {"task": "edit_video", "prompt": f"make it {attrs.colour}"})
    assert edit.value == 1.0
    assert mini_judge(Video(clip, world.FPS), {"task": "edit_video", "prompt": f"make it {other.colour}"}).value == 0
    big = mini_judge(Video(np.zeros((8, 32, 32, 3), np.uint8), world.FPS), record)
    assert big.value is None and "16x16" in big.reason


def test_shipped_judge_records_how_it_was_made():
    from moranb.config import MINI_WEIGHTS

    meta = json.loads((MINI_WEIGHTS / "judge.json").read_text())
    assert meta["command"].startswith("python -m moranb.mini.train_judge ") and "--seed" in meta["command"]
    assert min(meta["accuracy"]["clean"].values()) >= 0.98
    assert (MINI_WEIGHTS / "judge.safetensors").stat().st_size < 500_000


# -- the shipped text-to-image model ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mini_pipe():
    from moranb.config import MINI_WEIGHTS
    from moranb.mini.evaluate import load_pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_pipeline(MINI_WEIGHTS / "text_to_image")


def test_text_to_image_loads_with_from_pretrained_and_reproduces_its_hashes(mini_pipe):
    from diffusers import StableDiffusionXLPipeline

    from moranb.config import MINI_WEIGHTS
    from moranb.mini.evaluate import HASH_SEEDS, generate, sha256
    from moranb.models import torch_threads

    assert isinstance(mini_pipe, StableDiffusionXLPipeline) and mini_pipe.vae_scale_factor == 1
    meta = json.loads((MINI_WEIGHTS / "text_to_image" / "mini.json").read_text())
    assert meta["command"].startswith("python -m moranb.mini.train --agent text_to_image ")
    with torch_threads(1):
        images, captions = generate(mini_pipe, HASH_SEEDS)
    assert images.shape == (len(HASH_SEEDS), 16, 16, 3)
    assert [s["caption"] for s in meta["samples"]] == captions
    assert [sha256(im) for im in images] == [s["sha256"] for s in meta["samples"]]


def test_text_to_image_follows_its_prompts(mini_pipe):
    from moranb.mini.evaluate import accuracy

    found = accuracy(mini_pipe, count=24, batch=24)
    assert found["all"] >= 0.75, found
