"""Every notebook runs headlessly on the tiny profile, and records what it made."""

import json

import numpy as np
import pytest

from moranb import read_video
from moranb.notebook import dirty, notebooks, reproduce

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
        needed = ("profile", "out_dir") + (("seed",) if path.stem in EXPECTED else ("backend",))
        for name in needed:
            assert f"{name} =" in source, (path.name, name)


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
