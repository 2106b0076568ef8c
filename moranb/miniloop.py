"""The paper's training half measured in MoraMini: three rounds of data and fine-tuning, then Table 5 over seeds.

    python -m moranb.miniloop --out outputs/mini-loop            # the whole experiment (see the README for time)
    python -m moranb.miniloop --out DIR --small                  # the same code on a small budget (tests)

1. The loop. Round r (r = 1, 2, 3) makes `16 r` new captions (the mini prompt agent), `candidates` text-to-video
   candidates each with the pipeline as it is after round r - 1, and asks the two mini judges (`moranb.mini.judging`: the
   trained classifier and pixel rules) for a top-1 under a criterion drawn from the world's own; agreement keeps the
   set, the rest go to the simulated person (`policy:simulated_person`). The mini agents (text-to-image,
   image-to-video, connection) are then fine-tuned with self-modulation on every round so far (training seed 0), and
   the text-to-video accuracy is measured again: the loop's curve.
2. Table 5. The paper's five variants (`moranb.ablation.VARIANTS`), each trained with seeds 0, 1, 2 on the loop's
   data (its three rounds; "without human-in-the-loop" on the sets the judges agreed on only), each scored on the
   same held-out captions (world captions no round used): text-to-video by the mini judge and by the simulated
   person's reading, extension (the second segment, made from the first one's last frame, still shows the caption),
   connection (held-out transitions, `verdict.transition_checks`) and the offline VBench dimensions. "Without
   fine-tuning" has no training; its three seeds are generation seeds (every variant's seed s also draws its
   generation noise from s).
3. The judges on generated videos: every candidate of every round read by judge A, judge B and the simulated person,
   the agreement per attribute, and what each way of choosing keeps (the share of kept samples the person reads as
   the whole caption).

Everything is written under `--out` and resumes (rounds, trainings and scores already there are reused). The
results are `results.json`, `table5.md` and `table5.png`; the shipped copy is `moranb/mini/results/`.

The settings are MoraMini's own, beside the paper's (`SETTINGS`): its agents are 16x16 models trained from scratch
for minutes, so a step of the paper's (lr 1e-5, 12 steps a round) would not move them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import models
from .config import get_profile
from .errors import MoranbError
from .io import write_json, write_text
from .mini.world import ATTRIBUTES, FRAMES, MOTIONS, SIZE, Attributes, parse_caption

RESULTS = Path(__file__).parent / "mini" / "results"  # the shipped results (results.json, table5.md, table5.png)
# MoraMini's fine-tuning settings; the paper's (Oct 2024, 4.3) beside each.
SETTINGS = {"lr": 2e-4, "steps_per_round": 32, "batch_size": 4, "checkpoint_every": 32, "lora_rank": 16}
PAPER_SETTINGS = {"lr": 1e-5, "steps_per_round": 12, "batch_size": 4, "checkpoint_every": 4, "lora_rank": None}
SMALL = {"rounds": 1, "prompts": 4, "candidates": 2, "seeds": (0,), "captions": 6, "connections": 2, "vbench": 2,
         "variants": ("full", "no_finetuning"), "train": {"steps_per_round": 2, "checkpoint_every": 2}}
FULL = {"rounds": 3, "prompts": None, "candidates": 4, "seeds": (0, 1, 2), "captions": 120, "connections": 40,
        "vbench": 12, "variants": None, "train": {}}


def all_captions() -> list[str]:
    """Every caption the world's grammar can write (216)."""
    return [Attributes(s, c, b, m).caption for s in ATTRIBUTES["shape"] for c in ATTRIBUTES["colour"]
            for b in ATTRIBUTES["background"] for m in MOTIONS]


def held_out(used: set[str], count: int) -> list[str]:
    """`count` captions no round used, in a fixed shuffled order."""
    left = [c for c in all_captions() if c.lower() not in used]
    order = np.random.default_rng(23).permutation(len(left))
    if len(left) < count:
        raise ValueError(f"only {len(left)} captions are left for evaluation; ask for fewer")
    return [left[i] for i in order[:count]]


# -- making videos in batches ---------------------------------------------------------------------------------------

