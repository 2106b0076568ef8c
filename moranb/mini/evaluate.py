"""How well the `mini` agents follow their prompts, as read by the mini judge, and their sample hashes.

`python -m moranb.mini.evaluate DIR` evaluates the pipeline in DIR by its class:
- text-to-image (`StableDiffusionXLPipeline`): one image for each of `--count` seeded captions (caption i is
  `random_caption(i)`, generator seed i); the share the judge reads right per attribute and for shape, colour and
  background together.
- image-to-video (`StableVideoDiffusionPipeline`): caption i's first frame, as the world draws it, animated with the
  caption's motion bucket; the share of clips whose motion the judge reads as the caption's, and, for "extend", the
  share whose second segment (animated from the first's last frame, as the extend task does) still moves that way.
- image-to-image (`StableDiffusionInstructPix2PixPipeline`): a world frame edited by instruction i; the share where
  the judge reads the asked colour or background, and where the attributes not asked about stayed.
- connection (`LTXConditionPipeline`): held-out transition i's two frames connected by the `mini` connection agent
  with this folder's model, as the connect task does; the share whose transition passes every check of
  `verdict.transition_checks` (starts as A, ends as B, the shape on the line between).
`--record` writes the figures, and the sha256 of a few samples' uint8 pixels, into DIR/mini.json, so a test can check
that the shipped weights still draw the same pixels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import models
from ..config import get_profile
from ..io import save_image, write_json
from . import connection
from .image_to_image import edit_attributes, instructions
from .image_to_video import MOTION_BUCKETS
from .judge import APPEARANCE, read
from .show import sheet
from .world import FPS, FRAMES, SIZE, parse_caption, random_attributes, random_caption, random_transition, render_clip

# The sampler settings and the shipped pipeline folders are the `mini` profile's (`moranb.config.mini_profile`).
MINI = get_profile("mini")
T2I, I2V, I2I = MINI.text_to_image, MINI.image_to_video, MINI.image_to_image
STEPS, GUIDANCE = T2I.steps, T2I.guidance_scale
# image-to-video: Euler steps, noise augmentation of the conditioning frame, guidance (min and max: one value, 1.0)
VIDEO_STEPS, NOISE_AUG = I2V.steps, I2V.noise_aug_strength
VIDEO_GUIDANCE = (I2V.min_guidance, I2V.max_guidance)
EDIT_STEPS, EDIT_GUIDANCE, EDIT_IMAGE_GUIDANCE = I2I.steps, I2I.guidance_scale, I2I.image_guidance_scale
# The pipeline folders shipped in the package (moranb.config.MINI_WEIGHTS).
SHIPPED, SHIPPED_VIDEO, SHIPPED_EDIT = Path(T2I.model.source), Path(I2V.model.source), Path(I2I.model.source)
HASH_SEEDS = (0, 1, 2, 3)
CONNECTION_CASES = 2 * 10**16  # world seeds of the held-out connection cases
# The profile field each shipped pipeline class is (named in a loading error).
FIELDS = {"StableDiffusionXLPipeline": "text_to_image", "StableVideoDiffusionPipeline": "image_to_video",
          "StableDiffusionInstructPix2PixPipeline": "image_to_image", "LTXConditionPipeline": "connection"}


def load_pipeline(folder):
    """The pipeline saved in `folder`, of the class its model_index.json names, through `moranb.models.from_pretrained`
    (safetensors only). A new copy each call, kept by the caller (the tasks' agents keep theirs in `models.load`)."""
    import diffusers

    name = json.loads((Path(folder) / "model_index.json").read_text(encoding="utf-8"))["_class_name"]
    field = FIELDS.get(name, "text_to_image")
    pipe = models.from_pretrained(getattr(diffusers, name), models.Model(str(folder)), field,
                                  dtype=torch.float32)  # files may hold float16
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(pipe, seeds, guidance_scale: float = GUIDANCE, steps: int = STEPS) -> tuple[np.ndarray, list[str]]:
    """uint8 images (N, 16, 16, 3) for the captions of `seeds`, each with its own seeded generator, in one batch."""
    captions = [random_caption(int(s)) for s in seeds]
    images = pipe(captions, height=SIZE, width=SIZE, num_inference_steps=steps, guidance_scale=guidance_scale,
                  generator=[torch.Generator("cpu").manual_seed(int(s)) for s in seeds], output_type="np").images
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), captions


