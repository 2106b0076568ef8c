"""What the `mini` profile plugs into the core agents and tasks (`Profile.plugin = "moranb.mini.plugin"`).

The core does not import MoraMini: a profile names a plugin module, and the agents and tasks call the functions it
has. This one gives the prompt agent's "plugin" backend its captions in the world's grammar, the image-to-video agent
its motion buckets (the world's motions as SVD's motion_bucket_id), the tasks the motion to animate with, a data
round its two judges and criteria (`judging.py`) and the simulated person that settles its queue.
"""

from __future__ import annotations

from . import judging
from .image_to_video import motion_bucket
from .judging import CRITERIA, person
from .judge import read
from .verdict import is_mini, mini_judge
from .world import ATTRIBUTES, MOTIONS, SIZE, caption_for, random_caption

__all__ = ["CRITERIA", "JUDGES", "caption", "judge", "motion_bucket", "motion_of", "person", "score",
           "write_prompts"]
JUDGES = judging.NAMES  # the names the judges' "plugin" backend gives judge a and judge b
METRICS = {"mini_judge": mini_judge}


def caption(prompt: str) -> str:
    """The prompt agent's rewrite: a caption in the world's grammar (`moranb.mini.world.caption_for`)."""
    return caption_for(prompt)


def write_prompts(n: int, seed: int, seen: set[str]) -> list[str]:
    """Up to `n` new seeded captions, none in `seen` (lower-cased; updated with those written)."""
    combos = len(ATTRIBUTES["shape"]) * len(ATTRIBUTES["colour"]) * len(ATTRIBUTES["background"]) * len(MOTIONS)
    fresh, i = [], 0
    while len(fresh) < n and i < 50 * combos:
        text, i = random_caption(seed * 100_003 + i), i + 1
        if text not in seen:
            seen.add(text)
            fresh.append(text)
    return fresh


def score(name: str, video, record: dict):
    """The plugin metric `name` (the profile's `plugin_metrics`) on a run's video; None for a video not of the mini
    world (16x16), which the mini judge cannot read."""
    return METRICS[name](video, record) if is_mini(video) else None


def motion_of(text: str | None = None, video=None) -> str:
    """The motion `text` names ("... moving left ...", "growing"), else the motion the mini judge reads in `video`
    (extending or editing a video keeps its motion), else "still"."""
    words = f" {text.lower()} " if text else ""
    for motion, phrase in MOTIONS.items():
        if f" {phrase} " in words:
            return motion
    if video is not None:
        frames = video if video.size == (SIZE, SIZE) else video.resized(SIZE, SIZE)
        return read(frames.frames[None])[0]["motion"]
    return "still"


def judge(which: str, prompt: str, candidates: list, criterion: str):
    """Judge `which` ("a" or "b") of a mini data round: a `Judgement` on `candidates` (`moranb.mini.judging`)."""
    return judging.judge(which, prompt, candidates, criterion)
