"""How well the `mini` text-to-image model follows its prompts, as read by the mini judge, and its sample hashes.

`python -m moranb.mini.evaluate DIR` generates one image for each of `--count` seeded captions (caption i is
`random_caption(i)`, generator seed i), reads them with the judge and prints the share correct per attribute and for
shape, colour and background together; `--record` writes that, and the sha256 of a few samples' uint8 pixels, into
DIR/mini.json, so a test can check that the shipped weights still draw the same pixels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from .judge import APPEARANCE, read
from .world import SIZE, parse_caption, random_caption

STEPS, GUIDANCE = 25, 2.0
SHIPPED = Path(__file__).parent / "weights" / "text_to_image"  # the pipeline folder shipped in the package
HASH_SEEDS = (0, 1, 2, 3)


def load_pipeline(folder):
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(folder)
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
    from PIL import Image

    n, h, w, _ = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1, 3), 255, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = image
    return Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)


def accuracy(pipe, count: int = 200, guidance_scale: float = GUIDANCE, batch: int = 50) -> dict[str, float]:
    """Share of `count` seeded captions whose image the judge reads right, per attribute and all three together."""
    right = {name: 0 for name in APPEARANCE + ("all",)}
    for first in range(0, count, batch):
        images, captions = generate(pipe, range(first, min(count, first + batch)), guidance_scale)
        for seen, caption in zip(read(images[:, None]), captions):
            wanted = parse_caption(caption)
            ok = [seen[name] == getattr(wanted, name) for name in APPEARANCE]
            for name, good in zip(APPEARANCE, ok):
                right[name] += good
            right["all"] += all(ok)
    return {name: n / count for name, n in right.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moranb.mini.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a mini text-to-image pipeline folder")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--guidance", type=float, nargs="+", default=[GUIDANCE])
    parser.add_argument("--png", type=Path, help="also write the first 32 samples as a grid PNG here")
    parser.add_argument("--record", action="store_true", help="write accuracy and sample hashes into mini.json")
    args = parser.parse_args(argv)
    pipe = load_pipeline(args.folder)
    results = {}
    for g in args.guidance:
        results[g] = accuracy(pipe, args.count, g)
        print(f"guidance {g}: {json.dumps(results[g])}", file=sys.stderr)
    if args.png:
        from ..io import save_image

        images, captions = generate(pipe, range(32))
        save_image(sample_grid(images), args.png)
        print("\n".join(f"{i:2d} {c}" for i, c in enumerate(captions)), file=sys.stderr)
    if args.record:
        from ..io import write_json

        meta_path = args.folder / "mini.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        images, captions = generate(pipe, HASH_SEEDS)
        meta.update({"sampling": {"num_inference_steps": STEPS, "guidance_scale": GUIDANCE},
                     "accuracy": {"prompts": f"random_caption(i), generator seed i, i < {args.count}",
                                  **{str(g): r for g, r in results.items()}},
                     "samples": [{"seed": s, "caption": c, "sha256": sha256(im)}
                                 for s, c, im in zip(HASH_SEEDS, captions, images)]})
        write_json(meta_path, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
