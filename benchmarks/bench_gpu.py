"""Wall time and peak GPU memory of every task with the paper's models at their real sizes, random weights.

Nothing is downloaded: each model is built from its published architecture (`moranb.realsize`) with random
weights, straight on the GPU, put into a pipeline with the tiny profile's schedulers, tokenizers and processors (the
same configurations as the real ones), written with `save_pretrained` into one local folder per model, and loaded
back by the profiles' one loading path (`moranb.models.from_pretrained`), like the tiny profile. The compute and
memory are those of the real models; the frames are noise. Every task then runs at the paper's settings (the
profile's own: 1024x576, 40 + 25 x 3 steps, ...) on `full` and on `lowvram`, and the table gives each task's wall
time and peak GPU memory (torch's max_memory_allocated, so without the CUDA context) beside `moranb plan`'s
estimate of the profile's peak.

    .venv/bin/python benchmarks/bench_gpu.py [--dir outputs/bench_gpu_models] [--variants full lowvram ...]
                                             [--tasks text_to_video connect_videos] [--out outputs/bench_gpu.md]

A variant is a profile with some of its speed/memory options (`VARIANTS`: group offload, VAE tiling,
torch.compile, First Block Cache), so their effect on time and memory is measured by the same runs; their effect on
the frames is measured on tiny by benchmarks/bench_options.py.

Needs a CUDA GPU (80 GB for `full`), about 55 GB of disk for the saved models and as much CPU memory as `lowvram`
offloads to. Without CUDA it stops at once with one line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "a red fox running through fresh snow"
# name -> (profile, options): the profiles as shipped, then each speed/memory option on the profile it is for.
VARIANTS = {
    "full": ("full", {}),
    "full+compile": ("full", {"compile": True}),
    "full+first_block_cache": ("full", {"first_block_cache": 0.1}),
    "full+vae_tiling": ("full", {"vae_tiling": True}),
    "lowvram": ("lowvram", {}),
    "lowvram+group_offload": ("lowvram", {"offload": "group"}),
    "lowvram+vae_tiling": ("lowvram", {"vae_tiling": True}),
}
TASKS = ("text_to_video", "image_to_video", "extend_video", "edit_video", "connect_videos", "simulate_digital_world")
# One local folder per profile field, and the pipeline (or causal LM) class that writes and reads it.
PIPELINES = {
    "text_to_image": ("sdxl-base", "StableDiffusionXLPipeline"),
    "refiner": ("sdxl-refiner", "StableDiffusionXLImg2ImgPipeline"),
    "image_to_image": ("instruct-pix2pix", "StableDiffusionInstructPix2PixPipeline"),
    "image_to_video": ("svd-xt", "StableVideoDiffusionPipeline"),
    "connection": ("ltx-video", "LTXConditionPipeline"),
}


def build_models(root: Path, profile_names) -> dict[str, Path]:
    """The real-size random-weight models of the profiles, saved under `root` (skipped where already there)."""
    import diffusers
    import torch

    from moranb import get_profile, realsize
    from moranb.agents import ensure_tiny_models
    from moranb.tiny import tiny_root

    ensure_tiny_models()
    full = get_profile("full")
    folders = {}
    for field, (name, cls_name) in PIPELINES.items():
        out = root / name
        folders[field] = out
        if (out / ".complete").exists():
            continue
        model = full.model(field)
        dtype = model.torch_dtype(full)
        cls = getattr(diffusers, cls_name)
        tiny = cls.from_pretrained(str(tiny_root() / name))  # schedulers, tokenizers, processors
        components = dict(tiny.components)
        for component in realsize.ARCHITECTURES[model.source]:
            torch.manual_seed(0)
            components[component] = realsize.build(model.source, component, device="cuda", dtype=dtype)
        pipe = cls(**components)
        pipe.save_pretrained(out, safe_serialization=True)
        (out / ".complete").write_text("ok\n")
        del pipe, components, tiny
        torch.cuda.empty_cache()
        print(f"built {field}: {model.source} -> {out}", flush=True)
    for profile_name in profile_names:
        llm = get_profile(profile_name).prompt.model
        out = root / ("llm-" + llm.source.split("/")[-1])
        folders[f"llm:{profile_name}"] = out
        if not (out / ".complete").exists():
            _build_llm(llm.source, out)
    return folders


def _build_llm(source: str, out: Path):
    """The prompt LLM at its real size with the tiny profile's tokenizer (its ids all fit the real vocabulary)."""
    import torch
    from transformers import AutoTokenizer

    from moranb import realsize
    from moranb.tiny import tiny_root

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_root() / "llm"))
    torch.manual_seed(0)
    model = realsize.build(source, "model", device="cuda", dtype=torch.float16)
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        setattr(model.config, name, getattr(tokenizer, name))
        setattr(model.generation_config, name, getattr(tokenizer, name))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / ".complete").write_text("ok\n")
    del model
    torch.cuda.empty_cache()
    print(f"built llm: {source} -> {out}", flush=True)


