"""What each GPU speed/memory option of a profile does to the frames, measured by moranb.eval on the tiny profile.

`benchmarks/bench_gpu.py` measures the options' time and memory on a GPU; this script runs anywhere (a CPU in a
few minutes) and answers the other question: does the option change what comes out? For every option, the
text-to-video task (SDXL first frame, one SVD segment) and the connection agent (LTX-Video) are run with the same
seeds as the baseline profile, and the table gives the wall time (median of `--repeat` warm runs; torch.compile's
first call, the compilation, apart), the largest pixel difference and PSNR against the baseline's frames, and the
change in each offline VBench dimension (moranb.eval) against the baseline's score, for the text-to-video
frames and for the connection's.

The connection agent runs a copy of the tiny LTX-Video with two transformer blocks (First Block Cache needs a first
block to test and at least one more to reuse). Tiny's weights are random, so a metric's change says how far an
option moves the frames, not whether they get better.

    .venv/bin/python benchmarks/bench_options.py [--repeat 3] [--out outputs/bench_options.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "a red fox running through fresh snow"
VARIANTS = {
    "baseline": {},
    "offload=group": {"offload": "group"},
    "vae_tiling": {"vae_tiling": True},
    "compile": {"compile": True},
    "first_block_cache=0.05": {"first_block_cache": 0.05},
    "first_block_cache=0.2": {"first_block_cache": 0.2},
}
METRICS = ("subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
           "dynamic_degree", "imaging_quality")


def two_block_ltx(profile, root: Path):
    import torch
    from diffusers import LTXVideoTransformer3DModel

    from moranb import Model

    folder = root / "ltx-video-2-blocks"
    if not folder.exists():
        shutil.copytree(profile.connection.model.source, folder)
        config = dict(LTXVideoTransformer3DModel.load_config(folder / "transformer"), num_layers=2)
        torch.manual_seed(0)
        LTXVideoTransformer3DModel.from_config(config).save_pretrained(folder / "transformer")
    return profile.with_model("connection", Model(str(folder)))


def run_once(p):
    """(text-to-video frames, connection frames) of `p`, with fixed seeds."""
    from moranb.agents import ConnectionAgent, ImageToVideoAgent, TextToImageAgent

    image = TextToImageAgent(p)(PROMPT, seed=0)
    video = ImageToVideoAgent(p)(image, seed=0, segments=1, progress=False).video
    frames = video.frames
    clip = ConnectionAgent(p)(frames[-1], frames[0], seed=0)
    return video, clip


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def scores(video) -> dict:
    from moranb import eval as ev

    return {name: getattr(ev, name)(video, backend="offline").value for name in METRICS}


def delta(value, reference) -> str:
    return "n/a" if value is None or reference is None else f"{value - reference:+.4f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per option (the median is reported)")
    parser.add_argument("--out", default="outputs/bench_options.md")
    args = parser.parse_args(argv)

    import torch

    from moranb import get_profile, models
    from moranb.report import markdown_table
    from moranb.agents import ensure_tiny_models

    ensure_tiny_models()
    base = two_block_ltx(get_profile("tiny"), Path(tempfile.mkdtemp(prefix="moranb-bench-options-")))
    results = {}
    for name, changes in VARIANTS.items():
        models.clear()
        p = base.replace(**changes)
        t0 = time.perf_counter()
        first = run_once(p)  # loads the models (and compiles, with compile=True)
        first_s = time.perf_counter() - t0
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            again = run_once(p)
            times.append(time.perf_counter() - t0)
        same = all(np.array_equal(x.frames, y.frames) for x, y in zip(first, again))
        results[name] = {"video": first[0], "clip": first[1], "first_s": first_s, "warm_s": statistics.median(times),
                         "repeatable": same}
        print(f"{name}: first run {first_s:.1f} s, warm {results[name]['warm_s']:.2f} s", flush=True)
    ref = results["baseline"]
    ref_scores = {kind: scores(ref[kind]) for kind in ("video", "clip")}
    header = ["option", "warm run (s)", "first run (s)", "same seed, same frames", "video: max |diff|, PSNR (dB)",
              "connection: max |diff|, PSNR (dB)"] + [f"d {m} (video / connection)" for m in METRICS]
    rows = [header]
    for name, r in results.items():
        cells = [name, f"{r['warm_s']:.2f}", f"{r['first_s']:.1f}", "yes" if r["repeatable"] else "NO"]
        for kind in ("video", "clip"):
            a, b = r[kind].frames, ref[kind].frames
            cells.append(f"{int(np.abs(a.astype(int) - b.astype(int)).max())}, {psnr(a, b):.1f}")
        mine = {kind: scores(r[kind]) for kind in ("video", "clip")}
        cells += [" / ".join(delta(mine[kind][m], ref_scores[kind][m]) for kind in ("video", "clip")) for m in METRICS]
        rows.append(cells)
    text = (f"tiny profile (LTX-Video with 2 blocks), CPU ({os.cpu_count()} cores), torch {torch.__version__}; "
            f"metric deltas: offline moranb.eval against the baseline's score on the same output\n\n"
            f"{markdown_table(rows)}\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
