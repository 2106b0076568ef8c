"""Batch generation (moranb.batch): sources, names VBench finds, sharding over processes, resume after a kill,
failures recorded, and evaluation under VBench's protocol (moranb.eval.suite_eval)."""

import contextlib
import functools
import io
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time

import pytest

from moranb.batch import file_name, load_prompts, make_grid, run_batch, seed_list
from moranb.report import suite_report
from moranb.errors import InputError
from moranb.models import torch_threads
from moranb.eval.suite_eval import aggregate_suite, evaluate_suite, full_info_path, vbench_finds, vbench_suite

pytestmark = pytest.mark.slow

# A small grid: the first 3 prompts of VBench's subject-consistency dimension x 2 samples (seeds 0, 1), tiny sizes.
DIMENSION, PROMPTS, SAMPLES = "subject_consistency", 3, 2
OPTIONS = dict(segments=1, frames_per_segment=2, width=32, height=32)
CLI_ARGS = ["vbench", "--dimensions", DIMENSION, "--limit", str(PROMPTS), "--samples", str(SAMPLES), "--segments", "1",
            "--frames", "2", "--width", "32", "--height", "32", "--no-progress"]
VENV_BIN = Path(sys.executable).parent


def grid_names() -> list[str]:
    prompts = load_prompts("vbench", [DIMENSION], PROMPTS)
    return [item.name for item in make_grid(prompts, seed_list(SAMPLES))]


def launch(out: Path, processes: int = 2) -> subprocess.Popen:
    """`accelerate launch --multi_gpu --num_processes N -m moranb.cli batch ...` on this CPU machine (torchrun
    starts N processes; moranb's PartialState(cpu=True) joins them with gloo), on a free port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(VENV_BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", str(processes),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
           str(port), "-m", "moranb.cli", "batch", *CLI_ARGS, "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = open(out.parent / f"{out.name}.log", "w")  # a file, not a pipe: a full pipe would stall the run
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def log_of(out: Path) -> str:
    return (out.parent / f"{out.name}.log").read_text(errors="replace")


def kill_all(proc: subprocess.Popen) -> None:
    """SIGKILL the launcher and every process under it, at once: torchrun starts each worker in a session of its
    own, so killing the launcher's process group alone would leave the workers running."""
    import psutil

    launcher = psutil.Process(proc.pid)
    everyone = [launcher, *launcher.children(recursive=True)]
    for p in everyone:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
    psutil.wait_procs(everyone, timeout=30)
    proc.wait()


def videos(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (folder / "videos").iterdir()}


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    """The grid made in one uninterrupted run, in this process."""
    out = tmp_path_factory.mktemp("reference")
    with torch_threads(1):
        summary = run_batch("vbench", out=out, seeds=SAMPLES, dimensions=[DIMENSION], limit=PROMPTS, progress=False,
                            **OPTIONS)
    assert summary["made"] == len(grid_names()) == PROMPTS * SAMPLES and summary["failed"] == 0
    return out


