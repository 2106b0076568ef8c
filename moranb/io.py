"""Atomic files, output directories, run manifests and PNG bytes.

A file is first written beside its destination under a hidden temporary name and then renamed over it, so a run
that dies half-way never leaves a truncated video or JSON behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

from .errors import OutputDirError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path` (same suffix); rename it onto `path` when the block succeeds."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json(path: str | os.PathLike, data) -> Path:
    return write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def save_image(image, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp)
    return path


def png_bytes(image) -> bytes:
    """A PIL image encoded as PNG, in memory (for widgets and inline display)."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


def prepare_output_dir(path: str | os.PathLike) -> Path:
    """Create `path` if needed and prove it is writable, before any model is loaded."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputDirError(f"cannot write to output directory '{path}' ({reason}); pass a writable --out/out_dir") from None
    return path


def versions() -> dict[str, str]:
    """Versions of what shapes the frames: Python, the platform and the libraries."""
    from importlib import metadata

    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("moranb", "torch", "diffusers", "transformers", "accelerate", "numpy", "pillow", "imageio"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


class Timer:
    """Named wall-clock timings: `with timer("text_to_image"): ...`; `timer.seconds` holds them."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 4)


def write_manifest(out_dir: str | os.PathLike, *, task: str, profile, seed: int, inputs: dict, outputs: dict,
                   timings: dict, extra: dict | None = None) -> Path:
    """The record of a run: what was asked, with which configuration and seed, what it wrote, how long it took."""
    manifest = {
        "task": task,
        "profile": dataclasses.asdict(profile) if dataclasses.is_dataclass(profile) else profile,
        "seed": seed,
        "inputs": inputs,
        "outputs": {name: str(Path(p).name) if isinstance(p, (str, Path)) else p for name, p in outputs.items()},
        "timings_s": timings,
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if extra:
        manifest.update(extra)
    return write_json(Path(out_dir) / "manifest.json", manifest)