@torch.no_grad()
def batch_text_to_video(profile, captions: list[str], seeds: list[int], segments: int = 2) -> np.ndarray:
    """uint8 videos (N, segments * 8, 16, 16, 3): the text-to-video task's agents and settings (its first frame by
    text-to-image with seed s, segment k animated from the previous one's last frame with seed s + k and the
    caption's motion bucket), each stage one batched pipeline call per motion instead of one call per video."""
    from .agents import ImageToVideoAgent, TextToImageAgent

    t2i, i2v = TextToImageAgent(profile), ImageToVideoAgent(profile)
    s, v = profile.text_to_image, profile.image_to_video
    t2i.pipe.set_progress_bar_config(disable=True)
    i2v.pipe.set_progress_bar_config(disable=True)
    firsts = t2i.pipe(prompt=list(captions), width=SIZE, height=SIZE, num_inference_steps=s.steps,
                      guidance_scale=s.guidance_scale, output_type="np",
                      generator=[torch.Generator("cpu").manual_seed(int(x)) for x in seeds]).images
    current = (np.clip(firsts, 0, 1) * 255).round().astype(np.uint8)
    motions = [parse_caption(c).motion for c in captions]
    clips = []
    for k in range(segments):
        made = np.empty((len(captions), FRAMES, SIZE, SIZE, 3), np.uint8)
        for motion in sorted(set(motions)):
            idx = [i for i, m in enumerate(motions) if m == motion]
            out = i2v.pipe(image=[Image.fromarray(current[i]) for i in idx], height=SIZE, width=SIZE,
                           num_frames=FRAMES, num_inference_steps=v.steps, fps=profile.fps,
                           motion_bucket_id=i2v.motion_bucket(motion), noise_aug_strength=v.noise_aug_strength,
                           decode_chunk_size=v.decode_chunk_size, min_guidance_scale=v.min_guidance,
                           max_guidance_scale=v.max_guidance, output_type="np",
                           generator=[torch.Generator("cpu").manual_seed(int(seeds[i]) + k) for i in idx])
            made[idx] = (np.clip(np.asarray(out.frames), 0, 1) * 255).round().astype(np.uint8)
        clips.append(made)
        current = made[:, -1]
    return np.concatenate(clips, axis=1)


