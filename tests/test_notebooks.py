"""Every notebook runs headlessly on the tiny profile, and records what it made."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from moranb import read_video
from moranb.suite import dirty, notebooks, reproduce

EXPECTED = ["00_quickstart", "01_text_to_video", "02_image_to_video", "03_extend_video", "04_edit_video",
            "05_connect_videos", "06_simulate_digital_world"]


def test_notebooks_are_committed_without_outputs():
    assert dirty(notebooks()) == []


def test_every_notebook_has_a_parameters_cell_that_sets_profile_seed_and_out_dir():
    for path in notebooks():
        cells = json.loads(path.read_text())["cells"]
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path.name
        source = "".join(tagged[0]["source"])
        needed = ("profile", "out_dir") + (("backend",) if path.stem == "07_evaluation" else ("seed",))
        if path.stem in EXPECTED:
            needed += ("review",)
        for name in needed:
            assert re.search(rf"^{name}: \w+ = ", source, re.M), (path.name, name)


def test_papermill_knows_every_parameter_type():
    for path in notebooks():
        out = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(path)],
                             capture_output=True, text=True, check=True).stdout
        assert "Parameters inferred" in out and "Unknown type" not in out, (path.name, out)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    reproduce("tiny", out)  # every notebook, the evaluation last
    return out


@pytest.mark.slow
def test_reproduce_runs_every_notebook_and_records_results(suite, tiny):
    records = {name: json.loads((suite / f"{name}.json").read_text()) for name in EXPECTED}
    for name, rec in records.items():
        assert (suite / f"{name}.ipynb").exists(), name
        video = read_video(rec["files"]["video"])
        assert video.num_frames == rec["frames"], name
        assert rec["profile"] == "tiny" and rec["seed"] == 0
        assert (suite / name / "frame_strip.png").exists()
    per = tiny.frames_per_segment
    assert records["00_quickstart"]["frames"] == 2 * per
    assert records["01_text_to_video"]["frames"] == tiny.segments * per
    assert records["01_text_to_video"]["stage_by_stage_identical"] is True
    assert all(d["decision"] == "approve" for rec in records.values() for d in rec["decisions"])
    assert records["03_extend_video"]["frames"] == records["03_extend_video"]["input_frames"] + 2 * per
    assert records["04_edit_video"]["frames"] == records["04_edit_video"]["input_frames"]
    connect = records["05_connect_videos"]
    assert connect["frames"] == connect["frames_a"] + connect["transition_frames"] + connect["frames_b"]
    assert records["06_simulate_digital_world"]["route"] == "prompt"


@pytest.mark.slow
def test_a_papermill_parameter_changes_the_seed(suite, tmp_path):
    reproduce("tiny", tmp_path, only=["01"], parameters={"seed": 3})
    rec = json.loads((tmp_path / "01_text_to_video.json").read_text())
    base = json.loads((suite / "01_text_to_video.json").read_text())
    assert rec["seed"] == 3
    assert not np.array_equal(read_video(rec["files"]["video"]).frames, read_video(base["files"]["video"]).frames)


@pytest.mark.slow
def test_the_evaluation_notebook_scores_every_task_beside_the_paper(suite):
    rec = json.loads((suite / "07_evaluation.json").read_text())
    assert rec["videos"] == len(EXPECTED) and rec["backend"] == "offline"
    report = (suite / "07_evaluation" / "report.md").read_text()
    assert "| Sora | 0.797 |" in report and "(offline)" in report
    assert (suite / "07_evaluation" / "chart.png").exists()
    results = json.loads((suite / "07_evaluation" / "results.json").read_text())
    assert sorted(r["task"] for r in results["videos"]) == sorted(
        ["text_to_video", "text_to_video", "image_to_video", "extend_video", "edit_video", "connect_videos",
         "simulate_digital_world"])


@pytest.mark.slow
def test_the_data_notebook_runs_a_round_and_writes_a_dataset(suite):
    rec = json.loads((suite / "08_data_free_training.json").read_text())
    assert rec["sets"] == 4 and rec["accepted_by_judges"] + rec["queued"] == 4 and rec["human"] == "judge_a"
    lines = (suite / "08_data_free_training" / "dataset" / "metadata.jsonl").read_text().splitlines()
    assert len(lines) == rec["samples"] >= rec["accepted_by_judges"]
    decided_by = {json.loads(line)["decided_by"] for line in lines}
    assert decided_by <= {"judges", "policy:judge_a"}
