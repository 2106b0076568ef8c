import json
import threading
import time
from ast import literal_eval

import numpy as np
import pytest

from moranb import tasks
from moranb.errors import InputError
from moranb.review import (BY_HEADLESS, BY_PERSON, MAX_TRIES, DecisionsFile, WidgetReviewer, approve_all,
                           as_reviewer, check_answer, wait_for_click)


@pytest.mark.slow
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


@pytest.mark.slow
def test_approve_stops_at_the_first_try(tiny):
    out = tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=2, review=approve_all)
    assert [d["attempt"] for d in out.decisions] == [1, 1]
    plain = tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=2)
    assert np.array_equal(out.video.frames, plain.video.frames)  # approving changes nothing


@pytest.mark.slow
def test_decisions_from_a_file(tiny, tmp_path):
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps({"text_to_image": ["regenerate", "approve"]}))
    out = tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=2, review=str(path))
    assert [(d["stage"], d["decision"]) for d in out.decisions] == [
        ("text_to_image", "regenerate"), ("text_to_image", "approve"), ("image_to_video", "approve")]


@pytest.mark.slow
def test_bad_decisions(tiny, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        DecisionsFile(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"text_to_image": ["maybe"]}))
    with pytest.raises(InputError, match="'approve' or 'regenerate'"):
        DecisionsFile(bad)
    with pytest.raises(InputError, match="answered 'sure'"):
        tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=2, review=lambda *a: "sure")


@pytest.mark.slow
def test_no_answer_keeps_the_try_and_is_recorded_as_timeout(tiny, tmp_path):
    def nobody_there(stage, artifact, attempt):
        return {"decision": "timeout", "by": "no one (waited 600 s)"}

    out = tasks.text_to_video("a fox", profile=tiny, seed=4, segments=1, frames_per_segment=2, review=nobody_there,
                              out_dir=tmp_path)
    review = json.loads((tmp_path / "manifest.json").read_text())["review"]
    assert [(d["stage"], d["attempt"], d["seed"], d["decision"]) for d in review] == [
        ("text_to_image", 1, 4, "timeout"), ("image_to_video", 1, 4, "timeout")]  # asked once, the try kept
    assert review == out.decisions and review[0]["by"] == "no one (waited 600 s)"


def test_answers_say_who_decided_when_the_reviewer_does():
    assert check_answer("approve", "s") == {"decision": "approve"}
    assert check_answer(False, "s") == {"decision": "regenerate"}
    answer = check_answer({"decision": "timeout", "by": "no one", "stage": "x"}, "s")
    assert answer == {"decision": "timeout", "by": "no one"}  # a reviewer cannot overwrite the stage's own keys
    with pytest.raises(InputError, match="needs 'decision'"):
        check_answer({"by": "person"}, "s")
    assert isinstance(as_reviewer("widget"), WidgetReviewer) and as_reviewer("approve") is approve_all


def test_widget_reviewer_approves_at_once_where_no_one_can_click():
    from PIL import Image

    start = time.monotonic()
    answer = WidgetReviewer(timeout=30)("text_to_image", Image.new("RGB", (96, 64)), 1)  # no kernel here
    assert answer == {"decision": "approve", "by": BY_HEADLESS} and time.monotonic() - start < 5


def test_wait_for_click_returns_the_clicked_button_or_none_after_the_timeout():
    import ipywidgets as widgets

    approve, regenerate = widgets.Button(description="Approve"), widgets.Button(description="Regenerate")
    threading.Timer(0.2, regenerate.click).start()  # a click from another thread, as the kernel's subshell does
    assert wait_for_click([approve, regenerate], timeout=10) is regenerate
    start = time.monotonic()
    assert wait_for_click([approve, regenerate], timeout=0.3) is None and time.monotonic() - start < 5
    assert not approve._click_handlers.callbacks  # its handler is gone once the wait is over


# -- in a real kernel: a click is a comm_msg on the shell channel, sent while the cell runs --------------------------
@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def subshells(client) -> list[str]:
    """The kernel's subshells, asked on the control channel (answered while the main thread is busy)."""
    request = client.session.msg("list_subshell_request", {})
    client.control_channel.send(request)
    while True:
        reply = client.control_channel.get_msg(timeout=10)
        if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
            return reply["content"]["subshell_id"]