def score_videos(videos: np.ndarray, captions: list[str], vbench: int = 0) -> dict:
    """Text-to-video accuracy by the mini judge (every check of `verdict.mini_judge`: appearance over the video,
    motion per segment) and by the simulated person's reading; extension (the second segment alone shows the whole
    caption, by the judge); and the offline VBench dimensions (the paper's VQ parts) on the first `vbench` videos."""
    from .eval import VIDEO_METRICS
    from .eval.quality import VQ_PARTS
    from .video import Video
    from .mini.judge import read
    from .mini.judging import shows
    from .mini.readers import world_read
    from .mini.verdict import mini_judge

    judged, person, extension = [], [], []
    for frames, caption in zip(videos, captions):
        wanted = parse_caption(caption)
        record = {"task": "text_to_video", "enhanced_prompt": caption,
                  "video": {"segments": [FRAMES] * (len(frames) // FRAMES)}}
        judged.append(mini_judge(Video(frames, 8.0), record).value == 1.0)
        person.append(shows(world_read(frames, FRAMES)["read"], wanted))
        extension.append(shows(read(frames[None, FRAMES:])[0], wanted))
    parts = {}
    for name in VQ_PARTS:
        values = [VIDEO_METRICS[name](Video(f, 8.0), "offline").value for f in videos[:vbench]]
        parts[name] = None if not values or None in values else float(np.mean(values))
    return {"t2v_judge": float(np.mean(judged)), "t2v_person": float(np.mean(person)),
            "extension": float(np.mean(extension)), "vbench": parts, "videos": len(videos)}


def connection_score(profile, count: int) -> float | None:
    """The share of `count` held-out transitions (cases 10^16 on of `mini.evaluate`'s) whose every check passes."""
    from .agents import ConnectionAgent
    from .mini.evaluate import transition_accuracy

    return transition_accuracy(ConnectionAgent(profile), count, first=10**16)["all"] if count > 0 else None


def evaluate_profile(profile, captions: list[str], seed: int, folder: Path, connections: int, vbench: int) -> dict:
    """Scores of one (variant, seed), kept in `folder/scores.json` (reused when there) with the videos beside."""
    path = folder / "scores.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    start = time.perf_counter()
    seeds = [seed * 100_003 + i for i in range(len(captions))]
    videos = batch_text_to_video(profile, captions, seeds)
    scores = score_videos(videos, captions, vbench)
    scores["connection"] = connection_score(profile, connections)
    scores["seconds"] = round(time.perf_counter() - start, 1)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "videos.npz", videos=videos, captions=np.array(captions))
    write_json(path, scores)
    return scores


# -- the judges on generated videos ---------------------------------------------------------------------------------

def judges_on_generated(data_dir: Path) -> dict:
    """Every round's candidates read by judge A, judge B and the simulated person: each judge's agreement with the
    person per attribute, and for each way of choosing a set's video the share of chosen videos the person reads as
    the whole caption."""
    from .data.decisions import read_decisions
    from .data.round import read_sets
    from .mini.judging import readings, shows
    from .video import read_video

    agree = {j: {n: 0 for n in ATTRIBUTES} | {"all": 0} for j in ("a", "b")}
    total, follows = 0, {}
    kept = {"judges agree": [], "judges agree + person": [], "judge A alone": [], "judge B alone": [],
            "first candidate": []}
    agreement = {}
    for here in sorted(data_dir.glob("round-*")):
        sets, decided = read_sets(here), read_decisions(here)
        agreement[here.name] = sum(s.status == "accepted" for s in sets) / max(1, len(sets))
        for s in sets:
            wanted = parse_caption(s.prompt)
            ok = []
            for run in s.candidates:
                seen_by = readings(read_video(data_dir / run / "video.mp4").frames)
                person = seen_by["person"]
                for j, seen in (("a", seen_by["a"]), ("b", seen_by["b"])):
                    right = [seen[n] == person[n] for n in ATTRIBUTES]
                    for n, r in zip(ATTRIBUTES, right):
                        agree[j][n] += r
                    agree[j]["all"] += all(right)
                total += 1
                ok.append(shows(person, wanted))
            follows[s.id] = ok
            if s.status == "accepted":
                kept["judges agree"].append(ok[s.pick])
                kept["judges agree + person"].append(ok[s.pick])
            elif s.id in decided and decided[s.id].pick is not None:
                kept["judges agree + person"].append(ok[decided[s.id].pick])
            for name, j in (("judge A alone", 0), ("judge B alone", 1)):
                if s.judgements[j].pick is not None:
                    kept[name].append(ok[s.judgements[j].pick])
            kept["first candidate"].append(ok[0])
    return {"candidates": total,
            "agreement_with_person": {j: {n: v / max(1, total) for n, v in d.items()} for j, d in agree.items()},
            "candidates_following": float(np.mean([x for v in follows.values() for x in v])) if follows else None,
            "kept": {k: {"samples": len(v), "follow": float(np.mean(v)) if v else None} for k, v in kept.items()},
            "agreement_rate": agreement}


def readers_on_world(count: int = 300) -> dict:
    """Each reader's accuracy on the world's own two-segment clips (held-out seeds)."""
    from .mini.judge import read
    from .mini.readers import pixel_read, world_read
    from .mini.world import random_attributes, render_clip

    right = {j: {n: 0 for n in ATTRIBUTES} for j in ("a", "b", "person")}
    for seed in range(10**15, 10**15 + count):
        attrs = random_attributes(seed)
        clip = np.concatenate([render_clip(attrs, seed, part=0), render_clip(attrs, seed, part=1)])
        a = dict(read(clip[None, :FRAMES])[0])
        seen = {"a": a, "b": pixel_read(clip[:FRAMES])["read"], "person": world_read(clip, FRAMES)["read"]}
        for j, r in seen.items():
            for n in ATTRIBUTES:
                right[j][n] += r[n] == getattr(attrs, n)
    return {j: {n: v / count for n, v in d.items()} for j, d in right.items()}


# -- the experiment -------------------------------------------------------------------------------------------------

class Clock:
    """Seconds per stage, kept in a JSON file so a rerun that reuses a stage keeps the time it took when it ran (the
    longest attempt per stage: a resumed stage's time is that of its longest part)."""

    def __init__(self, path: Path):
        self.path = path
        self.timings = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def __call__(self, stage: str):
        import contextlib

        @contextlib.contextmanager
        def timed():
            start = time.perf_counter()
            yield
            took = round(time.perf_counter() - start, 1)
            self.timings[stage] = max(took, self.timings.get(stage, 0.0))
            write_json(self.path, self.timings)

        return timed()


def _spread(values: list) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values)}