def sha256(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()


def sample_grid(images: np.ndarray, columns: int = 8, scale: int = 6):
    """uint8 images (N, H, W, 3) as one PIL grid, enlarged with nearest neighbour so the pixels stay honest."""
    n, h, w, _ = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1, 3), 255, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = image
    return Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)


def _steps(items, progress: bool, what: str):
    from tqdm import tqdm

    return tqdm(items, desc=what, disable=not progress, leave=False)


def accuracy(pipe, count: int = 200, guidance_scale: float = GUIDANCE, batch: int = 50,
             progress: bool = False) -> dict[str, float]:
    """Share of `count` seeded captions whose image the judge reads right, per attribute and all three together."""
    right = {name: 0 for name in APPEARANCE + ("all",)}
    for first in _steps(range(0, count, batch), progress, f"text-to-image, {batch} captions a batch"):
        images, captions = generate(pipe, range(first, min(count, first + batch)), guidance_scale)
        for seen, caption in zip(read(images[:, None]), captions):
            wanted = parse_caption(caption)
            ok = [seen[name] == getattr(wanted, name) for name in APPEARANCE]
            for name, good in zip(APPEARANCE, ok):
                right[name] += good
            right["all"] += all(ok)
    return {name: n / count for name, n in right.items()}


def animate(pipe, first_frames: np.ndarray, motion: str, seed: int, steps: int = VIDEO_STEPS) -> np.ndarray:
    """uint8 clip (8, 16, 16, 3) animating `first_frames` (16, 16, 3) with `motion`'s bucket, generator `seed`."""
    out = pipe(image=Image.fromarray(first_frames), height=SIZE, width=SIZE, num_frames=FRAMES,
               num_inference_steps=steps, fps=int(FPS), motion_bucket_id=MOTION_BUCKETS[motion],
               noise_aug_strength=NOISE_AUG, min_guidance_scale=VIDEO_GUIDANCE[0],
               max_guidance_scale=VIDEO_GUIDANCE[1], decode_chunk_size=FRAMES,
               generator=torch.Generator("cpu").manual_seed(int(seed)), output_type="np")
    return (np.clip(np.asarray(out.frames[0]), 0, 1) * 255).round().astype(np.uint8)


def video_samples(pipe, seeds, extend: bool = True):
    """For each seed: the caption, its clip animated from the world's first frame and (extend) a second segment
    animated from the clip's last frame."""
    for seed in seeds:
        caption = random_caption(int(seed))
        attrs = parse_caption(caption)
        clip = animate(pipe, render_clip(attrs, int(seed))[0], attrs.motion, seed)
        yield caption, clip, animate(pipe, clip[-1], attrs.motion, seed + 1) if extend else None


def video_accuracy(pipe, count: int = 200, progress: bool = False) -> dict[str, float]:
    """Share of `count` seeded captions whose clip moves as captioned ("motion"), whose extension moves so too
    ("extend_motion"), and whose clip keeps the caption's shape, colour and background ("appearance")."""
    right = {"motion": 0, "extend_motion": 0, "appearance": 0}
    for caption, clip, more in _steps(video_samples(pipe, range(count)), progress, "image-to-video"):
        wanted = parse_caption(caption)
        seen, seen_more = read(np.stack([clip, more]))
        right["motion"] += seen["motion"] == wanted.motion
        right["extend_motion"] += seen_more["motion"] == wanted.motion
        right["appearance"] += all(seen[name] == getattr(wanted, name) for name in APPEARANCE)
    return {name: n / count for name, n in right.items()}


