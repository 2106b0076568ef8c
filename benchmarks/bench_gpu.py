"""Wall time and peak GPU memory of every task with the paper's models at their real sizes, random weights.

Nothing is downloaded: each model is built from its published architecture (`moranb.realsize`) with random
weights, straight on the GPU, put into a pipeline with the tiny profile's schedulers, tokenizers and processors (the
same configurations as the real ones), written with `save_pretrained` into one local folder per model, and loaded
back by the profiles' one loading path (`moranb.models.from_pretrained`), like the tiny profile. The compute and
memory are those of the real models; the frames are noise. Every task then runs at the paper's settings (the
profile's own: 1024x576, 40 + 25 x 3 steps, ...) on `full` and on `lowvram`, and at the Wan profiles' (`wan`:
1280x720, 81-frame segments, an 80 GB GPU; `wan16`: 832x480, a 16 GB one), and the table gives each task's wall
time and peak GPU memory (torch's max_memory_allocated, so without the CUDA context) beside `moranb plan`'s
estimate of the profile's peak.

    .venv/bin/python benchmarks/bench_gpu.py [--dir outputs/bench_gpu_models] [--variants full lowvram ...]
                                             [--tasks text_to_video connect_videos] [--out outputs/bench_gpu.md]

A variant is a profile with some of its speed/memory options (`VARIANTS`: group offload, VAE tiling,
torch.compile, First Block Cache), so their effect on time and memory is measured by the same runs; their effect on
the frames is measured on tiny by benchmarks/bench_options.py.

Needs a CUDA GPU (80 GB for `full` and `wan`), about 55 GB of disk for the saved models (about 180 GB more for the
Wan models) and as much CPU memory as `lowvram`
offloads to. Without CUDA it stops at once with one line.
"""

from __future__ import annotations

import argparse
import inspect
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
    "wan": ("wan", {}),
    "wan16": ("wan16", {}),
}
TASKS = ("text_to_video", "image_to_video", "extend_video", "edit_video", "connect_videos", "simulate_digital_world")
# The profile fields built at real size (the prompt LLM apart), and the pipeline class of those whose class is not
# in their settings (`pipeline`).
FIELDS = ("text_to_image", "refiner", "image_to_image", "image_to_video", "vace", "connection")
CLASSES = {"text_to_image": "StableDiffusionXLPipeline", "refiner": "StableDiffusionXLImg2ImgPipeline",
           "image_to_image": "StableDiffusionInstructPix2PixPipeline", "vace": "WanVACEPipeline"}
# Each real profile's tiny twin: the same classes, whose schedulers, tokenizers and processors the real-size
# models are put into.
TINY_TWIN = {"full": "tiny", "lowvram": "tiny", "colab": "tiny", "wan": "tiny-wan", "wan16": "tiny-wan16"}


def pipeline_class(profile, field: str) -> str:
    return CLASSES.get(field) or getattr(profile, field).pipeline


def build_models(root: Path, profile_names) -> dict[str, Path]:
    """The real-size random-weight models of the profiles, saved under `root` (skipped where already there)."""
    import diffusers
    import torch

    from moranb import get_profile, realsize
    from moranb.agents import ensure_tiny_models
    from moranb.tiny import tiny_root

    ensure_tiny_models()
    folders = {}
    for profile_name in profile_names:
        real, twin = get_profile(profile_name), get_profile(TINY_TWIN[profile_name])
        for field in FIELDS:
            model = real.model(field)
            if model is None:
                continue
            out = root / model.source.split("/")[-1]  # one folder per model, whichever profiles name it
            folders[(profile_name, field)] = out
            if (out / ".complete").exists():
                continue
            dtype = model.torch_dtype(real)
            cls = getattr(diffusers, pipeline_class(real, field))
            tiny = cls.from_pretrained(twin.model(field).source)  # schedulers, tokenizers, processors
            components = dict(tiny.components)
            for component in realsize.ARCHITECTURES[model.source]:
                torch.manual_seed(0)
                components[component] = realsize.build(model.source, component, device="cuda", dtype=dtype)
            # The pipeline's own settings (Wan 2.2's boundary_ratio, expand_timesteps) as its tiny twin has them.
            settings = {k: v for k, v in tiny.config.items() if k in inspect.signature(cls.__init__).parameters
                        and k not in components}
            pipe = cls(**components, **settings)
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
    for (profile_name, field), folder in folders.items():
        if profile_name == name and isinstance(field, str):
            p = p.with_model(field, Model(str(folder), dtype=p.model(field).dtype))
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
    # Load every model first (from_pretrained of the saved folders), so the task times are generation only; with
    # offload "sequential" each model loads when its stage starts (one at a time), so the task times include loading.
    if p.offload != "sequential":
        for agent in (TextToImageAgent(p), ImageToImageAgent(p), ImageToVideoAgent(p), ConnectionAgent(p)):
            agent.pipe
        TextToImageAgent(p).refiner
        if p.image_to_video.vace is not None:
            ImageToVideoAgent(p).vace_pipe
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
