"""What every task shares: its result type and `Run`, which times stages, asks the reviewer (if any) about each
seeded stage, keeps finished stages on disk so a rerun with the same arguments resumes instead of recomputing, and
writes the outputs and the manifest.

A stage's value is kept under `<out_dir>/.stages/` losslessly (`moranb.stages` writes and reads it by type), keyed
by a hash of the task, its inputs, the profile and the seed: only an identical rerun reuses it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image

from .. import adapters, stages
from ..checks import check_seed
from ..config import MODELS, Profile
from ..errors import GPUMemoryError, OutputDirError
from ..review import MAX_TRIES, as_reviewer, check_answer, retry_seed
from ..io import (Timer, clean_output_dir, one_line, prepare_output_dir, publish, save_image, staging, write_manifest,
                  write_text)
from ..video import SegmentedVideo, Video, frame_strip


@dataclass
class TaskResult:
    task: str
    video: Video
    out_dir: Path | None = None
    prompt: str | None = None
    enhanced_prompt: str | None = None
    first_frame: Image.Image | None = None  # the image the video was animated from
    edited_frame: Image.Image | None = None  # the image-to-image agent's output, where there is one
    segments: list[Video] = field(default_factory=list)
    conditioning: list[Image.Image] = field(default_factory=list)  # the image each segment animated
    files: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)  # stages loaded from an earlier identical run
    decisions: list[dict] = field(default_factory=list)  # the reviewer's answers, stage by stage
    notes: dict = field(default_factory=dict)  # choices the task made for the user (resizing, resampling)

    def record(self) -> dict:
        """What the run's manifest says about the result, and all that evaluation reads besides the files: the task,
        its texts, the notes, the video's shape and segment lengths."""
        v = self.video
        return {"task": self.task, "prompt": self.prompt, "enhanced_prompt": self.enhanced_prompt, "notes": self.notes,
                "video": {"frames": v.num_frames, "fps": v.fps, "width": v.width, "height": v.height,
                          "segments": [s.num_frames for s in self.segments]}}


def fingerprint(value) -> dict:
    """A short, content-based description of an input image or video (for manifests and the resume key)."""
    if isinstance(value, Video):
        return {"video": f"{value.num_frames} frames {value.width}x{value.height} @ {value.fps} fps",
                "sha256": hashlib.sha256(value.frames.tobytes()).hexdigest()[:16]}
    if isinstance(value, Image.Image):
        return {"image": f"{value.width}x{value.height}",
                "sha256": hashlib.sha256(value.convert("RGB").tobytes()).hexdigest()[:16]}
    return value


def _preview(value):
    """What a reviewer sees of a stage's value (a segmented video joined: done once, kept with it)."""
    return value.video if isinstance(value, SegmentedVideo) else value


