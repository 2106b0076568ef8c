"""`evaluate`: score videos, files, folders, run folders or task results, and aggregate the scores.

A run is read from its one record, the manifest a task writes (`manifest.json`: the task, its prompt and notes, the
video's segment lengths, the files), so scoring a run folder from disk and scoring the task result in memory go
through the same code: a result that wrote its files is read back from them (the mp4, as VBench scores it), one that
did not is scored from memory with the record the manifest would have held (`TaskResult.record()`).

The task metrics, by task (the paper's Tables 1 and 2):
- text_to_video: temporal style against the prompt;
- image_to_video: VideoTI of the animated image, the prompt and the video;
- extend_video: TCON between the input (the video minus its new segments) and the output, and temporal style
  against the prompt when the run was given one;
- edit_video: temporal style against the instruction;
- connect_videos: Tmean of video A (the first segment) and video B (the last) against the output;
- simulate_digital_world: appearance style against the style.
Besides, the metrics a profile's plugin scores (`Profile.plugin_metrics`), on the runs of that profile: on the
`mini` profile's 16x16 videos, `mini_judge`, the share of what the run asked for (its caption, its edit) that the
mini judge reads in the video (`moranb.mini.verdict`).
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..config import PROFILES
from ..errors import InputError, MoranbError
from ..video import Video, read_image, read_video
from .aesthetic_quality import aesthetic_quality
from .appearance_style import appearance_style
from .background_consistency import background_consistency
from .core import Backbones, Score, check_backend, unavailable
from .dynamic_degree import dynamic_degree
from .imaging_quality import imaging_quality
from .motion_smoothness import motion_smoothness
from .quality import QUALITY_WEIGHTS, VQ_PARTS, vbench_quality, video_quality
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
# The metrics that need what a run's record holds (a text, the input image or videos), by task.
TASK_METRICS = {
    "text_to_video": ("temporal_style",),
    "image_to_video": ("videoti",),
    "extend_video": ("tcon", "temporal_style"),
    "edit_video": ("temporal_style",),
    "connect_videos": ("tmean",),
    "simulate_digital_world": ("appearance_style",),
}
CONTEXT_METRICS = ("temporal_style", "appearance_style", "tcon", "tmean", "videoti")
# Scored by a profile's plugin, on the runs its profile made (mini: whether a 16x16 video shows what its run asked
# for, `mini_judge`): metric -> the plugin module. Only the plugins the profiles name are ever imported, never one a
# run's record names.
PLUGIN_METRICS = {name: made.plugin for made in (profile() for profile in PROFILES.values())
                  for name in made.plugin_metrics}
METRICS = tuple(VIDEO_METRICS) + CONTEXT_METRICS + tuple(PLUGIN_METRICS)
AGGREGATES = ("video_quality", "vbench_quality")


@dataclass
class Entry:
    """One video to score, with what its run's record says (nothing, for a bare video)."""

    name: str
    video: Video
    task: str | None = None
    record: dict = field(default_factory=dict)  # the manifest (or TaskResult.record()) of its run
    first_frame: Image.Image | None = None  # the image the video was animated from, where the run kept it
    error: str | None = None  # why it could not be read (then `video` is None and it is reported, not scored)


def read_run(folder, name: str | None = None) -> Entry:
    """A run folder (one holding the manifest.json a task wrote) as an `Entry`."""
    folder = Path(folder)
    try:
        record = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        video_file = folder / record["outputs"]["video"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"'{folder}' is not a run folder: it needs the manifest.json (with outputs.video) a moranb "
                         f"task writes") from None
    first = record["outputs"].get("first_frame")
    return Entry(name or folder.name, read_video(video_file), record.get("task"), record,
                 read_image(folder / first) if first else None)


def _result_entry(result, name: str) -> Entry:
    """A task result: read back from its run folder when it wrote one, else from memory with the same record."""
    if getattr(result, "out_dir", None) is not None and "video" in getattr(result, "files", {}):
        return read_run(result.out_dir, name)
    return Entry(name, result.video, result.task, result.record(), result.first_frame)


