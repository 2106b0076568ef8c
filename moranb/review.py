"""Human-in-the-loop at inference: after each seeded stage a reviewer approves its output or asks for another try.

A reviewer is any callable `review(stage, artifact, attempt) -> "approve" | "regenerate"`: `stage` is the stage's
name ("text_to_image", "image_to_image", "image_to_video", "connection"), `artifact` its output (a PIL image or a
`Video`), `attempt` counts from 1. A regenerated stage runs again with a new seed, at most `MAX_TRIES` times in all
(the paper's limit); the last try is kept whatever the answer. Every decision lands in the run's manifest.

Shipped reviewers: `approve_all`, `DecisionsFile` (answers read from a JSON file, for headless reruns of a session
a person reviewed), and `WidgetReviewer` (Approve / Regenerate buttons in a notebook).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import InputError

MAX_TRIES = 3
DECISIONS = ("approve", "regenerate")


def retry_seed(seed: int, attempt: int) -> int:
    """The seed of try `attempt` (1-based): the run's seed first, then seeds far from the segment seeds."""
    return seed + 1000 * (attempt - 1)


def check_decision(decision, stage: str) -> str:
    if decision is True:
        return "approve"
    if decision is False:
        return "regenerate"
    if decision not in DECISIONS:
        raise InputError(f"the reviewer answered {decision!r} for stage '{stage}'; answer 'approve' or 'regenerate'")
    return decision


def approve_all(stage, artifact, attempt) -> str:
    return "approve"


class DecisionsFile:
    """Decisions from a JSON file: `{"text_to_image": ["regenerate", "approve"], "image_to_video": ["approve"]}`.

    Each stage's list is answered in order; a stage without (more) answers is approved.
    """

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"decisions file '{path}' does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"decisions file '{path}' is not JSON; see moranb.review.DecisionsFile") from None
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise InputError(f"decisions file '{path}' must map stage names to lists of 'approve'/'regenerate'")
        self.path = path
        self.pending = {stage: [check_decision(d, stage) for d in answers] for stage, answers in data.items()}

    def __call__(self, stage, artifact, attempt) -> str:
        answers = self.pending.get(stage, [])
        return answers.pop(0) if answers else "approve"


class WidgetReviewer:
    """Approve / Regenerate buttons under the stage's image or frame strip, in a Jupyter notebook.

    The cell waits for a click (through jupyter-ui-poll when it is installed). Where no person can click (papermill,
    a script), it approves and says so, so a headless run never hangs.
    """

    def __init__(self, strip_frames: int = 8, timeout: float = 600.0):
        self.strip_frames = strip_frames
        self.timeout = timeout

    def __call__(self, stage, artifact, attempt) -> str:
        import time

        from .video import Video, frame_strip

        try:
            import ipywidgets as widgets
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return "approve"
        shell = get_ipython()
        image = frame_strip(artifact, num=self.strip_frames) if isinstance(artifact, Video) else artifact
        try:
            from jupyter_ui_poll import ui_events
        except ImportError:
            ui_events = None
        interactive = shell is not None and ui_events is not None and not os.environ.get("PAPERMILL_EXECUTION")
        buffer = _png_bytes(image)
        picture = widgets.Image(value=buffer, format="png")
        label = widgets.HTML(f"<b>{stage}</b>, try {attempt} of {MAX_TRIES}")
        if not interactive:
            display(widgets.VBox([label, picture, widgets.HTML("<i>headless run: approved automatically</i>")]))
            return "approve"
        answer = {}
        approve, regenerate = widgets.Button(description="Approve", button_style="success"), widgets.Button(
            description="Regenerate", button_style="warning")
        approve.on_click(lambda _: answer.setdefault("d", "approve"))
        regenerate.on_click(lambda _: answer.setdefault("d", "regenerate"))
        display(widgets.VBox([label, picture, widgets.HBox([approve, regenerate])]))
        deadline = time.time() + self.timeout
        with ui_events() as poll:
            while "d" not in answer and time.time() < deadline:
                poll(10)
                time.sleep(0.05)
        approve.disabled = regenerate.disabled = True
        return answer.get("d", "approve")


def _png_bytes(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def as_reviewer(review):
    """None, a callable, "approve", or a path to a decisions file -> a reviewer (or None)."""
    if review is None or callable(review):
        return review
    if review == "approve":
        return approve_all
    if isinstance(review, (str, os.PathLike)):
        return DecisionsFile(review)
    raise InputError(f"review must be a callable, 'approve' or a decisions-file path; got {type(review).__name__}")
