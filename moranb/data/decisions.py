"""The human step: what a person (or a named policy) decided for each set the judges did not agree on.

Decisions live in `<round>/decisions.jsonl`, one JSON object per line, appended the moment they are made:

    {"set": "r01-s003", "decision": "pick", "pick": 2, "by": "person", "time": "..."}
    {"set": "r01-s007", "decision": "discard", "pick": null, "by": "person", "time": "..."}

`pick` counts from 0 (the panel's "Pick 3" is pick 2). A later line for the same set replaces an earlier one (the
panel's Back button). Headless (papermill, CI), `resolve_queue` settles the undecided sets from a decisions file of
the same format or a named policy, and every line says which (`"by": "file:..."` or `"by": "policy:judge_a"`). The
"simulated_person" policy is the round's profile plugin's stand-in for a person (the `mini` profile's reads each
candidate by the world's own renderer, `moranb.mini.judging.person`): recorded as `policy:simulated_person`, never as
a person.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .records import append_jsonl, read_jsonl
from .round import CandidateSet, read_sets

FILE = "decisions.jsonl"
POLICIES = ("discard_all", "judge_a", "judge_b", "simulated_person")


@dataclass(frozen=True)
class Decision:
    set: str
    decision: str  # "pick" or "discard"
    pick: int | None
    by: str  # "person", "file:<name>" or "policy:<name>"
    time: str = ""


def check_decision(record: dict, sets: dict[str, CandidateSet], where: str) -> Decision:
    """A decision line, validated against the round's sets; a bad one is a one-line error naming `where`."""
    set_id = record.get("set")
    if set_id not in sets:
        raise InputError(f"{where}: unknown set id {set_id!r}; this round's sets are {_span(sets)}")
    kind = record.get("decision")
    pick = record.get("pick")
    count = len(sets[set_id].candidates)
    if kind == "pick":
        if isinstance(pick, bool) or not isinstance(pick, int) or not 0 <= pick < count:
            raise InputError(f"{where}: pick {pick!r} is out of range for set {set_id}, which has {count} "
                             f"candidates (picks count from 0: 0..{count - 1})")
    elif kind == "discard":
        pick = None
    else:
        raise InputError(f"{where}: decision {kind!r} for set {set_id}; write \"pick\" (with a pick) or \"discard\"")
    return Decision(set_id, kind, pick, str(record.get("by") or "person"), str(record.get("time") or ""))


def read_decisions(here, path=None) -> dict[str, Decision]:
    """The latest decision per set in `path` (default: the round's own decisions.jsonl), each line validated."""
    here = Path(here)
    path = Path(path) if path is not None else here / FILE
    sets = {s.id: s for s in read_sets(here)}
    latest = {}
    for number, record in read_jsonl(path, strict=path.name != FILE):
        decision = check_decision(record, sets, f"{path}:{number}")
        latest[decision.set] = decision
    return latest


def record_decision(here, set_id: str, decision: str, pick: int | None = None, by: str = "person") -> Decision:
    """Validate and append one decision to the round's decisions.jsonl at once."""
    here = Path(here)
    sets = {s.id: s for s in read_sets(here)}
    record = {"set": set_id, "decision": decision, "pick": pick, "by": by,
              "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    checked = check_decision(record, sets, f"decision for {set_id}")
    append_jsonl(here / FILE, record)
    return checked


def pending(here) -> list[CandidateSet]:
    """The queued sets no one has decided yet, in set order."""
    decided = read_decisions(here)
    return [s for s in read_sets(here) if s.status == "queued" and s.id not in decided]


def resolve_queue(here, decisions=None, policy: str | None = None) -> dict:
    """Settle every undecided queued set headlessly: from a decisions file, or by a named policy.

    Policies: "discard_all"; "judge_a" / "judge_b" (that judge's pick wins; a set it abstained on is discarded);
    "simulated_person" (the round's profile plugin decides as a person would; only a profile with one, e.g. mini).
    Returns counts and which source decided, for the notebook to say.
    """
    here = Path(here)
    if (decisions is None) == (policy is None):
        raise InputError(f"resolve the queue from a decisions file or a policy (one of {list(POLICIES)}), not both "
                         f"or neither")
    if policy is not None and policy not in POLICIES:
        raise InputError(f"unknown policy {policy!r}; choose one of {list(POLICIES)}")
    todo = pending(here)
    if decisions is not None:
        path = Path(decisions)
        if not path.is_file():
            raise InputError(f"decisions file '{path}' does not exist; write one JSON object per line (see "
                             f"moranb.data.decisions) or use a policy")
        given = read_decisions(here, path)
        by = f"file:{path.name}"
        choices = {s.id: (given[s.id].decision, given[s.id].pick) for s in todo if s.id in given}
    else:
        by = f"policy:{policy}"
        person = _simulated_person(here) if policy == "simulated_person" and todo else None
        choices = {s.id: person(s) if person else _by_policy(s, policy) for s in todo}
    for set_id, (kind, pick) in choices.items():
        record_decision(here, set_id, kind, pick, by=by)
    picked = sum(1 for kind, _ in choices.values() if kind == "pick")
    return {"by": by, "queued": len(todo), "picked": picked, "discarded": len(choices) - picked,
            "undecided": len(todo) - len(choices)}


def _by_policy(s: CandidateSet, policy: str) -> tuple[str, int | None]:
    if policy == "discard_all":
        return "discard", None
    pick = s.judgements[{"judge_a": 0, "judge_b": 1}[policy]].pick  # judgements are in judge order, a then b
    return ("pick", pick) if pick is not None else ("discard", None)


def _simulated_person(here: Path):
    """The decision function of the round's profile plugin's simulated person (its `person(prompt, videos)`)."""
    from ..config import get_profile
    from ..io import read_json
    from ..video import read_video

    made = read_json(here / "round.json", {"profile": str}, "rerun the round to write it again")
    hooks = get_profile(made["profile"]).plugin_module("the simulated_person policy")
    if not hasattr(hooks, "person"):
        raise InputError(f"profile {made['profile']!r}'s plugin has no simulated person; use another policy or the "
                         f"panel")

    def decide(s: CandidateSet) -> tuple[str, int | None]:
        pick, _ = hooks.person(s.prompt, [read_video(here.parent / run / "video.mp4") for run in s.candidates])
        return ("pick", pick) if pick is not None else ("discard", None)

    return decide


def _span(sets: dict) -> str:
    ids = sorted(sets)
    return f"{ids[0]}..{ids[-1]}" if ids else "(none: run the round first)"
