"""The paper's Table 5 as a runnable experiment: five variants of the training half, each fine-tuned and evaluated.

    full                  the dataset with the human step, self-modulated fine-tuning, z_i from E_i("[Mod]")
    no_finetuning         the models as published (no adapters)
    no_human              the dataset of the sets both judges agreed on only (no person, no policy)
    no_self_modulation    alpha_i fixed at 1 (z_i still appended and trained)
    random_modulation     z_i initialised at random instead of from E_i("[Mod]")

Each variant makes text-to-video for the same prompts and seeds and is scored by `moranb.eval`. The paper's VQ is
the mean of six VBench dimensions; the offline backend has no weight-free aesthetic score, so there the table also
gives "VQ (5 offline parts)", the mean of the other five, labelled as such, and every cell names its backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .config import get_profile
from .paper import TABLE5
from .report import markdown_table, table5, table5_markdown

VARIANTS = {
    "full": {"label": "full", "finetune": True, "human": True, "train": {}},
    "no_finetuning": {"label": "without fine-tuning", "finetune": False, "human": True, "train": {}},
    "no_human": {"label": "without human-in-the-loop", "finetune": True, "human": False, "train": {}},
    "no_self_modulation": {"label": "without self-modulation", "finetune": True, "human": True,
                           "train": {"self_modulation": False}},
    "random_modulation": {"label": "random-initialised modulation", "finetune": True, "human": True,
                          "train": {"modulation_init": "random"}},
}
# A fixed evaluation set, none of them a training prompt (the prompt agent's grammar never writes these).
PROMPTS = ("a lighthouse on a cliff at dusk, waves below", "a red kite over a wheat field in the wind",
           "a paper boat drifting down a rain gutter", "an old tram crossing a bridge in the snow")


@dataclass
class AblationResult:
    rows: list[dict]
    histories: dict[str, list[dict]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def table(self) -> str:
        return (self.files["table"].read_text(encoding="utf-8") if "table" in self.files
                else markdown_table(table5(self.rows)))


def run_ablation(data_dir, profile="tiny", out="outputs/ablation", variants=tuple(VARIANTS), prompts=PROMPTS,
                 seeds=(0,), backend: str = "offline", segments: int | None = None,
                 frames_per_segment: int | None = None, train: dict | None = None,
                 progress: bool = True) -> AblationResult:
    """Fine-tune and evaluate each of `variants` on the data under `data_dir` (rounds made by
    `moranb.data.synthesize_round`), writing everything under `out`; rerun to resume (finished trainings and
    videos are reused). `train` overrides fine-tuning settings for every variant (`moranb.train.TrainConfig`)."""
    from . import models
    from .data import build_dataset
    from .data.dataset import EmptyDatasetError
    from .errors import InputError
    from .eval import evaluate
    from .eval.quality import VQ_PARTS
    from .tasks import text_to_video
    from .train import finetune

    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise InputError(f"unknown ablation variant(s) {unknown}; choose from {list(VARIANTS)}")
    if not prompts:
        raise InputError("the ablation needs at least one evaluation prompt")
    base, out = get_profile(profile), Path(out)
    datasets, missing = {}, {}
    for human in sorted({VARIANTS[v]["human"] for v in variants}, reverse=True):
        name = "with-human-step" if human else "judges-only"
        try:
            datasets[human] = build_dataset(data_dir, out / "datasets" / name, human=human)
        except EmptyDatasetError as exc:
            if human:
                raise
            missing[human] = str(exc)
    rows, histories = [], {}
    for variant in variants:
        spec = VARIANTS[variant]
        row = {"variant": variant, "label": spec["label"], "paper_vq": TABLE5[variant], "backend": backend}
        if spec["human"] in missing:  # nothing to train on: said in the table, not guessed
            rows.append({**row, "note": missing[spec["human"]]})
            continue
        dataset = datasets[spec["human"]]
        adapters = None
        if spec["finetune"]:
            result = finetune(dataset, base, out / variant / "train", progress=progress,
                              **{**(train or {}), **spec["train"]})
            adapters, histories[variant] = str(result.adapters), result.history
            row.update(steps=result.steps, train_seconds=round(result.seconds, 1),
                       final_loss={a: round(v, 4) for a, v in result.history[-1]["loss"].items()})
        profile_v = base.replace(adapters=adapters)
        runs = []
        for i, prompt in enumerate(prompts):
            for seed in seeds:
                folder = out / variant / "videos" / f"{i:02d}-seed{seed}"
                text_to_video(prompt, profile=profile_v, seed=seed, out_dir=folder, segments=segments,
                              frames_per_segment=frames_per_segment)
                runs.append(folder)
        scores = evaluate(runs, metrics=VQ_PARTS, backend=backend, out=out / variant / "eval.json",
                          progress=progress)["aggregate"]
        parts = {name: scores[name]["value"] for name in VQ_PARTS}
        offline = [v for name, v in parts.items() if name != "aesthetic_quality"]
        row.update(samples=len(dataset), videos=len(runs), adapters=adapters, parts=parts,
                   vq=scores["video_quality"]["value"], vq_reason=scores["video_quality"].get("reason"),
                   vq5=sum(offline) / len(offline) if None not in offline else None)
        rows.append(row)
        models.clear()  # the variant's fine-tuned pipelines: one variant's models in memory at a time
    files = write_table(rows, histories, out)
    return AblationResult(rows, histories, files)


def write_table(rows: list[dict], histories: dict, out: Path) -> dict[str, Path]:
    """table5.md (beside the paper's row), table5.json and training.png (loss and alpha_i of every variant)."""
    from .io import write_json, write_text
    from .train import plot_history

    out.mkdir(parents=True, exist_ok=True)
    files = {"table": write_text(out / "table5.md", table5_markdown(rows)),
             "json": write_json(out / "table5.json", rows)}
    if histories:
        files["chart"] = plot_history(histories, out / "training.png")
    return files


def read_result(out) -> AblationResult:
    """A finished ablation's result, from its folder."""
    out = Path(out)
    rows = json.loads((out / "table5.json").read_text(encoding="utf-8"))
    histories = {}
    for row in rows:
        path = out / row["variant"] / "train" / "history.json"
        if path.is_file():
            histories[row["variant"]] = json.loads(path.read_text(encoding="utf-8"))
    return AblationResult(rows, histories, {"table": out / "table5.md", "json": out / "table5.json"})
