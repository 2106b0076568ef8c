"""The `mini_judge` metric: on a video of the MoraMini world (16x16), the share of what its run asked for that the
mini judge (`moranb.mini.judge`, a classifier trained on the world's own clips) reads in it. The one metric on a CPU
that says whether a video follows its prompt.

What is checked, from the run's record:
- a caption in the world's grammar (text-to-video, digital world: the enhanced prompt): shape, colour and
  background over the whole video, and the motion of every segment;
- extend_video: every new segment moves as the input does (the motion the judge reads in the input) and keeps its
  shape, colour and background;
- an edit instruction ("make it green", "make the background gray"; edit_video, image_to_video): the asked colour
  or background.
The value is the share of these checks passed (1.0: all of them); the reason names the ones failed. Videos of
another size, or runs asking for nothing the world knows, have no value and say why. Its backend is "mini-judge",
whatever backend the run was evaluated with.
"""

from __future__ import annotations

from ..errors import InputError
from ..eval.core import Score, unavailable
from ..video import Video
from .image_to_image import edit_attributes
from .judge import read
from .world import SIZE, Attributes, parse_caption

BACKEND = "mini-judge"


def is_mini(video: Video) -> bool:
    return video.size == (SIZE, SIZE)


def mini_judge(video: Video, record: dict) -> Score:
    if not is_mini(video):
        return unavailable("mini_judge", BACKEND, f"the mini judge reads 16x16 videos of the mini world; this one is "
                                                  f"{video.width}x{video.height}")
    task = record.get("task")
    lengths = (record.get("video") or {}).get("segments") or [video.num_frames]
    bounds = [sum(lengths[:i]) for i in range(len(lengths) + 1)]
    pieces = [video.frames[a:b] for a, b in zip(bounds, bounds[1:]) if b - a >= 2]
    whole = Attributes(**read(video.frames[None])[0])
    checks: dict[str, bool] = {}
    if task == "extend_video":
        start = video.num_frames - sum(lengths)
        before = read(video.frames[None, :start])[0]
        for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
            new = read(video.frames[None, start + a:start + b])[0]
            for name, value in before.items():
                checks[f"{name} (new segment {k + 1})"] = new[name] == value
        return _score(checks, task)
    try:
        wanted = parse_caption(record.get("enhanced_prompt") or "")
    except InputError:
        wanted = None
    if wanted is not None:
        for name in ("shape", "colour", "background"):
            checks[name] = getattr(whole, name) == getattr(wanted, name)
        for k, piece in enumerate(pieces):
            checks[f"motion (segment {k + 1})"] = read(piece[None])[0]["motion"] == wanted.motion
    elif record.get("prompt"):
        try:
            edited = edit_attributes(whole, record["prompt"])
        except InputError:
            edited = None
        if edited is not None:
            asked = "colour" if record["prompt"].strip().lower().startswith("make it") else "background"
            checks[asked] = getattr(whole, asked) == getattr(edited, asked)
    return _score(checks, task)


def _score(checks: dict[str, bool], task) -> Score:
    if not checks:
        return unavailable("mini_judge", BACKEND, f"the {task or 'video'} run asked for nothing the mini world's "
                                                  f"grammar names (a caption or an edit instruction)")
    failed = [name for name, ok in checks.items() if not ok]
    return Score("mini_judge", sum(checks.values()) / len(checks), BACKEND,
                 f"wrong: {', '.join(failed)}" if failed else None)
