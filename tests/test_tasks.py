"""The data flow of the six tasks on the tiny profile: what each agent hands to the next."""

import json

import numpy as np
import pytest
from diffusers import StableDiffusionXLPipeline
from PIL import Image

from moranb import Video, read_video, tasks
from moranb.agents import ImageToImageAgent
from moranb.cli import main
from moranb.errors import InputError, VideoReadError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def source(tiny):
    """A generated 24-frame video to extend, edit and connect."""
    return tasks.text_to_video("a red fox running in snow", profile=tiny, seed=0)


@pytest.fixture(scope="module")
def other(tiny):
    return tasks.text_to_video("a paper boat on a rainy street", profile=tiny, seed=1, segments=2)


def test_extend_keeps_the_input_bit_for_bit(tiny, source):
    out = tasks.extend_video(source.video, profile=tiny, segments=2, frames_per_segment=4)
    assert out.video.num_frames == source.video.num_frames + 8
    assert np.array_equal(out.video.frames[: source.video.num_frames], source.video.frames)
    assert np.array_equal(np.asarray(out.conditioning[0]), source.video.frames[-1])
    assert out.video.fps == source.video.fps


def test_extend_an_odd_sized_video_keeps_its_size(tiny, source):
    odd = Video(source.video.frames[:, :60, :90], fps=6)
    out = tasks.extend_video(odd, profile=tiny, segments=1, frames_per_segment=3)
    assert out.video.size == (90, 60) and out.video.num_frames == odd.num_frames + 3
    assert np.array_equal(out.video.frames[: odd.num_frames], odd.frames)
    assert "generation_size" in out.notes


def test_connect_starts_with_a_and_ends_with_b(tiny, source, other):
    out = tasks.connect_videos(source.video, other.video, profile=tiny, seed=0)
    a, b = source.video, other.video
    transition = tiny.connection.frames - 2
    assert out.video.num_frames == a.num_frames + transition + b.num_frames
    assert np.array_equal(out.video.frames[: a.num_frames], a.frames)
    assert np.array_equal(out.video.frames[-b.num_frames :], b.frames)
    assert out.notes == {}


def test_connect_brings_b_to_a_and_records_it(tiny, source, other):
    b = Video(other.video.frames[::2], fps=4).resized(64, 64)
    out = tasks.connect_videos(source.video, b, profile=tiny, seed=0)
    assert out.video.size == source.video.size and out.video.fps == source.video.fps
    assert set(out.notes) == {"video_b_size", "video_b_fps"}
    assert out.video.num_frames == source.video.num_frames + (tiny.connection.frames - 2) + 2 * b.num_frames


