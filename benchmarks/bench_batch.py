"""The batch runner (moranb.batch): its throughput with 1 and 2 processes, and its overhead against a plain loop.

- Overhead: in one process with the models loaded, the same items made by `run_batch` (grid, resume scan, VBench
  names, records, summary) and by a loop calling `text_to_video(prompt, seed=..., out_dir=...)` item by item (the
  same files written). Repetitions alternate batch/loop on fresh folders so that drift on a busy machine hits both;
  the table gives medians per item and their ratio. On a shared machine that ratio moves by more than the overhead
  itself, so the runner's own time is also measured directly: run_batch's wall time minus the time spent inside the
  task calls it makes (the bookkeeping: loading the grid, the resume scan, publishing under VBench's name, the
  records, the summary), as a share of the task time.
- Throughput: `python -m moranb.cli batch ...` in one process, and `accelerate launch --multi_gpu --num_processes 2
  -m moranb.cli batch ...` (two CPU processes), each on a fresh folder: wall time from launch to exit (start-up and
  model loading included) and items per minute. Every process gets `--threads` threads: one process stands for one
  device, as under `accelerate launch` on GPUs.

    .venv/bin/python benchmarks/bench_batch.py [--prompts 8] [--repeat 3] [--threads 1] [--out outputs/bench_batch.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars would bury the table (set before tqdm is imported)

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moranb import tasks  # noqa: E402
from moranb.batch import run_batch  # noqa: E402
from moranb.report import markdown_table  # noqa: E402
from moranb.agents import ensure_tiny_models  # noqa: E402

OPTIONS = dict(segments=1, frames_per_segment=4)  # the tiny profile's 96x64 frames; one short segment an item
CLI_OPTIONS = ["--segments", "1", "--frames", "4", "--no-progress"]
VENV_BIN = Path(sys.executable).parent


def prompts(n: int) -> list[str]:
    subjects = ["a red fox", "a kite", "a sailboat", "a lighthouse", "a steam train", "a hot-air balloon", "a heron",
                "a windmill", "a tram", "a glacier", "a koi pond", "a city at dusk"]
    return [f"{subjects[i % len(subjects)]}, view {i}" for i in range(n)]


def loop(items: list[str], out: Path) -> float:
    start = time.perf_counter()
    for i, prompt in enumerate(items):
        tasks.text_to_video(prompt, profile="tiny", seed=0, out_dir=out / f"{i}", **OPTIONS)
    return time.perf_counter() - start


INSIDE_TASK = []  # seconds spent inside each task call run_batch made


def timed(task):
    import functools

    @functools.wraps(task)
    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return task(*args, **kwargs)
        finally:
            INSIDE_TASK.append(time.perf_counter() - start)
    return call


def batch(items: list[str], out: Path) -> float:
    start = time.perf_counter()
    summary = run_batch(items, out=out, seeds=[0], progress=False, **OPTIONS)
    assert summary["made"] == len(items) and summary["failed"] == 0, summary
    return time.perf_counter() - start


def overhead(n: int, repeat: int, work: Path) -> list[list[str]]:
    items = prompts(n)
    tasks.TASKS["text_to_video"] = timed(tasks.TASKS["text_to_video"])  # what run_batch calls, timed
    batch(items[:1], work / "warm")  # load the models once, outside the timings
    times, own = {"loop": [], "batch": []}, []
    for r in range(repeat):
        for name, fn in (("loop", loop), ("batch", batch)) if r % 2 == 0 else (("batch", batch), ("loop", loop)):
            folder = work / f"{name}-{r}"
            INSIDE_TASK.clear()
            times[name].append(fn(items, folder))
            if name == "batch":
                own.append((times[name][-1] - sum(INSIDE_TASK)) / sum(INSIDE_TASK))
            shutil.rmtree(folder)
    loop_s, batch_s = statistics.median(times["loop"]) / n, statistics.median(times["batch"]) / n
    return [["items", "loop of text_to_video (s/item)", "run_batch (s/item)", "ratio (A/B)",
             "runner's own time / task time (direct)"],
            [n, f"{loop_s:.3f}", f"{batch_s:.3f}", f"{batch_s / loop_s:.3f}",
             f"{100 * statistics.median(own):.2f} % (range {100 * min(own):.2f} to {100 * max(own):.2f} %)"]]


def launch(processes: int, n: int, samples: int, threads: int, work: Path) -> tuple[float, dict]:
    source = work / "prompts.txt"
    source.write_text("\n".join(prompts(n)) + "\n", encoding="utf-8")
    out = work / f"launch-{processes}"
    args = ["batch", str(source), "--out", str(out), "--samples", str(samples), *CLI_OPTIONS]
    if processes == 1:
        cmd = [sys.executable, "-m", "moranb.cli", *args]
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [str(VENV_BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
               str(port), "-m", "moranb.cli", *args]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    import json

    return wall, json.loads((out / "summary.json").read_text())


def throughput(n: int, samples: int, threads: int, work: Path) -> list[list[str]]:
    rows = [["processes", "threads each", "items", "wall, launch to exit (s)", "items / minute",
             "s / item (in a process)", "device-hours"]]
    base = None
    for processes in (1, 2):
        wall, summary = launch(processes, n, samples, threads, work)
        rate = summary["made"] / wall * 60
        base = base or rate
        rows.append([processes, threads, summary["made"], f"{wall:.1f}",
                     f"{rate:.1f} ({rate / base:.2f}x)", f"{summary['seconds_per_item']:.2f}",
                     f"{summary['gpu_hours']:.4f}"])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench_batch")
    parser.add_argument("--prompts", type=int, default=8, help="items of the overhead comparison")
    parser.add_argument("--repeat", type=int, default=3, help="alternating batch/loop repetitions")
    parser.add_argument("--threads", type=int, default=1, help="torch threads a process (two processes: each)")
    parser.add_argument("--launch-prompts", type=int, default=8, help="prompts of the throughput grid (x 2 samples)")
    parser.add_argument("--out", help="also write the tables (markdown) here")
    args = parser.parse_args(argv)
    ensure_tiny_models()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        over = overhead(args.prompts, args.repeat, work)
        through = throughput(args.launch_prompts, 2, args.threads, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = (f"Overhead (one process, models loaded, {args.threads} thread(s), medians of {args.repeat}):\n\n"
            f"{markdown_table(over)}\nThroughput (tiny, segments=1, 4 frames, fresh processes):\n\n"
            f"{markdown_table(through)}")
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
