"""The notebooks' path: tasks write their runs, evaluation reads the run folders, the report fills Tables 1 and 2."""

import pytest

from moranb import read_video, tasks
from moranb.eval import TASK_METRICS, evaluate, read_run, tcon
from moranb.eval.scoring import Entry, task_scores
from moranb.report import table1, table2

pytestmark = pytest.mark.slow
# What the offline backend cannot compute, and only that, reads "n/a (offline): <why>".
OFFLINE_NA = {"aesthetic_quality", "video_quality", "temporal_style", "appearance_style", "videoti"}


@pytest.fixture(scope="module")
def runs(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    small = dict(profile=tiny, segments=1, frames_per_segment=4)
    t2v = tasks.text_to_video("a kite over a beach", out_dir=out / "t2v", **small)
    made = [
        t2v,
        tasks.image_to_video(t2v.first_frame, "make it night", out_dir=out / "i2v", **small),
        tasks.extend_video(t2v.video, prompt="a kite over a beach", out_dir=out / "extend", **small),
        tasks.edit_video(t2v.video, "make it autumn", profile=tiny, frames_per_segment=4, out_dir=out / "edit"),
        tasks.connect_videos(t2v.video, t2v.video, profile=tiny, out_dir=out / "connect"),
        tasks.simulate_digital_world("a village", out_dir=out / "world", **small),
    ]
    return out, made


def test_a_run_folder_holds_everything_its_task_metrics_need(runs):
    out, made = runs
    for result in made:
        on_disk = read_run(result.out_dir)
        # The same record and first frame as in memory, with the video as written (what VBench would score).
        in_memory = Entry(on_disk.name, read_video(result.files["video"]), result.task, result.record(),
                          result.first_frame)
        assert on_disk.task == result.task and set(TASK_METRICS[result.task]) <= set(
            task_scores(on_disk, TASK_METRICS[result.task], "offline", None))
        assert task_scores(on_disk, TASK_METRICS[result.task], "offline", None) == task_scores(
            in_memory, TASK_METRICS[result.task], "offline", None), result.task


def test_scoring_the_folders_equals_scoring_the_results(runs):
    out, made = runs
    from_disk = evaluate([r.out_dir for r in made], progress=False)
    from_memory = evaluate(made, progress=False)
    assert from_disk == from_memory
    # A parent folder finds every run folder under it (and nothing in the hidden stage caches).
    found = evaluate(out, metrics=["temporal_flickering"], progress=False)
    assert sorted(row["name"] for row in found["videos"]) == ["connect", "edit", "extend", "i2v", "t2v", "world"]


def test_every_table_cell_has_a_number_or_says_why_not(runs, moving_video):
    out, made = runs
    results = evaluate([r.out_dir for r in made], progress=False)
    extend = next(row for row in results["videos"] if row["task"] == "extend_video")
    # The output starts with the input (half of its sampled frames): far closer to it than an unrelated video is.
    assert extend["scores"]["tcon"]["value"] > 0.5 > tcon(made[0].video, moving_video).value + 0.3
    connect = next(row for row in results["videos"] if row["task"] == "connect_videos")
    assert 0 < connect["scores"]["tmean"]["value"] <= 1
    cells = []
    t1 = table1(results)
    cells += [(metric, cell) for metric, cell in zip(t1[0][1:], t1[-1][1:])]
    cells += [(row[1], row[-1]) for row in table2(results)[1:]]
    assert len(cells) == 8 + 13
    for metric, cell in cells:
        assert cell != "-" and not cell.startswith("not run"), (metric, cell)
        if metric in OFFLINE_NA:
            assert cell.startswith("n/a (offline): ") and len(cell) > len("n/a (offline): ") + 10, (metric, cell)
        else:
            assert cell.endswith(" (offline)") and float(cell.split()[0]) >= 0, (metric, cell)
    assert "needs aesthetic_quality" in t1[-1][1]  # VQ names the part it lacks
