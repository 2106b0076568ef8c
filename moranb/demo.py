"""`make demo`: the main job. Runs all six tasks on a CPU (the later ones on the earlier ones' videos) on the tiny
profile (random weights: the plumbing, in noise) and on the mini profile (agents moranb trained on its miniature
world: videos that follow their captions), and writes, under `--out`, one folder per profile and run (video.mp4,
frame_strip.png, manifest.json, ..., and playing.gif: the video enlarged to watch, the mini world's 16x16 pixel by
pixel), a summary table (summary.md, summary.csv), side_by_side.png, each task's tiny frame strip above its mini one,
and index.html, a page where every run plays beside what it asked and what the mini judge read.

    python -m moranb.demo --out outputs/demo [--profile tiny mini] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import run_main
from .io import prepare_output_dir, save_image, write_text
from .report import markdown_table, to_csv

# What each profile's runs are asked for: the mini world knows only its grammar ("a <colour> <shape> <motion> on a
# <background> background") and its two edits ("make it <colour>", "make the background <background>").
PROMPTS = {
    "tiny": {"text_to_video_0": "a red fox running through fresh snow at sunrise",
             "text_to_video_1": "a paper boat drifting down a rainy city street",
             "image_to_video": "make it a snowy night", "edit_video": "make it autumn",
             "simulate_digital_world": "a village by a river at dawn"},
    "mini": {"text_to_video_0": "a red circle moving right on a blue background",
             "text_to_video_1": "a yellow triangle moving up on a black background",
             "image_to_video": "make it green", "edit_video": "make the background gray",
             "simulate_digital_world": "a white square growing on a gray background"},
}
PROMPTS["colab"] = PROMPTS["lowvram"] = PROMPTS["full"] = PROMPTS["tiny"]


def jobs(out: Path, profile: str, seed: int):
    """(name, run) pairs in order; `run(done)` runs one task into its own folder, using earlier results in `done`."""
    from . import tasks

    ask = PROMPTS.get(profile, PROMPTS["tiny"])

    def folder(name):
        return dict(profile=profile, seed=seed, out_dir=out / name)

    return [
        ("text_to_video_0", lambda done: tasks.text_to_video(ask["text_to_video_0"], **folder("text_to_video_0"))),
        ("text_to_video_1", lambda done: tasks.text_to_video(ask["text_to_video_1"], **folder("text_to_video_1"))),
        ("image_to_video", lambda done: tasks.image_to_video(
            done["text_to_video_0"].first_frame, ask["image_to_video"], **folder("image_to_video"))),
        ("extend_video", lambda done: tasks.extend_video(
            done["text_to_video_0"].video, segments=1, **folder("extend_video"))),
        ("edit_video", lambda done: tasks.edit_video(
            done["text_to_video_1"].video, ask["edit_video"], **folder("edit_video"))),
        ("connect_videos", lambda done: tasks.connect_videos(
            done["text_to_video_0"].video, done["text_to_video_1"].video, **folder("connect_videos"))),
        ("simulate_digital_world", lambda done: tasks.simulate_digital_world(
            ask["simulate_digital_world"], **folder("simulate_digital_world"))),
    ]


def judged(result) -> str:
    """What the mini judge reads in a mini run's video (as a caption), and the `mini_judge` metric's verdict on what
    the run asked for (a caption; an edit's colour or background; an extension's motion), where it asked for any."""
    from .mini.judge import read
    from .mini.verdict import mini_judge
    from .mini.world import SIZE, Attributes

    video = result.video if result.video.size == (SIZE, SIZE) else result.video.resized(SIZE, SIZE)
    seen = Attributes(**read(video.frames[None])[0]).caption
    score = mini_judge(result.video, result.record())
    if score.value is None:
        return seen
    return f"{seen} ({'follows' if score.value == 1 else score.reason}; {score.value:.2f})"


def asked(name: str, profile: str) -> str:
    """What run `name` asks for, in a few words: its prompt or instruction, or which runs it continues or joins."""
    given = {"extend_video": "text_to_video_0, one segment more", "connect_videos": "text_to_video_0 -> text_to_video_1"}
    return given.get(name) or PROMPTS.get(profile, PROMPTS["tiny"]).get(name, "")


def summary_rows(results, profile: str) -> list[dict]:
    rows = []
    for name, r in results:
        v = r.video
        rows.append({
            "profile": profile, "run": name, "task": r.task, "asked": asked(name, profile), "frames": v.num_frames,
            "segments": len(r.segments) or "", "size": f"{v.width}x{v.height}", "fps": f"{v.fps:g}",
            "seconds_of_video": round(v.duration, 2),
            "compute_s": round(sum(t for k, t in r.timings.items() if k != "write"), 2),
            "reused_stages": len(r.reused),
            "mini_judge": judged(r) if profile == "mini" else "",
            "video": str(r.files["video"].relative_to(r.out_dir.parent.parent)),
            "frame_strip": str(r.files["frame_strip"].relative_to(r.out_dir.parent.parent)),
            "playing": str(playing_gif(r).relative_to(r.out_dir.parent.parent)),
        })
    return rows


def playing_gif(result) -> Path:
    """`playing.gif` in the run's folder: its video looping, enlarged to 256 pixels (`video.gif_bytes`)."""
    from .io import atomic_path
    from .video import gif_bytes

    path = result.out_dir / "playing.gif"
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(gif_bytes(result.video, 256))
    return path


