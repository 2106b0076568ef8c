"""Pictures of MoraMini: a contact sheet of 16x16 images or clips, each blown up with its caption and the judge's
verdict, so a class sees at a glance what the world looks like and what a model drew."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..config import get_profile
from ..video import _font, _wrap


def sheet(images, captions: list[str], verdicts: list[dict] | None = None, scale: int = 8,
          columns: int = 6) -> Image.Image:
    """One tile per image (uint8 (N, H, W, 3); a clip (N, T, H, W, 3) shows its first and last frame side by side),
    scaled up `scale` times with nearest neighbour, its caption below, and the judge's verdict (green: follows the
    caption; red: the attributes it does not) where `verdicts` (from `moranb.mini.judge.follows`) is given."""
    images = np.asarray(images)
    if images.ndim == 5:  # clips: first | last frame
        images = np.concatenate([images[:, 0], np.full_like(images[:, 0, :, :1], 255), images[:, -1]], axis=2)
    h, w = images.shape[1] * scale, images.shape[2] * scale
    tile_w, text_h, gap = max(w, 150), 72, 6
    rows = -(-len(images) // columns)
    out = Image.new("RGB", (columns * (tile_w + gap) + gap, rows * (h + text_h + gap) + gap), "white")
    draw, font = ImageDraw.Draw(out), _font(12)
    for i, image in enumerate(images):
        x, y = gap + (i % columns) * (tile_w + gap), gap + (i // columns) * (h + text_h + gap)
        out.paste(Image.fromarray(image).resize((w, h), Image.NEAREST), (x + (tile_w - w) // 2, y))
        lines = _wrap(captions[i], 23)[:3]
        if verdicts is not None:
            wrong = [name for name, ok in verdicts[i].items() if name != "overall" and not ok]
            lines.append("follows" if not wrong else "wrong: " + ", ".join(wrong))
        for k, line in enumerate(lines):
            colour = "black"
            if verdicts is not None and k == len(lines) - 1:
                colour = (20, 140, 40) if line == "follows" else (200, 30, 30)
            draw.text((x, y + h + 2 + 14 * k), line, fill=colour, font=font)
    return out


def shipped_runs() -> list[tuple[str, dict]]:
    """(agent, its shipped `mini.json`: command, seed, training seconds, loss history, accuracy) for each shipped
    mini agent, in pipeline order (the `mini` profile's model folders)."""
    mini = get_profile("mini")
    return [(agent, json.loads((Path(model.source) / "mini.json").read_text(encoding="utf-8")))
            for agent, model in (("text-to-image", mini.text_to_image.model),
                                 ("image-to-video", mini.image_to_video.model),
                                 ("image-to-image", mini.image_to_image.model))]


def training_curves(runs: list[tuple[str, dict]] | None = None):
    """A matplotlib figure: one panel per shipped agent, its recorded loss by step, one line per training phase
    (vae, unet, decoder), log scale."""
    import matplotlib.pyplot as plt

    runs = shipped_runs() if runs is None else runs
    fig, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3), squeeze=False)
    for ax, (agent, meta) in zip(axes[0], runs):
        history = meta.get("history") or []
        for phase in dict.fromkeys(h["phase"] for h in history):
            ax.plot(*zip(*[(h["step"], h["loss"]) for h in history if h["phase"] == phase]), label=phase)
        ax.set_xlabel("step"), ax.set_yscale("log"), ax.set_title(agent)
        if history:
            ax.legend()
    axes[0][0].set_ylabel("loss")
    fig.tight_layout()
    return fig
