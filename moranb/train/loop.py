"""Self-modulated multi-agent fine-tuning (Mora, Oct 2024) on a moranb dataset (`moranb.data.build_dataset`).

Every trained agent gets a LoRA adapter (peft; or full fine-tuning) and a modulation token z_i (`modulation.py`), and
is trained on its own denoising loss (`agents.py`); the step's loss is their sum. The optimizer is one AdamW with one
parameter group per agent, whose learning rate is set before every step to lr x alpha_i, alpha_i = ||z_i||_2 / n
(alpha_i = 1 without self-modulation). The paper's settings are the defaults: lr 1e-5 constant, batch 4, 12 steps
per round, a checkpoint every 4, SNR-gamma 5, EMA 0.999, gradient checkpointing, bf16 on a GPU (accelerate's mixed
precision; fp32 on a CPU). A dataset with several rounds is trained round after round, each on the samples of every
round so far and starting from the previous round's weights.

Every random draw of step s comes from a generator seeded by (seed, s): a run resumed from a checkpoint continues
exactly as the uninterrupted run would have. A checkpoint (trainable weights, EMA weights, optimizer state, history)
is written into a hidden folder and renamed into place when complete, so an interrupted write is never resumed from;
its state.json carries each weight file's SHA-256, checked before a resume. A step whose loss or weights are not
finite stops the run in one line, and nothing is exported. One process at a time trains into an out folder (a lock),
and it removes the hidden folders a killed write left. At the end the EMA weights are exported as adapters
(`adapters.py`) that `get_profile(..., adapters=DIR)` loads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..adapters import MANIFEST, fingerprint, read_manifest
from ..agents import TRAINERS, trainer_for
from ..agents.training import LORA_TARGETS
from ..config import Profile, get_profile
from ..checks import check_out_dir
from ..errors import (CheckpointError, DatasetError, GPUMemoryError, InputError, MoranbError, OutputDirError,
                      TrainingError)
from ..io import check_replaceable, held_lock, new_folder, one_line, read_json
from ..modulation import Modulation, random_init
from .adapters import save_adapters

CHECKPOINT = re.compile(r"^step-(\d{6})$")
WEIGHTS = ("trainable", "ema", "optimizer")  # a checkpoint's safetensors files, each with its SHA-256 in state.json


@dataclass(frozen=True)
class TrainConfig:
    agents: tuple[str, ...] = tuple(TRAINERS)  # text_to_image, image_to_video, connection
    lr: float = 1e-5
    batch_size: int = 4
    steps_per_round: int = 12
    checkpoint_every: int = 4
    snr_gamma: float | None = 5.0
    ema_decay: float | None = 0.999  # None: no EMA (the adapters are the last weights)
    lora_rank: int = 16
    full_finetune: bool = False
    self_modulation: bool = True  # False: alpha_i = 1 (z_i is still appended and trained)
    modulation_init: str = "mod-token"  # or "random"
    gradient_checkpointing: bool = True
    gradient_accumulation: int = 1
    mixed_precision: str | None = None  # "bf16", "fp16" or "no"; None: bf16 on a GPU, "no" on a CPU
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    frames: int | None = None  # frames of the image-to-video clips; None: the profile's frames_per_segment
    seed: int = 0

    def __post_init__(self):
        unknown = set(self.agents) - set(TRAINERS)
        if unknown or not self.agents:
            raise InputError(f"cannot fine-tune {sorted(unknown) or 'no agent'}; choose agents from {list(TRAINERS)}")
        if self.modulation_init not in ("mod-token", "random"):
            raise InputError(f"modulation_init must be 'mod-token' or 'random', not {self.modulation_init!r}")
        for name in ("batch_size", "steps_per_round", "checkpoint_every", "gradient_accumulation", "lora_rank"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be at least 1, not {getattr(self, name)}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) \
                or self.lr <= 0:
            raise InputError(f"the learning rate must be a positive finite number (the paper's: 1e-5); got {self.lr!r}")
        if self.mixed_precision not in (None, "no", "bf16", "fp16"):
            raise InputError(f"mixed_precision must be 'bf16', 'fp16' or 'no', not {self.mixed_precision!r}")

    def lora(self) -> dict:
        return {"r": self.lora_rank, "lora_alpha": self.lora_rank, "init_lora_weights": "gaussian",
                "target_modules": list(LORA_TARGETS)}


@dataclass
class TrainResult:
    out: Path
    adapters: Path
    steps: int
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from: int | None = None

    def chart(self, path=None) -> Path:
        """Loss and alpha_i over steps (the PNG the run wrote, or a new one at `path`)."""
        return plot_history({"": self.history}, path or self.out / "training.png")


def open_dataset(dataset):
    """A `moranb.data.Dataset` from one or its folder, with the errors a trainer's user can act on."""
    from ..data.dataset import Dataset, EmptyDatasetError

    if not isinstance(dataset, Dataset):
        path = Path(dataset)
        if not (path / "metadata.jsonl").is_file():
            raise DatasetError(f"no dataset at '{path}' (no metadata.jsonl); build one from a data folder with "
                               f"moranb.data.build_dataset(data_dir)")
        dataset = Dataset(path)
    if len(dataset) == 0:
        raise EmptyDatasetError(f"the dataset at '{dataset.path}' has no samples; decide queued sets or run another "
                                f"round, then moranb.data.build_dataset again")
    return dataset


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _generator(*parts: int) -> torch.Generator:
    return torch.Generator("cpu").manual_seed(_seed(*parts))