def index_page(rows: list[dict], title: str) -> str:
    """index.html: one row per run, each profile's video playing beside what it asked and what the judge read."""
    from html import escape

    cells = []
    for row in rows:
        verdict = f"<br>mini judge: {escape(str(row['mini_judge']))}" if row["mini_judge"] else ""
        cells.append(f"<tr><td><b>{escape(row['run'])}</b> ({escape(row['profile'])})<br>{escape(row['task'])}<br>"
                     f"asked: <i>{escape(str(row['asked']))}</i>{verdict}<br>{row['frames']} frames, {row['size']}</td>"
                     f"<td><img src=\"{escape(row['playing'])}\" width=\"256\" alt=\"{escape(row['run'])}\" "
                     f"style=\"image-rendering: pixelated\"></td></tr>")
    return (f"<!doctype html><meta charset=\"utf-8\"><title>{escape(title)}</title><h1>{escape(title)}</h1>"
            f"<table cellpadding=\"8\">{''.join(cells)}</table>\n")


def side_by_side(strips: dict[str, dict[str, Path]]):
    """One picture: for each run, its frame strip on each profile, one above the other, labelled."""
    from PIL import Image, ImageDraw

    from .video import _font

    names = list(next(iter(strips.values())))
    rows = [(f"{name} ({profile})", Image.open(strips[profile][name]).convert("RGB"))
            for name in names for profile in strips if name in strips[profile]]
    width = max(image.width for _, image in rows) + 16
    label = 22
    out = Image.new("RGB", (width, sum(image.height + label + 8 for _, image in rows) + 8), "white")
    draw, y = ImageDraw.Draw(out), 8
    for title, image in rows:
        draw.text((8, y), title, fill="black", font=_font(16))
        out.paste(image, (8, y + label))
        y += image.height + label + 8
    return out


def demo(out, profiles=("tiny", "mini"), seed: int = 0):
    """Every job of every profile into its own folder under `out`/profile, then the summary table (printed,
    summary.md, summary.csv) and side_by_side.png."""
    out = prepare_output_dir(out)
    rows, strips = [], {}
    for profile in profiles:
        done = {}
        for name, run in jobs(out / profile, profile, seed):
            print(f"[demo] {profile}: {name} ...", flush=True)
            done[name] = run(done)
        rows += summary_rows(list(done.items()), profile)
        strips[profile] = {name: r.files["frame_strip"] for name, r in done.items()}
    cells = [list(rows[0])] + [list(row.values()) for row in rows]
    table = markdown_table(cells)
    write_text(out / "summary.md", f"# moranb demo ({', '.join(profiles)}; seed {seed})\n\n{table}")
    write_text(out / "summary.csv", to_csv(cells))
    save_image(side_by_side(strips), out / "side_by_side.png")
    write_text(out / "index.html", index_page(rows, f"moranb demo ({', '.join(profiles)}; seed {seed})"))
    print(table)
    print(f"[demo] wrote {out}/summary.md, {out}/side_by_side.png, {out}/index.html (every run playing) and one "
          f"folder per profile and run")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moranb.demo")
    parser.add_argument("--out", default="outputs/demo")
    parser.add_argument("--profile", nargs="+", default=["tiny", "mini"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return run_main(lambda: demo(args.out, args.profile, args.seed))


if __name__ == "__main__":
    sys.exit(main())
