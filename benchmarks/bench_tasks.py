"""Orchestration overhead of each moranb task against the same diffusers calls made by hand.

For every task, on one process with the models already loaded: the wall time of the task function (no out_dir, so
no files) and of a "raw" version that makes exactly the same pipeline calls with the same arguments, directly on
the diffusers pipelines. Repetitions alternate task/raw so that drift on a busy machine hits both; the table shows
medians and their ratio. Model load time is measured apart (a fresh `from_pretrained` of each pipeline), and peak
memory is the process's peak resident set size after each task.

    .venv/bin/python benchmarks/bench_tasks.py [--profile tiny] [--repeat 5] [--out outputs/bench_tasks.md]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars would bury the table (set before tqdm is imported)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moranb import get_profile, models, tasks  # noqa: E402
from moranb.agents import (  # noqa: E402
    ConnectionAgent,
    ImageToImageAgent,
    ImageToVideoAgent,
    PromptAgent,
    TextToImageAgent,
)
from moranb.agents.connection import NEGATIVE_PROMPT  # noqa: E402
from moranb.report import markdown_table  # noqa: E402
from moranb.tasks.simulate_digital_world import DEFAULT_STYLE  # noqa: E402
from moranb.agents import ensure_tiny_models  # noqa: E402

PROMPT = "a red fox running through fresh snow"


def gen(seed):
    return torch.Generator("cpu").manual_seed(seed)


class Raw:
    """The tasks written directly against the diffusers pipelines, as a person would without moranb."""

    def __init__(self, p):
        self.p = p
        t2i = TextToImageAgent(p)
        self.base, self.refiner = t2i.pipe, t2i.refiner
        self.pix2pix = ImageToImageAgent(p).pipe
        self.svd = ImageToVideoAgent(p).pipe
        self.ltx = ConnectionAgent(p).pipe

    def text_to_image(self, prompt, seed):
        p, s = self.p, self.p.text_to_image
        kw = dict(prompt=prompt, negative_prompt=None, num_inference_steps=s.steps, guidance_scale=s.guidance_scale)
        latents = self.base(width=p.width, height=p.height, denoising_end=s.refiner_split, output_type="latent",
                            generator=gen(seed), **kw).images
        return self.refiner(image=latents, denoising_start=s.refiner_split, output_type="pil", generator=gen(seed),
                            **kw).images[0]

    def edit(self, image, instruction, seed):
        s = self.p.image_to_image
        return self.pix2pix(prompt=instruction, image=image, num_inference_steps=s.steps, guidance_scale=s.guidance_scale,
                            image_guidance_scale=s.image_guidance_scale, generator=gen(seed)).images[0]

    def animate(self, image, seed, segments):
        p, s = self.p, self.p.image_to_video
        clips = []
        for k in range(segments):
            frames = self.svd(image=image, height=image.height, width=image.width, num_frames=s.frames_per_segment,
                              num_inference_steps=s.steps, fps=p.fps, motion_bucket_id=s.motion_bucket_id,
                              noise_aug_strength=s.noise_aug_strength, decode_chunk_size=s.decode_chunk_size,
                              generator=gen(seed + k), output_type="np").frames[0]
            frames = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)
            clips.append(frames)
            image = Image.fromarray(frames[-1])
        return np.concatenate(clips)

    def connect(self, a, b, seed):
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        p = self.p
        n = p.connection.frames
        out = self.ltx(conditions=[LTXVideoCondition(image=Image.fromarray(a[-1]), frame_index=0),
                                   LTXVideoCondition(image=Image.fromarray(b[0]), frame_index=n - 1)],
                       prompt=p.connection.prompt, negative_prompt=NEGATIVE_PROMPT, width=p.width, height=p.height,
                       num_frames=n, frame_rate=p.fps, num_inference_steps=p.connection.steps,
                       guidance_scale=p.connection.guidance_scale, generator=gen(seed), output_type="np").frames[0]
        middle = (np.clip(out[1:-1], 0, 1) * 255).round().astype(np.uint8)
        return np.concatenate([a, middle, b])


def cases(p, raw, video_a, video_b, image):
    """task name -> (moranb call, raw call)."""
    enhanced = PromptAgent(p)(PROMPT)
    styled = PromptAgent(p)("a castle on a hill", style=DEFAULT_STYLE)
    per = p.image_to_video.frames_per_segment
    return {
        "text_to_video": (lambda: tasks.text_to_video(PROMPT, profile=p),
                          lambda: raw.animate(raw.text_to_image(enhanced, 0), 0, p.image_to_video.segments)),
        "image_to_video": (lambda: tasks.image_to_video(image, "make it night", profile=p),
                           lambda: raw.animate(raw.edit(image, "make it night", 0), 0, p.image_to_video.segments)),
        "extend_video": (lambda: tasks.extend_video(video_a, profile=p, segments=1),
                         lambda: np.concatenate([video_a.frames,
                                                 raw.animate(video_a.last_frame, 0, 1)])),
        "edit_video": (lambda: tasks.edit_video(video_a, "make it autumn", profile=p),
                       lambda: raw.animate(raw.edit(video_a.first_frame, "make it autumn", 0), 0,
                                           math.ceil(video_a.num_frames / per))[: video_a.num_frames]),
        "connect_videos": (lambda: tasks.connect_videos(video_a, video_b, profile=p),
                           lambda: raw.connect(video_a.frames, video_b.frames, 0)),
        "simulate_digital_world": (lambda: tasks.simulate_digital_world("a castle on a hill", profile=p),
                                   lambda: raw.animate(raw.text_to_image(styled, 0), 0, p.image_to_video.segments)),
    }


def load_times(p) -> dict[str, float]:
    """Seconds for a fresh from_pretrained (+ placement) of each pipeline."""
    times = {}
    models.clear()
    for name, make in [("text_to_image (base+refiner)", lambda: TextToImageAgent(p).refiner),
                       ("image_to_image", lambda: ImageToImageAgent(p).pipe),
                       ("image_to_video", lambda: ImageToVideoAgent(p).pipe),
                       ("connection", lambda: ConnectionAgent(p).pipe)]:
        start = time.perf_counter()
        make()
        times[name] = time.perf_counter() - start
    return times


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", help="also write the table (markdown) here")
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")

    p = get_profile(args.profile)
    if p.name == "tiny":
        ensure_tiny_models()  # built before timing: the load times are loads, not builds
    loads = load_times(p)
    raw = Raw(p)
    a = tasks.text_to_video(PROMPT, profile=p, seed=0).video
    b = tasks.text_to_video("a paper boat on a rainy street", profile=p, seed=1).video
    image = a.first_frame

    rows = []
    for name, (task_call, raw_call) in cases(p, raw, a, b, image).items():
        task_call(), raw_call()  # warm-up: caches, lazy imports, allocator
        task_s, raw_s = [], []
        for _ in range(args.repeat):
            for call, bucket in ((task_call, task_s), (raw_call, raw_s)):
                start = time.perf_counter()
                call()
                bucket.append(time.perf_counter() - start)
        t, r = statistics.median(task_s), statistics.median(raw_s)
        rows.append((name, t, r, t / r, peak_rss_mb()))
        print(f"{name}: moranb {t:.3f}s raw {r:.3f}s ratio {t / r:.3f}", file=sys.stderr, flush=True)

    title = (f"Orchestration overhead, profile {p.name}, {args.repeat} repetitions (median), "
             f"torch {torch.__version__}, {os.cpu_count()} CPUs\n\n")
    overhead = [["task", "moranb (s)", "raw diffusers (s)", "ratio", "peak RSS so far (MB)"]]
    overhead += [[n, f"{t:.3f}", f"{r:.3f}", f"{ratio:.3f}", f"{m:.0f}"] for n, t, r, ratio, m in rows]
    load = [["model load (fresh from_pretrained)", "seconds"]] + [[n, f"{s:.2f}"] for n, s in loads.items()]
    table = title + markdown_table(overhead) + "\n" + markdown_table(load)
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
