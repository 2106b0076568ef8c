import json

import numpy as np
import pytest
from diffusers import StableVideoDiffusionPipeline

from moranb import read_video
from moranb.cli import main
from moranb.errors import InputError, OutputDirError, ResolutionError
from moranb.tasks import text_to_video

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny):
    out = tmp_path_factory.mktemp("t2v")
    return text_to_video("a red fox running in snow", profile=tiny, seed=3, out_dir=out)


def test_video_has_segments_times_frames(run, tiny):
    assert run.video.num_frames == tiny.image_to_video.segments * tiny.image_to_video.frames_per_segment
    assert len(run.segments) == tiny.image_to_video.segments
    assert run.video.size == (tiny.width, tiny.height)


def test_files_are_written_and_playable(run, tiny):
    for name in ("video", "frame_strip", "first_frame", "enhanced_prompt", "manifest"):
        assert run.files[name].exists(), name
    back = read_video(run.files["video"])
    assert back.num_frames == run.video.num_frames and back.fps == pytest.approx(tiny.fps)
    assert run.files["enhanced_prompt"].read_text().strip() == run.enhanced_prompt
    assert "red fox" in run.enhanced_prompt


def test_manifest_records_config_seed_versions_and_timings(run):
    manifest = json.loads(run.files["manifest"].read_text())
    assert manifest["task"] == "text_to_video" and manifest["seed"] == 3
    assert manifest["profile"]["name"] == "tiny"
    assert manifest["inputs"]["prompt"] == "a red fox running in snow"
    assert {"torch", "diffusers", "transformers", "python"} <= set(manifest["versions"])
    assert {"text_to_image", "image_to_video"} <= set(manifest["timings_s"])
    assert manifest["video"]["frames"] == run.video.num_frames


def test_same_seed_same_frames_other_seed_other_frames(run, tiny):
    again = text_to_video("a red fox running in snow", profile=tiny, seed=3)
    assert np.array_equal(again.video.frames, run.video.frames)
    other = text_to_video("a red fox running in snow", profile=tiny, seed=4)
    assert not np.array_equal(other.video.frames, run.video.frames)


def test_segment_k_plus_1_is_conditioned_on_segment_k_last_frame(tiny, monkeypatch):
    seen = []
    original = StableVideoDiffusionPipeline.__call__

    def spy(self, *args, **kwargs):
        seen.append(np.asarray(kwargs["image"]).copy())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StableVideoDiffusionPipeline, "__call__", spy)
    result = text_to_video("a boat on a river", profile=tiny, seed=0, segments=3, frames_per_segment=4)
    assert len(seen) == 3
    assert np.array_equal(seen[0], np.asarray(result.first_frame))
    for k in range(2):
        assert np.array_equal(seen[k + 1], result.segments[k].frames[-1])
        assert np.array_equal(seen[k + 1], result.video.frames[4 * (k + 1) - 1])


def test_rerun_resumes_from_kept_stages(run, tiny):
    again = text_to_video("a red fox running in snow", profile=tiny, seed=3, out_dir=run.out_dir)
    assert set(again.reused) == {"enhance_prompt", "text_to_image", "image_to_video"}
    assert np.array_equal(again.video.frames, run.video.frames)
    assert [s.fps for s in again.segments] == [s.fps for s in run.segments]
    for kept, made in zip(again.segments, run.segments, strict=True):
        assert np.array_equal(kept.frames, made.frames)
    for kept, made in zip(again.conditioning, run.conditioning, strict=True):
        assert np.array_equal(np.asarray(kept), np.asarray(made))


def test_the_reviewer_sees_the_video_the_task_returns(tiny):
    seen = {}

    def look(stage, artifact, attempt):
        seen[stage] = artifact
        return "approve"

    result = text_to_video("a boat on a river", profile=tiny, seed=0, segments=2, frames_per_segment=3, review=look)
    assert seen["image_to_video"] is result.video  # joined once, for the preview and the result


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(prompt=""), InputError, "prompt is empty"),
    (dict(prompt=42), InputError, "prompt must be a string"),
    (dict(segments=0), InputError, "segments must be at least 1"),
    (dict(frames_per_segment=-3), InputError, "frames per segment must be at least 2"),
    (dict(width=100), ResolutionError, "multiples of 8"),
])
def test_bad_inputs_raise_one_line_errors(tiny, kwargs, error, match):
    args = dict(prompt="a fox", profile=tiny) | kwargs
    with pytest.raises(error, match=match) as info:
        text_to_video(**args)
    assert "\n" not in str(info.value)


def test_unwritable_output_directory(tiny, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputDirError, match="cannot write to output directory"):
        text_to_video("a fox", profile=tiny, out_dir=blocker / "sub")


def test_cli_writes_outputs_and_reports_errors_in_one_line(tmp_path, capsys):
    assert main(["t2v", "a lighthouse at night", "--out", str(tmp_path / "cli"), "--segments", "2", "--frames", "3"]) == 0
    assert read_video(tmp_path / "cli" / "video.mp4").num_frames == 6
    enhanced = (tmp_path / "cli" / "enhanced_prompt.txt").read_text().strip()
    assert f"prompt agent wrote: {enhanced}" in capsys.readouterr().out  # the prompt agent's prompt is shown
    assert main(["t2v", "", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["moranb: error: prompt is empty; describe what the video should show, e.g. \"a red fox running in snow\""]


def test_same_seed_same_frames_across_processes(tmp_path):
    import subprocess
    import sys

    frames = []
    for name in ("one", "two"):
        out = tmp_path / name
        subprocess.run([sys.executable, "-m", "moranb.cli", "t2v", "a kite over a beach", "--out", str(out),
                        "--segments", "2", "--frames", "3", "--seed", "11"], check=True, capture_output=True)
        (stage,) = (out / ".stages").glob("image_to_video-*.npz")
        with np.load(stage) as data:
            frames.append(np.concatenate([data["segment0"], data["segment1"]]))
    assert np.array_equal(frames[0], frames[1])