class Run:
    def __init__(self, task: str, profile: Profile, seed: int, inputs: dict, out_dir=None, review=None):
        seed = check_seed(seed)  # before the folder is made: a bad seed creates nothing
        self.task, self.profile, self.seed = task, profile, seed
        self.inputs = {k: fingerprint(v) for k, v in inputs.items()}
        self.review = as_reviewer(review)
        self.out_dir = prepare_output_dir(out_dir) if out_dir is not None else None
        if self.out_dir is not None:
            clean_output_dir(self.out_dir)  # a killed run's half-published outputs and partial files
        self.timer = Timer()
        self.reused: list[str] = []
        self.remade = False  # a stage was made in this run (not reused): every later one is made too
        self.decisions: list[dict] = []
        self.made_by: dict[str, dict] = {}  # stage -> the models that made it (the manifest's "stage_models")
        identity = {"task": task, "inputs": self.inputs, "seed": seed, "profile": dataclasses.asdict(profile)}
        self.adapters = None
        if profile.adapters:  # the adapters' content, not only their folder: retrained adapters make new stages
            identity["adapters"] = self.adapters = {"dir": str(profile.adapters),
                                                    "sha256": adapters.fingerprint(profile.adapters)}
        self.key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]

    # -- stages --------------------------------------------------------------------------------------------------
    def stage(self, name: str, make: Callable, seeded: bool = False, by: tuple[str, ...] | None = None):
        """The stage's value: kept from an identical earlier run, or made (timed) now.

        A seeded stage is called as `make(seed)`; with a reviewer it may be made again with a new seed, up to
        MAX_TRIES times, and each decision is recorded (with who made it, where the reviewer says). `by`: the
        profile's models that make it (names of `moranb.config.MODELS`; default `STAGE_MODELS[name]`), recorded.
        """
        self.made_by[name] = made_by(self.profile, by if by is not None else STAGE_MODELS.get(name, ()))
        base = self._stage_path(name)
        # Once a stage is made anew (a person asked to review a kept one again), the stages after it are made anew
        # too: they were made from the old one.
        kept = stages.load(base) if base is not None and not self.remade else None
        again = False
        if kept is not None:
            earlier = stages.load_decisions(base)
            asker = getattr(self.review, "reused", None) if seeded else None
            again = bool(asker and asker(name, _preview(kept), earlier))
            if not again:
                self.reused.append(name)
                self.decisions.extend(earlier)
                return kept
        tries = MAX_TRIES if (seeded and self.review is not None) else 1
        decisions = []
        for attempt in range(1, tries + 1):
            seed = retry_seed(self.seed, attempt)
            if again and attempt == 1:  # the person reviews the kept try again, as it was made
                value = kept
            else:
                value = self._make(name, lambda: make(seed) if seeded else make())
            if self.review is None or not seeded:
                break
            answer = check_answer(self.review(name, _preview(value), attempt), name)
            decisions.append({"stage": name, "attempt": attempt, "seed": seed, **answer})
            if answer["decision"] != "regenerate":  # approved, or no one answered ("timeout"): keep this try
                break
        self.decisions.extend(decisions)
        self.remade = True
        if base is not None:
            stages.keep(base, value, decisions)
        return value

    def _make(self, name: str, make: Callable):
        import torch

        try:
            with self.timer(name):
                return make()
        except torch.OutOfMemoryError:
            raise GPUMemoryError(
                f"out of GPU memory in stage '{name}' of {self.task}; use profile 'lowvram' (CPU offload, VAE "
                f"slicing), fewer frames or a smaller size; stages already finished are kept and will be reused"
            ) from None

    def _stage_path(self, name: str) -> Path | None:
        if self.out_dir is None:
            return None
        return self.out_dir / ".stages" / f"{name}-{self.key}"

    # -- outputs -------------------------------------------------------------------------------------------------
    def finish(self, result: TaskResult, caption: str | None = None, extra: dict | None = None) -> TaskResult:
        """Write the video, its frame strip, the intermediate artifacts and the manifest into `out_dir`, as one set:
        all are written into a staging folder first (the video decoded back and checked), then published together,
        the manifest last (`moranb.io.publish`). A failed write leaves the earlier outputs as they were."""
        result.timings = dict(self.timer.seconds)
        result.reused = list(self.reused)
        result.decisions = list(self.decisions)
        if self.out_dir is None:
            return result
        d = self.out_dir
        with staging(d) as tmp:
            with self.timer("write"):
                try:
                    files = self._write_outputs(tmp, result, caption)
                except OutputDirError:  # the video's own, already one line
                    raise
                except OSError as exc:
                    raise OutputDirError(f"cannot write the outputs into '{d}' ({one_line(exc)}); free some space or "
                                         f"pass a writable --out/out_dir; the earlier outputs are untouched") from None
            result.timings = dict(self.timer.seconds)
            try:
                files["manifest"] = write_manifest(
                    tmp, task=self.task, profile=self.profile, seed=self.seed, inputs=self.inputs, outputs=files,
                    timings=result.timings,
                    extra={**result.record(), "reused_stages": result.reused, "review": self.decisions,
                           "run_key": self.key, "adapters": self.adapters,
                           "stage_models": self.made_by, **(extra or {})},
                )
            except OSError as exc:
                raise OutputDirError(f"cannot write the manifest into '{d}' ({one_line(exc)}); free some space; the "
                                     f"earlier outputs are untouched") from None
            try:
                publish(tmp, [p.name for p in files.values()], replaces=OUTPUT_FILES)
            except OSError as exc:
                raise OutputDirError(f"publishing the outputs into '{d}' stopped ({one_line(exc)}); rerun the same "
                                     f"call: it finishes publishing them first") from None
        result.out_dir, result.files = d, {name: d / p.name for name, p in files.items()}
        return result

    @staticmethod
    def _write_outputs(folder: Path, result: TaskResult, caption: str | None) -> dict[str, Path]:
        files = {"video": result.video.save(folder / "video.mp4")}
        files["frame_strip"] = save_image(frame_strip(result.video, caption=caption or result.enhanced_prompt),
                                          folder / "frame_strip.png")
        if result.enhanced_prompt is not None:
            files["enhanced_prompt"] = write_text(folder / "enhanced_prompt.txt", result.enhanced_prompt + "\n")
        if result.first_frame is not None:
            files["first_frame"] = save_image(result.first_frame, folder / "first_frame.png")
        if result.edited_frame is not None:
            files["edited_frame"] = save_image(result.edited_frame, folder / "edited_frame.png")
        return files


# The models that make each stage (names of moranb.config.MODELS), where a task does not say otherwise.
STAGE_MODELS = {"enhance_prompt": ("llm",), "text_to_image": ("text_to_image", "refiner"),
                "image_to_image": ("image_to_image",), "image_to_video": ("image_to_video",),
                "connection": ("connection",)}


def made_by(profile: Profile, names: tuple[str, ...]) -> dict:
    """{model name: its source and pipeline} for the manifest; the prompt agent's backend where no LLM runs."""
    out = {}
    for name in names:
        if name == "llm" and profile.prompt.backend != "transformers":
            out[name] = {"backend": profile.prompt.backend}
            continue
        model = profile.model(name)
        if model is not None:
            pipeline = "WanVACEPipeline" if name == "vace" else getattr(getattr(profile, MODELS[name][0]),
                                                                         "pipeline", None)
            out[name] = {"source": model.source, **({"pipeline": pipeline} if pipeline else {})}
    return out


# What a run may publish besides its manifest: a file of these that the new set lacks is an earlier run's, removed.
OUTPUT_FILES = ("video.mp4", "frame_strip.png", "enhanced_prompt.txt", "first_frame.png", "edited_frame.png")