def _is_run(folder: Path) -> bool:
    return (folder / "manifest.json").is_file()


def entries(videos) -> list[Entry]:
    """Each input as an `Entry`: Videos, video files, run folders, folders (every run folder and every other mp4
    under them), task results, or dicts {"video": path or Video, "task": ..., "name": ...}.

    One that cannot be read (a corrupt mp4, a broken run folder) is an Entry with its `error` and no video, so it is
    reported and the others are still scored."""
    if isinstance(videos, (str, os.PathLike, Video, dict)) or hasattr(videos, "video"):
        videos = [videos]
    found = []
    for i, item in enumerate(videos):
        if isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
            found += _folder_entries(Path(item))
        else:
            name = _name(item, i)
            found.append(_read_or_report(name, lambda item=item, name=name: _entry(item, name)))
    return found


def _name(item, i: int) -> str:
    if isinstance(item, dict):
        return item.get("name", f"video_{i}")
    if isinstance(item, Video):
        return f"video_{i}"
    if hasattr(item, "video"):
        return str(item.out_dir.name) if getattr(item, "out_dir", None) else f"{item.task}_{i}"
    return Path(item).stem


def _entry(item, name: str) -> Entry:
    if isinstance(item, dict):
        video = item["video"] if isinstance(item["video"], Video) else read_video(item["video"])
        return Entry(name, video, item.get("task"))
    if isinstance(item, Video):
        return Entry(name, item)
    if hasattr(item, "video"):
        return _result_entry(item, name)
    return Entry(name, read_video(item))


def _read_or_report(name: str, read) -> Entry:
    """`read()`, or an Entry carrying the one-line reason it could not be read."""
    try:
        return read()
    except MoranbError as exc:
        return Entry(name, None, error=str(exc))


def _folder_entries(root: Path) -> list[Entry]:
    if _is_run(root):
        return [_read_or_report(root.name, lambda: read_run(root))]
    runs = sorted({p.parent for p in root.rglob("manifest.json") if not _hidden(p, root)})
    files = sorted(p for p in root.rglob("*.mp4") if not _hidden(p, root) and not any(r in p.parents for r in runs))
    if not runs and not files:
        raise InputError(f"folder '{root}' holds no run folders (manifest.json) and no .mp4 videos to evaluate")
    found = []
    for run in runs:
        name = str(run.relative_to(root))
        found.append(_read_or_report(name, lambda: read_run(run, name)))
    for file in files:
        name = str(file.relative_to(root).with_suffix(""))
        found.append(_read_or_report(name, lambda: Entry(name, read_video(file))))
    return found


def _hidden(path: Path, root: Path) -> bool:
    """Under a hidden folder (the stage cache `.stages`, checkpoints) or a hidden file itself."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def task_scores(entry: Entry, wanted, backend: str, backbones) -> dict[str, Score]:
    """The task metrics (see the module docstring) the entry's task reports, from its record."""
    task, record, video = entry.task, entry.record, entry.video
    scores = {}
    for name in TASK_METRICS.get(task, ()):
        if name in wanted:
            scores[name] = _task_score(name, task, record, video, entry.first_frame, backend, backbones)
    return scores


def _task_score(name, task, record, video, first_frame, backend, backbones) -> Score:
    prompt = record.get("prompt")
    segments = (record.get("video") or {}).get("segments") or []
    if name == "temporal_style":
        if not prompt:
            return unavailable(name, backend, f"the {task} run was given no prompt describing the video")
        return temporal_style(video, prompt, backend, backbones)
    if name == "appearance_style":
        return appearance_style(video, (record.get("notes") or {}).get("style") or prompt, backend, backbones)
    if name == "tcon":
        source = Video(video.frames[: video.num_frames - sum(segments)], video.fps)
        return tcon(source, video, backend, backbones)
    if name == "tmean":
        if len(segments) != 3:
            return unavailable(name, backend, "the run's record lacks the lengths of A, the transition and B")
        a, b = Video(video.frames[: segments[0]], video.fps), Video(video.frames[-segments[2]:], video.fps)
        return tmean(a, b, video, backend, backbones)
    # videoti: the image that was animated stands in for the user's image when the text edited it.
    if first_frame is None or not prompt:
        return unavailable(name, backend, "the run kept no first frame or prompt")
    return videoti(first_frame, prompt, video, backend)


