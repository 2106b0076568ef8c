"""Train the mini judge on the world's clips: `python -m moranb.mini.train_judge --out DIR --seed 0`.

Each step renders a fresh batch of clips (world seeds from (seed + 1) * 10**12 on, a function of seed and step) and
roughens them the way a generator might: gaussian noise, a slight blur, a small brightness shift. Resumable from
DIR/checkpoints. At the end the weights go to DIR/judge.safetensors, with DIR/judge.json recording the command, seed
and accuracy per attribute on 1000 held-out clips, clean and roughened; copy both to moranb/mini/weights/ to ship.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..io import write_json
from . import checkpoints
from .judge import MiniJudge, to_tensor
from .train import EVAL_SEEDS, TRAIN_SEEDS
from .world import ATTRIBUTES, world_batch


def roughen(clips: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Light noise, blur and brightness shifts on clips (N, T, 3, H, W) in [0, 1], drawn per clip."""
    n = clips.shape[0]
    sigma = torch.rand(n, generator=gen) * 0.9 + 0.1  # blur width in pixels
    x = torch.arange(3) - 1.0
    kernel = torch.exp(-x[None] ** 2 / (2 * sigma[:, None] ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)
    blur = torch.rand(n, generator=gen) < 0.5
    out = clips.clone()
    for i in torch.nonzero(blur).flatten().tolist():
        k = (kernel[i][:, None] * kernel[i][None]).expand(3, 1, 3, 3)
        out[i] = F.conv2d(F.pad(out[i], (1, 1, 1, 1), mode="replicate"), k, groups=3)
    out = out + (torch.rand(n, 1, 3, 1, 1, generator=gen) - 0.5) * 0.1
    out = out + torch.randn(out.shape, generator=gen) * (torch.rand(n, 1, 1, 1, 1, generator=gen) * 0.08)
    return out.clamp(0, 1)


def loss_of(judge: MiniJudge, clips: torch.Tensor, labels: dict, gen: torch.Generator) -> torch.Tensor:
    n, t = clips.shape[:2]
    # Two random frames of each clip, each read alone (so a single image is read as well as a clip).
    times = torch.randint(0, t, (n, 2), generator=gen)
    per_frame = judge.frame_logits(clips[torch.arange(n)[:, None], times].flatten(0, 1))
    loss = sum(F.cross_entropy(per_frame[k], torch.from_numpy(labels[k]).repeat_interleave(2)) for k in per_frame)
    motion = judge.motion_logits(clips[:, 0], clips[:, -1])
    return loss + F.cross_entropy(motion, torch.from_numpy(labels["motion"]))


@torch.no_grad()
def accuracy(judge: MiniJudge, first: int, count: int, rough: bool, parts: bool = False) -> dict[str, float]:
    judge.eval()
    clips, labels = world_batch(range(first, first + count), parts=parts)
    x = to_tensor(clips)
    if rough:
        x = roughen(x, torch.Generator().manual_seed(first))
    logits = judge(x)
    judge.train()
    return {k: float((logits[k].argmax(1).numpy() == labels[k]).mean()) for k in ATTRIBUTES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moranb.mini.train_judge", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--checkpoint-every", type=int, default=250)
    args = parser.parse_args(argv)
    from tqdm import tqdm

    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    judge = MiniJudge(width=args.width)
    optimizer = torch.optim.AdamW(judge.parameters(), lr=args.lr, weight_decay=1e-4)
    step, history = 0, []
    found = checkpoints.latest(args.out)
    if found:
        folder, state, weights = found
        if state["seed"] != args.seed:
            sys.exit(f"error: {folder} was trained with --seed {state['seed']}, not {args.seed}; use another --out")
        judge.load_state_dict(weights)
        checkpoints.load_optimizer(folder, optimizer)
        step, history = state["step"], state["history"]
    start, losses = time.monotonic(), []
    bar = tqdm(total=args.steps, initial=step, desc="mini judge", unit="step")
    while step < args.steps:
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        first = (args.seed + 1) * TRAIN_SEEDS + step * args.batch
        clips, labels = world_batch(range(first, first + args.batch), parts=True)  # half of them second clips
        for group in optimizer.param_groups:  # cosine decay to zero
            group["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * step / args.steps))
        loss = loss_of(judge, roughen(to_tensor(clips), gen), labels, gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        losses.append(float(loss))
        bar.update(1)
        if len(losses) == 50 or step == args.steps:
            history.append({"step": step, "loss": float(np.mean(losses)), "seconds": round(time.monotonic() - start, 1)})
            bar.set_postfix(loss=f"{history[-1]['loss']:.4f}")
            losses = []
        if step % args.checkpoint_every == 0 or step == args.steps:
            checkpoints.save(args.out, step, judge.state_dict(), optimizer, {"seed": args.seed, "history": history})
    bar.close()
    from safetensors.torch import save_file

    held_out = {"clean": accuracy(judge, EVAL_SEEDS, 1000, rough=False),
                "roughened": accuracy(judge, EVAL_SEEDS, 1000, rough=True),
                "half_second_clips": accuracy(judge, EVAL_SEEDS, 1000, rough=False, parts=True)}
    save_file({k: v.contiguous() for k, v in judge.state_dict().items()}, args.out / "judge.safetensors")
    command = (f"python -m moranb.mini.train_judge --out DIR --seed {args.seed} --steps {args.steps} "
               f"--batch {args.batch} --lr {args.lr} --width {args.width}")
    write_json(args.out / "judge.json", {"config": {"width": args.width}, "command": command, "seed": args.seed,
                                         "steps": args.steps, "torch": torch.__version__,
                                         "held_out_seeds": f"{EVAL_SEEDS}..{EVAL_SEEDS + 999}", "accuracy": held_out,
                                         "history": history})
    print(f"held-out accuracy: {held_out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