class FineTuner:
    """The state of one fine-tuning run in `out`; `run()` trains to the end (resuming from the last checkpoint)."""

    def __init__(self, dataset, profile: "str | Profile" = "tiny", out="outputs/finetune",
                 config: TrainConfig | None = None, resume: bool = True, progress: bool = True, **overrides):
        from accelerate import Accelerator
        from diffusers.training_utils import EMAModel, cast_training_params
        from peft import LoraConfig, inject_adapter_in_model

        self.config = cfg = dataclasses.replace(config or TrainConfig(), **overrides)
        self.profile = profile = get_profile(profile)
        untrainable = [a for a in cfg.agents if trainer_for(profile, a) is None]
        if untrainable and cfg.agents == TrainConfig().agents:  # the default: every agent this profile can train
            self.config = cfg = dataclasses.replace(cfg, agents=tuple(a for a in cfg.agents if a not in untrainable))
            untrainable = []
        if untrainable:
            raise InputError(f"profile '{profile.name}' has no trainer for its {', '.join(untrainable)} model(s) "
                             f"({', '.join(getattr(getattr(profile, a), 'pipeline', '?') for a in untrainable)}); "
                             f"fine-tune agents={tuple(a for a in TRAINERS if trainer_for(profile, a))}")
        if profile.adapters:
            raise InputError("fine-tuning starts from the profile's base models; pass a profile without adapters "
                             "(a dataset of several rounds is trained round after round in one run)")
        check_out_dir(out)  # an empty one would be the current folder, and its adapters/ replaced
        self.dataset = open_dataset(dataset)
        self.out = Path(out)
        # Checked before any work: the adapters never replace the dataset, a folder in it, or a user's folder.
        check_replaceable(self.out / "adapters", reads=[self.dataset.path], what="adapters folder")
        self.progress = progress
        self.frames = cfg.frames or profile.image_to_video.frames_per_segment
        meta = self.dataset.meta
        self.rounds = sorted({int(m.get("round", 1)) for m in meta})
        self.total_steps = cfg.steps_per_round * len(self.rounds)
        self.identity = run_identity(profile, cfg, self.dataset)
        mp = cfg.mixed_precision or ("no" if profile.device == "cpu" else "bf16")
        self.accelerator = acc = Accelerator(cpu=profile.device == "cpu", mixed_precision=mp,
                                             gradient_accumulation_steps=cfg.gradient_accumulation)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mp, torch.float32)

        self.trainers, self.modulations, self.params, self.names = {}, {}, {}, {}
        for k, agent in enumerate(cfg.agents):
            trainer = trainer_for(profile, agent)(profile, acc.device, dtype)
            denoiser = trainer.denoiser
            init = trainer.modulation_init()
            if cfg.modulation_init == "random":
                init = random_init(init.numel(), _seed(cfg.seed, 7, k))
            with torch.random.fork_rng(devices=[]):  # LoRA's initial A matrices: reproducible from the seed
                torch.manual_seed(_seed(cfg.seed, 11, k))
                if cfg.full_finetune:
                    denoiser.requires_grad_(True)
                else:
                    inject_adapter_in_model(LoraConfig(**cfg.lora()), denoiser)
            modulation = Modulation(init).to(acc.device)
            denoiser.moranb_modulation = modulation  # a submodule: trained, synced and moved with the denoiser
            modulation.attach(denoiser)
            if dtype != torch.float32:
                cast_training_params(denoiser, torch.float32)  # trainable weights in fp32, the frozen in bf16/fp16
            if cfg.gradient_checkpointing:
                denoiser.enable_gradient_checkpointing()
            denoiser.train()
            named = [(n, p) for n, p in denoiser.named_parameters() if p.requires_grad]
            self.trainers[agent], self.modulations[agent] = trainer, modulation
            self.names[agent] = [n for n, _ in named]
            self.params[agent] = [p for _, p in named]
        self.optimizer = torch.optim.AdamW(
            [{"params": self.params[a], "lr": cfg.lr, "agent": a} for a in cfg.agents],
            lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.all_params = [p for a in cfg.agents for p in self.params[a]]
        self.ema = EMAModel(self.all_params, decay=cfg.ema_decay) if cfg.ema_decay else None
        prepared = acc.prepare(*[self.trainers[a].denoiser for a in cfg.agents], self.optimizer)
        for agent, model in zip(cfg.agents, prepared[:-1]):
            self.trainers[agent].model = model
        self.optimizer = prepared[-1]
        self.step, self.history, self.resumed_from = 0, [], None
        self.encoded = self._encode_all()
        for trainer in self.trainers.values():
            trainer.release_encoders()
        if resume:
            self._resume()

    # -- data ----------------------------------------------------------------------------------------------------
    def _sample(self, i: int):
        try:
            return self.dataset[i]
        except (MoranbError, OSError) as exc:
            raise DatasetError(
                f"sample {self.dataset.meta[i].get('id', i)} of the dataset '{self.dataset.path}' cannot be read "
                f"({exc}); its files were moved or deleted: rebuild it with "
                f"moranb.data.build_dataset('{self.dataset.path.parent}')") from None

    def _encode_all(self) -> dict:
        """Every sample's inputs for every agent, encoded once and kept in `<dataset>/.encoded/` (keyed by the
        model, the settings and the dataset), so another run on the same dataset does not encode again."""
        from safetensors.torch import load_file, save_file
        from tqdm import tqdm

        from ..io import atomic_path

        p, cfg, svd = self.profile, self.config, self.profile.image_to_video
        paths, flats = {}, {}
        for agent, trainer in self.trainers.items():
            key = hashlib.sha256(json.dumps([agent, trainer.source, self.identity["dataset"], self.frames, cfg.seed,
                                             svd.noise_aug_strength, p.fps, svd.motion_bucket_id,
                                             svd.decode_chunk_size],
                                            default=str).encode()).hexdigest()[:16]
            paths[agent] = self.dataset.path / ".encoded" / f"{agent}-{key}.safetensors"
            flats[agent] = load_file(paths[agent]) if paths[agent].is_file() else None
        missing = [agent for agent, flat in flats.items() if flat is None]
        if missing:  # each sample is read once, for every agent that still needs it
            flats.update({agent: {} for agent in missing})
            bar = tqdm(range(len(self.dataset)), desc=f"encoding for {', '.join(missing)}", unit="sample",
                       leave=False, disable=not self.progress)
            for i in bar:
                sample = self._sample(i)
                for agent in missing:
                    encoded = self.trainers[agent].encode(sample, self.frames, _seed(cfg.seed, 13, i))
                    flats[agent].update({f"{i}/{name}": tensor.contiguous() for name, tensor in encoded.items()})
            for agent in missing:
                paths[agent].parent.mkdir(exist_ok=True)
                with atomic_path(paths[agent]) as tmp:
                    save_file(flats[agent], tmp)
        encoded = {}
        for agent, flat in flats.items():
            samples = [{} for _ in range(len(self.dataset))]
            for key, tensor in flat.items():
                i, name = key.split("/", 1)
                samples[int(i)][name] = tensor
            shapes = {tuple(s["latents"].shape) for s in samples}
            if len(shapes) > 1:
                raise DatasetError(f"the samples of '{self.dataset.path}' differ in size ({sorted(shapes)}); train on "
                                   f"a dataset made at one size (one profile and width/height)")
            encoded[agent] = samples
        return encoded

    def _batch(self, agent: str, indices: list[int]) -> dict:
        samples = [self.encoded[agent][i] for i in indices]
        return {name: torch.stack([s[name] for s in samples]) for name in samples[0]}

    def _round(self, step: int) -> int:
        return self.rounds[min(step // self.config.steps_per_round, len(self.rounds) - 1)]

    def _indices(self, step: int, micro: int) -> list[int]:
        """The batch of step `step`: drawn from the samples of every round so far, by a generator of the step."""
        pool = [i for i, m in enumerate(self.dataset.meta) if int(m.get("round", 1)) <= self._round(step)]
        g = _generator(self.config.seed, 1, step, micro, self.accelerator.process_index)
        order = [pool[j] for j in torch.randperm(len(pool), generator=g).tolist()]
        return [order[j % len(order)] for j in range(self.config.batch_size)]

    # -- training ------------------------------------------------------------------------------------------------
    def alphas(self) -> dict[str, float]:
        return {a: (m.alpha if self.config.self_modulation else 1.0) for a, m in self.modulations.items()}

    def train_step(self) -> dict:
        """One optimizer step (gradient_accumulation micro-batches); returns its record for the history."""
        cfg, acc, step = self.config, self.accelerator, self.step
        models = [t.model for t in self.trainers.values()]
        losses = dict.fromkeys(self.trainers, 0.0)
        alphas = {}
        for micro in range(cfg.gradient_accumulation):
            indices = self._indices(step, micro)
            with acc.accumulate(*models):
                total = 0.0
                for k, (agent, trainer) in enumerate(self.trainers.items()):
                    loss = trainer.loss(self._batch(agent, indices), _generator(cfg.seed, 2, step, micro, k),
                                        cfg.snr_gamma)
                    if not math.isfinite(loss.item()):
                        self._stop(f"{agent}'s loss is {loss.item()}")
                    losses[agent] += loss.item() / cfg.gradient_accumulation
                    total = total + loss
                acc.backward(total)
                if acc.sync_gradients:
                    alphas = self.alphas()  # recomputed every step, from z_i as it is before the step
                    for group in self.optimizer.param_groups:
                        group["lr"] = cfg.lr * alphas[group["agent"]]
                    acc.clip_grad_norm_(self.all_params, cfg.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
        for agent, params in self.params.items():
            if not all(torch.isfinite(p).all() for p in params):
                self._stop(f"{agent}'s weights are not finite after it")
        if self.ema is not None:
            self.ema.step(self.all_params)
        self.step += 1
        record = {"step": self.step, "round": self._round(step), "loss": losses, "alpha": alphas,
                  "lr": {g["agent"]: g["lr"] for g in self.optimizer.param_groups}}
        self.history.append(record)
        return record

    def _stop(self, what: str):
        done = self.checkpoints()
        last = f"the last checkpoint (step {CHECKPOINT.match(done[-1].name).group(1).lstrip('0')})" if done else \
            "no checkpoint"
        raise TrainingError(f"fine-tuning step {self.step + 1} failed: {what}; nothing was exported and {last} is "
                            f"kept; lower the learning rate (now {self.config.lr:g}) or check the dataset, then rerun "
                            f"(resume=False to start over)")

    @torch.no_grad()
    def eval_loss(self, seed: int = 1234, indices: list[int] | None = None) -> dict[str, float]:
        """Each agent's loss on fixed samples with fixed noise: comparable between steps (a training step's loss
        is not; its noise is new every step)."""
        indices = list(range(min(len(self.dataset), self.config.batch_size))) if indices is None else indices
        return {agent: trainer.loss(self._batch(agent, indices), _generator(seed, k), self.config.snr_gamma).item()
                for k, (agent, trainer) in enumerate(self.trainers.items())}

    def run(self, stop_after: int | None = None) -> TrainResult:
        """Train to the last step (or to `stop_after` steps: an interruption, for tests), checkpointing on the way,
        then export the EMA weights as adapters."""
        from tqdm import tqdm

        cfg = self.config
        end = self.total_steps if stop_after is None else min(stop_after, self.total_steps)
        start = time.perf_counter()
        with self._one_process():
            bar = tqdm(total=end, initial=self.step, desc="fine-tuning", unit="step", disable=not self.progress)
            while self.step < end:
                try:
                    record = self.train_step()
                except torch.OutOfMemoryError:
                    raise GPUMemoryError(
                        f"out of GPU memory at fine-tuning step {self.step + 1} (batch {cfg.batch_size}); use "
                        f"batch_size=1 with gradient_accumulation={cfg.batch_size * cfg.gradient_accumulation}, the "
                        f"lowvram profile, or LoRA instead of full fine-tuning; rerun to resume from the last "
                        f"checkpoint") from None
                bar.update(1)
                bar.set_postfix({a: f"{v:.4f}" for a, v in record["loss"].items()})
                if self.step % cfg.checkpoint_every == 0 or self.step == self.total_steps:
                    self.save_checkpoint()
            bar.close()
            seconds = time.perf_counter() - start
            if self.step == self.total_steps:
                self.export()
        return TrainResult(self.out, self.out / "adapters", self.step, list(self.history), seconds, self.resumed_from)

    @contextlib.contextmanager
    def _one_process(self):
        """The main process holds `out/.lock` while it writes: a second run into the same folder would write the same
        checkpoints and adapters. Under it, the hidden folders a killed checkpoint or adapters write left go."""
        if not self.accelerator.is_main_process:
            yield
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with held_lock(self.out / ".lock", f"another process is fine-tuning into '{self.out}'; wait for it to finish "
                                           f"(a rerun then resumes from its last checkpoint) or pass another out folder"):
            for leftover in [*self.out.glob(".adapters-*"), *(self.out / "checkpoints").glob(".step-*")]:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
            yield

    def export(self) -> Path:
        """The EMA weights (the last weights without EMA) as adapters, with the run's history beside them."""
        from ..io import write_json

        acc = self.accelerator
        acc.wait_for_everyone()
        if acc.is_main_process:
            if self.ema is not None:
                self.ema.store(self.all_params)
                self.ema.copy_to(self.all_params)
            try:
                save_adapters(self.out / "adapters", self.trainers, self.modulations, {
                    "profile": self.profile.name, "step": self.step, "full_finetune": self.config.full_finetune,
                    "lora": self.config.lora(), "ema": self.ema is not None, "identity": self.identity})
                write_json(self.out / "history.json", self.history)
                plot_history({"": self.history}, self.out / "training.png")
            except OSError as exc:
                raise OutputDirError(f"cannot write the adapters into '{self.out}' ({one_line(exc)}); free some "
                                     f"space, then rerun: it exports from the last checkpoint without training "
                                     f"again") from None
            finally:
                if self.ema is not None:
                    self.ema.restore(self.all_params)
        acc.wait_for_everyone()
        return self.out / "adapters"

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        from safetensors.torch import save_file

        acc = self.accelerator
        acc.wait_for_everyone()
        folder = self.out / "checkpoints" / f"step-{self.step:06d}"
        if acc.is_main_process:
            try:
                with new_folder(folder, sync=True) as tmp:  # complete and on disk before it is named as a checkpoint
                    save_file(self._named(self.all_params), tmp / "trainable.safetensors")
                    ema_state = {}
                    if self.ema is not None:
                        ema_state = {k: v for k, v in self.ema.state_dict().items() if k != "shadow_params"}
                        save_file(self._named(self.ema.shadow_params), tmp / "ema.safetensors")
                    optim = self.optimizer.state_dict()
                    save_file({f"{i}/{k}": v.detach().cpu().contiguous() for i, s in optim["state"].items()
                               for k, v in s.items()}, tmp / "optimizer.safetensors")
                    files = {name: _sha256(tmp / f"{name}.safetensors") for name in WEIGHTS
                             if (tmp / f"{name}.safetensors").exists()}
                    state = {"step": self.step, "identity": self.identity, "history": self.history, "ema": ema_state,
                             "param_groups": optim["param_groups"], "sha256": files}
                    (tmp / "state.json").write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
            except OSError as exc:
                raise OutputDirError(f"cannot write the checkpoint of step {self.step} into '{folder.parent}' "
                                     f"({one_line(exc)}); free some space, then rerun: it resumes from the last "
                                     f"checkpoint written") from None
        acc.wait_for_everyone()
        return folder

    def _named(self, tensors) -> dict:
        keys = [f"{a}/{n}" for a in self.config.agents for n in self.names[a]]
        return {k: t.detach().cpu().contiguous() for k, t in zip(keys, tensors, strict=True)}

    def checkpoints(self) -> list[Path]:
        """The complete checkpoints, oldest first (a hidden, half-written one is never among them)."""
        folder = self.out / "checkpoints"
        found = [p for p in folder.iterdir() if CHECKPOINT.match(p.name) and (p / "state.json").is_file()] \
            if folder.is_dir() else []
        return sorted(found)

    def _resume(self):
        from safetensors.torch import load_file

        found = self.checkpoints()
        if not found:
            return
        latest = found[-1]
        state = read_checkpoint(latest, self.ema is not None)
        check_identity(state["identity"], self.identity, latest)
        keys = [f"{a}/{n}" for a in self.config.agents for n in self.names[a]]
        trainable = load_file(latest / "trainable.safetensors")
        shadow = load_file(latest / "ema.safetensors") if self.ema is not None else {}
        for name, tensors in (("trainable", trainable), ("ema", shadow)) if shadow else (("trainable", trainable),):
            missing = [k for k in keys if k not in tensors]
            if missing or not all(torch.isfinite(t).all() for t in tensors.values()):
                what = f"no weights for {missing[0]}" if missing else "non-finite weights"
                raise CheckpointError(f"the checkpoint '{latest}' holds {what} in {name}.safetensors; delete that "
                                      f"folder to resume from the one before, or resume=False to start over")
        with torch.no_grad():
            for key, param in zip(keys, self.all_params):
                param.copy_(trainable[key])
            if self.ema is not None:
                self.ema.load_state_dict({**state["ema"], "shadow_params": [shadow[k] for k in keys]})
                self.ema.to(self.accelerator.device)
        tensors = load_file(latest / "optimizer.safetensors")
        optim_state = {}
        for key, value in tensors.items():
            index, name = key.split("/", 1)
            optim_state.setdefault(int(index), {})[name] = value
        self.optimizer.load_state_dict({"state": optim_state, "param_groups": state["param_groups"]})
        self.step, self.history, self.resumed_from = state["step"], state["history"], state["step"]


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read_checkpoint(folder: Path, ema: bool) -> dict:
    """A checkpoint's state.json, checked against the folder it sits in (its step, its history, each weight file's
    SHA-256): a hand-edited or damaged checkpoint is one line, never a resume from the wrong weights."""
    fix = "delete that checkpoint folder to resume from the one before, or resume=False to start over"
    state = read_json(folder / "state.json", {"step": int, "identity": dict, "history": list, "ema": dict,
                                              "param_groups": list, "sha256": dict}, fix, CheckpointError)
    step = int(CHECKPOINT.match(folder.name).group(1))
    if state["step"] != step or len(state["history"]) != step:
        raise CheckpointError(f"{folder / 'state.json'} says step {state['step']} with {len(state['history'])} "
                              f"steps of history, in the folder of step {step}; {fix}")
    for name in (n for n in WEIGHTS if ema or n != "ema"):
        path = folder / f"{name}.safetensors"
        if not path.is_file() or state["sha256"].get(name) != _sha256(path):
            raise CheckpointError(f"the checkpoint '{folder}' is damaged ({path.name} is "
                                  f"{'missing' if not path.is_file() else 'not the file it wrote'}); {fix}")
    return state


def run_identity(profile: Profile, cfg: TrainConfig, dataset) -> dict:
    """What a checkpoint or adapters must have been made with to be resumed or reused (as JSON would read it)."""
    return json.loads(json.dumps({
        "profile": profile.name, "config": dataclasses.asdict(cfg),
        "sources": {a: profile.model(a).source for a in cfg.agents},
        "dataset": hashlib.sha256((dataset.path / "metadata.jsonl").read_bytes()).hexdigest()[:16],
    }))


def check_identity(saved: dict, wanted: dict, where: Path):
    """One line naming what differs between a checkpoint's run and this one."""
    if saved == wanted:
        return
    if saved["profile"] != wanted["profile"] or saved["sources"] != wanted["sources"]:
        what = (f"profile '{saved['profile']}' with models {saved['sources']}, not profile '{wanted['profile']}' "
                f"with {wanted['sources']}")
    elif saved["dataset"] != wanted["dataset"]:
        what = "another dataset (its metadata.jsonl changed)"
    else:
        diff = {k: (saved["config"].get(k), v) for k, v in wanted["config"].items() if saved["config"].get(k) != v}
        what = "other settings: " + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in diff.items())
    raise CheckpointError(f"the checkpoint in '{where}' was made by a run on {what}; use another out folder, or "
                          f"resume=False to start this one over")


def finetune(dataset, profile: "str | Profile" = "tiny", out="outputs/finetune", resume: bool = True,
             progress: bool = True, stop_after: int | None = None, **config) -> TrainResult:
    """Fine-tune `profile`'s agents on `dataset` into `out` (checkpoints/, adapters/, history.json, training.png).

    A run whose adapters are already there (same profile, models, settings and dataset) is not trained again.
    """
    cfg = TrainConfig(**config)
    check_out_dir(out)
    if resume and stop_after is None and (Path(out) / "adapters" / MANIFEST).is_file():
        done = read_manifest(Path(out) / "adapters")
        if done.get("identity") == run_identity(get_profile(profile), cfg, open_dataset(dataset)):
            fingerprint(Path(out) / "adapters")  # reused only if its weight files are the ones it recorded
            try:
                history = json.loads((Path(out) / "history.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                history = None  # then the run exports again from its last checkpoint
            if isinstance(history, list) and len(history) == done["step"]:
                return TrainResult(Path(out), Path(out) / "adapters", done["step"], history, 0.0, done["step"])
    try:
        tuner = FineTuner(dataset, profile, out, cfg, resume=resume, progress=progress)
    except torch.OutOfMemoryError:
        raise GPUMemoryError(
            "out of GPU memory loading the agents or encoding the dataset for fine-tuning; use a GPU with more "
            "memory, or fine-tune fewer agents (e.g. agents=('image_to_video',))") from None
    return tuner.run(stop_after=stop_after)


def plot_history(histories: dict[str, list[dict]], path) -> Path:
    """A PNG at `path`: each agent's training loss over the steps (one panel per agent) and alpha_i (the last
    panel); one colour per run when several are given (the ablation's variants), one line style per agent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import save_figure

    histories = {label: h for label, h in histories.items() if h}
    agents = list(next(iter(histories.values()))[0]["loss"]) if histories else []
    fig, axes = plt.subplots(1, len(agents) + 1, figsize=(4.2 * (len(agents) + 1), 3.8), dpi=100, squeeze=False)
    axes = axes[0]
    styles = ["-", "--", ":", "-."]
    for c, (label, history) in enumerate(histories.items()):
        steps = [r["step"] for r in history]
        color = f"C{c}"
        for k, agent in enumerate(agents):
            axes[k].plot(steps, [r["loss"][agent] for r in history], color=color, marker=".", label=label or agent)
            axes[-1].plot(steps, [r["alpha"][agent] for r in history], color=color, linestyle=styles[k % 4],
                          label=f"{label} {agent}".strip())
    for k, agent in enumerate(agents):
        axes[k].set(title=f"{agent}: training loss", xlabel="step", ylabel="loss")
    axes[-1].set(title="alpha_i = ||z_i|| / sqrt(dim z_i)", xlabel="step", ylabel="alpha_i (lr = alpha_i x base lr)")
    for ax in axes:
        ax.grid(alpha=0.3)
        if len(histories) > 1 or ax is axes[-1]:
            ax.legend(fontsize=6)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, path)