def edit_case(seed: int):
    """Edit case `seed`: a world frame, an instruction and the attributes the edited frame should have."""
    attrs = random_attributes(int(seed))
    changes = [text for text in instructions() if edit_attributes(attrs, text) != attrs]  # edits that change it
    instruction = changes[int(seed) % len(changes)]
    return render_clip(attrs, int(seed), times=[0])[0], instruction, edit_attributes(attrs, instruction)


def edit(pipe, frame: np.ndarray, instruction: str, seed: int, steps: int = EDIT_STEPS) -> np.ndarray:
    out = pipe(prompt=instruction, image=Image.fromarray(frame), num_inference_steps=steps,
               guidance_scale=EDIT_GUIDANCE, image_guidance_scale=EDIT_IMAGE_GUIDANCE,
               generator=torch.Generator("cpu").manual_seed(int(seed)), output_type="np").images[0]
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def edit_accuracy(pipe, count: int = 200, progress: bool = False) -> dict[str, float]:
    """Share of `count` edit cases where the judge reads the asked attribute ("edited"), the others as they were
    ("kept"), and both ("all")."""
    right = {"edited": 0, "kept": 0, "all": 0}
    for seed in _steps(range(count), progress, "edits"):
        frame, instruction, wanted = edit_case(seed)
        seen = read(edit(pipe, frame, instruction, seed)[None, None])[0]
        asked = "colour" if instruction.startswith("make it") else "background"
        edited = seen[asked] == getattr(wanted, asked)
        kept = all(seen[name] == getattr(wanted, name) for name in APPEARANCE if name != asked)
        right["edited"] += edited
        right["kept"] += kept
        right["all"] += edited and kept
    return {name: n / count for name, n in right.items()}


def connection_case(seed: int):
    """Connection case `seed`: A's last frame, B's first frame and the world's own frames between them (held out:
    the trainer draws its transitions from seeds near (its seed + 1) x 10^12 and 10^16)."""
    frames = random_transition(CONNECTION_CASES + int(seed)).render(connection.FRAMES)
    return frames[0], frames[-1], frames[1:-1]


def connect(agent, before: np.ndarray, after: np.ndarray, seed: int) -> np.ndarray:
    """uint8 (7, 16, 16, 3): what the connection `agent` makes between two 16x16 frames, as the connect task asks
    it (the frames enlarged to 32x32, the transition resized back)."""
    from ..video import Video

    size = SIZE * connection.UPSCALE
    made = agent(Image.fromarray(before).resize((size, size)), Image.fromarray(after).resize((size, size)), seed=seed)
    return Video(made.frames, FPS).resized(SIZE, SIZE).frames


def connection_accuracy(folder, count: int = 200) -> dict[str, float]:
    """Share of `count` held-out connection cases whose transition passes every check of
    `verdict.transition_checks` ("all"), and each kind of check alone, for the pipeline saved in `folder`."""
    from ..agents import ConnectionAgent

    return transition_accuracy(ConnectionAgent(MINI.replace(connection=dict(model=models.Model(str(folder))))), count)


def transition_accuracy(agent, count: int = 200, first: int = 0) -> dict[str, float]:
    """`connection_accuracy` of a `ConnectionAgent` (any profile's: fine-tuned adapters included) on the `count`
    held-out cases from case `first` on (case `first + i` made with generator seed i)."""
    from .verdict import transition_checks

    right = {"starts as A": 0, "ends as B": 0, "shape between": 0, "all": 0}
    for seed in range(count):
        before, after, _ = connection_case(first + seed)
        checks = transition_checks(connect(agent, before, after, seed), before, after)
        right["starts as A"] += checks["starts as A"]
        right["ends as B"] += checks["ends as B"]
        right["shape between"] += all(v for k, v in checks.items() if k.startswith("shape between"))
        right["all"] += all(checks.values())
    return {name: n / count for name, n in right.items()}


