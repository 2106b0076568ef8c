"""MoraMini's procedural world: one coloured shape moving on a plain background, rendered from a seed.

A clip is `frames` frames of `size` x `size` pixels (default 8 frames of 16x16, the size the issue measured as
learnable on a CPU). Its caption follows one fixed grammar,

    a <colour> <shape> <motion> on a <background> background

e.g. "a red circle moving left on a blue background", and `parse_caption` reads a caption back into its
attributes, so the `mini` prompt agent, the trainers and the judge share one vocabulary. Shapes are rendered at
4x the size and averaged down (antialiased), so a 16x16 circle, square and triangle stay distinguishable.
Everything is a function of the seed: the same seed gives the same pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..checks import check_count, check_prompt, check_seed
from ..errors import InputError
from ..video import Video

SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "yellow": (240, 220, 40), "white": (245, 245, 245)}
BACKGROUNDS = {"black": (15, 15, 15), "blue": (30, 60, 170), "gray": (120, 120, 120)}
# The motion's words in a caption; "still" reads "standing still".
MOTIONS = {"left": "moving left", "right": "moving right", "up": "moving up", "down": "moving down",
           "grow": "growing", "still": "standing still"}
ATTRIBUTES = {"shape": SHAPES, "colour": tuple(COLOURS), "background": tuple(BACKGROUNDS), "motion": tuple(MOTIONS)}
SIZE, FRAMES, FPS = 16, 8, 8.0
SUPERSAMPLE = 4
# A path is PARTS clips long (so a clip can be extended inside the frame); per clip it travels TRAVEL (a share of
# the frame) or grows by GROWTH.
PARTS, TRAVEL, GROWTH = 2, (0.17, 0.2), 1.3

_CAPTION = re.compile(r"^an? (?P<colour>\w+) (?P<shape>\w+) (?P<motion>moving \w+|\w+(?: \w+)?) "
                      r"on an? (?P<background>\w+) background$")


@dataclass(frozen=True)
class Attributes:
    shape: str
    colour: str
    background: str
    motion: str = "still"

    def __post_init__(self):
        for name, allowed in ATTRIBUTES.items():
            if getattr(self, name) not in allowed:
                raise InputError(f"unknown {name} {getattr(self, name)!r}; the world knows {', '.join(allowed)}")

    @property
    def caption(self) -> str:
        return f"a {self.colour} {self.shape} {MOTIONS[self.motion]} on a {self.background} background"


def random_attributes(seed: int) -> Attributes:
    rng = np.random.default_rng([check_seed(seed), 1])
    return Attributes(*(str(rng.choice(ATTRIBUTES[name])) for name in ("shape", "colour", "background", "motion")))


def random_caption(seed: int) -> str:
    """A caption in the world's grammar, drawn from `seed` (what the `mini` prompt agent writes)."""
    return random_attributes(seed).caption


# Words a person may use for the world's own (the mini prompt agent's small thesaurus).
SYNONYMS = {"ball": "circle", "disc": "circle", "dot": "circle", "round": "circle", "box": "square",
            "block": "square", "cube": "square", "pyramid": "triangle", "grey": "gray", "dark": "black",
            "sky": "blue", "grows": "grow", "growing": "grow", "bigger": "grow", "static": "still",
            "standing": "still", "upward": "up", "upwards": "up", "downward": "down", "downwards": "down"}


def caption_for(text: str) -> str:
    """A caption in the world's grammar for any prompt: the prompt itself if it follows the grammar, else the
    shape, colour, background and motion its words name (or `SYNONYMS` map to), the others drawn from a hash of the
    prompt, so the same prompt always gets the same caption ("a ball rolling left" -> "a ... circle moving left on
    a ... background"). What the `mini` profile's prompt agent writes."""
    import hashlib

    text = check_prompt(text)
    try:
        return parse_caption(text).caption
    except InputError:
        pass
    named = {}
    for word in re.findall(r"[a-z]+", text.lower()):
        word = SYNONYMS.get(word, word)
        for name, allowed in ATTRIBUTES.items():
            if word in allowed:
                named.setdefault(name, word)
    drawn = random_attributes(int.from_bytes(hashlib.sha256(text.encode()).digest()[:6], "big"))
    return Attributes(**{name: named.get(name, getattr(drawn, name)) for name in ATTRIBUTES}).caption


