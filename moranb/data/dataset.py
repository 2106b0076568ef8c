"""The accepted data as a dataset a trainer reads.

    <data_dir>/dataset/
        metadata.jsonl          one line per sample: prompt, round, seed, both judges' picks and criteria, who decided
        videos/<set>.mp4        the chosen candidate's video (copied, never re-encoded)
        first_frames/<set>.png  its first frame (the text-to-image agent's output)

A sample is a set the judges agreed on, or one a person (or a policy) picked a candidate for. `build_dataset` writes
the whole folder beside the old one and swaps it in, so a reader never sees half a dataset.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import DatasetError, MoranbError, OutputDirError
from ..io import check_replaceable, contained, new_folder, one_line, read_json
from ..video import Video, read_image, read_video
from .decisions import read_decisions
from .records import append_jsonl, read_jsonl
from .round import read_sets


class EmptyDatasetError(DatasetError):
    """No set was accepted: nothing to train on."""


def build_dataset(data_dir, out=None, human: bool = True) -> "Dataset":
    """Collect every round's accepted samples under `data_dir` into `out` (default `<data_dir>/dataset`).

    `human=False` keeps only the sets both judges agreed on, as if there were no human step (Table 5's "without
    human-in-the-loop"); the sets a person (or a policy) decided are left out and counted as "left_to_a_person".
    """
    data_dir = Path(data_dir)
    rounds_read = sorted(p for p in data_dir.glob("round-[0-9][0-9]") if p.is_dir())
    # Checked before any work: the dataset never replaces a round it reads (or the data folder, or a user's folder).
    out = check_replaceable(out if out is not None else data_dir / "dataset", reads=rounds_read, what="dataset folder")
    rounds = sorted(p for p in data_dir.glob("round-[0-9][0-9]") if (p / "sets.jsonl").exists())
    if not rounds:
        raise EmptyDatasetError(f"no rounds under '{data_dir}'; run moranb.data.synthesize_round first")
    samples, tally = [], {"sets": 0, "accepted_by_judges": 0, "picked": 0, "discarded": 0, "undecided": 0}
    if not human:
        tally["left_to_a_person"] = 0
    for here in rounds:
        decided = read_decisions(here)
        for s in read_sets(here):
            tally["sets"] += 1
            if s.status == "accepted":
                tally["accepted_by_judges"] += 1
                samples.append((s, s.pick, "judges"))
            elif not human:
                tally["left_to_a_person"] += 1
            elif s.id not in decided:
                tally["undecided"] += 1
            elif decided[s.id].decision == "discard":
                tally["discarded"] += 1
            else:
                tally["picked"] += 1
                samples.append((s, decided[s.id].pick, decided[s.id].by))
    if not samples and not human:
        raise EmptyDatasetError(
            f"the judges agreed on none of the {tally['sets']} sets in {len(rounds)} round(s) under '{data_dir}', so "
            f"without the human step there is nothing to train on; run more prompts or candidates per round")
    if not samples:
        raise EmptyDatasetError(
            f"no accepted samples in {len(rounds)} round(s) under '{data_dir}' ({tally['sets']} sets: "
            f"{tally['discarded']} discarded, {tally['undecided']} waiting for a person); decide the queued sets "
            f"(FilterPanel or resolve_queue) or run another round")
    chosen = [(s, pick, by, _candidate(data_dir, s, pick)) for s, pick, by in samples]  # all checked first
    try:
        with new_folder(out, reads=rounds_read) as tmp:
            (tmp / "videos").mkdir()
            (tmp / "first_frames").mkdir()
            for s, pick, by, (run, video) in chosen:
                shutil.copyfile(run / "video.mp4", tmp / "videos" / f"{s.id}.mp4")
                shutil.copyfile(run / "first_frame.png", tmp / "first_frames" / f"{s.id}.png")
                enhanced = (run / "enhanced_prompt.txt").read_text(encoding="utf-8").strip()
                append_jsonl(tmp / "metadata.jsonl", {
                    "id": s.id, "prompt": s.prompt, "enhanced_prompt": enhanced, "round": s.round,
                    "seed": s.seeds[pick], "candidate": pick, "candidates": len(s.candidates), "decided_by": by,
                    "judges": [dataclasses.asdict(j) for j in s.judgements], "video": f"videos/{s.id}.mp4",
                    "first_frame": f"first_frames/{s.id}.png", "frames": video["frames"], "fps": video["fps"],
                    "width": video["width"], "height": video["height"], "source": s.candidates[pick]})
            (tmp / "summary.json").write_text(json.dumps({**tally, "samples": len(samples)}, indent=1) + "\n")
    except OSError as exc:  # the rounds are only read, and the old dataset stays until the new one is whole
        raise OutputDirError(f"cannot write the dataset '{out}' ({one_line(exc)}); free some space, then rerun: the "
                             f"rounds and any earlier dataset are untouched") from None
    return Dataset(out)


def _candidate(data_dir: Path, s, pick: int) -> tuple[Path, dict]:
    """The chosen candidate's folder and its video's size, checked before the dataset is written."""
    run = data_dir / s.candidates[pick]
    fix = (f"restore candidate {pick} of set {s.id}, or delete the set's line from its sets.jsonl (the round then "
           f"makes it again)")
    manifest = read_json(run / "manifest.json", {"video.frames": int, "video.fps": (int, float), "video.width": int,
                                                 "video.height": int}, fix, DatasetError)
    for name in ("video.mp4", "first_frame.png", "enhanced_prompt.txt"):
        if not (run / name).is_file():
            raise DatasetError(f"'{run}' has no {name}; {fix}")
    return run, manifest["video"]


@dataclass
class Sample:
    id: str
    prompt: str
    video: Video
    first_frame: Image.Image
    meta: dict


class Dataset:
    """The samples of a dataset folder, read lazily: `len(ds)`, `ds[i]` -> `Sample`, `ds.meta` (the metadata lines)."""

    def __init__(self, path):
        self.path = Path(path)
        if not (self.path / "metadata.jsonl").exists():
            raise MoranbError(f"'{self.path}' is not a moranb dataset (no metadata.jsonl); build one with "
                              f"moranb.data.build_dataset")
        path = self.path / "metadata.jsonl"
        self.meta = []
        for number, record in read_jsonl(path, strict=True):
            for field in ("video", "first_frame"):  # a dataset is shared: its paths must stay inside it
                contained(self.path, record.get(field), f"{path}:{number} {field}")
            for field, kind in (("id", str), ("prompt", str), ("round", int)):
                if not isinstance(record.get(field), kind) or isinstance(record.get(field), bool):
                    raise DatasetError(f"{path}:{number}: field '{field}' is {record.get(field)!r:.40}, not "
                                       f"{kind.__name__}; fix that line, or rebuild the dataset with "
                                       f"moranb.data.build_dataset")
            self.meta.append(record)

    def __len__(self) -> int:
        return len(self.meta)

    def __getitem__(self, index: int) -> Sample:
        meta = self.meta[index]
        return Sample(meta["id"], meta["prompt"], read_video(self.path / meta["video"]),
                      read_image(self.path / meta["first_frame"]), meta)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def summary(self) -> dict:
        return json.loads((self.path / "summary.json").read_text())
