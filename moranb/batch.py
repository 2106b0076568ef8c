"""Batch generation: one task over a prompt x seed grid, sharded over processes with accelerate, resumable.

    from moranb.batch import run_batch
    summary = run_batch("vbench", profile="full", out="outputs/vbench")          # VBench's 944 prompts x 5 seeds

    moranb batch vbench --profile full --out outputs/vbench                       # the same, one process
    accelerate launch --multi_gpu --num_processes 8 -m moranb.cli batch vbench --profile full --out outputs/vbench

Prompts come from VBench's standard suite (all of it, or the prompts of chosen dimensions), a .txt file (one prompt a
line) or a .jsonl file (one {"prompt": ..., <task option>: ...} a line). Sample i of every prompt is made with
seeds[i], so an item's video depends on its prompt and seed only: not on the process that made it, the number of
processes, or whether the run was interrupted.

What `out` holds:
- `videos/{prompt}-{i}.mp4`: every finished video, named as VBench's standard mode expects, and nothing else (VBench
  takes the suffix it looks for from the folder's first file). A prompt that cannot be a file name (a '/', a control
  character, a leading dot, too long for the 255-byte name limit) gets a readable safe name ending in a hash of the
  prompt; `batch.json` maps those names back to their prompts.
- `items/{name}-{i}/`: the item's run folder, as the task wrote it (its `manifest.json`, frame strip, first frame;
  its video is the very file in `videos/`, a hard link), and `item.json`, the item's record: prompt, seed, status
  ("done" or "failed" with the reason), seconds, process (rank, host and pid: which run made it). An item is done
  when its video and a "done" record exist; finished items keep no stage cache.
- `batch.json`: the batch's manifest (task, profile, options, seeds, the prompts' source, the mapped names);
  `summary.json`: this run's account, merged by the main process once every process has finished its share: made,
  skipped (done before), failed (with reasons), elsewhere (left to another run making them), complete (every item of
  the grid done in the folder, whoever made it), seconds per item and GPU-hours.
- `.claims/{name}-{i}`: an empty file per item a process has claimed (see below), kept: it anchors the item's lock,
  and removing it while a run is making the item would let a second run claim it too. Never in `videos/`.

Every process reads the same grid and the folder's state, then takes every n-th pending item (process i of n, in
grid order); besides accelerate's barriers and the accounts gathered for the summary they share only the folder, so
on several machines `out` must be one shared filesystem. (On a CPU-only machine, `accelerate launch --multi_gpu` is
what starts several processes; its `--cpu` starts one unless MPI is installed.) Runs started independently on one
folder (each believes it is process 0 of 1) share the work through claims: a process makes an item only while it
holds the item's OS file lock (`.claims/`, taken without waiting) and only if the item is still not done once it
holds it; an item another process holds is left to that process. The lock goes with its process, so a killed run
leaves no stale claim. A video reaches `videos/` by an atomic rename once the task has published and checked it,
and its record comes last, so a kill loses at most the item in flight (whose finished stages the next run reuses).
An item that fails with a one-line error or runs out of GPU memory is recorded and the run goes on; the next run
tries it again.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import inspect
import json
import os
import platform
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .checks import check_count, check_prompt, check_seed
from .config import Profile, get_profile
from .errors import InputError, MoranbError, OutputDirError
from .eval.suite_eval import BATCH_MANIFEST, vbench_suite
from .io import clean_output_dir, one_line, prepare_output_dir, write_json

VIDEOS, ITEMS, CLAIMS = "videos", "items", ".claims"
RECORD, SUMMARY = "item.json", "summary.json"
NAME_BYTES = 255  # a file name's limit on ext4, xfs, btrfs, ...
# A prompt keeps its own name while "{prompt}-{i}.mp4" fits for i up to 99999: the name never depends on the grid.
_INDEX_ROOM = len("-99999.mp4")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/]")
_GIVEN_BY_BATCH = ("profile", "seed", "out_dir", "review")  # a batch runs headless: no reviewer per item


# -- prompts ------------------------------------------------------------------------------------------------------
def load_prompts(source, dimensions=None, limit: int | None = None) -> list[dict]:
    """The prompts of `source` as dicts {"prompt", "options", "dimensions"}, each prompt once, in order.

    `source`: "vbench" (VBench's standard suite; `dimensions` chooses the prompts of some dimensions), a .txt file
    (one prompt a line; blank lines skipped), a .jsonl file (one object a line: "prompt" and any options of the
    task, e.g. {"prompt": "a fox", "segments": 2}), or a list of prompts or such dicts. `limit`: the first `limit`
    prompts (of each chosen dimension, for VBench's suite)."""
    if isinstance(source, str) and source == "vbench":
        return [{"prompt": e["prompt"], "options": {}, "dimensions": e["dimensions"]}
                for e in vbench_suite(dimensions, limit)]
    if dimensions:
        raise InputError(f"dimensions choose prompts of VBench's suite; pass 'vbench' as the prompt source, or leave "
                         f"dimensions out for the source '{source}'")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix not in (".txt", ".jsonl"):
            raise InputError(f"prompt source '{source}' is not 'vbench', a .txt file (one prompt a line) or a .jsonl "
                             f"file (one {{\"prompt\": ...}} a line)")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read prompt file '{path}' ({one_line(exc)}); check the path (UTF-8 text)") \
                from None
        where = [f"{path}:{n}" for n in range(1, len(lines) + 1)]
        if path.suffix == ".txt":
            raw = [(w, line) for w, line in zip(where, lines) if line.strip()]
        else:
            raw = [(w, _json_line(line, w)) for w, line in zip(where, lines) if line.strip()]
    else:
        raw = [(f"prompt {n}", item) for n, item in enumerate(source)]
    found: dict[str, tuple[str, dict]] = {}
    for where, item in raw:
        entry = _entry(item, where)
        if entry["prompt"] in found and found[entry["prompt"]][1]["options"] != entry["options"]:
            raise InputError(f"{where}: the prompt '{entry['prompt'][:60]}' is also at {found[entry['prompt']][0]} "
                             f"with other options; a prompt names its videos, so give it once")
        found.setdefault(entry["prompt"], (where, entry))
    entries = [entry for _, entry in found.values()]
    if not entries:
        raise InputError(f"prompt source '{source}' holds no prompts")
    return entries[:check_count(limit, "limit (prompts)")] if limit is not None else entries


def _json_line(line: str, where: str) -> dict:
    try:
        item = json.loads(line)
    except ValueError:
        raise InputError(f"{where}: not JSON; each line of a .jsonl prompt file is one object such as "
                         f"{{\"prompt\": \"a red fox\"}}") from None
    return item


def _entry(item, where: str) -> dict:
    if isinstance(item, str):
        return {"prompt": check_prompt(item, f"{where}: prompt"), "options": {}, "dimensions": []}
    if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
        raise InputError(f"{where}: needs a \"prompt\" (text); got {str(item)[:80]}")
    options = {k: v for k, v in item.items() if k != "prompt"}
    try:
        json.dumps(options)
    except (TypeError, ValueError):  # they are recorded with the item and compared on a rerun
        raise InputError(f"{where}: options must be JSON values (text, numbers, lists); give paths as text") from None
    return {"prompt": check_prompt(item["prompt"], f"{where}: prompt"), "options": options, "dimensions": []}


def file_name(prompt: str) -> str:
    """What `prompt`'s videos are called before `-{i}.mp4`: the prompt itself, as VBench expects, when it can be a
    file name; else the prompt with '/' and control characters replaced, no leading dot, cut to fit 255 bytes with
    its suffix, then '~' and 12 hex digits of the prompt's SHA-256 (so two prompts never share a name)."""
    if not _UNSAFE.search(prompt) and not prompt.startswith(".") and \
            len(prompt.encode("utf-8")) + _INDEX_ROOM <= NAME_BYTES:
        return prompt
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12]
    room = NAME_BYTES - _INDEX_ROOM - len(digest) - 1
    readable = _UNSAFE.sub("_", prompt).lstrip(".").encode("utf-8")[:room].decode("utf-8", "ignore")
    return f"{readable}~{digest}"


# -- the grid -----------------------------------------------------------------------------------------------------
@dataclass
class Item:
    """One video of the grid: sample `index` of `prompt`, made with `seed`, saved as `videos/{name}.mp4`."""

    prompt: str
    index: int
    seed: int
    name: str  # "{file_name(prompt)}-{index}"
    options: dict = field(default_factory=dict)  # the prompt's own task options (from a .jsonl file)
    dimensions: list = field(default_factory=list)  # VBench dimensions the prompt serves


def seed_list(seeds=5, samples: int | None = None) -> list[int]:
    """The seed of each sample: `seeds` is a count n (seeds 0..n-1; VBench takes 5 samples a prompt) or the seeds
    themselves; `samples` keeps the first `samples` of them (a slice of the same grid: sample i keeps its seed)."""
    if isinstance(seeds, (list, tuple, range)):
        seeds = [check_seed(s) for s in seeds]
        if not seeds or len(set(seeds)) != len(seeds):
            raise InputError(f"seeds must be distinct, at least one; got {list(seeds)}")
    else:
        seeds = list(range(check_count(seeds, "seeds (samples a prompt)")))
    if samples is not None and check_count(samples, "samples (videos a prompt)") > len(seeds):
        raise InputError(f"samples is {samples} but the grid has {len(seeds)} seeds; pass seeds={samples} (or "
                         f"{samples} seeds)")
    return seeds[:samples]


def make_grid(prompts: list[dict], seeds: list[int]) -> list[Item]:
    """Every prompt x every sample, prompt by prompt; a name two prompts would share is refused."""
    items, owner = [], {}
    for entry in prompts:
        name = file_name(entry["prompt"])
        if owner.setdefault(name, entry["prompt"]) != entry["prompt"]:
            raise InputError(f"prompts '{owner[name][:60]}' and '{entry['prompt'][:60]}' would share the file name "
                             f"'{name[:60]}'; change one of them")
        items += [Item(entry["prompt"], i, seed, f"{name}-{i}", entry["options"], entry["dimensions"])
                  for i, seed in enumerate(seeds)]
    return items


def check_options(task: str, options: dict, where: str = "batch option", complete: bool = False) -> dict:
    """`options` if `task` takes every one of them (its inputs and settings besides the prompt; profile, seed,
    out_dir and review are the batch's own); `complete`: they also give every input the task needs."""
    from .tasks import TASKS

    if task not in TASKS:
        raise InputError(f"unknown task '{task}'; choose one of {list(TASKS)}")
    parameters = inspect.signature(TASKS[task]).parameters
    if "prompt" not in parameters:  # the prompt names the videos
        takers = [name for name, fn in TASKS.items() if "prompt" in inspect.signature(fn).parameters]
        raise InputError(f"a batch names each video by its prompt, and {task} takes none; choose one of {takers}")
    taken = [n for n in parameters if n not in (*_GIVEN_BY_BATCH, "prompt")]
    unknown = [k for k in options if k not in taken]
    if unknown:
        raise InputError(f"{where}: {task} takes no option(s) {unknown}; it takes {taken} (profile, seed and out "
                         f"are the batch's own)")
    missing = [n for n, p in parameters.items() if complete and p.default is inspect.Parameter.empty
               and n != "prompt" and n not in options]
    if missing:
        raise InputError(f"{where}: {task} needs {missing} besides the prompt; give them in a .jsonl prompt file")
    return options


# -- the run ------------------------------------------------------------------------------------------------------
def run_batch(prompts_source, task: str = "text_to_video", profile: "str | Profile" = "tiny", out="outputs/batch",
              seeds=5, dimensions=None, samples: int | None = None, limit: int | None = None,
              progress: bool = True, **task_options) -> dict:
    """Make every item of the grid (`load_prompts(prompts_source, dimensions, limit)` x `seed_list(seeds, samples)`)
    that `out` does not hold yet, this process's share of them under `accelerate launch`; returns the merged summary
    (also written to `out/summary.json`). `task_options` go to every item (e.g. segments=1, frames_per_segment=4)."""
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list, gather_object, parse_flag_from_env

    started = time.perf_counter()
    profile = get_profile(profile)
    options = check_options(task, task_options)
    prompts = load_prompts(prompts_source, dimensions, limit)
    for n, entry in enumerate(prompts):
        check_options(task, {**options, **entry["options"]}, f"prompt {n} ('{entry['prompt'][:40]}')", complete=True)
    seeds = seed_list(seeds, samples)
    grid = make_grid(prompts, seeds)
    out = prepare_output_dir(out)
    settings = _canonical({"task": task, "profile": dataclasses.asdict(profile), "options": options})
    key = _key(settings)

    # One process per device; a long final wait (the others' last items) must not time out.
    state = PartialState(cpu=profile.device == "cpu" or parse_flag_from_env("ACCELERATE_USE_CPU"),
                         timeout=datetime.timedelta(hours=24))
    rank, processes = state.process_index, state.num_processes
    if profile.device.startswith("cuda") and state.device.type == "cuda" and processes > 1:
        profile = profile.replace(device=str(state.device))  # process i on GPU i (offloading names it too)
    manifest = _check_manifest(out, key)  # every process checks, so all stop alike on a mismatch
    if state.is_main_process:
        _start(out, manifest, settings, prompts_source, dimensions, limit, seeds, grid)
    state.wait_for_everyone()
    pending = [item for item in grid if not _done(out, item, key)]  # the same list in every process
    state.wait_for_everyone()  # nobody writes before everyone has looked
    if state.is_main_process:  # a kill between an item's record and its cleanup left its stage cache: free it now
        waiting = {item.name for item in pending}
        for item in grid:
            if item.name not in waiting:
                shutil.rmtree(out / ITEMS / item.name / ".stages", ignore_errors=True)
    mine = pending[rank::processes]

    shard = {"process": rank, "host": platform.node(), "device": profile.device, "made": [], "failed": [],
             "elsewhere": [], "item_seconds": []}
    from tqdm import tqdm

    bar = tqdm(mine, desc=f"batch, process {rank + 1}/{processes}", unit="video", position=rank,
               disable=not progress, leave=True)
    for item in bar:
        claim = _claim(out, item)
        try:
            # Held by another run, or finished by one since the scan: the item is not this process's to make.
            if claim is None or _done(out, item, key):
                shard["elsewhere"].append(item.name)
                continue
            record = make_item(out, item, task, profile, options, key, rank)
        finally:
            if claim is not None:
                claim.release()
        if record["status"] == "done":
            shard["made"].append(item.name)
            shard["item_seconds"].append(record["seconds"])
        else:
            shard["failed"].append({k: record[k] for k in ("name", "prompt", "seed", "reason")})
        bar.set_postfix(made=len(shard["made"]), failed=len(shard["failed"]))
    bar.close()
    shard["wall_seconds"] = round(time.perf_counter() - started, 3)
    # The accounts travel over the launch's process group, not through files: another run on the same folder
    # cannot read, overwrite or delete them.
    shards = gather_object([shard])
    summary = [_merge(out, task, profile, grid, len(grid) - len(pending), shards, key)
               if state.is_main_process else None]
    # Every process returns the main process's summary: summary.json may already be another run's.
    return broadcast_object_list(summary)[0]


def make_item(out: Path, item: Item, task: str, profile: Profile, options: dict, settings_key: str,
              process: int = 0) -> dict:
    """Make one item into `out/items/{name}/`, publish its video as `out/videos/{name}.mp4`, write its record last;
    a one-line error or out of GPU memory is recorded as the item's failure. Returns the record."""
    import torch

    from .tasks import TASKS

    folder = out / ITEMS / item.name
    start = time.perf_counter()
    status, reason = "done", None
    try:
        result = TASKS[task](prompt=item.prompt, **{**options, **item.options}, profile=profile, seed=item.seed,
                             out_dir=folder)
        publish_video(result.files["video"], out / VIDEOS / f"{item.name}.mp4")
    except MoranbError as exc:
        status, reason = "failed", str(exc)
    except torch.OutOfMemoryError as exc:  # outside a stage (a stage's is already a GPUMemoryError)
        status, reason = "failed", f"out of GPU memory ({one_line(exc)}); use profile 'lowvram' or fewer frames"
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    record = {"prompt": item.prompt, "index": item.index, "seed": item.seed, "name": item.name,
              "video": f"{VIDEOS}/{item.name}.mp4" if status == "done" else None, "options": _canonical(item.options),
              "dimensions": item.dimensions, "status": status, "reason": reason,
              "seconds": round(time.perf_counter() - start, 3), "process": process,
              "host": platform.node(), "pid": os.getpid(),  # which run made it, when several shared the folder
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "settings_key": settings_key}  # the batch's task, profile and options: batch.json
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / RECORD, record)
    except OSError as exc:
        raise OutputDirError(f"cannot write the record of '{item.name}' into '{folder}' ({one_line(exc)}); free some "
                             f"space, then rerun: finished items are kept") from None
    if status == "done":  # the video is published: the stage cache (the largest files of a run) has done its job
        shutil.rmtree(folder / ".stages", ignore_errors=True)
    return record