def test_edit_animates_the_image_to_image_output(tiny, source, monkeypatch):
    made = []
    original = ImageToImageAgent.__call__

    def spy(self, *args, **kwargs):
        made.append(original(self, *args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ImageToImageAgent, "__call__", spy)
    out = tasks.edit_video(source.video, "make it autumn", profile=tiny, seed=0)
    assert len(made) == 1
    assert np.array_equal(np.asarray(out.edited_frame), np.asarray(made[0]))
    assert np.array_equal(np.asarray(out.conditioning[0]), np.asarray(made[0]))
    assert out.video.num_frames == source.video.num_frames and out.video.fps == source.video.fps


def test_image_to_video_steers_the_first_frame_with_the_text(tiny, source):
    image = source.first_frame.resize((120, 80))
    out = tasks.image_to_video(image, "make it a snowy night", profile=tiny, segments=2, frames_per_segment=3)
    assert out.video.num_frames == 6 and out.video.size == (tiny.width, tiny.height)
    assert out.edited_frame is not None and out.first_frame is out.edited_frame
    assert "input_image" in out.notes
    plain = tasks.image_to_video(image, "make it a snowy night", profile=tiny, segments=1, frames_per_segment=3,
                                 edit=False)
    assert plain.edited_frame is None


@pytest.mark.parametrize("route", ["prompt", "edit"])
def test_digital_world_style_reaches_the_model(tiny, monkeypatch, route):
    prompts = []
    original = StableDiffusionXLPipeline.__call__

    def spy(self, *args, **kwargs):
        prompts.append(kwargs["prompt"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionXLPipeline, "__call__", spy)
    out = tasks.simulate_digital_world("a castle on a hill", style="a voxel sandbox game", route=route,
                                       profile=tiny, segments=1, frames_per_segment=2)
    if route == "prompt":
        assert "voxel sandbox game" in prompts[0] and out.edited_frame is None
    else:
        assert "voxel" not in prompts[0] and out.edited_frame is not None


def test_bad_video_inputs(tiny, tmp_path, source):
    with pytest.raises(VideoReadError, match="does not exist"):
        tasks.extend_video(tmp_path / "nope.mp4", profile=tiny)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoReadError, match="cannot be decoded"):
        tasks.edit_video(broken, "make it red", profile=tiny)
    one = Video(source.video.frames[:1], fps=8)
    with pytest.raises(InputError, match="at least 2 frames"):
        tasks.connect_videos(one, source.video, profile=tiny)
    with pytest.raises(InputError, match="instruction is empty"):
        tasks.edit_video(source.video, "", profile=tiny)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(VideoReadError, match="not an image"):
        tasks.image_to_video(text, "make it red", profile=tiny)


def test_failure_in_a_later_stage_keeps_earlier_stages(tiny, tmp_path, monkeypatch):
    from moranb.agents import ImageToVideoAgent

    def boom(self, *args, **kwargs):
        raise RuntimeError("simulated crash in image-to-video")

    monkeypatch.setattr(ImageToVideoAgent, "__call__", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        tasks.text_to_video("a lighthouse", profile=tiny, out_dir=tmp_path)
    monkeypatch.undo()
    out = tasks.text_to_video("a lighthouse", profile=tiny, out_dir=tmp_path)
    assert out.reused == ["enhance_prompt", "text_to_image"]
    fresh = tasks.text_to_video("a lighthouse", profile=tiny)
    assert np.array_equal(out.video.frames, fresh.video.frames)


def test_the_stage_cache_keeps_a_segmented_video_as_it_is(tmp_path, source):
    from moranb import stages
    from moranb.agents import SegmentedVideo

    made = SegmentedVideo(source.first_frame, source.segments)
    base = tmp_path / ".stages" / "image_to_video-0123456789abcdef"
    stages.keep(base, made, [{"stage": "image_to_video", "attempt": 1, "seed": 0, "decision": "approve"}])
    kept = stages.load(base)
    assert isinstance(kept, SegmentedVideo) and len(kept.segments) == len(made.segments)
    for a, b in zip(kept.segments, made.segments, strict=True):
        assert np.array_equal(a.frames, b.frames) and a.fps == b.fps
    for a, b in zip(kept.conditioning, made.conditioning, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert np.array_equal(kept.video.frames, source.video.frames)
    assert stages.load_decisions(base) == [{"stage": "image_to_video", "attempt": 1, "seed": 0,
                                           "decision": "approve", "reused": True}]
    assert sorted(p.name for p in base.parent.iterdir()) == [base.name + ".npz", base.name + ".review.json"]
    # Segments kept by an older version lack the image they started from: not reused, made again.
    legacy = tmp_path / ".stages" / "image_to_video-legacy"
    np.savez(legacy.with_suffix(".npz"), fps=8.0, segment0=source.segments[0].frames)
    assert stages.load(legacy) is None and stages.load(tmp_path / ".stages" / "missing") is None


def test_every_task_from_the_command_line(tmp_path, source):
    src = source.video.save(tmp_path / "source.mp4")
    image = tmp_path / "image.png"
    source.first_frame.save(image)
    runs = {
        "i2v": ["i2v", str(image), "make it night", "--segments", "1", "--frames", "3"],
        "extend": ["extend", str(src), "--frames", "3"],
        "edit": ["edit", str(src), "make it autumn", "--frames", "8"],
        "connect": ["connect", str(src), str(src)],
        "world": ["world", "a castle", "--route", "edit", "--segments", "1", "--frames", "2"],
    }
    for name, argv in runs.items():
        out = tmp_path / name
        assert main([*argv, "--out", str(out)]) == 0, name
        manifest = json.loads((out / "manifest.json").read_text())
        video = read_video(out / "video.mp4")
        assert video.num_frames == manifest["video"]["frames"], name
        assert (out / "frame_strip.png").exists()
    assert read_video(tmp_path / "extend" / "video.mp4").num_frames == source.video.num_frames + 3
