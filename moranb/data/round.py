"""One round of data-free training data (the Oct 2024 Mora): prompts -> candidate videos -> two judges -> routing.

Round r, in `<data_dir>/round-<r>/`:
1. the prompt agent writes `16 * r` new prompts (16, 32, 48: the paper's 96 samples over three rounds), none of them
   used in an earlier round -> `prompts.json`;
2. for each prompt the current pipeline makes `candidates` videos with different seeds, through the task function
   (`candidates/<set>/<k>/`: video, first frame, manifest; each candidate resumes like any task run);
3. judge A and judge B each pick a top-1 under a criterion drawn at random (seeded) from `CRITERIA`;
4. both picked the same candidate -> accepted; otherwise (a different pick, or an abstention) -> queued for a person
   (`moranb.data.FilterPanel`, or `resolve_queue` headless). One line per finished set in `sets.jsonl`.

The round resumes: a set with a line in `sets.jsonl` is never made again, so an interrupted round continues at the
first unfinished set.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..agents import PromptAgent
from ..agents.judge import CRITERIA, Judge, Judgement
from ..checks import check_count
from ..config import Profile, get_profile
from ..errors import InputError
from ..io import contained, held_lock, prepare_output_dir, read_json, write_json
from .records import append_jsonl, read_jsonl

JUDGES = ("a", "b")


def prompts_in_round(round: int) -> int:
    """16 prompts in the first round, 16 more in each later one (16 + 32 + 48 = the paper's 96 samples)."""
    return 16 * round


def round_dir(data_dir, round: int) -> Path:
    return Path(data_dir) / f"round-{round:02d}"


@dataclass
class CandidateSet:
    """A prompt, its k candidate videos, both judges' verdicts, and where it goes next."""

    id: str  # "r01-s003": round 1, prompt 3
    round: int
    prompt: str
    seeds: list[int]
    candidates: list[str]  # the candidates' run folders, relative to the data dir
    judgements: list[Judgement]
    status: str  # "accepted" (the judges agree) or "queued" (a person decides)
    pick: int | None = None  # the judges' common pick, when accepted

    @classmethod
    def from_json(cls, data: dict) -> "CandidateSet":
        return cls(**{**data, "judgements": [Judgement(**j) for j in data["judgements"]]})


@dataclass
class RoundResult:
    round: int
    dir: Path
    sets: list[CandidateSet]
    made: list[str] = field(default_factory=list)  # sets made in this call (the others were finished before)

    @property
    def accepted(self) -> list[CandidateSet]:
        return [s for s in self.sets if s.status == "accepted"]

    @property
    def queued(self) -> list[CandidateSet]:
        return [s for s in self.sets if s.status == "queued"]

    @property
    def agreement(self) -> float:
        """The fraction of sets where both judges picked the same candidate."""
        return len(self.accepted) / len(self.sets) if self.sets else 0.0

    def abstentions(self) -> dict[str, int]:
        counts = {}
        for s in self.sets:
            for j in s.judgements:
                counts[j.judge] = counts.get(j.judge, 0) + int(j.pick is None)
        return counts

    def summary(self) -> str:
        return (f"round {self.round}: {len(self.sets)} candidate sets ({len(self.made)} made now), judges agreed on "
                f"{len(self.accepted)} ({self.agreement:.0%}), {len(self.queued)} queued for a person; abstentions "
                f"{self.abstentions()}")


def draw_criterion(seed: int, set_id: str, judge: str, criteria=CRITERIA) -> str:
    """The criterion a judge uses for a set: drawn at random from `criteria` (the paper's; a plugin judge's own),
    reproducibly from (seed, set, judge)."""
    return random.Random(f"{seed}:{set_id}:{judge}").choice(list(criteria))


def synthesize_round(data_dir, round: int = 1, profile: "str | Profile" = "tiny", seed: int = 0,
                     prompts: int | None = None, candidates: int = 4, judge_backend: str | None = None,
                     segments: int | None = None, frames_per_segment: int | None = None, judges=None,
                     progress: bool = True) -> RoundResult:
    """Make (or finish) round `round` under `data_dir`; returns every set of the round, old and new.

    `judges` replaces the profile's two judges with any two callables `judge(prompt, videos, criterion) ->
    Judgement` (a person's own rubric, a test's scripted answers). One process at a time works on a round, and a
    round resumes only with the settings it was started with (its round.json).
    """
    from ..tasks import text_to_video

    round = check_count(round, "round")
    count = check_count(prompts if prompts is not None else prompts_in_round(round), "prompts")
    candidates = check_count(candidates, "candidates")
    if candidates < 2:
        raise InputError(f"a judge picks the best of at least 2 candidates; got candidates={candidates}")
    profile = get_profile(profile)
    here = prepare_output_dir(round_dir(data_dir, round))
    data_dir = Path(data_dir)
    # One process at a time makes a round: a second one would make every set again and append it twice.
    with held_lock(here / ".lock", f"another process is making round {round} in '{here}'; wait for it to finish (a "
                                   f"rerun then resumes where it stopped) or use another data folder"):
        _check_identity(here, {"profile": profile.name, "candidates": candidates, "seed": seed, "segments": segments,
                               "frames_per_segment": frames_per_segment})
        texts = round_prompts(data_dir, round, profile, seed, count)
        done = {s.id: s for s in read_sets(here)}
        judges = judges or [Judge(profile, which=w, backend=judge_backend) for w in JUDGES]
        if len(judges) != 2:
            raise InputError(f"a round has two judges; got {len(judges)}")
        made = []
        for i, prompt in enumerate(tqdm(texts, desc=f"round {round}", unit="set", disable=not progress)):
            set_id = f"r{round:02d}-s{i:03d}"
            if set_id in done:
                continue
            seeds = [seed * 1_000_003 + round * 10_007 + i * 101 + k for k in range(candidates)]
            runs = [text_to_video(prompt, profile=profile, seed=s, segments=segments,
                                  frames_per_segment=frames_per_segment, out_dir=here / "candidates" / set_id / str(k))
                    for k, s in enumerate(seeds)]
            videos = [r.video for r in runs]
            verdicts = [judge(prompt, videos, draw_criterion(seed, set_id, w, getattr(judge, "criteria", CRITERIA)))
                        for w, judge in zip(JUDGES, judges)]
            picks = {v.pick for v in verdicts}
            agreed = len(picks) == 1 and None not in picks
            record = CandidateSet(
                id=set_id, round=round, prompt=prompt, seeds=seeds,
                candidates=[str(r.out_dir.relative_to(data_dir)) for r in runs], judgements=verdicts,
                status="accepted" if agreed else "queued", pick=verdicts[0].pick if agreed else None)
            append_jsonl(here / "sets.jsonl", dataclasses.asdict(record))
            done[set_id] = record
            made.append(set_id)
        sets = [done[s] for s in sorted(done)]
        return RoundResult(round, here, sets, made)


def _check_identity(here: Path, identity: dict) -> None:
    """A round's settings, written when it starts (round.json); resuming it with others would mix two rounds."""
    path = here / "round.json"
    if not path.exists():
        write_json(path, identity)
        return
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(f"{path} is not the JSON this round wrote; delete it to resume the round") from None
    changed = {k: (kept.get(k), v) for k, v in identity.items() if kept.get(k) != v}
    if changed:
        what = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise InputError(f"round in '{here}' was made with other settings ({what}); resume it with its own, or make "
                         f"the new round in another data folder")


SET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # a name, never a path ("r01-s003")


def read_sets(here: Path) -> list[CandidateSet]:
    """The round's finished sets, each line checked: a set id is a name, a candidate a folder inside the data folder
    (a data folder is shared, so its files are input), and a set appears once."""
    here = Path(here)
    path, sets = here / "sets.jsonl", {}
    for number, record in read_jsonl(path):
        where = f"{path}:{number}"
        try:
            s = CandidateSet.from_json(record)
        except (TypeError, KeyError, ValueError):
            raise InputError(f"{where} is not a set this round wrote (a missing or unknown field); fix or delete "
                             f"that line") from None
        if not isinstance(s.id, str) or not SET_ID.fullmatch(s.id) or ".." in s.id:
            raise InputError(f"{where}: set id {s.id!r} is not a name (letters, digits, '-', '_', '.'); fix or delete "
                             f"that line")
        if not isinstance(s.candidates, list) or not isinstance(s.seeds, list) or len(s.seeds) != len(s.candidates):
            raise InputError(f"{where}: candidates must be a list of folders, one seed each; fix or delete that line")
        if s.status not in ("accepted", "queued") or (s.status == "accepted" and not (
                isinstance(s.pick, int) and not isinstance(s.pick, bool) and 0 <= s.pick < len(s.candidates))):
            raise InputError(f"{where}: status {s.status!r} with pick {s.pick!r} is not a set this round wrote (an "
                             f"accepted set picks one of its {len(s.candidates)} candidates, 0 to "
                             f"{len(s.candidates) - 1}); fix or delete that line")
        for run in s.candidates:
            contained(here.parent, run, f"{where} candidates")
        if s.id in sets:
            raise InputError(f"{where}: set {s.id} is there twice; delete the second line")
        sets[s.id] = s
    return list(sets.values())


def round_prompts(data_dir, round: int = 1, profile: "str | Profile" = "tiny", seed: int = 0,
                  prompts: int | None = None) -> list[str]:
    """Stage 1 of a round: the prompt agent's new prompts, written once to `prompts.json` (the round's identity)
    and never one used in an earlier round."""
    data_dir, profile = Path(data_dir), get_profile(profile)
    count = check_count(prompts if prompts is not None else prompts_in_round(round), "prompts")
    here = prepare_output_dir(round_dir(data_dir, round))
    path = here / "prompts.json"
    if path.exists():
        kept = read_prompts(path)
        if kept["count"] != count:
            raise InputError(
                f"{path} holds {kept['count']} prompts and this call asks for {count}; use the same number to "
                f"resume the round, or a new data_dir")
        return kept["prompts"]
    earlier = []
    for r in range(1, round):
        old = round_dir(data_dir, r) / "prompts.json"
        if old.exists():
            earlier += read_prompts(old)["prompts"]
    written = PromptAgent(profile).write_prompts(count, seed=seed * 1000 + round, avoid=earlier)
    write_json(path, {"round": round, "count": count, "seed": seed, "backend": profile.prompt.backend,
                      "prompts": written})
    return written


def read_prompts(path: Path) -> dict:
    """A round's prompts.json, checked: its count and that many prompts, each text."""
    fix = "restore it, or delete it (and the round's sets) to write the round's prompts anew"
    kept = read_json(path, {"count": int, "prompts": list}, fix)
    if len(kept["prompts"]) != kept["count"] or not all(isinstance(p, str) and p.strip() for p in kept["prompts"]):
        raise InputError(f"{path}: 'prompts' must be {kept['count']} texts ('count'); {fix}")
    return kept
