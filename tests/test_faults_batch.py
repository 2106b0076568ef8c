"""Fault suite of the batch surface (issue 22): two `moranb batch` runs started independently on one folder (no
accelerate: each believes it is process 0 of 1), an item another process holds or finished meanwhile, and a full disk
when the batch writes its own files. Every item is made exactly once, a summary says what this run made and what it
left to another, the error is one line, and nothing is written outside the out folder.
"""

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from moranb import batch
from moranb.batch import load_prompts, make_grid, run_batch, seed_list
from moranb.errors import OutputDirError
from moranb.models import torch_threads

pytestmark = pytest.mark.slow

# The smallest grid where two runs both find work: 2 prompts x 2 samples (seeds 0, 1), tiny sizes.
PROMPTS, SAMPLES = ["a red fox running in snow", "a kite over a beach"], 2
OPTIONS = dict(segments=1, frames_per_segment=2, width=32, height=32)
NAMES = [item.name for item in make_grid(load_prompts(PROMPTS), seed_list(SAMPLES))]
CLAIMS = ".claims"  # out/.claims/{item name}: the lock file an item's maker holds (never in videos/)
RUNNER = textwrap.dedent("""
    import json, sys
    from moranb.batch import run_batch
    summary = run_batch({prompts!r}, out=sys.argv[1], seeds={samples}, progress=False, **{options!r})
    print("SUMMARY " + json.dumps(summary))
""").format(prompts=PROMPTS, samples=SAMPLES, options=OPTIONS)


def make(out: Path) -> dict:
    with torch_threads(1):  # bit-for-bit comparisons use one thread
        return run_batch(PROMPTS, out=out, seeds=SAMPLES, progress=False, **OPTIONS)


def videos(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (out / "videos").iterdir()}


def outside(tmp_path: Path, out: Path) -> list[str]:
    """Everything under tmp_path but the out folder: a batch writes nothing there."""
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p != out and out not in p.parents)


def record(out: Path, name: str) -> dict:
    return json.loads((out / "items" / name / "item.json").read_text())


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    """The grid made by one run in this process."""
    out = tmp_path_factory.mktemp("reference") / "out"
    summary = make(out)
    assert summary["made"] == len(NAMES) == 4 and summary["complete"]
    return videos(out)


def test_two_independent_runs_make_every_item_exactly_once(reference, tmp_path):
    out = tmp_path / "out"
    before = outside(tmp_path, out)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = [subprocess.Popen([sys.executable, "-c", RUNNER, str(out)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]  # started together
    summaries = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-3000:]
        summaries.append(json.loads(stdout.split("SUMMARY ", 1)[1]))

    made = [s["per_process"][0]["made"] for s in summaries]
    assert sum(s["made"] for s in summaries) == len(NAMES)  # each item made once in all: the real property
    assert sorted(made[0] + made[1]) == sorted(NAMES) and not set(made[0]) & set(made[1])
    for run, names, summary in zip(runs, made, summaries):
        assert all(record(out, name)["pid"] == run.pid for name in names)  # the record names the run that made it
        assert summary["failed"] == 0 and summary["processes"] == 1 and summary["items"] == len(NAMES)
        # What a run did not make was done before it looked, or made by the other run.
        assert summary["made"] + summary["skipped"] + summary["elsewhere"] == len(NAMES)
    assert any(s["complete"] for s in summaries)  # the run that finished last saw every item done
    assert json.loads((out / "summary.json").read_text()) in summaries
    assert videos(out) == reference  # the same bytes as one run's; videos/ holds the finished videos only
    assert outside(tmp_path, out) == before


def test_an_item_another_process_holds_is_left_to_it(reference, tmp_path):
    from filelock import FileLock

    out = tmp_path / "out"
    held = NAMES[1]
    (out / CLAIMS).mkdir(parents=True)
    before = outside(tmp_path, out)
    claim = FileLock(out / CLAIMS / held, timeout=0)
    claim.acquire()  # as a process making the item would (an OS lock: a killed holder's claim goes with it)
    try:
        summary = make(out)
    finally:
        claim.release()
    assert not (out / "items" / held).exists() and f"{held}.mp4" not in videos(out)  # not made here
    assert held not in summary["per_process"][0]["made"] and not summary["complete"]
    assert (summary["made"], summary["skipped"], summary["elsewhere"], summary["failed"]) == (3, 0, 1, 0)

    again = make(out)  # the holder is gone without finishing it: the next run makes it
    assert (again["made"], again["skipped"], again["elsewhere"]) == (1, 3, 0) and again["complete"]
    assert videos(out) == reference
    assert outside(tmp_path, out) == before


def test_an_item_finished_elsewhere_after_the_scan_is_not_made_again(reference, tmp_path, monkeypatch):
    out = tmp_path / "out"
    before = outside(tmp_path, out)
    original, grid, calls = batch.make_item, make_grid(load_prompts(PROMPTS), seed_list(SAMPLES)), []

    def another_run_finishes_the_next(out, item, *args, **kwargs):
        if item.name == NAMES[0]:  # while this run makes the first item, another makes the second
            calls.append(NAMES[1])
            original(out, grid[1], *args, **kwargs)
        calls.append(item.name)
        return original(out, item, *args, **kwargs)

    monkeypatch.setattr(batch, "make_item", another_run_finishes_the_next)
    summary = make(out)
    assert sorted(calls) == sorted(NAMES)  # the second item was found done once claimed: not made twice
    assert (summary["made"], summary["elsewhere"]) == (3, 1) and summary["complete"]
    assert videos(out) == reference
    assert outside(tmp_path, out) == before


@pytest.mark.parametrize("target", ["summary.json", "batch.json"])
def test_a_full_disk_on_the_batch_files_is_one_line(reference, tmp_path, monkeypatch, capsys, target):
    from moranb.cli import main

    source = tmp_path / "prompts.txt"
    source.write_text("\n".join(PROMPTS) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    before = outside(tmp_path, out)
    real = batch.write_json

    def full_disk(path, data):
        if Path(path).name == target:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(batch, "write_json", full_disk)
    args = ["batch", str(source), "--samples", str(SAMPLES), "--segments", "1", "--frames", "2", "--width", "32",
            "--height", "32", "--no-progress", "--out", str(out)]
    with torch_threads(1):
        assert main(args) == 2
    err = capsys.readouterr().err  # the items' own progress bars come first
    line = err.strip().splitlines()[-1]
    assert line.startswith("moranb: error: ") and err.count("moranb: error") == 1 and "Traceback" not in err
    assert str(out / target) in line and "free some space, then rerun: finished items are kept" in line
    with pytest.raises(OutputDirError):  # the same from Python
        make(out)

    monkeypatch.setattr(batch, "write_json", real)  # space freed: the rerun keeps what was finished
    summary = make(out)
    assert summary["made"] + summary["skipped"] == len(NAMES) and summary["complete"]
    assert summary["skipped"] == (len(NAMES) if target == "summary.json" else 0)
    assert videos(out) == reference
    assert outside(tmp_path, out) == before
