"""The command line: `moranb t2v "a prompt" --profile tiny --out DIR`.

Errors a user can fix are printed as one line (`moranb: error: ...`) with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .errors import MoranbError


def _common(parser: argparse.ArgumentParser):
    parser.add_argument("--profile", default="tiny", help="tiny (CPU, random weights), full or lowvram (GPU)")
    parser.add_argument("--out", required=True, help="output directory (created if needed)")
    parser.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moranb", description="Mora multi-agent video generation")
    sub = parser.add_subparsers(dest="command", required=True)

    t2v = sub.add_parser("t2v", help="text-to-video: prompt -> first frame -> video")
    t2v.add_argument("prompt")
    _common(t2v)
    t2v.add_argument("--segments", type=int, help="image-to-video segments (each from the last frame)")
    t2v.add_argument("--frames", type=int, dest="frames_per_segment", help="frames per segment")
    t2v.add_argument("--width", type=int)
    t2v.add_argument("--height", type=int)
    t2v.add_argument("--prompt-backend", choices=["transformers", "openai", "rule"])

    tiny = sub.add_parser("build-tiny", help="build the tiny profile's models into the cache (done on first use)")
    tiny.add_argument("--dir", help="where to build them (default: the tiny profile's cache directory)")
    return parser


def run(args: argparse.Namespace):
    from . import tasks

    if args.command == "build-tiny":
        from pathlib import Path

        from .config import tiny_profile
        from .tiny import ensure_tiny_models

        root = ensure_tiny_models(args.dir or Path(tiny_profile().text_to_image.source).parent)
        print(root)
        return None
    if args.command == "t2v":
        return tasks.text_to_video(
            args.prompt, profile=args.profile, seed=args.seed, out_dir=args.out, segments=args.segments,
            frames_per_segment=args.frames_per_segment, width=args.width, height=args.height,
            prompt_backend=args.prompt_backend,
        )
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
    except MoranbError as exc:
        print(f"moranb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("moranb: interrupted; finished stages are kept, rerun the same command to resume", file=sys.stderr)
        return 130
    if result is not None:
        v = result.video
        print(f"{result.task}: {v.num_frames} frames {v.width}x{v.height} @ {v.fps} fps -> {result.out_dir}")
        for name, path in result.files.items():
            print(f"  {name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
