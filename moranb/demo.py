"""`make demo`: the main job on the tiny profile. Runs all six tasks on a CPU (the later ones on the earlier ones'
videos) and writes, under `--out`, one folder per run (video.mp4, frame_strip.png, manifest.json, ...) and a summary table (summary.md, summary.csv).

    python -m moranb.demo --out outputs/demo [--profile tiny] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import run_main
from .io import prepare_output_dir, write_text
from .report import markdown_table, to_csv

PROMPTS = [
    "a red fox running through fresh snow at sunrise",
    "a paper boat drifting down a rainy city street",
]


def jobs(out: Path, profile: str, seed: int):
    """(name, run) pairs in order; `run(done)` runs one task into its own folder, using earlier results in `done`."""
    from . import tasks

    def folder(name):
        return dict(profile=profile, seed=seed, out_dir=out / name)

    return [
        ("text_to_video_0", lambda done: tasks.text_to_video(PROMPTS[0], **folder("text_to_video_0"))),
        ("text_to_video_1", lambda done: tasks.text_to_video(PROMPTS[1], **folder("text_to_video_1"))),
        ("image_to_video", lambda done: tasks.image_to_video(
            done["text_to_video_0"].first_frame, "make it a snowy night", **folder("image_to_video"))),
        ("extend_video", lambda done: tasks.extend_video(
            done["text_to_video_0"].video, segments=1, **folder("extend_video"))),
        ("edit_video", lambda done: tasks.edit_video(
            done["text_to_video_1"].video, "make it autumn", **folder("edit_video"))),
        ("connect_videos", lambda done: tasks.connect_videos(
            done["text_to_video_0"].video, done["text_to_video_1"].video, **folder("connect_videos"))),
        ("simulate_digital_world", lambda done: tasks.simulate_digital_world(
            "a village by a river at dawn", **folder("simulate_digital_world"))),
    ]


def summary_rows(results) -> list[dict]:
    rows = []
    for name, r in results:
        v = r.video
        rows.append({
            "run": name, "task": r.task, "frames": v.num_frames, "segments": len(r.segments) or "",
            "size": f"{v.width}x{v.height}", "fps": f"{v.fps:g}", "seconds_of_video": round(v.duration, 2),
            "compute_s": round(sum(t for k, t in r.timings.items() if k != "write"), 2),
            "reused_stages": len(r.reused),
            "video": str(r.files["video"].relative_to(r.out_dir.parent)),
            "frame_strip": str(r.files["frame_strip"].relative_to(r.out_dir.parent)),
        })
    return rows


def demo(out, profile: str = "tiny", seed: int = 0):
    """Every job into its own folder under `out`, then the summary table (printed, summary.md, summary.csv)."""
    out = prepare_output_dir(out)
    done = {}
    for name, run in jobs(out, profile, seed):
        print(f"[demo] {name} ...", flush=True)
        done[name] = run(done)
    rows = summary_rows(list(done.items()))
    cells = [list(rows[0])] + [list(row.values()) for row in rows]
    table = markdown_table(cells)
    write_text(out / "summary.md", f"# moranb demo ({profile} profile, seed {seed})\n\n{table}")
    write_text(out / "summary.csv", to_csv(cells))
    print(table)
    print(f"[demo] wrote {out}/summary.md and one folder per run")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moranb.demo")
    parser.add_argument("--out", default="outputs/demo")
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return run_main(lambda: demo(args.out, args.profile, args.seed))


if __name__ == "__main__":
    sys.exit(main())
