"""VBench's standard prompt suite and its protocol: each dimension scored on its own prompts, aggregated as VBench does.

    from moranb.eval.suite_eval import evaluate_suite
    results = evaluate_suite("outputs/vbench", backend="offline")   # a `moranb batch` folder, or a folder of videos

The suite is `VBench_full_info.json`, read from the installed `vbench` package: 946 entries (944 prompts; two
prompts are listed twice, for different dimensions, and are one prompt here), each tagged with the dimensions it
serves. VBench's standard mode (`vbench evaluate --mode vbench_standard`) expects a folder of videos named
`{prompt}-{i}.mp4`, i = 0..4, and scores each dimension on the videos of the prompts tagged with it:

- a dimension's score is the mean of its per-video scores over those videos (for dynamic degree, whose per-video
  score is 1 or 0, the share of videos that move);
- VBench's leaderboard then normalises each dimension, (x - min) / (max - min) (`moranb.eval.quality.NORMALIZE`),
  and averages them with weights (dynamic degree 0.5, the others 1): the Quality Score over the seven quality
  dimensions (`QUALITY_WEIGHTS`), the Semantic Score over the other nine, and the Total Score =
  (4 x Quality + 1 x Semantic) / 5.

moranb scores the dimensions it has a metric for (the seven quality ones, temporal style and appearance style); the
other semantic dimensions (object class, multiple objects, human action, colour, spatial relationship, scene,
overall consistency) need VBench's detectors and captioners and are reported as not scored, so the Semantic and
Total Scores name what they lack instead of a number. A video file is matched to its prompt as VBench matches it
(the name before `-{i}`), and through the batch manifest's `names` for a prompt that could not be a file name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..checks import check_count
from ..errors import InputError, MoranbError
from ..video import read_video
from .appearance_style import appearance_style
from .core import Backbones, check_backend, unavailable
from .quality import NORMALIZE, QUALITY_WEIGHTS, VQ_PARTS, video_quality
from .scoring import VIDEO_METRICS
from .temporal_style import temporal_style

QUALITY_WEIGHT, SEMANTIC_WEIGHT = 4, 1  # VBench's Total Score: (4 x Quality + 1 x Semantic) / 5
STYLE_METRICS = ("temporal_style", "appearance_style")  # scored against a text: the prompt, or the prompt's style
BATCH_MANIFEST = "batch.json"  # written by moranb.batch; its "names" maps a safe file name back to its prompt
_INDEXED = re.compile(r"^(.*)-(\d+)$")  # "{prompt}-{i}", as VBench's get_prompt_from_filename reads a name
SAMPLES = 5  # VBench's standard mode looks for {prompt}-0 .. {prompt}-4 and no further


def full_info_path() -> Path:
    """The installed vbench package's `VBench_full_info.json`."""
    import importlib.util

    spec = importlib.util.find_spec("vbench")
    path = Path(spec.submodule_search_locations[0]) / "VBench_full_info.json" if spec else None
    if path is None or not path.is_file():
        raise MoranbError("VBench's prompt suite needs the vbench package: `pip install vbench --no-deps` (`make "
                          "setup` installs it)")
    return path


def vbench_suite(dimensions=None, limit: int | None = None) -> list[dict]:
    """VBench's standard prompts as dicts {"prompt", "dimensions", "auxiliary_info"}, in the file's order, a prompt
    listed twice merged into one. `dimensions`: only the prompts tagged with one of them; `limit`: the first `limit`
    prompts of each chosen dimension (a slice that still gives every chosen dimension its prompts)."""
    merged: dict[str, dict] = {}
    for entry in json.loads(full_info_path().read_text(encoding="utf-8")):
        found = merged.setdefault(entry["prompt_en"], {"prompt": entry["prompt_en"], "dimensions": [],
                                                       "auxiliary_info": {}})
        found["dimensions"] += [d for d in entry["dimension"] if d not in found["dimensions"]]
        found["auxiliary_info"].update(entry.get("auxiliary_info") or {})
    suite = list(merged.values())
    chosen = check_dimensions(dimensions, suite)
    if limit is not None:
        check_count(limit, "limit (prompts per dimension)")
    taken, per = [], {d: 0 for d in chosen}
    for entry in suite:
        wanted = [d for d in entry["dimensions"] if d in per and (limit is None or per[d] < limit)]
        if wanted:
            taken.append(entry)
            for d in wanted:
                per[d] += 1
    return taken