def publish_video(source: Path, target: Path) -> Path:
    """`source` as `target`, atomically: a hard link (the same bytes, no copy; a copy where links are not
    supported) under a hidden temporary name, renamed into place."""
    tmp = target.with_name(f".{hashlib.sha256(target.name.encode()).hexdigest()[:16]}.partial-{os.getpid()}.mp4")
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputDirError(f"cannot publish '{target.name}' into '{target.parent}' ({one_line(exc)}); free some "
                             f"space or make the folder writable, then rerun") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _claim(out: Path, item: Item):
    """The item's claim, held (a FileLock to release once its record is written), or None when another process
    holds it. An OS lock: it vanishes with a killed holder, so no claim outlives its process."""
    from filelock import FileLock, Timeout

    path = out / CLAIMS / item.name  # the item's name fits a file name ("{name}.mp4" does)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return None
    except OSError as exc:
        raise OutputDirError(f"cannot claim '{item.name}' in '{path.parent}' ({one_line(exc)}); free some space or "
                             f"make the folder writable, then rerun: finished items are kept") from None
    return lock


def _write_batch_file(path: Path, data: dict) -> None:
    """write_json, with a full disk or an unwritable folder as one line naming the file."""
    try:
        write_json(path, data)
    except OSError as exc:
        raise OutputDirError(f"cannot write '{path}' ({one_line(exc)}); free some space, then rerun: finished items "
                             f"are kept") from None