# -- sources and names ----------------------------------------------------------------------------------------------
def test_prompt_sources(tmp_path):
    txt = tmp_path / "prompts.txt"
    txt.write_text("a red fox\n\n  a kite over a beach  \na red fox\n", encoding="utf-8")
    assert [e["prompt"] for e in load_prompts(txt)] == ["a red fox", "a kite over a beach"]
    jsonl = tmp_path / "prompts.jsonl"
    jsonl.write_text('{"prompt": "a red fox", "segments": 2}\n{"prompt": "a kite"}\n', encoding="utf-8")
    assert [(e["prompt"], e["options"]) for e in load_prompts(jsonl)] == [("a red fox", {"segments": 2}),
                                                                          ("a kite", {})]
    jsonl.write_text('{"prompt": "a red fox"}\n{"prompt": "a kite",\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"prompts.jsonl:2: not JSON"):
        load_prompts(jsonl)
    jsonl.write_text('{"prompt": "a fox", "segments": 1}\n{"prompt": "a fox", "segments": 2}\n', encoding="utf-8")
    with pytest.raises(InputError, match="also at .*prompts.jsonl:1 with other options"):
        load_prompts(jsonl)
    with pytest.raises(InputError, match="is not 'vbench', a .txt file"):
        load_prompts(tmp_path / "prompts.csv")
    with pytest.raises(InputError, match="prompt 0: options must be JSON values"):
        load_prompts([{"prompt": "a fox", "image": tmp_path / "fox.png"}])  # recorded, then compared on a rerun

    suite = vbench_suite()
    assert len(suite) == 944 and len({e["prompt"] for e in suite}) == 944  # 946 entries, two prompts listed twice
    chosen = load_prompts("vbench", ["dynamic_degree", "temporal_style"], limit=2)
    for dim in ("dynamic_degree", "temporal_style"):
        assert sum(dim in e["dimensions"] for e in chosen) == 2
    assert all({"dynamic_degree", "temporal_style"} & set(e["dimensions"]) for e in chosen)
    with pytest.raises(InputError, match="unknown VBench dimension"):
        load_prompts("vbench", ["sharpness"])
    with pytest.raises(InputError, match="text_to_video takes no option"):
        run_batch(["a fox"], out=tmp_path / "x", colour="red")
    with pytest.raises(InputError, match="edit_video takes none"):
        run_batch(["a fox"], task="edit_video", out=tmp_path / "x")
    with pytest.raises(InputError, match=r"needs \['image'\] besides the prompt"):
        run_batch(["a fox"], task="image_to_video", out=tmp_path / "x")
    with pytest.raises(InputError, match="samples is 6 but the grid has 5 seeds"):
        seed_list(5, samples=6)
    assert seed_list([7, 3, 9], samples=2) == [7, 3] and seed_list(3) == [0, 1, 2]
    assert not (tmp_path / "x").exists()  # bad input creates nothing


def test_unsafe_prompts_map_to_safe_unique_names():
    from vbench.utils import get_prompt_from_filename

    for prompt in ("a red fox running through snow", "A cute happy Corgi playing in park, sunset, Van Gogh style"):
        assert file_name(prompt) == prompt and get_prompt_from_filename(f"{prompt}-3.mp4") == prompt
    long_a, long_b = "x" * 300, "x" * 299 + "y"
    unsafe = ["a cat / a dog", "line one\nline two", ".hidden start", long_a, long_b, "é" * 200, "/", "\x00"]
    names = [file_name(p) for p in unsafe]
    assert len(set(names)) == len(unsafe)  # two prompts never share a name, even with the same first 240 bytes
    for prompt, name in zip(unsafe, names):
        assert name != prompt
        assert "/" not in name and "\n" not in name and "\x00" not in name and not name.startswith(".")
        assert len(f"{name}-99999.mp4".encode("utf-8")) <= 255
        name.encode("utf-8")  # a whole character was cut, never half of one
    assert names[0].startswith("a cat _ a dog~") and file_name(long_a) == names[3]  # stable


# -- the runs -------------------------------------------------------------------------------------------------------
def test_two_processes_make_every_item_exactly_once(reference, tmp_path):
    out = tmp_path / "two"
    proc = launch(out)
    proc.wait(timeout=300)
    log = log_of(out)
    assert proc.returncode == 0, log[-3000:]
    assert "batch: 6 made, 0 skipped (done before), 0 failed of 6 (2 process(es)" in log
    summary = json.loads((out / "summary.json").read_text())
    made = [p["made"] for p in summary["per_process"]]
    assert summary["processes"] == 2 and all(made)  # both processes worked
    assert sorted(made[0] + made[1]) == sorted(grid_names()) and not set(made[0]) & set(made[1])
    for process, names in enumerate(made):
        for name in names:
            assert json.loads((out / "items" / name / "item.json").read_text())["process"] == process
    assert summary["gpu_hours"] > 0 and summary["seconds_per_item"] > 0 and summary["complete"]
    assert videos(out) == videos(reference)  # the same bytes whatever the number of processes


def test_a_killed_run_resumes_without_redoing_finished_items(reference, tmp_path):
    out = tmp_path / "killed"
    proc = launch(out)
    deadline = time.monotonic() + 240
    while not ((out / "items").is_dir() and any((out / "items").glob("*/item.json"))):  # the first finished item
        assert proc.poll() is None, "the run ended before it could be killed: " + log_of(out)[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    kill_all(proc)
    finished = {}
    for name in grid_names():
        record, video = out / "items" / name / "item.json", out / "videos" / f"{name}.mp4"
        if record.is_file() and video.is_file():
            stat = video.stat()
            finished[name] = (record.read_bytes(), stat.st_ino, stat.st_mtime_ns)
    assert 0 < len(finished) < len(grid_names()), "the kill was not part-way"

    with torch_threads(1):
        summary = run_batch("vbench", out=out, seeds=SAMPLES, dimensions=[DIMENSION], limit=PROMPTS,
                            progress=False, **OPTIONS)
    assert summary["skipped"] == len(finished) and summary["made"] == len(grid_names()) - len(finished)
    assert not set(summary["per_process"][0]["made"]) & set(finished)
    for name, (record, inode, mtime) in finished.items():  # not redone: the same record, the same file
        stat = (out / "videos" / f"{name}.mp4").stat()
        assert (out / "items" / name / "item.json").read_bytes() == record and (stat.st_ino, stat.st_mtime_ns) == (
            inode, mtime)
    assert videos(out) == videos(reference)  # bit-identical to the uninterrupted run; nothing else in videos/
    assert not list((out / "items").glob("*/.stages"))  # finished items keep no stage cache


def test_vbench_own_matching_finds_every_video(reference, tmp_path):
    from vbench import VBench
    from vbench.utils import get_prompt_from_filename

    prompts = [e["prompt"] for e in load_prompts("vbench", [DIMENSION], PROMPTS)]
    for path in (reference / "videos").iterdir():
        assert get_prompt_from_filename(path.name) in prompts
    # VBench's standard mode, given its suite's entries for these prompts (the rest of the suite was not made).
    entries = [e for e in json.loads(full_info_path().read_text()) if e["prompt_en"] in prompts]
    info = tmp_path / "full_info.json"
    info.write_text(json.dumps(entries))
    with contextlib.redirect_stdout(io.StringIO()):
        matched = VBench("cpu", str(info), str(tmp_path)).build_full_info_json(
            str(reference / "videos"), "moranb", [DIMENSION], mode="vbench_standard")
    found = {e["prompt_en"]: sorted(Path(v).name for v in e["video_list"])
             for e in json.loads(Path(matched).read_text())}
    assert found == {p: [f"{p}-{i}.mp4" for i in range(SAMPLES)] for p in prompts}
    assert vbench_finds(reference) == {"videos": PROMPTS * SAMPLES, "found": PROMPTS * SAMPLES, "not_found": []}


def test_a_failing_item_is_recorded_and_the_run_goes_on(tiny, tmp_path, monkeypatch):
    import torch

    from moranb import tasks

    original = tasks.TASKS["text_to_video"]

    @functools.wraps(original)
    def sometimes_out_of_memory(prompt, **kwargs):
        if "memory" in prompt:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return original(prompt, **kwargs)

    monkeypatch.setitem(tasks.TASKS, "text_to_video", sometimes_out_of_memory)
    source = tmp_path / "prompts.jsonl"
    source.write_text("\n".join(json.dumps(item) for item in [
        {"prompt": "a cat / a dog"},  # unsafe as a file name
        {"prompt": "one frame a segment", "frames_per_segment": 1},  # the task refuses it in one line
        {"prompt": "out of memory"},
        {"prompt": "a kite over a beach"},
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "failing"
    with torch_threads(1):
        summary = run_batch(source, out=out, seeds=1, progress=False, **OPTIONS)
    assert (summary["made"], summary["failed"]) == (2, 2)
    reasons = {f["prompt"]: f["reason"] for f in summary["failures"]}
    assert "frames per segment must be at least 2" in reasons["one frame a segment"]
    assert reasons["out of memory"].startswith("out of GPU memory")
    safe = file_name("a cat / a dog")
    assert sorted(p.name for p in (out / "videos").iterdir()) == sorted([f"{safe}-0.mp4", "a kite over a beach-0.mp4"])
    assert json.loads((out / "batch.json").read_text())["names"] == {safe: "a cat / a dog"}
    record = json.loads((out / "items" / "out of memory-0" / "item.json").read_text())
    assert record["status"] == "failed" and record["video"] is None

    with torch_threads(1):  # a rerun skips what is done and tries the failed items again
        again = run_batch(source, out=out, seeds=1, progress=False, **OPTIONS)
    assert (again["made"], again["skipped"], again["failed"]) == (0, 2, 2)
    with pytest.raises(InputError, match="holds a batch made with other settings"):
        run_batch(source, out=out, seeds=1, progress=False, **{**OPTIONS, "segments": 2})


def test_evaluation_under_vbench_protocol(reference):
    results = evaluate_suite(reference, dimensions=[DIMENSION, "dynamic_degree", "temporal_style"], progress=False)
    sc = results["dimensions"][DIMENSION]
    assert sc["value"] is not None and sc["backend"] == "offline"
    assert (sc["videos"], sc["prompts"], sc["suite_prompts"]) == (PROMPTS * SAMPLES, PROMPTS, 72)
    # Dynamic degree's prompts are the same 72 (so these videos count there too); temporal style's are others.
    assert results["dimensions"]["dynamic_degree"]["videos"] == PROMPTS * SAMPLES
    assert results["dimensions"]["temporal_style"]["videos"] == 0
    assert "no video of this dimension's prompts" in results["dimensions"]["temporal_style"]["reason"]
    report = suite_report(results)
    assert "| Sora | 0.797 |" in report and "| CogVideo | 0.673 |" in report and f"| {DIMENSION} | " in report

    # VBench's aggregation: normalise, weight (dynamic degree 0.5), Quality = weighted mean; Total = (4Q + S) / 5.
    quality = {"subject_consistency": 0.95, "background_consistency": 0.96, "temporal_flickering": 0.97,
               "motion_smoothness": 0.98, "aesthetic_quality": 0.6, "imaging_quality": 0.6, "dynamic_degree": 0.5}
    norm = {"subject_consistency": (0.95 - 0.1462) / (1 - 0.1462), "background_consistency": (0.96 - 0.2615) / (
        1 - 0.2615), "temporal_flickering": (0.97 - 0.6293) / (1 - 0.6293), "motion_smoothness": (0.98 - 0.706) / (
        0.9975 - 0.706), "aesthetic_quality": 0.6, "imaging_quality": 0.6, "dynamic_degree": 0.5 * 0.5}
    scores = aggregate_suite({d: {"value": v} for d, v in quality.items()}, "offline")
    assert scores["quality_score"]["value"] == pytest.approx(sum(norm.values()) / 6.5)
    assert scores["total_score"]["value"] is None and "Semantic Score" in scores["total_score"]["reason"]
    assert scores["video_quality"]["value"] == pytest.approx((0.95 + 0.96 + 0.98 + 0.6 + 0.5 + 0.6) / 6)


def test_batch_command_errors_are_one_line(tmp_path, capsys):
    from moranb.cli import main

    assert main(["batch", str(tmp_path / "prompts.csv"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("moranb: error: prompt source") and "\n" not in err
    assert main(["batch", "vbench", "--dimensions", "sharpness", "--out", str(tmp_path / "out")]) == 2
    assert "unknown VBench dimension(s) ['sharpness']" in capsys.readouterr().err
