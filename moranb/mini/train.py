"""Train a `mini` agent from scratch on the world's clips: `python -m moranb.mini.train --agent text_to_image --out DIR`.

text_to_image trains in three phases: the one-block VAE alone (`--vae-steps`, reconstruction of world frames from
posterior samples); then, with the VAE frozen, the UNet and both text encoders together on (frame, caption) pairs
(v-prediction, captions dropped 10 % of the time so classifier-free guidance has an unconditional branch to use),
up to `--steps` or `--stop-at`; then, optionally, the VAE decoder alone (`--decoder-steps`) on the encoder's means,
which leaves the latents the UNet learnt untouched and sharpens what it decodes (measured: 300 VAE steps alone
decode world frames at 30 dB PSNR, and the judge reads 94.5 % of them right; 150 decoder steps more: 33.9 dB, 99.2 %).

Every batch and every noise draw is a function of (seed, step), so a run stopped and resumed from its latest
checkpoint (DIR/checkpoints/step-N: weights, optimizer, state, all safetensors or json) gives the same weights as an
uninterrupted one. `--minutes` caps one sitting; run the same command again to go on. At the end the pipeline is
written with `save_pretrained` to DIR/pipeline, with DIR/pipeline/mini.json recording the command and the seed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .. import _compat, models
from ..io import write_json
from . import checkpoints, connection, image_to_image, image_to_video, text_to_image
from .evaluate import SHIPPED
from .world import FPS, FRAMES, MOTIONS, random_attributes, random_transition, render_clip, world_batch

TRAIN_SEEDS = 10**12  # world seeds for training start at (seed + 1) * TRAIN_SEEDS; evaluation uses others
EVAL_SEEDS = 10**16


def world_frames(seeds, step_rng: np.random.Generator, size: int = 16, first: bool = False):
    """One random frame of each seed's clip (`first`: its first frame), as [-1, 1] pixels (N, 3, size, size), and
    the clips' captions."""
    frames, captions = [], []
    for seed in seeds:
        attrs = random_attributes(int(seed))
        time = int(step_rng.integers(FRAMES))
        frames.append(render_clip(attrs, int(seed), size, FRAMES, times=[0 if first else time])[0])
        captions.append(attrs.caption)
    pixels = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return pixels, captions


def encode_text(pipe, captions: list[str], train: bool):
    """The pipeline's own prompt encoding (penultimate hidden states of both encoders, the second one's pooled
    projection), with gradients when the encoders train."""
    with torch.set_grad_enabled(train):
        embeds, _, pooled, _ = pipe.encode_prompt(captions, device=torch.device("cpu"), num_images_per_prompt=1,
                                                  do_classifier_free_guidance=False)
    return embeds, pooled