def _canonical(value):
    """`value` as it reads back from JSON (tuples as lists, paths as text), so a record compares with an item."""
    return json.loads(json.dumps(value, default=str))


def _key(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _done(out: Path, item: Item, key: str) -> bool:
    """Whether `item` is finished in `out`: its video and a "done" record for the same prompt, seed and settings.
    A finished video made otherwise is an error, not a silent redo."""
    try:
        record = json.loads((out / ITEMS / item.name / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if record.get("status") != "done" or not (out / VIDEOS / f"{item.name}.mp4").is_file():
        return False
    made = (record.get("prompt"), record.get("seed"), record.get("options"), record.get("settings_key"))
    if made != (item.prompt, item.seed, _canonical(item.options), key):
        raise InputError(f"'{out / VIDEOS / item.name}.mp4' was made with other settings (seed {record.get('seed')}, "
                         f"see its {ITEMS}/{item.name}/{RECORD}); rerun with the settings in {out / BATCH_MANIFEST}, "
                         f"or pass a new out folder")
    return True


def _check_manifest(out: Path, key: str) -> dict:
    """The folder's batch manifest, if any; made with other settings (task, profile, options) it is refused."""
    path = out / BATCH_MANIFEST
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # written atomically, so only a hand-edit breaks it: the items' records still decide
    if manifest.get("settings_key") != key:
        raise InputError(f"'{out}' holds a batch made with other settings (task, profile or options; see {path}); "
                         f"rerun with those, or pass a new out folder")
    return manifest


def _start(out: Path, manifest: dict, settings: dict, source, dimensions, limit, seeds, grid: list[Item]) -> None:
    """Main process, before any item: remove what a killed run left half-written, write the batch manifest."""
    from .io import versions

    for folder in (VIDEOS, ITEMS, CLAIMS):
        try:
            (out / folder).mkdir(exist_ok=True)
        except OSError as exc:
            raise OutputDirError(f"cannot create '{out / folder}' ({one_line(exc)}); free some space or make the "
                                 f"folder writable, then rerun: finished items are kept") from None
    clean_output_dir(out / VIDEOS)  # temporary links of a killed run (their process is gone)
    names = dict(manifest.get("names", {}))  # safe file name -> prompt, for every prompt that needed one
    names.update({file_name(item.prompt): item.prompt for item in grid if file_name(item.prompt) != item.prompt})
    _write_batch_file(out / BATCH_MANIFEST, {
        "kind": "batch", "task": settings["task"], "settings": settings, "settings_key": _key(settings),
        "source": str(source) if isinstance(source, (str, os.PathLike)) else "a list of prompts",
        "dimensions": dimensions, "limit": limit, "seeds": seeds, "prompts": len(grid) // max(1, len(seeds)),
        "items": len(grid), "names": names, "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def _merge(out: Path, task: str, profile: Profile, grid: list[Item], skipped: int, shards: list[dict],
           key: str) -> dict:
    """Main process, after every process has finished: one summary of all the processes' accounts, written to
    `out/summary.json` and returned."""
    seconds = [s for shard in shards for s in shard["item_seconds"]]
    failures = [f for shard in shards for f in shard["failed"]]
    summary = {
        "task": task, "profile": profile.name, "device": profile.device, "processes": len(shards),
        "items": len(grid), "made": sum(len(shard["made"]) for shard in shards), "skipped": skipped,
        "failed": len(failures), "failures": failures,
        "elsewhere": sum(len(shard["elsewhere"]) for shard in shards),
        # From the folder, not this run's counts: another run may still be making what it claimed.
        "complete": all(_done(out, item, key) for item in grid),
        "seconds_per_item": round(sum(seconds) / len(seconds), 3) if seconds else None,
        # Device-hours held: each process's wall clock (loading included), one device per process.
        "gpu_hours": round(sum(shard["wall_seconds"] for shard in shards) / 3600, 5),
        "wall_seconds": max(shard["wall_seconds"] for shard in shards),
        "per_process": [{k: shard[k] for k in ("process", "host", "device", "made", "failed", "elsewhere",
                                                "wall_seconds")} for shard in shards],
        "videos": str(out / VIDEOS), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    _write_batch_file(out / SUMMARY, summary)
    return summary
