"""The command line: one subcommand per task, e.g. `moranb t2v "a prompt" --profile tiny --out DIR`.

Errors a user can fix are printed as one line (`moranb: error: ...`) with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .agents import TRAINERS
from .agents.prompt import BACKENDS as PROMPT_BACKENDS
from .config import PROFILES
from .errors import run_main
from .tasks.simulate_digital_world import DEFAULT_STYLE, ROUTES


def _common(parser: argparse.ArgumentParser, frames: bool = True):
    parser.add_argument("--profile", default="tiny", help=f"one of {', '.join(PROFILES)} (moranb.config: tiny and mini "
                                                          f"run on a CPU)")
    parser.add_argument("--out", required=True, help="output directory (created if needed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--review", help="a decisions JSON file (see moranb.review.DecisionsFile) or 'approve'")
    parser.add_argument("--adapters", help="fine-tuned agents: the adapters folder `moranb finetune` wrote")
    if frames:
        parser.add_argument("--frames", type=int, dest="frames_per_segment", help="frames per segment")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moranb", description="Mora multi-agent video generation")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("t2v", help="text-to-video: prompt -> first frame -> video")
    p.add_argument("prompt")
    _common(p)
    p.add_argument("--segments", type=int, help="image-to-video segments (each from the last frame)")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--prompt-backend", choices=PROMPT_BACKENDS, help="default: the profile's")

    p = sub.add_parser("i2v", help="text-conditioned image-to-video: the text edits the image, then it moves")
    p.add_argument("image")
    p.add_argument("prompt")
    _common(p)
    p.add_argument("--segments", type=int)
    p.add_argument("--no-edit", action="store_true", help="animate the image as it is")

    p = sub.add_parser("extend", help="continue a video from its last frame")
    p.add_argument("video")
    _common(p)
    p.add_argument("--segments", type=int, default=1)
    p.add_argument("--prompt", help="what the video shows (changes no frame; scored for temporal style)")

    p = sub.add_parser("edit", help="video-to-video editing: edit the first frame, regenerate the video")
    p.add_argument("video")
    p.add_argument("instruction")
    _common(p)

    p = sub.add_parser("connect", help="connect two videos with a generated transition")
    p.add_argument("video_a")
    p.add_argument("video_b")
    _common(p, frames=False)
    p.add_argument("--prompt", help="what the transition shows (default: the profile's 'smooth transition')")

    p = sub.add_parser("world", help="simulate a digital world: a video in a game-like style")
    p.add_argument("prompt")
    _common(p)
    p.add_argument("--style", help=f"the digital-world style (default: '{DEFAULT_STYLE}')")
    p.add_argument("--route", choices=ROUTES, help="'prompt' writes the style into the prompt (the task's default), "
                                                   "'edit' restyles the first frame with image-to-image")
    p.add_argument("--segments", type=int)

    p = sub.add_parser("finetune", help="self-modulated fine-tuning of the agents on a moranb dataset (resumable; "
                                        "multi-GPU with `accelerate launch -m moranb.cli finetune ...`)")
    p.add_argument("dataset", help="a dataset folder (moranb.data.build_dataset)")
    p.add_argument("--profile", default="tiny")
    p.add_argument("--out", required=True, help="run folder: checkpoints/, adapters/, history.json, training.png")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--agents", nargs="+", choices=list(TRAINERS))
    p.add_argument("--steps-per-round", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--gradient-accumulation", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--lora-rank", type=int)
    p.add_argument("--frames", type=int, help="frames of the image-to-video clips (default: the profile's segment)")
    p.add_argument("--full-finetune", action="store_true", help="train the whole denoisers, not LoRA adapters")
    p.add_argument("--no-self-modulation", action="store_true", help="alpha_i = 1 (z_i still trained)")
    p.add_argument("--modulation-init", choices=["mod-token", "random"])
    p.add_argument("--restart", action="store_true", help="ignore the checkpoints in --out and start over")

    p = sub.add_parser("batch", help="a task over a prompt x seed grid, videos named as VBench expects (resumable; "
                                     "sharded with `accelerate launch --multi_gpu --num_processes N -m moranb.cli "
                                     "batch ...`)")
    p.add_argument("source", help="'vbench' (VBench's standard prompt suite), a .txt file (one prompt a line) or a "
                                  ".jsonl file (one {\"prompt\": ..., option: value} a line)")
    p.add_argument("--task", default="text_to_video", help="the task each item runs (default: text_to_video)")
    p.add_argument("--profile", default="tiny")
    p.add_argument("--out", required=True, help="batch folder: videos/{prompt}-{i}.mp4, items/, batch.json, "
                                                "summary.json")
    p.add_argument("--samples", type=int, help="videos a prompt (default 5, VBench's), sample i made with seed i")
    p.add_argument("--seeds", type=int, nargs="+", help="the seed of each sample (default 0 1 2 3 4)")
    p.add_argument("--dimensions", nargs="+", help="VBench's suite: only the prompts of these dimensions")
    p.add_argument("--limit", type=int, help="only the first N prompts (of each chosen dimension for 'vbench')")
    p.add_argument("--segments", type=int)
    p.add_argument("--frames", type=int, dest="frames_per_segment", help="frames per segment")
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--prompt-backend", choices=PROMPT_BACKENDS, help="default: the profile's")
    p.add_argument("--adapters", help="fine-tuned agents: the adapters folder `moranb finetune` wrote")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("plan", help="GPU and CPU memory a profile needs before downloading it: weights per "
                                    "model, the peaks for its placement (all on the GPU, model, group or "
                                    "sequential offload), fits or not")
    p.add_argument("--profile", default="lowvram", help="full, lowvram or colab (the real models)")
    p.add_argument("--gpu-gb", type=float, default=16.0, help="the GPU's memory in GiB, as nvidia-smi gives it "
                                                              "(a '16 GB' T4: 15); default 16")
    p.add_argument("--no-bf16", action="store_true", help="a GPU without bfloat16 (a T4): bf16 models in float32")
    p.add_argument("--ram-gb", type=float, help="the machine's CPU memory in GiB (free Colab: 12.7): checked too")

    p = sub.add_parser("build-tiny", help="build the tiny profile's models into the cache (done on first use)")
    p.add_argument("--dir", help="where to build them (default: $MORANB_CACHE/tiny-<version>, see moranb.tiny)")
    return parser


def run(args: argparse.Namespace):
    from . import tasks

    if args.command == "build-tiny":
        from .agents import ensure_tiny_models

        print(ensure_tiny_models(args.dir))
        return None
    if args.command == "plan":
        from .plan import plan

        print(plan(args.profile, gpu_gb=args.gpu_gb, bf16=not args.no_bf16, ram_gb=args.ram_gb).table())
        return None
    if args.command == "finetune":
        return _finetune(args)
    if args.command == "batch":
        return _batch(args)
    profile = args.profile
    if args.adapters:
        from .config import get_profile

        profile = get_profile(profile, adapters=args.adapters)
    common = dict(profile=profile, seed=args.seed, out_dir=args.out, review=args.review)
    frames = getattr(args, "frames_per_segment", None)
    if args.command == "t2v":
        return tasks.text_to_video(args.prompt, segments=args.segments, frames_per_segment=frames, width=args.width,
                                   height=args.height, prompt_backend=args.prompt_backend, **common)
    if args.command == "i2v":
        return tasks.image_to_video(args.image, args.prompt, segments=args.segments, frames_per_segment=frames,
                                    edit=not args.no_edit, **common)
    if args.command == "extend":
        return tasks.extend_video(args.video, segments=args.segments, frames_per_segment=frames, prompt=args.prompt,
                                  **common)
    if args.command == "edit":
        return tasks.edit_video(args.video, args.instruction, frames_per_segment=frames, **common)
    if args.command == "connect":
        return tasks.connect_videos(args.video_a, args.video_b, prompt=args.prompt, **common)
    if args.command == "world":
        given = {name: value for name, value in (("style", args.style), ("route", args.route)) if value}
        return tasks.simulate_digital_world(args.prompt, segments=args.segments, frames_per_segment=frames,
                                            **given, **common)
    raise AssertionError(args.command)


def _finetune(args):
    from .train import finetune

    names = ("agents", "steps_per_round", "batch_size", "gradient_accumulation", "lr", "lora_rank", "frames",
             "modulation_init")
    config = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if "agents" in config:
        config["agents"] = tuple(config["agents"])
    if args.full_finetune:
        config["full_finetune"] = True
    if args.no_self_modulation:
        config["self_modulation"] = False
    result = finetune(args.dataset, args.profile, args.out, resume=not args.restart, seed=args.seed, **config)
    last = result.history[-1] if result.history else {}
    print(f"fine-tuned {result.steps} steps -> {result.adapters}")
    for agent, loss in last.get("loss", {}).items():
        print(f"  {agent}: last loss {loss:.4f}, alpha {last['alpha'][agent]:.3f}")
    print(f"  use them: --adapters {result.adapters}  (Python: get_profile(..., adapters=...))")
    return None


def _batch(args):
    from .batch import run_batch
    from .config import get_profile

    profile = get_profile(args.profile, adapters=args.adapters) if args.adapters else args.profile
    names = ("segments", "frames_per_segment", "width", "height", "prompt_backend")
    options = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    # --samples 0 is zero samples (refused), never "not given"
    seeds = args.seeds or (args.samples if args.samples is not None else 5)
    summary = run_batch(args.source, task=args.task, profile=profile, out=args.out,
                        seeds=seeds, samples=args.samples if args.seeds else None,
                        dimensions=args.dimensions, limit=args.limit, progress=not args.no_progress, **options)
    from accelerate import PartialState

    if PartialState().is_main_process:
        print(f"batch: {summary['made']} made, {summary['skipped']} skipped (done before), {summary['failed']} failed "
              f"of {summary['items']} ({summary['processes']} process(es), {summary['gpu_hours']:.3f} device-hours) "
              f"-> {summary['videos']}")
        for failure in summary["failures"]:
            print(f"  failed {failure['name']}: {failure['reason']}")
        if summary["elsewhere"]:
            print(f"  {summary['elsewhere']} item(s) left to another run on the same folder"
                  + ("" if summary["complete"] else "; rerun once it has finished to complete the grid"))
    return None


def _print(result):
    if result is not None:
        v = result.video
        print(f"{result.task}: {v.num_frames} frames {v.width}x{v.height} @ {v.fps} fps -> {result.out_dir}")
        if result.enhanced_prompt is not None and result.enhanced_prompt != result.prompt:
            print(f"  prompt agent wrote: {result.enhanced_prompt}")
        for name, path in result.files.items():
            print(f"  {name}: {path}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _print(run(args)))


if __name__ == "__main__":
    sys.exit(main())