class TextToImageTrainer:
    def __init__(self, out: Path, seed: int, steps: int, vae_steps: int, batch: int, lr: float,
                 end: int | None = None, decoder_steps: int = 0):
        self.out, self.seed, self.steps, self.vae_steps, self.batch, self.lr = out, seed, steps, vae_steps, batch, lr
        self.end = min(steps, end or steps)  # where the UNet phase stops (--stop-at), before the decoder's
        self.total = self.end + decoder_steps
        self.pipe = text_to_image.build_pipeline(seed)
        self.step, self.history, self.scaling = 0, [], 1.0
        self.time_ids = _compat.sdxl_add_time_ids(
            self.pipe, (16, 16), (0, 0), (16, 16), dtype=torch.float32,
            text_encoder_projection_dim=self.pipe.text_encoder_2.config.projection_dim)
        self._phase_setup()

    # -- phases ----------------------------------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        return "vae" if self.step < self.vae_steps else "unet" if self.step < self.end else "decoder"

    def _modules(self, phase: str) -> dict:
        p = self.pipe
        if phase == "vae":
            return {"vae": p.vae}
        if phase == "decoder":
            return {"decoder": p.vae.decoder, "post_quant_conv": p.vae.post_quant_conv}
        return {"unet": p.unet, "text_encoder": p.text_encoder, "text_encoder_2": p.text_encoder_2}

    def _phase_setup(self):
        for module in self._parts().values():
            module.requires_grad_(False).eval()
        trained = self._modules(self.phase)
        for module in trained.values():
            module.requires_grad_(True).train()
        self.params = [p for m in trained.values() for p in m.parameters()]
        self.optimizer = torch.optim.AdamW(self.params, lr=self.lr, weight_decay=0.01)
        self._current = self.phase

    def _lr(self) -> float:
        # Linear warm-up over 100 steps, then cosine decay to a tenth, within each phase.
        first, last = {"vae": (0, self.vae_steps), "unet": (self.vae_steps, self.steps),
                       "decoder": (self.end, self.total)}[self.phase]
        done = self.step - first
        warm = min(1.0, (done + 1) / 100)
        return self.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done / max(1, last - first))))

    # -- one step --------------------------------------------------------------------------------------------------
    def train_step(self) -> float:
        if self.phase != self._current:
            if self._current == "vae":
                self._set_scaling()
            self._phase_setup()
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.step)
        rng = np.random.default_rng([self.seed, self.step])
        first = (self.seed + 1) * TRAIN_SEEDS + self.step * self.batch
        data = self._data(range(first, first + self.batch), rng)
        loss = getattr(self, f"_{self.phase}_loss")(*data, gen)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.step += 1
        return float(loss.detach())

    def _data(self, seeds, rng):
        # The VAE learns every frame of the world; the UNet learns first frames, since what text-to-image draws for
        # a video is the frame the video model animates (so a caption's path has room for its motion).
        return world_frames(seeds, rng, first=self.phase == "unet")

    def _vae_loss(self, pixels, captions, gen):
        posterior = self.pipe.vae.encode(pixels).latent_dist
        recon = self.pipe.vae.decode(posterior.sample(gen)).sample
        return torch.nn.functional.mse_loss(recon, pixels) + 1e-6 * posterior.kl().mean()

    def _decoder_loss(self, pixels, captions, gen):
        # The encoder stays as the UNet learnt it; the decoder learns to decode its mean sharply (it was trained on
        # noisy posterior samples, which blurs).
        with torch.no_grad():
            latents = self.pipe.vae.encode(pixels).latent_dist.mean
        return torch.nn.functional.mse_loss(self.pipe.vae.decode(latents).sample, pixels)

    def _unet_loss(self, pixels, captions, gen):
        pipe = self.pipe
        with torch.no_grad():
            latents = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
        embeds, pooled = encode_text(pipe, captions, train=True)
        keep = (torch.rand(len(captions), generator=gen) >= 0.1).float()  # dropped: zeros, as force_zeros_for_empty_prompt
        embeds, pooled = embeds * keep[:, None, None], pooled * keep[:, None]
        noise = torch.randn(latents.shape, generator=gen)
        t = torch.randint(0, pipe.scheduler.config.num_train_timesteps, (len(captions),), generator=gen)
        noisy = pipe.scheduler.add_noise(latents, noise, t)
        target = pipe.scheduler.get_velocity(latents, noise, t)
        pred = pipe.unet(noisy, t, encoder_hidden_states=embeds,
                         added_cond_kwargs={"text_embeds": pooled,
                                            "time_ids": self.time_ids.repeat(len(captions), 1)}).sample
        return torch.nn.functional.mse_loss(pred, target)

    @torch.no_grad()
    def _set_scaling(self):
        """SD's rule: scale latents to unit standard deviation (measured on 512 held-out frames)."""
        pixels, _ = world_frames(range(EVAL_SEEDS, EVAL_SEEDS + 512), np.random.default_rng(0))
        std = float(self.pipe.vae.encode(pixels).latent_dist.mean.std())
        self.scaling = 1.0 / std
        self.pipe.vae.register_to_config(scaling_factor=self.scaling)

    # -- checkpoints -----------------------------------------------------------------------------------------------
    def _parts(self) -> dict:
        return {name: getattr(self.pipe, name) for name in ("vae", "unet", "text_encoder", "text_encoder_2")}

    def save_checkpoint(self):
        checkpoints.save(self.out, self.step, checkpoints.prefixed(self._parts()), self.optimizer,
                         {"phase": self._current, "seed": self.seed, "scaling": self.scaling, "history": self.history})

    def resume(self) -> bool:
        found = checkpoints.latest(self.out)
        if not found:
            return False
        folder, state, weights = found
        if state["seed"] != self.seed:
            sys.exit(f"error: {folder} was trained with --seed {state['seed']}, not {self.seed}; use another --out")
        checkpoints.load_prefixed(self._parts(), weights)
        self.step, self.history, self.scaling = state["step"], state["history"], state["scaling"]
        self.pipe.vae.register_to_config(scaling_factor=self.scaling)
        self._phase_setup()
        if state["phase"] == self._current:
            checkpoints.load_optimizer(folder, self.optimizer)
        elif state["phase"] == "vae":  # taken at the phase change: the VAE is done, its latents not yet measured
            self._set_scaling()
        return True