def parse_caption(text: str) -> Attributes:
    """The attributes a caption names; one-line error naming the grammar and its words if it does not follow it."""
    words = " ".join(check_prompt(text, "caption").lower().rstrip(".").split())
    match = _CAPTION.match(words)
    if match is None:
        raise InputError(f"caption {text!r} does not follow the mini grammar 'a <colour> <shape> <motion> on a "
                         f"<background> background' (e.g. \"a red circle moving left on a blue background\")")
    motions = {phrase: name for name, phrase in MOTIONS.items()}
    found = match.groupdict()
    if found["motion"] not in motions:
        raise InputError(f"unknown motion {found['motion']!r} in {text!r}; the world knows "
                         f"{', '.join(repr(p) for p in MOTIONS.values())}")
    return Attributes(shape=found["shape"], colour=found["colour"], background=found["background"],
                      motion=motions[found["motion"]])


def _mask(shape: str, cx: float, cy: float, r: float, n: int) -> np.ndarray:
    """Coverage of the shape on an n x n supersampled grid (coordinates in output pixels)."""
    ys, xs = (np.mgrid[0:n, 0:n] + 0.5) / SUPERSAMPLE
    dx, dy = xs - cx, ys - cy
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        half = r * 0.85  # about the circle's area, so size alone does not give the shape away
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    # An upright triangle inscribed in a slightly larger circle: apex up, flat base.
    rr = r * 1.25
    top, base = cy - rr, cy + rr * 0.5
    half_width = (ys - top) / (base - top) * rr * np.sqrt(3) / 2
    return (ys >= top) & (ys <= base) & (np.abs(dx) <= half_width)


def _path(attrs: Attributes, seed: int, size: int):
    """A seed's path: (start centre, travel per clip, step direction, start radius, growth per clip)."""
    rng = np.random.default_rng([check_seed(seed), 2])
    r0 = size * rng.uniform(0.17, 0.23)
    growth = GROWTH if attrs.motion == "grow" else 1.0  # the radius's factor per clip
    travel = size * rng.uniform(*TRAVEL)  # per clip
    step = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}.get(attrs.motion, (0, 0))
    margin = r0 * growth**PARTS * 1.15 + 0.5
    # A start such that the whole path, all its parts, stays inside the frame.
    lo = [margin - min(0, d) * travel * PARTS for d in step]
    hi = [size - margin - max(0, d) * travel * PARTS for d in step]
    start = [rng.uniform(a, b) if b > a else size / 2 for a, b in zip(lo, hi)]
    return start, travel, step, r0, growth


def frame_state(attrs: Attributes, seed: int, t: int, size: int = SIZE, frames: int = FRAMES,
                part: int = 0) -> tuple[float, float, float]:
    """Where frame `t` of the clip (`render_clip`'s arguments) draws its shape: centre x, centre y, radius."""
    start, travel, step, r0, growth = _path(attrs, seed, size)
    f = part + t / (frames - 1)  # along the path, in clips
    return (start[0] + step[0] * travel * f, start[1] + step[1] * travel * f,
            r0 * growth ** part * (1 + (growth - 1) * (f - part)))


def draw(attrs: Attributes, cx: float, cy: float, radius: float, size: int = SIZE) -> np.ndarray:
    """One frame, float32 (size, size, 3) in 0-255: `attrs`' shape and colour at (cx, cy) with `radius` on its
    background, antialiased."""
    n = size * SUPERSAMPLE
    colour = np.array(COLOURS[attrs.colour], np.float32)
    background = np.array(BACKGROUNDS[attrs.background], np.float32)
    cover = _mask(attrs.shape, cx, cy, radius, n).astype(np.float32)
    alpha = cover.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))[..., None]
    return background + alpha * (colour - background)


