"""Evaluation: VBench's dimensions and the paper's task metrics, on `Video`s in memory.

    from moranb.eval import evaluate
    results = evaluate(["outputs/tiny"], backend="offline", out="outputs/tiny/eval.json")

Every score says which backend produced it ("vbench": VBench's real backbones from its cache; "offline":
weight-free stand-ins); see `moranb.eval.core`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..video import Video, read_video
from .aesthetic_quality import aesthetic_quality
from .appearance_style import appearance_style
from .background_consistency import background_consistency
from .core import BACKENDS, Backbones, Score, check_backend
from .dynamic_degree import dynamic_degree
from .imaging_quality import imaging_quality
from .motion_smoothness import motion_smoothness
from .quality import VQ_PARTS, vbench_quality, video_quality
from .subject_consistency import subject_consistency
from .temporal_flickering import temporal_flickering
from .temporal_style import tcon, temporal_style, tmean
from .videoti import videoti

# Dimensions computed from the video alone: name -> compute(video, backend, backbones).
VIDEO_METRICS = {
    "subject_consistency": subject_consistency,
    "background_consistency": background_consistency,
    "motion_smoothness": motion_smoothness,
    "dynamic_degree": dynamic_degree,
    "aesthetic_quality": aesthetic_quality,
    "imaging_quality": imaging_quality,
    "temporal_flickering": temporal_flickering,
}
# Metrics that need a text or other videos; `evaluate` computes them where a task result provides what they need.
CONTEXT_METRICS = ("temporal_style", "appearance_style", "tcon", "tmean", "videoti")
METRICS = tuple(VIDEO_METRICS) + CONTEXT_METRICS


def _entries(videos) -> list[dict]:
    """Each input as {name, task, video, result}: Videos, video files, folders of them, task results, or dicts
    {"video": path or Video, "task": ..., "name": ...} (what the notebooks record)."""
    if isinstance(videos, (str, os.PathLike, Video)) or hasattr(videos, "video"):
        videos = [videos]
    entries = []
    for i, item in enumerate(videos):
        if isinstance(item, dict):
            video = item["video"] if isinstance(item["video"], Video) else read_video(item["video"])
            entries.append({"name": item.get("name", f"video_{i}"), "task": item.get("task"), "video": video,
                            "result": None})
        elif isinstance(item, Video):
            entries.append({"name": f"video_{i}", "task": None, "video": item, "result": None})
        elif hasattr(item, "video"):
            name = str(item.out_dir.name) if getattr(item, "out_dir", None) else f"{item.task}_{i}"
            entries.append({"name": name, "task": item.task, "video": item.video, "result": item})
        elif isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
            files = sorted(p for p in Path(item).rglob("*.mp4") if not p.name.startswith("."))
            if not files:
                raise InputError(f"folder '{item}' holds no .mp4 videos to evaluate")
            for path in files:
                entries.append({"name": str(path.relative_to(item).with_suffix("")), "task": None,
                                "video": read_video(path), "result": None})
        else:
            entries.append({"name": Path(item).stem, "task": None, "video": read_video(item), "result": None})
    return entries


def _context_scores(entry, wanted, backend, backbones) -> dict[str, Score]:
    """The text and task metrics a task result has the inputs for."""
    r, video, scores = entry["result"], entry["video"], {}
    if r is None:
        return scores
    if "temporal_style" in wanted and r.task == "text_to_video" and r.prompt:
        scores["temporal_style"] = temporal_style(video, r.prompt, backend, backbones)
    if "appearance_style" in wanted and r.task == "simulate_digital_world":
        scores["appearance_style"] = appearance_style(video, r.notes.get("style") or r.prompt, backend, backbones)
    if "tcon" in wanted and r.task == "extend_video":
        added = sum(s.num_frames for s in r.segments)
        source = Video(video.frames[: video.num_frames - added], video.fps)
        scores["tcon"] = tcon(source, video, backend, backbones)
    if "tmean" in wanted and r.task == "connect_videos" and len(r.segments) == 3:
        scores["tmean"] = tmean(r.segments[0], r.segments[2], video, backend, backbones)
    if "videoti" in wanted and r.task == "image_to_video" and r.first_frame is not None and r.prompt:
        # The image that was animated stands in for the user's image when the text edited it.
        scores["videoti"] = videoti(r.first_frame, r.prompt, video, backend)
    return scores


def evaluate(videos, metrics=None, backend: str = "offline", out=None, backbones: Backbones | None = None,
             progress: bool = True) -> dict:
    """Score `videos` (Videos, files, folders or task results); write the results JSON to `out` when given."""
    from tqdm.auto import tqdm

    check_backend(backend)
    wanted = tuple(metrics) if metrics else METRICS
    unknown = set(wanted) - set(METRICS)
    if unknown:
        raise InputError(f"unknown metric(s) {sorted(unknown)}; choose from {list(METRICS)}")
    backbones = backbones or (Backbones() if backend == "vbench" else None)
    rows = []
    bar = {} if progress else {"disable": True}
    for entry in tqdm(_entries(videos), desc=f"evaluating ({backend})", unit="video", **bar):
        scores = {name: VIDEO_METRICS[name](entry["video"], backend, backbones)
                  for name in wanted if name in VIDEO_METRICS}
        scores.update(_context_scores(entry, wanted, backend, backbones))
        values = {name: s.value for name, s in scores.items()}
        rows.append({
            "name": entry["name"], "task": entry["task"], "frames": entry["video"].num_frames,
            "scores": {name: {"value": s.value, "backend": s.backend, "reason": s.reason}
                       for name, s in scores.items()},
            "video_quality": video_quality(values), "vbench_quality": vbench_quality(values),
        })
    results = {"backend": backend, "metrics": list(wanted), "videos": rows, "aggregate": aggregate(rows, backend)}
    if out is not None:
        from ..io import write_json

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_json(out, results)
    return results


def aggregate(rows: list[dict], backend: str) -> dict:
    """Mean of each metric over the videos that have it (dynamic degree: the fraction of dynamic videos)."""
    names = sorted({name for row in rows for name in row["scores"]} | {"video_quality", "vbench_quality"})
    summary = {}
    for name in names:
        values = [row[name] if name in ("video_quality", "vbench_quality") else row["scores"].get(name, {}).get("value")
                  for row in rows]
        values = [v for v in values if v is not None]
        summary[name] = {"value": float(np.mean(values)) if values else None, "backend": backend, "count": len(values)}
    return summary


__all__ = ["evaluate", "aggregate", "Score", "Backbones", "BACKENDS", "METRICS", "VIDEO_METRICS", "VQ_PARTS",
           "subject_consistency", "background_consistency", "motion_smoothness", "dynamic_degree",
           "aesthetic_quality", "imaging_quality", "temporal_flickering", "temporal_style", "appearance_style",
           "tcon", "tmean", "videoti", "video_quality", "vbench_quality"]
