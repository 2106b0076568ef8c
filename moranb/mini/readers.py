"""Two more ways to read a MoraMini video, beside the trained judge (`judge.py`): by hand-written pixel rules, and by
fitting the world's own renderer.

- `pixel_read` (judge B of a mini data round, "mini-pixels"): no training. The background is the median of the border
  pixels (the world never draws a shape there); the shape's pixels are those far from it; their colour is the nearest
  of the world's colours, the shape the one whose fill of its bounding box is nearest (square 1, circle pi/4,
  triangle 1/2); the motion is where the shape's centre and size went from the first frame to the last.
- `world_read` (the simulated person, "the world's own labels"): analysis by synthesis. Every frame is matched to the
  nearest frame the world can draw (`world.draw`: each shape, colour and background, centres on a half-pixel grid,
  radii from the smallest start to the largest grown size); its attributes are the nearest frame's, its motion what
  the fitted centre and radius did. On the world's own clips it reads what they are (`python -m moranb.mini.loop
  readers` measures it); on a generated video it reads the world frame nearest to it, the closest thing to a person's
  reading this project has. It stands in for a person in headless rounds and is recorded as a policy
  (`policy:simulated-person`), never as a human.
"""

from __future__ import annotations

import numpy as np

from .world import ATTRIBUTES, BACKGROUNDS, COLOURS, GROWTH, PARTS, SIZE, SUPERSAMPLE, _mask

PALETTE = np.array(list(COLOURS.values()), np.float32)
GROUNDS = np.array(list(BACKGROUNDS.values()), np.float32)
FILL = {"square": 1.0, "circle": np.pi / 4, "triangle": 0.5}  # a shape's share of its bounding box
MOVE, GROW = 1.2, 1.12  # pixels of travel that count as a move; radius factor that counts as growing