def profile_with(name: str, folders: dict[str, Path], options: dict | None = None):
    """The profile `name` (with `options`) with every model pointed at its local real-size folder (no hub
    variant)."""
    from moranb import Model, get_profile

    p = get_profile(name, **(options or {}))
    for field in PIPELINES:
        p = p.with_model(field, Model(str(folders[field]), dtype=p.model(field).dtype))
    return p.with_model("llm", Model(str(folders[f"llm:{name}"])))


def run_variant(variant: str, folders, task_names=TASKS) -> list[dict]:
    import torch

    from moranb import get_profile, models, tasks
    from moranb.agents import ConnectionAgent, ImageToImageAgent, ImageToVideoAgent, TextToImageAgent
    from moranb.plan import plan

    name, options = VARIANTS[variant]
    models.clear()
    torch.cuda.reset_peak_memory_stats()
    p = profile_with(name, folders, options)
    rows = []
    start = time.perf_counter()
    # Load every model first (from_pretrained of the saved folders), so the task times are generation only.
    for agent in (TextToImageAgent(p), ImageToImageAgent(p), ImageToVideoAgent(p), ConnectionAgent(p)):
        agent.pipe
    TextToImageAgent(p).refiner
    if p.prompt.backend == "transformers":
        models.load_llm(p.prompt.model, p)
    torch.cuda.synchronize()
    rows.append({"profile": variant, "task": "(load all models)", "wall_s": time.perf_counter() - start,
                 "peak_gib": torch.cuda.max_memory_allocated() / 2**30})

    first = {}

    def text_to_video():
        first["t2v"] = tasks.text_to_video(PROMPT, profile=p)
        return first["t2v"]

    cases = {
        "text_to_video": text_to_video,
        "image_to_video": lambda: tasks.image_to_video(first["t2v"].video.frames[0], "make it night", profile=p),
        "extend_video": lambda: tasks.extend_video(first["t2v"].video, profile=p, segments=1),
        "edit_video": lambda: tasks.edit_video(first["t2v"].video, "make it autumn", profile=p),
        "connect_videos": lambda: tasks.connect_videos(first["t2v"].video, first["t2v"].segments[0], profile=p),
        "simulate_digital_world": lambda: tasks.simulate_digital_world("a castle on a hill", profile=p),
    }
    for task, call in cases.items():
        if task != "text_to_video" and task not in task_names:  # text_to_video always: the others start from it
            continue
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        result = call()
        torch.cuda.synchronize()
        rows.append({"profile": variant, "task": task, "wall_s": time.perf_counter() - t0,
                     "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
                     "frames": result.video.num_frames})
        print(f"{variant} {task}: {rows[-1]['wall_s']:.1f} s, peak {rows[-1]['peak_gib']:.2f} GiB", flush=True)
    from moranb.config import bf16_supported

    estimate = plan(get_profile(name, **options), gpu_gb=torch.cuda.get_device_properties(0).total_memory / 2**30,
                    bf16=bf16_supported())
    for row in rows:
        row["plan_gib"] = estimate.peak_gib
    models.clear()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="outputs/bench_gpu_models", help="where the real-size models are saved")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="profiles and option variants to run (default: all; 'full' ones need an 80 GB GPU)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS),
                        help="tasks to time (text_to_video always runs: the others start from its video)")
    parser.add_argument("--out", default="outputs/bench_gpu.md")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU on this machine; run it where there is one (an 80 GB GPU for 'full', 16 GB "
              "for 'lowvram', ~55 GB of disk for the real-size models)", file=sys.stderr)
        return 2
    from moranb.report import markdown_table

    folders = build_models(Path(args.dir), sorted({VARIANTS[v][0] for v in args.variants}))
    rows = []
    for variant in args.variants:
        rows += run_variant(variant, folders, args.tasks)
    device = torch.cuda.get_device_name(0)
    table = markdown_table(
        [["variant", "task", "wall (s)", "peak GPU (GiB, allocated)", "moranb plan's peak (GiB)"]]
        + [[r["profile"], r["task"], f"{r['wall_s']:.1f}", f"{r['peak_gib']:.2f}", f"{r['plan_gib']:.1f}"]
           for r in rows])
    text = f"GPU: {device}, torch {torch.__version__}\n\n{table}\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