def render_clip(attrs: Attributes, seed: int = 0, size: int = SIZE, frames: int = FRAMES,
                times: list[int] | None = None, part: int = 0) -> np.ndarray:
    """The clip of `attrs`, uint8 (frames, size, size, 3); `seed` picks the start position and size.

    A seed's path is `PARTS` clips long and stays inside the frame throughout, so every clip can be continued: `part`
    1 renders the clip that follows part 0 (what the extend task asks a video model for; the video trainer and the
    judge see both parts). `times` renders only those frames of the clip (what a text-to-image trainer needs: one
    frame, not eight).
    """
    if not isinstance(attrs, Attributes):
        raise InputError(f"render_clip needs Attributes (see parse_caption); got {type(attrs).__name__}")
    size = check_count(size, "size", minimum=8, limit=256)
    frames = check_count(frames, "frames", minimum=2, limit=64)
    if part not in range(PARTS):
        raise InputError(f"part must be one of {list(range(PARTS))}; got {part!r}")
    times = list(range(frames)) if times is None else list(times)
    if not all(isinstance(t, int) and 0 <= t < frames for t in times):
        raise InputError(f"times must be frame indices from 0 to {frames - 1}; got {times}")
    out = np.empty((len(times), size, size, 3), np.uint8)
    for i, t in enumerate(times):
        out[i] = np.rint(draw(attrs, *frame_state(attrs, seed, t, size, frames, part), size)).astype(np.uint8)
    return out


@dataclass(frozen=True)
class Transition:
    """What the world does between the last frame of one clip (`a`) and the first frame of another (`b`): the shape
    travels in a straight line from where it was to where it will be, its size changes evenly, and its look (shape,
    colour, background) dissolves from a's to b's. Frame 0 is a's last frame, frame `frames - 1` b's first."""

    a: Attributes
    b: Attributes
    start: tuple[float, float, float]  # a's last frame: centre x, centre y, radius
    end: tuple[float, float, float]  # b's first frame

    def state(self, k: int, frames: int) -> tuple[float, float, float]:
        w = k / (frames - 1)
        return tuple((1 - w) * s + w * e for s, e in zip(self.start, self.end))

    def render(self, frames: int = 9, size: int = SIZE) -> np.ndarray:
        """uint8 (frames, size, size, 3)."""
        out = np.empty((frames, size, size, 3), np.uint8)
        for k in range(frames):
            w, state = k / (frames - 1), self.state(k, frames)
            mixed = (1 - w) * draw(self.a, *state, size) + w * draw(self.b, *state, size)
            out[k] = np.rint(mixed).astype(np.uint8)
        return out


def random_transition(seed: int, size: int = SIZE) -> Transition:
    """A pair of world clips to connect, drawn from `seed`: half the time one scene with a clip's length of its path
    left out (A is the path's first clip; B starts where its second clip ends), otherwise two clips of two random
    scenes."""
    rng = np.random.default_rng([check_seed(seed), 3])
    a_seed, b_seed = (int(x) for x in rng.integers(0, 2**62, 2))
    a = random_attributes(a_seed)
    if rng.random() < 0.5:
        return Transition(a, a, frame_state(a, a_seed, FRAMES - 1, size, FRAMES, 0),
                          frame_state(a, a_seed, FRAMES - 1, size, FRAMES, 1))
    b = random_attributes(b_seed)
    return Transition(a, b, frame_state(a, a_seed, FRAMES - 1, size, FRAMES, int(rng.integers(2))),
                      frame_state(b, b_seed, 0, size, FRAMES, int(rng.integers(2))))


def world_clip(seed: int, size: int = SIZE, frames: int = FRAMES) -> tuple[np.ndarray, Attributes]:
    """A random clip of the world and its attributes (caption: `attrs.caption`)."""
    attrs = random_attributes(seed)
    return render_clip(attrs, seed, size, frames), attrs


def world_video(caption: str, seed: int = 0, size: int = SIZE, frames: int = FRAMES):
    """The world's own rendering of `caption` as a `Video` (the truth a generated video is compared with)."""
    return Video(render_clip(parse_caption(caption), seed, size, frames), FPS)


def world_batch(seeds, size: int = SIZE, frames: int = FRAMES, parts: bool = False
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Clips for `seeds`, uint8 (N, frames, size, size, 3), and each attribute's class indices (N,). With `parts`,
    odd seeds give their path's second clip (`render_clip(part=1)`)."""
    clips, labels = [], {name: [] for name in ATTRIBUTES}
    for seed in seeds:
        attrs = random_attributes(int(seed))
        clips.append(render_clip(attrs, int(seed), size, frames, part=int(seed) % 2 if parts else 0))
        for name, allowed in ATTRIBUTES.items():
            labels[name].append(allowed.index(getattr(attrs, name)))
    return np.stack(clips), {name: np.array(v, np.int64) for name, v in labels.items()}