def _record(folder: Path, update: dict) -> None:
    meta_path = folder / "mini.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    meta.update(update)
    write_json(meta_path, meta)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moranb.mini.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a mini pipeline folder (text-to-image, image-to-video or edit)")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--guidance", type=float, nargs="+", default=[GUIDANCE], help="text-to-image only")
    parser.add_argument("--png", type=Path, help="also write the first 32 samples as a grid PNG here")
    parser.add_argument("--record", action="store_true", help="write accuracy and sample hashes into mini.json")
    args = parser.parse_args(argv)
    if json.loads((args.folder / "model_index.json").read_text(encoding="utf-8"))["_class_name"] == \
            "LTXConditionPipeline":
        result = connection_accuracy(args.folder, args.count)
        print(json.dumps(result), file=sys.stderr)
        if args.record:
            from ..agents import ConnectionAgent

            agent = ConnectionAgent(MINI.replace(connection=dict(model=models.Model(str(args.folder)))))
            with models.torch_threads(1):  # hashes are made, and checked, with one thread
                made = [connect(agent, *connection_case(s)[:2], s) for s in HASH_SEEDS]
            _record(args.folder, {
                "sampling": {"num_inference_steps": MINI.connection.steps,
                             "guidance_scale": MINI.connection.guidance_scale},
                "accuracy": {"cases": f"connection_case(i), generator seed i, i < {args.count}", **result},
                "samples": [{"seed": s, "sha256": sha256(m)} for s, m in zip(HASH_SEEDS, made)]})
        return 0
    pipe = load_pipeline(args.folder)
    kind = type(pipe).__name__
    prompts = f"random_caption(i), generator seed i, i < {args.count}"
    if kind == "StableVideoDiffusionPipeline":
        result = video_accuracy(pipe, args.count)
        print(json.dumps(result), file=sys.stderr)
        if args.png:
            samples = list(video_samples(pipe, range(16), extend=False))
            sheet([clip for _, clip, _ in samples], [c for c, _, _ in samples]).save(args.png)
        if args.record:
            with models.torch_threads(1):  # hashes are made, and checked, with one thread
                clips = [clip for _, clip, _ in video_samples(pipe, HASH_SEEDS, extend=False)]
            _record(args.folder, {
                "sampling": {"num_inference_steps": VIDEO_STEPS, "noise_aug_strength": NOISE_AUG,
                             "guidance": VIDEO_GUIDANCE[1]},
                "accuracy": {"prompts": f"{prompts}; first frame render_clip(caption, seed i)[0]", **result},
                "samples": [{"seed": s, "sha256": sha256(c)} for s, c in zip(HASH_SEEDS, clips)]})
        return 0
    if kind == "StableDiffusionInstructPix2PixPipeline":
        result = edit_accuracy(pipe, args.count)
        print(json.dumps(result), file=sys.stderr)
        if args.record:
            with models.torch_threads(1):  # hashes are made, and checked, with one thread
                edits = [edit(pipe, *edit_case(s)[:2], s) for s in HASH_SEEDS]
            _record(args.folder, {
                "sampling": {"num_inference_steps": EDIT_STEPS, "guidance_scale": EDIT_GUIDANCE,
                             "image_guidance_scale": EDIT_IMAGE_GUIDANCE},
                "accuracy": {"cases": f"edit_case(i), generator seed i, i < {args.count}", **result},
                "samples": [{"seed": s, "sha256": sha256(e)} for s, e in zip(HASH_SEEDS, edits)]})
        return 0
    results = {}
    for g in args.guidance:
        results[g] = accuracy(pipe, args.count, g)
        print(f"guidance {g}: {json.dumps(results[g])}", file=sys.stderr)
    if args.png:
        images, captions = generate(pipe, range(32))
        save_image(sample_grid(images), args.png)
        print("\n".join(f"{i:2d} {c}" for i, c in enumerate(captions)), file=sys.stderr)
    if args.record:
        with models.torch_threads(1):  # hashes are made, and checked, with one thread
            images, captions = generate(pipe, HASH_SEEDS)
        _record(args.folder, {"sampling": {"num_inference_steps": STEPS, "guidance_scale": GUIDANCE},
                              "accuracy": {"prompts": prompts, **{str(g): r for g, r in results.items()}},
                              "samples": [{"seed": s, "caption": c, "sha256": sha256(im)}
                                          for s, c, im in zip(HASH_SEEDS, captions, images)]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