def plugin_scores(entry: Entry, wanted) -> dict[str, Score]:
    """The plugin metrics in `wanted` that apply to `entry` (its plugin answers None where its metric does not: the
    mini judge reads only the mini world's 16x16 videos)."""
    scores = {}
    for name in wanted:
        if name in PLUGIN_METRICS:
            score = importlib.import_module(PLUGIN_METRICS[name]).score(name, entry.video, entry.record)
            if score is not None:
                scores[name] = score
    return scores


def evaluate(videos, metrics=None, backend: str = "offline", out=None, backbones: Backbones | None = None,
             progress: bool = True) -> dict:
    """Score `videos` (see `entries`); write the results JSON to `out` when given."""
    from tqdm import tqdm

    check_backend(backend)
    wanted = ((metrics,) if isinstance(metrics, str) else tuple(metrics)) if metrics else METRICS
    unknown = set(wanted) - set(METRICS)
    if unknown:
        raise InputError(f"unknown metric(s) {sorted(unknown)}; choose from {list(METRICS)}")
    backbones = backbones or (Backbones() if backend == "vbench" else None)
    rows = []
    bar = {} if progress else {"disable": True}
    for entry in tqdm(entries(videos), desc=f"evaluating ({backend})", unit="video", **bar):
        if entry.error is not None:  # reported with its reason, not scored; the others go on
            rows.append({"name": entry.name, "task": entry.task, "frames": None, "error": entry.error, "scores": {},
                         "video_quality": None, "vbench_quality": None})
            continue
        scores = {name: VIDEO_METRICS[name](entry.video, backend, backbones)
                  for name in wanted if name in VIDEO_METRICS}
        scores.update(task_scores(entry, wanted, backend, backbones))
        scores.update(plugin_scores(entry, wanted))
        values = {name: s.value for name, s in scores.items()}
        rows.append({
            "name": entry.name, "task": entry.task, "frames": entry.video.num_frames,
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
    """Mean of each metric over the videos that have it, and for one no video has, the reason why; "unreadable"
    counts the videos that could not be read (each row says why)."""
    failed = [row for row in rows if row.get("error")]
    rows = [row for row in rows if not row.get("error")]
    names = sorted({name for row in rows for name in row["scores"]} | set(AGGREGATES))
    summary = {}
    for name in names:
        if name in AGGREGATES:
            cells = [{"value": row[name]} for row in rows]
        else:
            cells = [row["scores"][name] for row in rows if name in row["scores"]]
        values = [c["value"] for c in cells if c["value"] is not None]
        summary[name] = {"value": float(np.mean(values)) if values else None, "backend": backend,
                         "count": len(values)}
        if not values:
            reasons = [c.get("reason") for c in cells if c.get("reason")]
            summary[name]["reason"] = reasons[0] if reasons else "no video to score"
    for name, parts in zip(AGGREGATES, (VQ_PARTS, QUALITY_WEIGHTS)):  # each needs all its parts: name the missing
        if summary[name]["value"] is None and rows:
            missing = [p for p in parts if (summary.get(p) or {}).get("value") is None]
            summary[name]["reason"] = f"needs {', '.join(missing) or 'every part on the same video'}"
    summary["unreadable"] = {"value": None, "backend": backend, "count": len(failed),
                             "videos": [row["name"] for row in failed]}
    return summary
