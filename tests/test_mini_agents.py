"""MoraMini's agents: the trainers (resumable, seeded), the shipped image-to-video and image-to-image weights, the
`mini` profile the six tasks run on, its prompt agent, and the demo beside tiny."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from moranb.config import get_profile
from moranb.errors import InputError
from moranb.mini.world import Attributes, parse_caption, render_clip, world_video

# -- the trainers ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("agent, args", [
    ("image_to_video", ["--vae-steps", "1", "--batch", "4"]),
    ("image_to_image", ["--vae-steps", "0", "--batch", "4"]),
    ("connection", ["--vae-steps", "1", "--batch", "4"]),
])
def test_a_resumed_training_run_ends_with_the_same_weights(tmp_path, agent, args):
    """Every batch and noise draw is a function of (seed, step): stopping after one step and running the same
    command again gives the weights an uninterrupted run gives."""
    from safetensors.torch import load_file

    from moranb.mini import checkpoints
    from moranb.mini.train import main

    command = ["--agent", agent, "--steps", "3", "--lr", "0.001", "--threads", "1", *args]
    assert main([*command, "--out", str(tmp_path / "whole")]) == 0
    assert main([*command, "--out", str(tmp_path / "parts"), "--minutes", "0"]) == 0  # stops after one step
    assert checkpoints.latest(tmp_path / "parts")[1]["step"] == 1
    assert main([*command, "--out", str(tmp_path / "parts")]) == 0
    for name in ("transformer", "vae") if agent == "connection" else ("unet",):
        whole = load_file(next((tmp_path / "whole" / "pipeline" / name).glob("*.safetensors")))
        parts = load_file(next((tmp_path / "parts" / "pipeline" / name).glob("*.safetensors")))
        assert whole.keys() == parts.keys()
        assert all(torch.equal(whole[k], parts[k]) for k in whole), name
    meta = json.loads((tmp_path / "whole" / "pipeline" / "mini.json").read_text())
    assert meta["command"].startswith(f"python -m moranb.mini.train --agent {agent} ") and meta["seed"] == 0


def test_the_video_trainer_trains_what_the_pipeline_samples(tmp_path):
    """The UNet sees what StableVideoDiffusionPipeline gives it: 8 channels (noisy latent + unscaled first-frame
    latent), 8x8 latents of 16x16 frames, three micro-conditions, one image-embedding token."""
    from moranb.mini.train import ImageToVideoTrainer

    trainer = ImageToVideoTrainer(tmp_path, seed=0, steps=2, vae_steps=0, batch=2, lr=1e-3)
    seen = {}
    hook = trainer.pipe.unet.register_forward_pre_hook(
        lambda m, args, kwargs: seen.update(sample=args[0].shape, **{k: v.shape for k, v in kwargs.items()}),
        with_kwargs=True)
    loss = trainer.train_step()
    hook.remove()
    assert np.isfinite(loss)
    assert seen["sample"] == (2, 8, 8, 8, 8)
    assert seen["encoder_hidden_states"] == (2, 1, 32) and seen["added_time_ids"] == (2, 3)
    assert trainer.pipe.vae_scale_factor == 2


def test_the_connection_trainer_trains_what_the_pipeline_samples(tmp_path):
    """The transformer sees what LTXConditionPipeline gives it for a mini transition: 5 latent frames of 4x4 tokens
    (9 frames, the VAE halving time after the first) and 16 more for the last frame, each of 32 channels; the given
    frames' tokens at timestep 0, the others not; the prompt's T5 states."""
    from moranb.mini.train import ConnectionTrainer

    trainer = ConnectionTrainer(tmp_path, seed=0, steps=2, vae_steps=0, batch=2, lr=1e-3)
    seen = {}
    hook = trainer.pipe.transformer.register_forward_pre_hook(
        lambda m, args, kwargs: seen.update(kwargs), with_kwargs=True)
    loss = trainer.train_step()
    hook.remove()
    assert np.isfinite(loss)
    assert seen["hidden_states"].shape == (2, 5 * 16 + 16, 32) and seen["video_coords"].shape == (2, 3, 96)
    given = seen["timestep"] == 0
    # The last frame's 16 tokens come first (the pipeline prepends them), then the first frame's: both given.
    assert given[:, :32].all() and not given[:, 32:].any()
    assert seen["encoder_hidden_states"].shape[0] == 2 and seen["encoder_hidden_states"].shape[-1] == 32


def test_the_transition_check_tells_a_transition_from_noise_and_stillness():
    from moranb.mini.evaluate import connection_case
    from moranb.mini.verdict import transition_checks

    rng = np.random.default_rng(0)
    passed = {"world": 0, "noise": 0, "A held": 0}
    for seed in range(40):
        before, after, middle = connection_case(seed)
        for name, frames in (("world", middle), ("noise", rng.integers(0, 256, middle.shape, dtype=np.uint8)),
                             ("A held", np.repeat(before[None], len(middle), 0))):
            passed[name] += all(transition_checks(frames, before, after).values())
    assert passed["world"] >= 39 and passed["noise"] == 0 and passed["A held"] <= 12, passed


# -- the mini world's words ------------------------------------------------------------------------------------------

def test_edit_instructions():
    from moranb.mini.image_to_image import edit_attributes, instructions

    attrs = Attributes("circle", "red", "blue", "left")
    assert edit_attributes(attrs, "make it green") == Attributes("circle", "green", "blue", "left")
    assert edit_attributes(attrs, " Make the background  GRAY.") == Attributes("circle", "red", "gray", "left")
    assert len(instructions()) == 7
    for bad in ("make it purple", "make the background red", "turn it into minecraft"):
        with pytest.raises(InputError, match="make it <colour>"):
            edit_attributes(attrs, bad)


def test_the_mini_prompt_agent_writes_the_grammar():
    from moranb.agents import PromptAgent
    from moranb.mini.world import caption_for

    agent = PromptAgent(get_profile("mini"))
    assert agent("a red circle moving left on a blue background") == "a red circle moving left on a blue background"
    caption = agent("a yellow ball rolling down, grey sky")
    attrs = parse_caption(caption)
    assert (attrs.colour, attrs.shape, attrs.motion) == ("yellow", "circle", "down")
    assert agent("a village by a river at dawn") == caption_for("a village by a river at dawn")  # same text, same
    written = agent.write_prompts(20, seed=3)
    assert len(set(written)) == 20 and all(parse_caption(c).caption == c for c in written)
    assert not set(agent.write_prompts(5, seed=3, avoid=written[:5])) & set(written[:5])


def test_motion_comes_from_the_caption_or_the_video():
    from moranb.agents import ImageToVideoAgent
    from moranb.mini.image_to_video import MOTION_BUCKETS
    from moranb.tasks.steps import motion_of

    mini, tiny = get_profile("mini"), get_profile("tiny")
    assert motion_of(mini, "a red circle moving up on a blue background") == "up"
    assert motion_of(mini, "make it green") == "still"
    assert motion_of(mini, None, world_video("a red circle moving left on a blue background", seed=4)) == "left"
    assert motion_of(mini, "the square is growing", world_video("a red circle moving left on a blue background")) \
        == "grow"
    assert motion_of(tiny, "a red circle moving up on a blue background") is None
    assert ImageToVideoAgent(mini).motion_bucket("down") == MOTION_BUCKETS["down"]
    assert ImageToVideoAgent(mini).motion_bucket(None) == MOTION_BUCKETS["still"]
    assert ImageToVideoAgent(tiny).motion_bucket("down") == tiny.image_to_video.motion_bucket_id


# -- the shipped video and edit models -------------------------------------------------------------------------------

def _load(folder):
    from moranb.mini.evaluate import load_pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_pipeline(folder)


@pytest.fixture(scope="module")
def video_pipe():
    from moranb.mini.evaluate import SHIPPED_VIDEO

    return _load(SHIPPED_VIDEO)


@pytest.fixture(scope="module")
def edit_pipe():
    from moranb.mini.evaluate import SHIPPED_EDIT

    return _load(SHIPPED_EDIT)


def test_image_to_video_reproduces_its_hashes(video_pipe):
    from diffusers import StableVideoDiffusionPipeline

    from moranb.mini.evaluate import HASH_SEEDS, SHIPPED_VIDEO, sha256, video_samples
    from moranb.models import torch_threads

    assert isinstance(video_pipe, StableVideoDiffusionPipeline)
    meta = json.loads((SHIPPED_VIDEO / "mini.json").read_text())
    assert meta["command"].startswith("python -m moranb.mini.train --agent image_to_video ")
    with torch_threads(1):
        clips = [clip for _, clip, _ in video_samples(video_pipe, HASH_SEEDS, extend=False)]
    assert all(c.shape == (8, 16, 16, 3) and c.dtype == np.uint8 for c in clips)
    assert [sha256(c) for c in clips] == [s["sha256"] for s in meta["samples"]]


def test_image_to_video_moves_as_captioned(video_pipe):
    from moranb.mini.evaluate import video_accuracy

    found = video_accuracy(video_pipe, count=20)
    # Measured on 20: motion 90 %, extension 90 %, appearance 80 % (on 200: 90 %, 89.5 %, 72.5 %).
    assert found["motion"] >= 0.8 and found["extend_motion"] >= 0.8 and found["appearance"] >= 0.6, found


def test_connection_reproduces_its_hashes_and_connects():
    from moranb.agents import ConnectionAgent
    from moranb.mini.evaluate import HASH_SEEDS, MINI, connect, connection_accuracy, connection_case, sha256
    from moranb.models import torch_threads

    folder = MINI.connection.model.source
    meta = json.loads((Path(folder) / "mini.json").read_text())
    assert meta["command"].startswith("python -m moranb.mini.train --agent connection ")
    with torch_threads(1):
        made = [connect(ConnectionAgent(MINI), *connection_case(s)[:2], s) for s in HASH_SEEDS]
    assert all(m.shape == (7, 16, 16, 3) for m in made)
    assert [sha256(m) for m in made] == [s["sha256"] for s in meta["samples"]]
    found = connection_accuracy(folder, count=20)
    # Measured on 20: starts as A 85 %, ends as B 80 %, every frame's shape on the line 15 %, all 10 % (on 200: 76 %,
    # 70 %, 22 %, 16 %; noise: 0 %). The goal, 80 % of all, is not reached: see the README.
    assert found["starts as A"] >= 0.7 and found["ends as B"] >= 0.65 and found["all"] >= 0.05, found


def test_image_to_image_reproduces_its_hashes_and_edits(edit_pipe):
    from diffusers import StableDiffusionInstructPix2PixPipeline

    from moranb.mini.evaluate import HASH_SEEDS, SHIPPED_EDIT, edit, edit_accuracy, edit_case, sha256
    from moranb.models import torch_threads

    assert isinstance(edit_pipe, StableDiffusionInstructPix2PixPipeline)
    meta = json.loads((SHIPPED_EDIT / "mini.json").read_text())
    assert meta["command"].startswith("python -m moranb.mini.train --agent image_to_image ")
    with torch_threads(1):
        edits = [edit(edit_pipe, *edit_case(s)[:2], s) for s in HASH_SEEDS]
    assert [sha256(e) for e in edits] == [s["sha256"] for s in meta["samples"]]
    found = edit_accuracy(edit_pipe, count=20)
    assert found["all"] >= 0.75, found


# -- the six tasks on the mini profile -------------------------------------------------------------------------------

def test_text_to_video_on_mini_follows_its_caption(tmp_path):
    from moranb import tasks
    from moranb.mini.judge import follows

    caption = "a red circle moving right on a blue background"
    result = tasks.text_to_video(caption, profile="mini", out_dir=tmp_path / "t2v")
    assert result.enhanced_prompt == caption
    assert result.video.num_frames == 16 and result.video.size == (16, 16)
    first, second = result.segments
    assert np.array_equal(np.asarray(result.conditioning[1]), first.frames[-1])  # segment 0's last frame -> 1
    verdict = follows(result.video.frames[:8], caption)
    assert verdict["overall"], verdict
    again = tasks.text_to_video(caption, profile="mini")
    assert np.array_equal(again.video.frames, result.video.frames)  # same seed, same frames
    manifest = json.loads((tmp_path / "t2v" / "manifest.json").read_text())
    assert manifest["profile"]["name"] == "mini"


def test_extend_and_edit_on_mini_keep_the_motion():
    from moranb import tasks
    from moranb.mini.judge import read

    video = world_video("a white square moving left on a black background", seed=11)
    extended = tasks.extend_video(video, profile="mini", segments=1)
    assert extended.video.num_frames == 16
    assert read(extended.segments[0].frames[None])[0]["motion"] == "left"
    edited = tasks.edit_video(video, "make it yellow", profile="mini")
    seen = read(edited.video.frames[None])[0]
    assert seen["colour"] == "yellow" and seen["motion"] == "left", seen


def test_demo_writes_mini_beside_tiny(tmp_path):
    from PIL import Image

    from moranb.demo import demo

    demo(tmp_path, profiles=("tiny", "mini"))
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("| tiny |") == 7 and summary.count("| mini |") == 7
    assert "follows" in summary
    # What each run asked for, beside what the judge read; the mini transition is judged (it was noise before).
    assert "| asked |" in summary and "a red circle moving right on a blue background" in summary
    assert "text_to_video_0 -> text_to_video_1" in summary
    connect = next(line for line in summary.splitlines() if line.startswith("| mini | connect_videos"))
    assert "starts as A" in connect or "follows" in connect
    for profile in ("tiny", "mini"):
        assert (tmp_path / profile / "text_to_video_0" / "video.mp4").is_file()
    with Image.open(tmp_path / "side_by_side.png") as image:
        strip = Image.open(tmp_path / "mini" / "text_to_video_0" / "frame_strip.png")
        assert image.width >= strip.width and image.height > 14 * strip.height // 2
    # Every run plays: a GIF of all its frames, the mini world's 16x16 enlarged pixel by pixel, on one page.
    from moranb.video import read_video

    video = read_video(tmp_path / "mini" / "text_to_video_0" / "video.mp4")
    gif = read_video(tmp_path / "mini" / "text_to_video_0" / "playing.gif")
    assert gif.num_frames == video.num_frames and gif.size == (256, 256)
    assert np.abs(gif.frames[:, ::16, ::16].astype(int) - video.frames).mean() < 8  # each pixel a 16x16 square
    page = (tmp_path / "index.html").read_text()
    assert page.count("<img ") == 14 and 'src="mini/connect_videos/playing.gif"' in page


def test_a_size_or_length_the_mini_agents_never_saw_is_one_line(tmp_path):
    from moranb import tasks
    from moranb.errors import ResolutionError

    with pytest.raises(ResolutionError, match="trained on 16x16 frames only; at 64x64 they would draw blobs"):
        tasks.text_to_video("a red circle moving left on a blue background", profile="mini", width=64, height=64,
                            out_dir=tmp_path / "t2v")
    with pytest.raises(InputError, match="trained on clips of 8 frames only; 4 frames"):
        tasks.text_to_video("a red circle moving left on a blue background", profile="mini", frames_per_segment=4,
                            out_dir=tmp_path / "t2v")
    assert not (tmp_path / "t2v").exists()  # refused before anything ran


def test_the_shipped_weights_stay_under_40_mib():
    import moranb

    total = sum(p.stat().st_size for p in Path(moranb.__file__).parent.rglob("*.safetensors"))
    assert total < 40 * 2**20, f"{total / 2**20:.1f} MiB"