def run(out, small: bool = False, progress: bool = True, **overrides) -> dict:
    """The whole experiment under `out` (see the module docstring); returns and writes results.json."""
    from tqdm import tqdm

    from .ablation import VARIANTS
    from .data import Dataset, build_dataset, resolve_queue, synthesize_round
    from .data.round import round_dir
    from .paper import TABLE5
    from .train import finetune

    plan = {**(SMALL if small else FULL), **overrides}
    train = {**SETTINGS, **plan["train"]}
    variants = plan["variants"] or tuple(VARIANTS)
    out = Path(out)
    data, base = out / "data", get_profile("mini")
    clock = Clock(out / "timings.json")

    # 1. the loop: rounds of data, each made by the pipeline fine-tuned on the rounds before it
    profile, curve, used = base, [], set()
    for r in range(1, plan["rounds"] + 1):
        with clock(f"round {r} data"):
            made = synthesize_round(data, r, profile=profile, candidates=plan["candidates"], prompts=plan["prompts"],
                                    progress=progress)
            resolve_queue(round_dir(data, r), policy="simulated_person")
            used |= {s.prompt.lower() for s in made.sets}
            # Built once, right after round r and before round r + 1 exists: it holds rounds 1..r only (a rerun
            # reuses it; build_dataset would now collect the later rounds too).
            folder = out / "loop" / f"round-{r}" / "dataset"
            dataset = Dataset(folder) if (folder / "metadata.jsonl").is_file() else build_dataset(data, folder)
        with clock(f"round {r} training"):
            trained = finetune(dataset, base, out / "loop" / f"round-{r}" / "train", seed=0, progress=progress,
                               **train)
        profile = base.replace(adapters=str(trained.adapters))
        models.clear()
    captions = held_out(used, plan["captions"])

    def cell_folder(variant: str, seed: int) -> Path:
        return out / "table5" / variant / f"seed-{seed}" / "scores"

    curve = []
    for r in range(plan["rounds"] + 1):  # round 0 is "without fine-tuning", the last round "full" (both seed 0)
        adapted = base if r == 0 else base.replace(adapters=str(out / "loop" / f"round-{r}" / "train" / "adapters"))
        folder = cell_folder("no_finetuning", 0) if r == 0 else cell_folder("full", 0) if r == plan["rounds"] \
            else out / "loop" / f"round-{r}" / "scores"
        with clock(f"curve round {r}"):
            curve.append({"round": r, **evaluate_profile(adapted, captions, 0, folder, plan["connections"],
                                                         plan["vbench"])})
        models.clear()

    # 2. Table 5: five variants x seeds, on the loop's data
    datasets = {True: Dataset(out / "loop" / f"round-{plan['rounds']}" / "dataset")}
    if any(not VARIANTS[v]["human"] for v in variants):
        datasets[False] = build_dataset(data, out / "datasets" / "judges-only", human=False)
    cells = {}
    jobs = [(v, s) for v in variants for s in plan["seeds"]]
    for variant, seed in tqdm(jobs, desc="Table 5", unit="run", disable=not progress):
        spec = VARIANTS[variant]
        profile, cell = base, {}
        if spec["finetune"]:
            where = out / "loop" / f"round-{plan['rounds']}" / "train" if (variant, seed) == ("full", 0) \
                else out / "table5" / variant / f"seed-{seed}" / "train"
            with clock(f"table 5 {variant} seed {seed} training"):
                trained = finetune(datasets[spec["human"]], base, where, seed=seed, progress=False,
                                   **{**train, **spec["train"]})
            profile = base.replace(adapters=str(trained.adapters))
            cell["final_loss"] = trained.history[-1]["loss"]
            cell["samples"] = len(datasets[spec["human"]])
        with clock(f"table 5 {variant} seed {seed} scores"):
            cell.update(evaluate_profile(profile, captions, seed, cell_folder(variant, seed), plan["connections"],
                                         plan["vbench"]))
        cells.setdefault(variant, {})[seed] = cell
        models.clear()

    rows = []
    for variant in variants:
        seeds = cells[variant]
        row = {"variant": variant, "label": VARIANTS[variant]["label"], "paper_vq": TABLE5[variant],
               "seeds": sorted(seeds)}
        for key in ("t2v_judge", "t2v_person", "extension", "connection"):
            row[key] = _spread([c[key] for c in seeds.values()])
        vq = [np.mean([v for v in c["vbench"].values() if v is not None]) if any(
            v is not None for v in c["vbench"].values()) else None for c in seeds.values()]
        row["vq_offline"] = _spread(vq)
        row["samples"] = next((c.get("samples") for c in seeds.values() if c.get("samples")), None)
        rows.append(row)
    results = {"plan": {k: (list(v) if isinstance(v, tuple) else v) for k, v in plan.items()}, "settings": train,
               "paper_settings": PAPER_SETTINGS, "captions": captions, "curve": [
                   {k: c[k] for k in ("round", "t2v_judge", "t2v_person", "extension")} for c in curve],
               "rows": rows, "cells": cells, "goal": goal(rows), "judges": judges_on_generated(data),
               "readers_on_world": readers_on_world(60 if small else 300), "timings": clock.timings,
               "seconds": round(sum(clock.timings.values()), 1), "torch": torch.__version__,
               "command": " ".join(["python -m moranb.miniloop", "--out", str(out)] + (["--small"] if small else [])
                                   + [f"--{k} " + " ".join(map(str, overrides[k])) for k in ("variants", "seeds")
                                      if k in overrides])}
    write_results(results, out)
    return results