class ImageToVideoTrainer(TextToImageTrainer):
    """The `mini` image-to-video model (`moranb.mini.image_to_video`): its temporal VAE alone on clips, then its
    UNet on (clip, motion) pairs the way `StableVideoDiffusionPipeline` samples: EDM noise levels (log sigma ~
    N(0.5, 1.4^2)), inputs scaled by 1 / sqrt(sigma^2 + 1), timesteps 0.25 log sigma, v-prediction (the target
    (noise - sigma x0) / sqrt(sigma^2 + 1), for which plain MSE is EDM's weighting); the first frame, noise-augmented,
    as an unscaled latent beside every frame and as a CLIP image embedding; fps, motion bucket and augmentation as
    the micro-conditions."""

    P_MEAN, P_STD = 0.5, 1.4

    def __init__(self, out: Path, seed: int, steps: int, vae_steps: int, batch: int, lr: float,
                 end: int | None = None, decoder_steps: int = 0):
        self.out, self.seed, self.steps, self.vae_steps, self.batch, self.lr = out, seed, steps, vae_steps, batch, lr
        self.end = min(steps, end or steps)
        self.total = self.end + decoder_steps
        self.pipe = image_to_video.build_pipeline(seed)
        self.step, self.history, self.scaling = 0, [], 1.0
        self._phase_setup()

    def _modules(self, phase: str) -> dict:
        p = self.pipe
        return {"vae": {"vae": p.vae}, "decoder": {"decoder": p.vae.decoder}, "unet": {"unet": p.unet}}[phase]

    def _parts(self) -> dict:
        return {name: getattr(self.pipe, name) for name in ("vae", "unet", "image_encoder")}

    def _data(self, seeds, rng):
        clips, labels = world_batch(seeds, parts=True)  # half of them continue a clip
        buckets = [image_to_video.MOTION_BUCKETS[list(MOTIONS)[i]] for i in labels["motion"]]
        clips = torch.from_numpy(clips).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0
        return clips, torch.tensor(buckets, dtype=torch.float32)

    def _vae_loss(self, clips, buckets, gen):
        clips = clips[: max(1, len(clips) // 4)]  # 8 clips of 8 frames: the 64 frames a text-to-image VAE step sees
        posterior = self.pipe.vae.encode(clips.flatten(0, 1)).latent_dist
        recon = self.pipe.vae.decode(posterior.sample(gen), num_frames=clips.shape[1]).sample
        return torch.nn.functional.mse_loss(recon, clips.flatten(0, 1)) + 1e-6 * posterior.kl().mean()

    def _decoder_loss(self, clips, buckets, gen):
        clips = clips[: max(1, len(clips) // 4)]
        with torch.no_grad():
            latents = self.pipe.vae.encode(clips.flatten(0, 1)).latent_dist.mean
        recon = self.pipe.vae.decode(latents, num_frames=clips.shape[1]).sample
        return torch.nn.functional.mse_loss(recon, clips.flatten(0, 1))

    def _unet_loss(self, clips, buckets, gen):
        pipe, (n, frames) = self.pipe, clips.shape[:2]
        aug = torch.rand(n, generator=gen) * image_to_video.NOISE_AUG
        first = clips[:, 0]
        with torch.no_grad():
            latents = pipe.vae.encode(clips.flatten(0, 1)).latent_dist.mean * pipe.vae.config.scaling_factor
            latents = latents.view(n, frames, *latents.shape[1:])
            conditioned = first + aug[:, None, None, None] * torch.randn(first.shape, generator=gen)
            condition = pipe.vae.encode(conditioned).latent_dist.mode()  # unscaled, as the pipeline does
            embeds = image_to_video.image_embeddings(pipe, first)
        sigma = (self.P_MEAN + self.P_STD * torch.randn(n, generator=gen)).exp()[:, None, None, None, None]
        noise = torch.randn(latents.shape, generator=gen)
        noisy = latents + sigma * noise
        model_input = torch.cat([noisy / (sigma**2 + 1).sqrt(), condition[:, None].expand_as(latents)], dim=2)
        time_ids = torch.stack([torch.full((n,), FPS - 1.0), buckets, aug], dim=1)
        pred = pipe.unet(model_input, 0.25 * sigma.flatten().log(), encoder_hidden_states=embeds,
                         added_time_ids=time_ids).sample
        target = (noise - sigma * latents) / (sigma**2 + 1).sqrt()
        return torch.nn.functional.mse_loss(pred, target)


class ImageToImageTrainer(TextToImageTrainer):
    """The `mini` image-to-image model (`moranb.mini.image_to_image`): its UNet and text encoder on (frame,
    instruction, edited frame) triples, the VAE the shipped text-to-image model's, frozen (so no VAE phase).
    The source frame's latent is unscaled, as the pipeline makes it; 5 % of instructions are dropped (""), 5 % of
    sources (zeros), 5 % of both, InstructPix2Pix's recipe for its two guidance scales."""

    def __init__(self, out: Path, seed: int, steps: int, vae_steps: int, batch: int, lr: float,
                 end: int | None = None, decoder_steps: int = 0):
        from diffusers import AutoencoderKL

        if vae_steps or decoder_steps:
            sys.exit("error: the mini image-to-image model uses the text-to-image model's VAE: use --vae-steps 0 "
                     "and no --decoder-steps")
        self.out, self.seed, self.steps, self.vae_steps, self.batch, self.lr = out, seed, steps, 0, batch, lr
        self.end = self.total = min(steps, end or steps)
        vae = models.from_pretrained(AutoencoderKL, models.Model(str(SHIPPED / "vae")), "text_to_image")
        self.pipe = image_to_image.build_pipeline(vae, seed)
        self.step, self.history = 0, []
        self.scaling = self.pipe.vae.config.scaling_factor
        self._phase_setup()

    def _modules(self, phase: str) -> dict:
        return {"unet": self.pipe.unet, "text_encoder": self.pipe.text_encoder}

    def _parts(self) -> dict:
        return {name: getattr(self.pipe, name) for name in ("vae", "unet", "text_encoder")}

    def _data(self, seeds, rng):
        choices = image_to_image.instructions()
        sources, targets, texts = [], [], []
        for seed in seeds:
            attrs, t = random_attributes(int(seed)), [int(rng.integers(FRAMES))]
            text = choices[int(rng.integers(len(choices)))]
            sources.append(render_clip(attrs, int(seed), times=t)[0])
            targets.append(render_clip(image_to_image.edit_attributes(attrs, text), int(seed), times=t)[0])
            texts.append(text)
        pixels = [torch.from_numpy(np.stack(x)).permute(0, 3, 1, 2).float() / 127.5 - 1.0 for x in (sources, targets)]
        return pixels[0], pixels[1], texts

    def _unet_loss(self, sources, targets, texts, gen):
        pipe, n = self.pipe, len(texts)
        drop = torch.rand(n, generator=gen)  # [0, .05): no text; [.05, .10): no image; [.10, .15): neither
        texts = ["" if d < 0.05 or 0.10 <= d < 0.15 else text for d, text in zip(drop.tolist(), texts)]
        keep_image = torch.tensor([0.0 if 0.05 <= d < 0.15 else 1.0 for d in drop.tolist()])
        with torch.no_grad():
            source = pipe.vae.encode(sources).latent_dist.mode() * keep_image[:, None, None, None]
            latents = pipe.vae.encode(targets).latent_dist.mean * pipe.vae.config.scaling_factor
        embeds = _compat.pix2pix_encode_prompt(pipe, texts, torch.device("cpu"), 1, False)
        noise = torch.randn(latents.shape, generator=gen)
        t = torch.randint(0, pipe.scheduler.config.num_train_timesteps, (n,), generator=gen)
        noisy = pipe.scheduler.add_noise(latents, noise, t)
        pred = pipe.unet(torch.cat([noisy, source], 1), t, encoder_hidden_states=embeds).sample
        return torch.nn.functional.mse_loss(pred, pipe.scheduler.get_velocity(latents, noise, t))


class ConnectionTrainer(TextToImageTrainer):
    """The `mini` connection model (`moranb.mini.connection`): its video VAE alone on the world's transitions (and
    the clips they join), then its transformer on transitions (`world.random_transition`), by the loss the connection
    agent is fine-tuned with (`agents.connection.trainer.transition_loss`: the pipeline's own `prepare_latents` puts
    A's last frame at index 0 and B's first frame at the last index, flow matching on the frames between). The
    latents are normalised per channel (the VAE's `latents_mean`/`latents_std`, measured after the VAE phase), as
    LTX-Video's pipeline expects. ("unet" names the denoiser's phase, as for the other agents.)"""

    def __init__(self, out: Path, seed: int, steps: int, vae_steps: int, batch: int, lr: float,
                 end: int | None = None, decoder_steps: int = 0):
        from ..config import get_profile

        self.out, self.seed, self.steps, self.vae_steps, self.batch, self.lr = out, seed, steps, vae_steps, batch, lr
        self.end = min(steps, end or steps)
        self.total = self.end + decoder_steps
        self.pipe = connection.build_pipeline(seed)
        self.step, self.history, self.scaling = 0, [], 1.0
        with torch.no_grad():  # the agent's one prompt, as the pipeline encodes it at inference
            embeds, mask, _, _ = self.pipe.encode_prompt(get_profile("mini").connection.prompt,
                                                         do_classifier_free_guidance=False)
        self.embeds, self.mask = embeds[0], mask[0]
        self._phase_setup()

    def _modules(self, phase: str) -> dict:
        p = self.pipe
        return {"vae": {"vae": p.vae}, "decoder": {"decoder": p.vae.decoder}, "unet": {"transformer": p.transformer}}[phase]

    def _parts(self) -> dict:
        # Not the T5 encoder: frozen, drawn from the seed, and its tied embeddings are one tensor twice (which a
        # safetensors checkpoint refuses); the prompt's states are computed once, above.
        return {name: getattr(self.pipe, name) for name in ("vae", "transformer")}

    def _data(self, seeds, rng):
        clips = np.stack([random_transition(int(seed)).render(connection.FRAMES) for seed in seeds])
        return (connection.model_frames(clips),)  # (N, 3, F, 32, 32)

    def _vae_loss(self, clips, gen):
        clips = clips[: max(1, len(clips) // 4)]
        posterior = self.pipe.vae.encode(clips).latent_dist
        recon = self.pipe.vae.decode(posterior.sample(gen)).sample
        return torch.nn.functional.mse_loss(recon, clips) + 1e-6 * posterior.kl().mean()

    def _decoder_loss(self, clips, gen):
        clips = clips[: max(1, len(clips) // 4)]
        with torch.no_grad():
            latents = self.pipe.vae.encode(clips).latent_dist.mode()
        return torch.nn.functional.mse_loss(self.pipe.vae.decode(latents).sample, clips)

    def _unet_loss(self, clips, gen):
        from ..agents.connection.trainer import transition_loss

        pipe, n = self.pipe, len(clips)
        with torch.no_grad():
            latents = _compat.ltx_normalize_latents(pipe, pipe.vae.encode(clips).latent_dist.mode())
        batch = {"latents": latents, "embeds": self.embeds.expand(n, -1, -1), "mask": self.mask.expand(n, -1),
                 "first": clips[:, :, :1], "last": clips[:, :, -1:]}
        return transition_loss(pipe, pipe.transformer, batch, gen, connection.FRAMES, FPS)

    @torch.no_grad()
    def _set_scaling(self):
        """LTX-Video's rule: latents normalised per channel, by the mean and std of 256 held-out transitions."""
        clips = self._data(range(EVAL_SEEDS, EVAL_SEEDS + 256), None)[0]
        latents = torch.cat([self.pipe.vae.encode(c).latent_dist.mode() for c in clips.split(32)])
        self.pipe.vae.latents_mean.copy_(latents.mean(dim=(0, 2, 3, 4)))
        self.pipe.vae.latents_std.copy_(latents.std(dim=(0, 2, 3, 4)))


TRAINERS = {"text_to_image": TextToImageTrainer, "image_to_video": ImageToVideoTrainer,
            "image_to_image": ImageToImageTrainer, "connection": ConnectionTrainer}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moranb.mini.train", description=__doc__.splitlines()[0])
    parser.add_argument("--agent", choices=tuple(TRAINERS), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=3000, help="total steps, VAE phase included")
    parser.add_argument("--vae-steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--stop-at", type=int, default=None,
                        help="end the run (and export) at this step, before --steps; the schedule still spans --steps")
    parser.add_argument("--decoder-steps", type=int, default=0,
                        help="then fine-tune the VAE decoder alone (encoder, and so the UNet's latents, unchanged)")
    parser.add_argument("--minutes", type=float, default=None, help="stop this sitting after N minutes")
    parser.add_argument("--checkpoint-minutes", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    # A process calling main() keeps its own threads.
    with models.torch_threads(args.threads or torch.get_num_threads()):
        return _train(args)


def _train(args) -> int:
    from tqdm import tqdm

    args.out.mkdir(parents=True, exist_ok=True)
    trainer = TRAINERS[args.agent](args.out, args.seed, args.steps, args.vae_steps, args.batch, args.lr,
                                 args.stop_at, args.decoder_steps)
    end = trainer.total
    if trainer.resume():
        print(f"resumed at step {trainer.step}", file=sys.stderr)
    start = last_save = time.monotonic()
    earlier = trainer.history[-1]["seconds"] if trainer.history else 0.0  # training time of earlier sittings
    first_step, losses = trainer.step, []
    bar = tqdm(total=end, initial=trainer.step, desc=f"mini {args.agent}", unit="step")
    while trainer.step < end:
        losses.append(trainer.train_step())
        bar.update(1)
        if len(losses) == 20 or trainer.step == end:
            trainer.history.append({"step": trainer.step, "phase": trainer._current, "loss": float(np.mean(losses)),
                                    "seconds": round(earlier + time.monotonic() - start, 1)})
            bar.set_postfix(phase=trainer._current, loss=f"{trainer.history[-1]['loss']:.4f}")
            losses = []
        now = time.monotonic()
        if now - last_save > args.checkpoint_minutes * 60:
            trainer.save_checkpoint()
            last_save = now
        if args.minutes is not None and now - start > args.minutes * 60:
            break
    bar.close()
    trainer.save_checkpoint()
    elapsed = time.monotonic() - start
    rate = (trainer.step - first_step) * args.batch / max(elapsed, 1e-9)
    write_json(args.out / "history.json", trainer.history)
    print(f"step {trainer.step}/{end}, {rate:.1f} samples/s this sitting", file=sys.stderr)
    if trainer.step >= end:
        folder = args.out / "pipeline"
        trainer.pipe.save_pretrained(folder)
        # The largest files stored in float16 (loaded as float32): image-to-video's UNet 9.5 -> 4.8 MB; the
        # connection's transformer and VAE 17 -> 8.5 MB.
        for name in {"image_to_video": ("unet",), "connection": ("transformer", "vae")}.get(args.agent, ()):
            getattr(trainer.pipe, name).to(torch.float16).save_pretrained(folder / name)
            getattr(trainer.pipe, name).to(torch.float32)
        command = ["python", "-m", "moranb.mini.train", "--agent", args.agent, "--out", "DIR", "--seed",
                   str(args.seed), "--steps", str(args.steps), "--vae-steps", str(args.vae_steps), "--batch",
                   str(args.batch), "--lr", str(args.lr)] + (["--stop-at", str(trainer.end)] if trainer.end < args.steps else []) \
            + (["--decoder-steps", str(args.decoder_steps)] if args.decoder_steps else [])
        write_json(folder / "mini.json", {"agent": args.agent, "command": " ".join(command), "seed": args.seed,
                                          "steps": args.steps, "stopped_at": trainer.end, "decoder_steps": args.decoder_steps, "vae_steps": args.vae_steps, "batch": args.batch,
                                          "lr": args.lr, "torch": torch.__version__, "threads": torch.get_num_threads(),
                                          "train_seconds": trainer.history[-1]["seconds"] if trainer.history else None,
                                          "history": trainer.history})
        print(f"wrote {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
