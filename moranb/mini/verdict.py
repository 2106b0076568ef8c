"""The `mini_judge` metric: on a video of the MoraMini world (16x16), the share of what its run asked for that the
mini judge (`moranb.mini.judge`, a classifier trained on the world's own clips) reads in it. The one metric on a CPU
that says whether a video follows its prompt.

What is checked, from the run's record:
- a caption in the world's grammar (text-to-video, digital world: the enhanced prompt): shape, colour and
  background over the whole video, and the motion of every segment;
- extend_video: every new segment moves as the input does (the motion the judge reads in the input) and keeps its
  shape, colour and background;
- an edit instruction ("make it green", "make the background gray"; edit_video, image_to_video): the asked colour
  or background;
- connect_videos: the transition starts as A's last frame reads and ends as B's first frame reads, and every frame
  of it holds the shape on the straight line between them (`transition_checks`).
The value is the share of these checks passed (1.0: all of them); the reason names the ones failed. Videos of
another size, or runs asking for nothing the world knows, have no value and say why. Its backend is "mini-judge",
whatever backend the run was evaluated with.
"""

from __future__ import annotations

import numpy as np

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
    if task == "connect_videos" and len(lengths) == 3:  # A, the transition, B
        a, t = lengths[0], lengths[1]
        return _score(transition_checks(video.frames[a:a + t], video.frames[a - 1], video.frames[a + t]), task)
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


def _shape_at(frame: np.ndarray) -> tuple[float, float, float, float]:
    """Where a frame's shape is, how much of it there is and how spread it is: the centroid (x, y, in pixels) of each
    pixel's distance from the background (the median of the border pixels, where the world never draws a shape), the
    total of those distances, and their spread (the root mean square distance from the centroid, in pixels)."""
    f = frame.astype(np.float32)
    border = np.concatenate([f[0], f[-1], f[:, 0], f[:, -1]])
    weight = np.abs(f - np.median(border, axis=0)).sum(-1)
    mass = float(weight.sum())
    if mass <= 0:
        return 0.0, 0.0, 0.0, 0.0
    ys, xs = np.mgrid[0:f.shape[0], 0:f.shape[1]] + 0.5
    x, y = float((weight * xs).sum() / mass), float((weight * ys).sum() / mass)
    return x, y, mass, float(np.sqrt((weight * ((xs - x) ** 2 + (ys - y) ** 2)).sum() / mass))


def transition_checks(middle: np.ndarray, before: np.ndarray, after: np.ndarray) -> dict[str, bool]:
    """Whether the frames `middle` (uint8 (T, 16, 16, 3)) between `before` (A's last frame) and `after` (B's first)
    carry the world's transition (`world.Transition`): the first of them reads as A's frame does (shape, colour,
    background, by the mini judge), the last as B's, and every one holds one shape (at least a quarter of the lesser
    of A's and B's, no more spread than theirs by 0.75 pixels: not two fading ghosts) within 2 pixels of the straight
    line's point from where the shape was to where it will be."""
    seen = read(np.stack([before, middle[0], middle[-1], after])[:, None])
    checks = {"starts as A": seen[1] == seen[0], "ends as B": seen[2] == seen[3]}
    (ax, ay, am, aspread), (bx, by, bm, bspread) = _shape_at(before), _shape_at(after)
    for k, frame in enumerate(middle, 1):
        w = k / (len(middle) + 1)
        x, y, m, spread = _shape_at(frame)
        near = np.hypot(x - ((1 - w) * ax + w * bx), y - ((1 - w) * ay + w * by)) <= 2.0
        one = m >= 0.25 * min(am, bm) and spread <= (1 - w) * aspread + w * bspread + 0.75
        checks[f"shape between (frame {k})"] = bool(near and one)
    return checks


def _score(checks: dict[str, bool], task) -> Score:
    if not checks:
        return unavailable("mini_judge", BACKEND, f"the {task or 'video'} run asked for nothing the mini world's "
                                                  f"grammar names (a caption or an edit instruction)")
    failed = [name for name, ok in checks.items() if not ok]
    return Score("mini_judge", sum(checks.values()) / len(checks), BACKEND,
                 f"wrong: {', '.join(failed)}" if failed else None)