def goal(rows: list[dict]) -> dict:
    """The method's goal: "full" beats "without fine-tuning" on held-out text-to-video accuracy (mini judge) by at
    least 5 points and by more than twice the larger of their seed-to-seed standard deviations."""
    by = {r["variant"]: r for r in rows}
    if "full" not in by or "no_finetuning" not in by:
        return {"met": None, "why": "needs the full and no_finetuning rows"}
    full, none = by["full"]["t2v_judge"], by["no_finetuning"]["t2v_judge"]
    gain = 100 * (full["mean"] - none["mean"])
    spread = 100 * max(full["std"] or 0.0, none["std"] or 0.0)
    return {"met": bool(gain >= 5 and gain > 2 * spread), "gain_points": round(gain, 2),
            "spread_points": round(spread, 2)}


def _cell(s: dict, scale: float = 100) -> str:
    if s["mean"] is None:
        return "-"
    return f"{scale * s['mean']:.1f} ± {scale * s['std']:.1f}"


def table_markdown(results: dict) -> str:
    """Table 5 on MoraMini: mean ± standard deviation over the seeds, beside the paper's VQ."""
    head = ("| variant | t2v, mini judge (%) | t2v, simulated person (%) | extension (%) | connection (%) | "
            "VQ, 5 offline parts (%) | samples | paper's VQ |")
    lines = [head, "|" + "---|" * 8]
    for r in results["rows"]:
        lines.append(f"| {r['label']} | {_cell(r['t2v_judge'])} | {_cell(r['t2v_person'])} | {_cell(r['extension'])} "
                     f"| {_cell(r['connection'])} | {_cell(r['vq_offline'])} | {r['samples'] or '-'} | "
                     f"{r['paper_vq']} |")
    g = results["goal"]
    n = len(results["plan"]["seeds"])
    lines += ["", f"Mean ± standard deviation over {n} seed(s), {len(results['captions'])} held-out captions each. "
              f"Goal (full - without fine-tuning >= 5 points and > 2x the spread): "
              f"{'met' if g['met'] else 'not met'} (gain {g.get('gain_points')} points, spread "
              f"{g.get('spread_points')})."]
    if results.get("why"):
        lines += ["", "What limits it (training seed 0, scored with generation seed 0: paired with the row above):", "",
                  why_markdown(results["why"]).rstrip("\n")]
    return "\n".join(lines) + "\n"