def run_cell(client, code: str, click: str | None = None, allow_stdin: bool = True) -> str:
    """Run `code` and return its stdout. With `click`, click the button so labelled once the cell shows it and
    waits (a subshell is open), exactly as JupyterLab sends a click: a comm_msg with a custom "click" event."""
    msg_id = client.execute(code, allow_stdin=allow_stdin)
    buttons, stdout = {}, []
    while True:
        msg = client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "comm_open" and content["data"]["state"].get("_model_name") == "ButtonModel":
            buttons[content["data"]["state"]["description"]] = content["comm_id"]
        elif kind == "display_data" and click in buttons:
            deadline = time.monotonic() + 30
            while not subshells(client):
                assert time.monotonic() < deadline, "the cell never started waiting"
                time.sleep(0.05)
            data = {"method": "custom", "content": {"event": "click"}}
            client.shell_channel.send(client.session.msg("comm_msg", {"comm_id": buttons[click], "data": data}))
        elif kind == "stream":
            stdout.append(content["text"])
        elif kind == "error":
            raise AssertionError("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(stdout)


def test_a_click_reaches_a_cell_that_waits_in_wait_for_click(kernel):
    out = run_cell(kernel, (
        "import time, ipywidgets as widgets\n"
        "from IPython.display import display\n"
        "from moranb.review import headless_reason, wait_for_click\n"
        "a, b = widgets.Button(description='A'), widgets.Button(description='B')\n"
        "display(widgets.HBox([a, b]))\n"
        "start = time.monotonic()\n"
        "clicked = wait_for_click([a, b], timeout=60)\n"
        "print(headless_reason(), clicked.description, time.monotonic() - start < 30)"), click="B")
    assert out.split() == ["None", "B", "True"]
    assert subshells(kernel) == []  # closed after the wait
    assert run_cell(kernel, "print(1 + 1)") == "2\n"  # the main shell is fine


def test_widget_reviewer_in_a_kernel_records_a_click_a_timeout_and_a_headless_run(kernel):
    setup = ("from PIL import Image\nfrom moranb.review import WidgetReviewer\n"
             "image = Image.new('RGB', (96, 64), 'teal')\n")
    ask = "print(WidgetReviewer(timeout=60)('text_to_image', image, 1))"
    clicked = run_cell(kernel, setup + ask, click="Regenerate")
    assert literal_eval(clicked) == {"decision": "regenerate", "by": BY_PERSON}
    timed_out = run_cell(kernel, "print(WidgetReviewer(timeout=0.5)('text_to_image', image, 1))")
    assert literal_eval(timed_out)["decision"] == "timeout"
    headless = run_cell(kernel, ask, allow_stdin=False)  # as papermill/nbclient send every cell
    assert literal_eval(headless) == {"decision": "approve", "by": BY_HEADLESS}


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_rerun_asks_a_reviewer_that_can_and_reviews_a_reused_stage_again(tiny, tmp_path):
    """A rerun that finds reviewed stages says so to a reviewer with a `reused` hook (the widget's Keep / Review
    again); "review again" shows the kept try first, as it was made, and a regenerate makes a new one."""
    kwargs = dict(profile=tiny, seed=2, segments=1, frames_per_segment=2, out_dir=tmp_path / "run")
    first = tasks.text_to_video("a fox", review="approve", **kwargs)

    class Again:
        def __init__(self):
            self.told, self.asked = [], []

        def reused(self, stage, artifact, decisions):
            self.told.append((stage, [d["decision"] for d in decisions]))
            return stage == "text_to_image"

        def __call__(self, stage, artifact, attempt):
            self.asked.append((stage, attempt, np.asarray(artifact if stage == "text_to_image" else artifact.frames)))
            return "regenerate" if (stage, attempt) == ("text_to_image", 1) else "approve"

    reviewer = Again()
    again = tasks.text_to_video("a fox", review=reviewer, **kwargs)
    assert reviewer.told == [("text_to_image", ["approve"])]  # the video was made from the old frame: made anew
    assert reviewer.asked[0][:2] == ("text_to_image", 1)
    assert np.array_equal(reviewer.asked[0][2], np.asarray(first.first_frame))  # the kept try, shown again
    t2i = [d for d in again.decisions if d["stage"] == "text_to_image"]
    assert [d["decision"] for d in t2i] == ["regenerate", "approve"] and not any(d.get("reused") for d in t2i)
    assert not np.array_equal(np.asarray(again.first_frame), np.asarray(first.first_frame))  # a new try kept
    assert again.reused == ["enhance_prompt"]
    # the video is made anew from the new frame, and reviewed as a new try
    assert ("image_to_video", 1) in [a[:2] for a in reviewer.asked]
    assert not np.array_equal(again.video.frames, first.video.frames)