def suite_dimensions(suite: list[dict] | None = None) -> list[str]:
    """VBench's dimensions: the quality ones first (as `QUALITY_WEIGHTS` lists them), then the semantic ones in the
    order they first appear in its suite."""
    found = []
    for entry in suite if suite is not None else vbench_suite():
        found += [d for d in entry["dimensions"] if d not in found]
    quality = list(QUALITY_WEIGHTS)
    return sorted(found, key=lambda d: (0, quality.index(d)) if d in quality else (1, found.index(d)))


def check_dimensions(dimensions, suite: list[dict] | None = None) -> list[str]:
    """The chosen dimensions (a list, or one string with commas or spaces; None or "all": every one)."""
    known = suite_dimensions(suite)
    if dimensions is None or dimensions == "all":
        return known
    if isinstance(dimensions, str):
        dimensions = dimensions.replace(",", " ").split()
    unknown = [d for d in dimensions if d not in known]
    if unknown or not dimensions:
        raise InputError(f"unknown VBench dimension(s) {unknown or dimensions}; choose from {known}, or 'all'")
    return list(dict.fromkeys(dimensions))


def suite_videos(folder) -> tuple[Path, dict[str, list[Path]]]:
    """The videos folder and each prompt's videos in it, matched as VBench matches them (`{prompt}-{i}.mp4`,
    i < 5). `folder` is a batch folder (its `videos/` and the manifest's `names` are used) or a folder of videos."""
    folder = Path(folder)
    videos, names = folder, {}
    if (folder / "videos").is_dir():
        videos = folder / "videos"
        manifest = folder / BATCH_MANIFEST
        if manifest.is_file():
            names = json.loads(manifest.read_text(encoding="utf-8")).get("names", {})
    if not videos.is_dir():
        raise InputError(f"'{folder}' is not a folder of videos; pass the folder `moranb batch` wrote (--out) or one "
                         f"holding VBench-named videos ({{prompt}}-{{i}}.mp4)")
    by_prompt: dict[str, list[Path]] = {}
    for path in sorted(videos.iterdir()):
        match = _INDEXED.match(path.stem)
        if path.name.startswith(".") or path.suffix.lower() != ".mp4" or not match or int(match.group(2)) >= SAMPLES:
            continue
        by_prompt.setdefault(names.get(match.group(1), match.group(1)), []).append(path)
    return videos, by_prompt


def evaluate_suite(folder, backend: str = "offline", dimensions=None, out=None, backbones: Backbones | None = None,
                   progress: bool = True) -> dict:
    """Score `folder` (see `suite_videos`) under VBench's protocol; write the results JSON to `out` when given."""
    from tqdm import tqdm

    check_backend(backend)
    suite = vbench_suite()
    chosen = check_dimensions(dimensions, suite)
    videos_dir, by_prompt = suite_videos(folder)
    backbones = backbones or (Backbones() if backend == "vbench" else None)
    in_suite = {entry["prompt"]: entry for entry in suite}
    jobs = []  # (prompt entry, video file, the chosen dimensions its prompt serves)
    for prompt, files in by_prompt.items():
        entry = in_suite.get(prompt)
        wanted = [d for d in (entry or {}).get("dimensions", []) if d in chosen]
        jobs += [(entry, path, wanted) for path in files if wanted]
    rows, unreadable = [], []
    bar = {} if progress else {"disable": True}
    for entry, path, wanted in tqdm(jobs, desc=f"VBench protocol ({backend})", unit="video", **bar):
        try:
            video = read_video(path)
        except MoranbError as exc:
            unreadable.append({"video": path.name, "reason": str(exc)})
            continue
        scores = {d: _score(d, video, entry, backend, backbones) for d in wanted}
        rows.append({"video": path.name, "prompt": entry["prompt"],
                     "scores": {d: {"value": s.value, "backend": s.backend, "reason": s.reason}
                                for d, s in scores.items()}})
    per_dimension = {d: _dimension(d, rows, suite, by_prompt, backend) for d in chosen}
    results = {"backend": backend, "folder": str(folder), "videos_folder": str(videos_dir),
               "dimensions": per_dimension, **aggregate_suite(per_dimension, backend),
               "videos": rows, "unreadable": unreadable,
               "outside_suite": sorted(p for p in by_prompt if p not in in_suite)}
    if out is not None:
        from ..io import write_json

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_json(out, results)
    return results


def _score(dimension: str, video, entry: dict, backend: str, backbones):
    if dimension in VIDEO_METRICS:
        return VIDEO_METRICS[dimension](video, backend, backbones)
    if dimension == "temporal_style":
        return temporal_style(video, entry["prompt"], backend, backbones)
    if dimension == "appearance_style":  # VBench scores the style phrase its suite records for the prompt
        style = (entry["auxiliary_info"].get("appearance_style") or {}).get("appearance_style") or entry["prompt"]
        return appearance_style(video, style, backend, backbones)
    return unavailable(dimension, backend, f"moranb.eval has no {dimension} metric (VBench's needs its own "
                                           f"detector or captioner; run `vbench evaluate` on the videos folder)")