def chart(results: dict, path) -> Path:
    """Table 5's text-to-video accuracies with error bars (one standard deviation), and the loop's curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_path

    rows = results["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    x = np.arange(len(rows))
    for k, (key, label) in enumerate((("t2v_judge", "mini judge"), ("t2v_person", "simulated person"))):
        means = [100 * (r[key]["mean"] or 0) for r in rows]
        stds = [100 * (r[key]["std"] or 0) for r in rows]
        left.bar(x + (k - 0.5) * 0.38, means, 0.38, yerr=stds, capsize=4, label=label)
    left.set_xticks(x, [r["label"].replace(" ", "\n", 1) for r in rows], fontsize=8)
    left.set_ylabel("held-out text-to-video accuracy (%)")
    left.set_title("Table 5 on MoraMini (mean ± std over seeds)")
    left.legend(fontsize=8)
    curve = results["curve"]
    for key, label in (("t2v_judge", "mini judge"), ("t2v_person", "simulated person")):
        right.plot([c["round"] for c in curve], [100 * c[key] for c in curve], "o-", label=label)
    right.set_xticks([c["round"] for c in curve])
    right.set_xlabel("rounds of data and fine-tuning")
    right.set_title("the loop (training seed 0)")
    right.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def write_results(results: dict, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    return {"json": write_json(out / "results.json", results),
            "table": write_text(out / "table5.md", table_markdown(results)),
            "chart": chart(results, out / "table5.png")}


def read_results(folder=None) -> dict:
    """The results of a finished experiment (default: the shipped ones, `moranb/mini/results/`)."""
    return json.loads((Path(folder or RESULTS) / "results.json").read_text(encoding="utf-8"))


# -- why: what limits the method here ------------------------------------------------------------------------------

# Each probe fine-tunes with training seed 0 and is scored on the experiment's held-out captions with generation seed
# 0, as the Table 5 cells of seed 0 are (paired: the same noise, so differences are not generation noise).
WHY = {
    "the loop's data, as in Table 5": ("loop", {}),
    "the loop's data, learning rate x5": ("loop", {"lr": 1e-3}),
    "the loop's data, 4x the steps": ("loop", {"steps_per_round": 128, "checkpoint_every": 128}),
    "only kept videos the person reads as the caption": ("clean", {}),
    "the world's own clips for the same captions": ("world", {}),
    "the world's own clips, learning rate x5": ("world", {"lr": 1e-3}),
}


def _subset(dataset, keep, out: Path):
    """A dataset folder with the samples of `dataset` for which `keep(meta)` holds (files copied)."""
    import shutil

    from .data import Dataset
    from .io import new_folder

    with new_folder(out) as tmp:
        (tmp / "videos").mkdir()
        (tmp / "first_frames").mkdir()
        lines = []
        for meta in dataset.meta:
            if keep(meta):
                shutil.copyfile(dataset.path / meta["video"], tmp / meta["video"])
                shutil.copyfile(dataset.path / meta["first_frame"], tmp / meta["first_frame"])
                lines.append(json.dumps(meta))
        (tmp / "metadata.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Dataset(out)


def _world_dataset(dataset, out: Path):
    """The same captions, rounds and count as `dataset`, with the world's own two-clip videos (mp4, as generated
    videos are kept) and their first frames in place of the generated ones."""
    from .data import Dataset
    from .io import new_folder
    from .mini.world import render_clip
    from .video import Video

    with new_folder(out) as tmp:
        (tmp / "videos").mkdir()
        (tmp / "first_frames").mkdir()
        lines = []
        for meta in dataset.meta:
            attrs, seed = parse_caption(meta["prompt"]), int(meta.get("seed", 0)) % 2**62
            clip = np.concatenate([render_clip(attrs, seed, part=0), render_clip(attrs, seed, part=1)])
            Video(clip, 8.0).save(tmp / meta["video"])
            Image.fromarray(clip[0]).save(tmp / meta["first_frame"])
            lines.append(json.dumps({**meta, "source": "world", "decided_by": "world"}))
        (tmp / "metadata.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Dataset(out)


def why(out, progress: bool = True) -> dict:
    """The probes of `WHY` on a finished experiment in `out` (its data and held-out captions); written to
    `out/why.json` and returned, each beside "without fine-tuning" (seed 0)."""
    from tqdm import tqdm

    from .data import Dataset
    from .mini.judging import shows
    from .mini.readers import world_read
    from .train import finetune
    from .video import read_video

    out = Path(out)
    results = read_results(out)
    plan, captions, base = results["plan"], results["captions"], get_profile("mini")
    loop = Dataset(out / "loop" / f"round-{plan['rounds']}" / "dataset")

    def follows(meta) -> bool:
        return shows(world_read(read_video(loop.path / meta["video"]).frames, FRAMES)["read"],
                     parse_caption(meta["prompt"]))

    folder = out / "why"
    datasets = {"loop": loop}
    if not (folder / "clean" / "metadata.jsonl").is_file():
        _subset(loop, follows, folder / "clean")
    if not (folder / "world" / "metadata.jsonl").is_file():
        _world_dataset(loop, folder / "world")
    datasets["clean"], datasets["world"] = Dataset(folder / "clean"), Dataset(folder / "world")
    reference = results["cells"]["no_finetuning"]["0"] if "0" in results["cells"]["no_finetuning"] else \
        results["cells"]["no_finetuning"][0]
    probes = {"without fine-tuning": {k: reference[k] for k in ("t2v_judge", "t2v_person", "extension",
                                                               "connection")}}
    clock = Clock(folder / "timings.json")
    for k, (name, (kind, over)) in enumerate(tqdm(WHY.items(), desc="why", unit="probe", disable=not progress)):
        where = folder / f"probe-{k}"
        with clock(f"probe {k}"):
            trained = finetune(datasets[kind], base, where / "train", seed=0, progress=False,
                               **{**results["settings"], **over})
            scores = evaluate_profile(base.replace(adapters=str(trained.adapters)), captions, 0, where / "scores",
                                      plan["connections"], 0)
        probes[name] = {"samples": len(datasets[kind]), "settings": over, "seconds": clock.timings[f"probe {k}"],
                        **{k2: scores[k2] for k2 in ("t2v_judge", "t2v_person", "extension", "connection")}}
        models.clear()
    write_json(out / "why.json", probes)
    return probes


def why_markdown(probes: dict) -> str:
    lines = ["| fine-tuned on | samples | t2v, mini judge (%) | t2v, simulated person (%) | extension (%) | "
             "connection (%) |", "|" + "---|" * 6]
    for name, p in probes.items():
        cells = [f"{100 * p[k]:.1f}" if p.get(k) is not None else "-"
                 for k in ("t2v_judge", "t2v_person", "extension", "connection")]
        lines.append(f"| {name} | {p.get('samples', '-')} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def ship_why(results: dict, folder=None) -> dict:
    """Add the probes of a run to the shipped results, once the run is shown to be the same experiment: its held-out
    captions and every Table 5 cell it has equal the shipped ones (the loop is deterministic on one machine, so a run
    of only `--variants no_finetuning full --seeds 0` reproduces the part the probes read)."""
    folder = Path(folder or RESULTS)
    shipped = read_results(folder)
    differ = [f"{v} seed {s}" for v, seeds in results["cells"].items() for s, cell in seeds.items()
              if _same(shipped["cells"].get(v, {}).get(str(s)), cell) is False]
    if results["captions"] != shipped["captions"] or differ:
        raise MoranbError(f"this run is not the shipped experiment (held-out captions "
                          f"{'equal' if results['captions'] == shipped['captions'] else 'differ'}; cells that differ: "
                          f"{', '.join(differ) or 'none'}); run the whole experiment and ship it with --ship")
    shipped["why"] = results["why"]
    shipped["why_command"] = results["command"] + " --why --ship"
    write_results(shipped, folder)
    return shipped


def _same(shipped: dict | None, cell: dict) -> bool | None:
    if shipped is None:
        return None
    keys = ("t2v_judge", "t2v_person", "extension", "connection")
    return all(abs(shipped[k] - cell[k]) < 1e-9 for k in keys if shipped.get(k) is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moranb.miniloop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="where the rounds, trainings, videos and results go")
    parser.add_argument("--small", action="store_true", help="a small budget (1 round, 1 seed, 6 captions)")
    parser.add_argument("--variants", nargs="+", help="only these Table 5 variants (default: all five)")
    parser.add_argument("--seeds", nargs="+", type=int, help="only these training seeds (default: 0 1 2)")
    parser.add_argument("--ship", action="store_true", help="copy results.json, table5.md and table5.png into "
                                                            "moranb/mini/results/ (a run of only some variants or "
                                                            "seeds ships only its --why probes)")
    parser.add_argument("--why", action="store_true", help="after the experiment, the probes of WHY (what limits "
                                                           "the method: data, steps, learning rate)")
    args = parser.parse_args(argv)
    overrides = {k: tuple(v) for k, v in (("variants", args.variants), ("seeds", args.seeds)) if v}
    results = run(args.out, small=args.small, **overrides)
    if args.why:
        results["why"] = why(args.out)
        write_results(results, Path(args.out))
        print(why_markdown(results["why"]))
    print(table_markdown(results))
    print(f"curve: {[(c['round'], round(c['t2v_judge'], 3)) for c in results['curve']]}; "
          f"{results['seconds']:.0f} s")
    if args.ship and (overrides or args.small):
        if not args.why:
            raise SystemExit("a run of only some variants or seeds ships only its probes: add --why")
        ship_why(results)
    elif args.ship:
        write_results(results, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