def motion_from(start: tuple[float, float, float], end: tuple[float, float, float]) -> str:
    """The world's motion between two (centre x, centre y, radius) states: a clip travels 2.7 to 3.2 pixels or grows
    by a factor of 1.3; less than `MOVE` pixels and `GROW` is still."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    if max(abs(dx), abs(dy)) >= MOVE:
        if abs(dx) >= abs(dy):
            return "right" if dx > 0 else "left"
        return "down" if dy > 0 else "up"
    return "grow" if end[2] >= GROW * start[2] else "still"


# -- judge B: pixel rules -------------------------------------------------------------------------------------------

def _pixel_frame(frame: np.ndarray) -> dict:
    f = frame.astype(np.float32)
    border = np.concatenate([f[0], f[-1], f[:, 0], f[:, -1]])
    ground = np.median(border, axis=0)
    distance = np.abs(f - ground).sum(-1)
    top = float(distance.max())
    mask = distance >= 0.5 * top if top > 30 else np.zeros(distance.shape, bool)
    out = {"ground": ground, "mask": mask}
    if not mask.any():
        return {**out, "colour_rgb": ground, "fill": 0.0, "state": (SIZE / 2, SIZE / 2, 0.0)}
    ys, xs = np.nonzero(mask)
    box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    weight = distance * mask
    cx = float((weight * (np.arange(SIZE) + 0.5)[None]).sum() / weight.sum())
    cy = float((weight * (np.arange(SIZE) + 0.5)[:, None]).sum() / weight.sum())
    return {**out, "colour_rgb": f[mask].mean(0), "fill": mask.sum() / box,
            "state": (cx, cy, float(np.sqrt(mask.sum() / np.pi)))}


def pixel_read(clip: np.ndarray) -> dict:
    """What the pixel rules read in a uint8 clip (T, 16, 16, 3): attributes, and per attribute a score for every
    value the world knows (higher is more like it), for a judge to rank candidates by."""
    frames = [_pixel_frame(f) for f in clip]
    ground = np.median([f["ground"] for f in frames], axis=0)
    colour = np.median([f["colour_rgb"] for f in frames if f["mask"].any()] or [ground], axis=0)
    fill = float(np.median([f["fill"] for f in frames]))
    scores = {
        "background": {n: -float(np.abs(ground - g).sum()) for n, g in zip(BACKGROUNDS, GROUNDS)},
        "colour": {n: -float(np.abs(colour - c).sum()) for n, c in zip(COLOURS, PALETTE)},
        "shape": {n: -abs(fill - v) for n, v in FILL.items()},
    }
    if len(frames) >= 2:
        seen = motion_from(frames[0]["state"], frames[-1]["state"])
        (x0, y0, r0), (x1, y1, r1) = frames[0]["state"], frames[-1]["state"]
        dx, dy, grow = x1 - x0, y1 - y0, r1 / r0 if r0 else 1.0
        scores["motion"] = {"left": -dx - abs(dy), "right": dx - abs(dy), "up": -dy - abs(dx), "down": dy - abs(dx),
                            "grow": 4 * (grow - 1) - np.hypot(dx, dy), "still": -np.hypot(dx, dy) - 4 * abs(grow - 1)}
        scores["motion"] = {k: float(v) + (1.0 if k == seen else 0.0) for k, v in scores["motion"].items()}
    return {"read": {name: max(s, key=s.get) for name, s in scores.items()}, "scores": scores}


# -- the simulated person: the nearest frame the world can draw -----------------------------------------------------

_BANK: dict = {}


def _bank():
    """Coverage maps (N, 256) of every shape at every centre on a half-pixel grid and every radius, with their
    (shape, cx, cy, r); built once per process (a second)."""
    if not _BANK:
        centres = np.arange(1.0, SIZE - 0.99, 0.5)
        radii = SIZE * 0.17 * np.geomspace(1.0, 0.23 / 0.17 * GROWTH ** PARTS, 9)
        n = SIZE * SUPERSAMPLE
        maps, params = [], []
        for shape in ATTRIBUTES["shape"]:
            for r in radii:
                for cy in centres:
                    for cx in centres:
                        cover = _mask(shape, cx, cy, r, n).astype(np.float32)
                        maps.append(cover.reshape(SIZE, SUPERSAMPLE, SIZE, SUPERSAMPLE).mean(axis=(1, 3)).ravel())
                        params.append((shape, cx, cy, r))
        _BANK["maps"], _BANK["params"] = np.stack(maps), params
        _BANK["norm"] = (_BANK["maps"] ** 2).sum(1)
    return _BANK


def fit_frames(frames: np.ndarray) -> list[tuple[dict, tuple[float, float, float], float]]:
    """For each uint8 frame (N, 16, 16, 3): the world frame nearest to it, its shape, colour and background, its
    (cx, cy, r), and the root mean square error of the fit (0-255 scale). Every look (colour on background) of every
    frame against every coverage map is one matrix product."""
    bank = _bank()
    f = frames.astype(np.float32).reshape(len(frames), -1, 3)
    looks = [(b, c, g, col - g) for b, g in zip(BACKGROUNDS, GROUNDS) for c, col in zip(COLOURS, PALETTE)]
    residual = f[:, None] - np.stack([g for _, _, g, _ in looks])[None, :, None]  # (N, L, 256, 3)
    d = np.stack([d for *_, d in looks])  # (L, 3)
    # ||residual - alpha d||^2 = ||residual||^2 - 2 alpha.(residual.d) + ||alpha||^2 ||d||^2, per coverage map
    proj = np.einsum("nlpc,lc->nlp", residual, d)  # (N, L, 256)
    err = ((residual ** 2).sum((2, 3))[..., None] - 2 * proj @ bank["maps"].T
           + (d ** 2).sum(1)[None, :, None] * bank["norm"][None, None])  # (N, L, maps)
    out = []
    for e in err:
        look, k = np.unravel_index(int(e.argmin()), e.shape)
        background, colour = looks[look][:2]
        shape, cx, cy, r = bank["params"][k]
        out.append(({"shape": shape, "colour": colour, "background": background}, (cx, cy, float(r)),
                    float(np.sqrt(max(float(e[look, k]), 0.0) / (SIZE * SIZE * 3)))))
    return out


def world_read(clip: np.ndarray, segment: int | None = None) -> dict:
    """What the nearest world frames read in a uint8 clip (T, 16, 16, 3), from the first and last frame of each
    `segment`-frame piece (default: the whole clip is one piece): shape, colour and background by a vote over those
    frames, motion from the fitted centre and radius of each piece (all pieces must agree, or it reads "mixed"), and
    the mean fit error."""
    step = segment or len(clip)
    pieces = [(a, min(a + step, len(clip)) - 1) for a in range(0, len(clip), step)]
    times = sorted({t for piece in pieces for t in piece})
    fits = dict(zip(times, fit_frames(clip[times])))
    votes = {name: [fit[0][name] for fit in fits.values()] for name in ("shape", "colour", "background")}
    seen = {name: max(sorted(set(v)), key=v.count) for name, v in votes.items()}
    moves = [(a, b) for a, b in pieces if b > a]
    if moves:
        motions = {motion_from(fits[a][1], fits[b][1]) for a, b in moves}
        seen["motion"] = motions.pop() if len(motions) == 1 else "mixed"
    return {"read": seen, "error": float(np.mean([fit[2] for fit in fits.values()]))}
