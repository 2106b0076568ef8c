"""The judges and the simulated person of a data round on the `mini` profile (`moranb.data.synthesize_round`).

Two judges that see differently pick a top-1 of k candidate videos under a criterion drawn from the world's own
(`CRITERIA`):
- judge A, "mini-judge": the trained classifier (`judge.py`); a candidate's score is the log-probability it gives
  the caption's value of the criterion's attribute (for "caption", the sum over all four; motion read per segment);
- judge B, "mini-pixels": hand-written pixel rules (`readers.pixel_read`); a candidate's score is the criterion's
  rule score (for "caption", how many attributes the rules read right, ties broken by the rule scores).
A tie at the top is an abstention. The simulated person (`person`) reads every candidate by the world's own renderer
(`readers.world_read`), picks the one that shows the whole caption with the smallest fit error, and discards the set
when none does; a round records its decisions as `policy:simulated-person`.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from ..agents.judge import Judgement
from ..errors import InputError
from .readers import pixel_read, world_read
from .world import ATTRIBUTES, FRAMES, SIZE, caption_for, parse_caption

CRITERIA = {
    "caption": "the video shows everything the caption names: its shape, colour, background and motion.",
    "shape": "the shape is the one the caption names, in every frame.",
    "colour": "the shape has the colour the caption names.",
    "background": "the background is the one the caption names.",
    "motion": "the shape moves (or grows, or stands still) as the caption says, in every segment.",
}
NAMES = {"a": "mini-judge", "b": "mini-pixels"}
PERSON = "simulated-person"


def _frames(video) -> np.ndarray:
    frames = video.frames
    if frames.shape[1:3] != (SIZE, SIZE):
        raise InputError(f"the mini judges read {SIZE}x{SIZE} videos of the mini world; got "
                         f"{frames.shape[2]}x{frames.shape[1]}: make the round with the mini profile's size")
    return frames


def _pieces(frames: np.ndarray) -> list[np.ndarray]:
    """The clip's segments (the mini agents' FRAMES each); a short tail joins the last one."""
    bounds = list(range(0, len(frames), FRAMES))
    pieces = [frames[a:a + FRAMES] for a in bounds]
    if len(pieces) > 1 and len(pieces[-1]) < 2:
        pieces = pieces[:-2] + [np.concatenate(pieces[-2:])]
    return pieces


@torch.no_grad()
def cnn_scores(frames: np.ndarray) -> dict[str, dict[str, float]]:
    """Judge A's log-probabilities of every value of every attribute, for one uint8 clip (T, 16, 16, 3)."""
    from .judge import load_judge, to_tensor

    judge = load_judge()
    logits = judge(to_tensor(frames[None]))
    scores = {name: torch.log_softmax(logits[name][0], -1) for name in ("shape", "colour", "background")}
    pieces = [p for p in _pieces(frames) if len(p) >= 2]
    if pieces:
        motion = [torch.log_softmax(judge.motion_logits(to_tensor(p[:1]), to_tensor(p[-1:]))[0], -1) for p in pieces]
        scores["motion"] = torch.stack(motion).mean(0)
    return {name: dict(zip(ATTRIBUTES[name], v.tolist())) for name, v in scores.items()}


def pixel_scores(frames: np.ndarray) -> dict[str, dict[str, float]]:
    """Judge B's rule scores, motion averaged over the segments."""
    scores = pixel_read(frames)["scores"]
    pieces = [p for p in _pieces(frames) if len(p) >= 2]
    if pieces:
        per = [pixel_read(p)["scores"]["motion"] for p in pieces]
        scores["motion"] = {m: float(np.mean([s[m] for s in per])) for m in ATTRIBUTES["motion"]}
    return scores


def shows(seen: dict, wanted) -> bool:
    """Whether a reading (attribute -> value) is the whole caption `wanted` (`Attributes`)."""
    return all(seen.get(name) == getattr(wanted, name) for name in ATTRIBUTES)


def readings(frames: np.ndarray) -> dict[str, dict[str, str]]:
    """What judge A, judge B and the simulated person read in one uint8 clip: shape, colour and background over the
    clip, motion per segment ("mixed" where the segments differ)."""
    from .judge import read

    def per_segment(read_one) -> str:
        moves = {read_one(p) for p in _pieces(frames) if len(p) >= 2}
        return moves.pop() if len(moves) == 1 else "mixed"

    a = {**read(frames[None])[0], "motion": per_segment(lambda p: read(p[None])[0]["motion"])}
    b = {**pixel_read(frames)["read"], "motion": per_segment(lambda p: pixel_read(p)["read"]["motion"])}
    return {"a": a, "b": b, "person": world_read(frames, FRAMES)["read"]}


def _score(scores: dict, wanted, criterion: str, count_right: bool) -> float:
    names = list(scores) if criterion == "caption" else [criterion]
    values = [scores[name][getattr(wanted, name)] for name in names]
    if not count_right or criterion != "caption":
        return float(sum(values))
    right = sum(getattr(wanted, n) == max(scores[n], key=scores[n].get) for n in names)
    return right + 1e-3 * float(np.tanh(np.mean(values) / 100))


def judge(which: str, prompt: str, candidates: list, criterion: str) -> Judgement:
    """Judge `which` ("a" or "b") picks the best of `candidates` (Videos) for `prompt` under `criterion`."""
    if criterion not in CRITERIA:
        raise InputError(f"unknown mini criterion '{criterion}'; choose one of {list(CRITERIA)}")
    wanted = parse_caption(caption_for(prompt))
    read = cnn_scores if which == "a" else pixel_scores
    values = [_score(read(_frames(v)), wanted, criterion, which == "b") for v in candidates]
    raw = json.dumps({"criterion": criterion, "scores": [round(v, 6) for v in values]})
    best, runner_up = sorted(values, reverse=True)[:2]
    if best - runner_up <= 1e-9:
        tied = [i + 1 for i, v in enumerate(values) if best - v <= 1e-9]
        return Judgement(NAMES[which], "plugin", criterion, None, f"candidates {tied} tie on {criterion}; no pick", raw)
    pick = int(np.argmax(values))
    return Judgement(NAMES[which], "plugin", criterion, pick,
                     f"{criterion}: {best:.3f} (next best {runner_up:.3f})", raw)


def person(prompt: str, candidates: list) -> tuple[int | None, str]:
    """The simulated person's decision on a set: the candidate the world's renderer reads as the whole caption (the
    best fit among several), or None (discard) when none shows it; with a reason."""
    wanted = parse_caption(caption_for(prompt))
    seen = [world_read(_frames(v), FRAMES) for v in candidates]
    follows = [i for i, r in enumerate(seen) if shows(r["read"], wanted)]
    if not follows:
        return None, "no candidate shows the whole caption (by the world's renderer)"
    pick = min(follows, key=lambda i: seen[i]["error"])
    return pick, f"candidates {[i + 1 for i in follows]} show the caption; {pick + 1} fits the world best"