def _dimension(dimension: str, rows: list[dict], suite: list[dict], by_prompt: dict, backend: str) -> dict:
    """One dimension over its own prompts: the mean over their videos, with how many prompts of the suite's had one."""
    prompts = [e["prompt"] for e in suite if dimension in e["dimensions"]]
    cells = [row["scores"][dimension] for row in rows if dimension in row["scores"]]
    values = [c["value"] for c in cells if c["value"] is not None]
    found = {"value": float(np.mean(values)) if values else None, "backend": backend, "videos": len(values),
             "prompts": sum(1 for p in prompts if p in by_prompt), "suite_prompts": len(prompts)}
    if not values:
        reasons = [c["reason"] for c in cells if c.get("reason")]
        found["reason"] = reasons[0] if reasons else "no video of this dimension's prompts in the folder"
    return found


def _weighted(per_dimension: dict, weights: dict, backend: str, what: str) -> dict:
    """VBench's weighted mean of normalised dimensions; no value, naming the missing ones, unless all are there."""
    missing = [d for d in weights if (per_dimension.get(d) or {}).get("value") is None or d not in NORMALIZE]
    if missing:
        return {"value": None, "backend": backend, "reason": f"{what} needs {', '.join(missing)}"}
    total = sum(w * (per_dimension[d]["value"] - NORMALIZE[d][0]) / (NORMALIZE[d][1] - NORMALIZE[d][0])
                for d, w in weights.items())
    return {"value": float(total / sum(weights.values())), "backend": backend}


def aggregate_suite(per_dimension: dict, backend: str) -> dict:
    """VBench's Quality, Semantic and Total Scores, and the paper's VQ (the mean of its six parts, each on its own
    prompts), from the per-dimension results."""
    semantic = {d: 1 for d in suite_dimensions() if d not in QUALITY_WEIGHTS}  # VBench's DIM_WEIGHT: 1 each
    quality = _weighted(per_dimension, QUALITY_WEIGHTS, backend, "the Quality Score")
    semantics = _weighted(per_dimension, semantic, backend, "the Semantic Score")
    if quality["value"] is None or semantics["value"] is None:
        total = {"value": None, "backend": backend,
                 "reason": "the Total Score needs the Quality and the Semantic Score"}
    else:
        total = {"value": (QUALITY_WEIGHT * quality["value"] + SEMANTIC_WEIGHT * semantics["value"])
                 / (QUALITY_WEIGHT + SEMANTIC_WEIGHT), "backend": backend}
    vq = video_quality({d: (per_dimension.get(d) or {}).get("value") for d in VQ_PARTS})
    vq_entry = {"value": vq, "backend": backend}
    if vq is None:
        vq_entry["reason"] = "VQ needs " + ", ".join(d for d in VQ_PARTS
                                                     if (per_dimension.get(d) or {}).get("value") is None)
    return {"quality_score": quality, "semantic_score": semantics, "total_score": total, "video_quality": vq_entry}


def vbench_finds(folder) -> dict:
    """What VBench's own standard-mode matcher (`vbench.VBench.build_full_info_json`, from the installed package)
    finds in `folder` (see `suite_videos`): {"videos": the folder's video files, "found": those VBench matched to a
    prompt of its suite, "not_found": the others' names}. It is given the suite's entries for the prompts the folder
    holds, so a slice is not reported missing the prompts it left out."""
    import contextlib
    import io
    import tempfile

    from vbench import VBench

    videos_dir, by_prompt = suite_videos(folder)
    entries = [e for e in json.loads(full_info_path().read_text(encoding="utf-8")) if e["prompt_en"] in by_prompt]
    files = sorted(p.name for p in videos_dir.iterdir() if not p.name.startswith("."))
    found = set()
    if entries:
        with tempfile.TemporaryDirectory(prefix="moranb-vbench-") as tmp:
            info = Path(tmp) / "full_info.json"
            info.write_text(json.dumps(entries), encoding="utf-8")
            dims = sorted({d for e in entries for d in e["dimension"]})
            with contextlib.redirect_stdout(io.StringIO()):  # a warning per sample index the slice did not make
                matched = VBench("cpu", str(info), tmp).build_full_info_json(str(videos_dir), "moranb", dims,
                                                                            mode="vbench_standard")
            found = {Path(v).name for e in json.loads(Path(matched).read_text(encoding="utf-8"))
                     for v in e.get("video_list", [])}
    return {"videos": len(files), "found": len(found & set(files)),
            "not_found": [name for name in files if name not in found]}
