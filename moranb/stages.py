"""A finished stage's value on disk, by its type, and the review decisions that kept it.

`moranb.tasks.run.Run` keeps each finished stage under a base path (`<out_dir>/.stages/<stage>-<run key>`) so that
an identical rerun resumes instead of recomputing. The value is written losslessly, with the suffix its type takes:

- text: `.txt`;
- an image: `.png`;
- a `Video`: `.npz` holding `frames` (uint8) and `fps`;
- a `SegmentedVideo`: `.npz` holding `first` (the image segment 0 animated), `segment0`, `segment1`, ... (uint8)
  and `fps`; the other conditioning images and the joined video follow from these, so they are not stored.

Any other value is not kept (the stage is made again on a rerun). Every file is written atomically, and the review
file before the value, so a kept value always has its review. A kept file that cannot be read (truncated, corrupt)
is discarded with a warning and the stage is made again; a stage that cannot be kept (a full disk, a read-only
folder) is a one-line `OutputDirError`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import OutputDirError
from .io import atomic_path, one_line, save_image, write_text
from .video import SegmentedVideo, Video


def keep(base: Path, value, decisions: list[dict]) -> None:
    """Write `value` (and the review `decisions` that kept it, if any) under `base`."""
    try:
        _keep(base, value, decisions)
    except OSError as exc:
        raise OutputDirError(f"cannot keep stage '{base.name}' in '{base.parent}' ({one_line(exc)}); free some "
                             f"space or make the folder writable, then rerun") from None


def _keep(base: Path, value, decisions: list[dict]) -> None:
    base.parent.mkdir(exist_ok=True)
    review = _review_path(base)  # written before the value, so a kept value has its review
    if decisions:
        write_text(review, json.dumps(decisions, indent=1))
    else:
        review.unlink(missing_ok=True)  # left by an earlier run that stopped before keeping its value
    if isinstance(value, str):
        write_text(base.with_suffix(".txt"), value)
    elif isinstance(value, Image.Image):
        save_image(value, base.with_suffix(".png"))
    elif isinstance(value, Video):
        with atomic_path(base.with_suffix(".npz")) as tmp:
            np.savez(tmp, frames=value.frames, fps=value.fps)
    elif isinstance(value, SegmentedVideo):
        with atomic_path(base.with_suffix(".npz")) as tmp:
            np.savez(tmp, first=np.asarray(value.first.convert("RGB")), fps=value.segments[0].fps,
                     **{f"segment{i}": v.frames for i, v in enumerate(value.segments)})


def load(base: Path):
    """The value kept under `base`, or None when there is none or it cannot be read (then it is discarded, with a
    warning, so the stage is made again)."""
    try:
        return _load(base)
    except Exception as exc:  # BadZipFile, a broken PNG, undecodable text, a missing array: each means "make it again"
        for path in (base.with_suffix(".txt"), base.with_suffix(".png"), base.with_suffix(".npz"), _review_path(base)):
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
        warnings.warn(f"kept stage '{base.name}' cannot be read ({one_line(exc)}); it is discarded and made again",
                      stacklevel=2)
        return None


def _load(base: Path):
    if base.with_suffix(".txt").exists():
        return base.with_suffix(".txt").read_text(encoding="utf-8")
    if base.with_suffix(".png").exists():
        return _whole_png(base.with_suffix(".png"))
    if base.with_suffix(".npz").exists():
        with np.load(base.with_suffix(".npz")) as data:
            fps = float(data["fps"])
            if "frames" in data:
                return Video(data["frames"], fps)
            if "first" not in data:  # segments kept by an older version, without the image they started from
                return None
            count = len([k for k in data.files if k.startswith("segment")])
            return SegmentedVideo(Image.fromarray(data["first"]), [Video(data[f"segment{i}"], fps)
                                                                    for i in range(count)])
    return None


def load_decisions(base: Path) -> list[dict]:
    """The review decisions made when the value under `base` was first made, marked as reused."""
    path = _review_path(base)
    if not path.exists():
        return []
    try:
        return [{**d, "reused": True} for d in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError) as exc:
        warnings.warn(f"review file '{path.name}' cannot be read ({one_line(exc)}); its decisions are not recorded",
                      stacklevel=2)
        return []


def _whole_png(path: Path) -> Image.Image:
    """The PNG at `path`, refusing a truncated one even where another library has set PIL's global
    `ImageFile.LOAD_TRUNCATED_IMAGES` (VBench's AMT utilities do, on import), which would pad it with grey."""
    from PIL import ImageFile

    allowed, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = allowed


def _review_path(base: Path) -> Path:
    return base.with_suffix(".review.json")
