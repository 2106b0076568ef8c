import json

import numpy as np
import pytest

from moranb import tasks
from moranb.errors import InputError
from moranb.review import MAX_TRIES, DecisionsFile, WidgetReviewer, approve_all

pytestmark = pytest.mark.slow


def test_regenerate_gets_a_new_seed_and_at_most_three_tries(tiny, tmp_path):
    seen = []

    def always_regenerate(stage, artifact, attempt):
        seen.append((stage, attempt, np.asarray(artifact if stage == "text_to_image" else artifact.frames).copy()))
        return "regenerate"

    out = tasks.text_to_video("a fox", profile=tiny, seed=5, segments=1, frames_per_segment=2,
                              review=always_regenerate, out_dir=tmp_path)
    t2i = [s for s in seen if s[0] == "text_to_image"]
    assert [s[1] for s in t2i] == [1, 2, 3] and MAX_TRIES == 3
    assert not np.array_equal(t2i[0][2], t2i[1][2]) and not np.array_equal(t2i[1][2], t2i[2][2])
    seeds = [d["seed"] for d in out.decisions if d["stage"] == "text_to_image"]
    assert len(set(seeds)) == 3 and seeds[0] == 5
    # The last try is kept, and it is what was animated.
    assert np.array_equal(np.asarray(out.first_frame), t2i[-1][2])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["review"] == out.decisions and len(manifest["review"]) == 6


def test_approve_stops_at_the_first_try(tiny):
    out = tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=2, review=approve_all)
    assert [d["attempt"] for d in out.decisions] == [1, 1]
    plain = tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=2)
    assert np.array_equal(out.video.frames, plain.video.frames)  # approving changes nothing


def test_decisions_from_a_file(tiny, tmp_path):
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps({"text_to_image": ["regenerate", "approve"]}))
    out = tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=2, review=str(path))
    assert [(d["stage"], d["decision"]) for d in out.decisions] == [
        ("text_to_image", "regenerate"), ("text_to_image", "approve"), ("image_to_video", "approve")]


def test_bad_decisions(tiny, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        DecisionsFile(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"text_to_image": ["maybe"]}))
    with pytest.raises(InputError, match="'approve' or 'regenerate'"):
        DecisionsFile(bad)
    with pytest.raises(InputError, match="answered 'sure'"):
        tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=2, review=lambda *a: "sure")


def test_widget_reviewer_approves_when_no_one_can_click(tiny):
    image = tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=2).first_frame
    assert WidgetReviewer()("text_to_image", image, 1) == "approve"


def test_a_resumed_run_keeps_the_reviewed_stages_and_their_decisions(tiny, tmp_path):
    decisions = tmp_path / "decisions.json"
    decisions.write_text(json.dumps({"text_to_image": ["regenerate", "approve"]}))
    kwargs = dict(profile=tiny, seed=2, segments=1, frames_per_segment=2, out_dir=tmp_path / "run")
    first = tasks.text_to_video("a fox", review=str(decisions), **kwargs)

    def must_not_be_asked(*args):
        raise AssertionError("a kept stage was reviewed again")

    again = tasks.text_to_video("a fox", review=must_not_be_asked, **kwargs)
    assert again.reused == ["enhance_prompt", "text_to_image", "image_to_video"]
    assert np.array_equal(again.video.frames, first.video.frames)
    assert again.decisions == [{**d, "reused": True} for d in first.decisions] and len(again.decisions) == 3
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["review"] == again.decisions
