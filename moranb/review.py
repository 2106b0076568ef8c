"""Human-in-the-loop at inference: after each seeded stage a reviewer approves its output or asks for another try.

A reviewer is any callable `review(stage, artifact, attempt)`: `stage` is the stage's name ("text_to_image",
"image_to_image", "image_to_video", "connection"), `artifact` its output (a PIL image or a `Video`), `attempt` counts
from 1. It answers "approve", "regenerate" or "timeout" (asked, but no one answered: the try is kept), or a dict
`{"decision": ..., "by": ...}` that also says who decided. A regenerated stage runs again with a new seed, at most
`MAX_TRIES` times in all (the paper's limit); the last try is kept whatever the answer. Every decision lands in the
run's manifest, with `by` where the reviewer said: "person" for a click, "auto (headless)" where no one could click.
A rerun reuses the stages an identical earlier run kept, with their decisions; a reviewer with a `reused(stage,
artifact, decisions)` method (the widget's: Keep / Review again) is asked first, and True reviews the kept try again.

Shipped reviewers: `approve_all`, `DecisionsFile` (answers read from a JSON file, for headless reruns of a session
a person reviewed), and `WidgetReviewer` (Approve / Regenerate buttons in a notebook).

Waiting for a click inside a running cell (`wait_for_click`)
------------------------------------------------------------
A reviewer is called synchronously from the middle of a task, so the cell that runs the task is still running when
the buttons appear, and the kernel's main thread is blocked in that call. What ipykernel 7.4 does with the click (a
`comm_msg` from the frontend), read from its source:

- The shell socket is read on a "shell channel" thread (`Kernel.shell_channel_thread_main`), which forwards each
  message to the main thread or to a *subshell* (`ipykernel/subshell_manager.py`: one thread and event loop each).
- On the main thread, `Kernel.shell_main` handles comm messages concurrently only while a cell *awaits* (the cell's
  lock is held and the loop is free), which is why an `await asyncio.sleep` loop in a cell sees clicks. A blocked
  main thread handles nothing until the call returns; `do_one_iteration`, which jupyter-ui-poll called to pump the
  queue by hand, is gone in ipykernel 7 (jupyter-ui-poll swallows the AttributeError, and the cell waits it out).
- Since 7.4 the shell channel thread asks each comm where its messages go, `comm._reply_subshell_for(data,
  default)`, so that a widget used from a subshell gets its replies there.

So `wait_for_click` opens a subshell for the duration of the wait and points the buttons' comms at it: a click is
handled (the buttons' `on_click` callbacks run) on the subshell's thread while the main thread sleeps on a
`threading.Event`; then the comms go back to the main shell, the subshell is closed and the kernel is announced busy
again (the subshell announced "idle" after the click). The task call stays a plain call in a cell, with no `await`
and no worker thread. It relies on ipykernel>=7.4 internals (pinned in pyproject.toml; `headless_reason` checks they
are there, and tests/test_review.py and tests/test_browser.py exercise them). Limits: only the given buttons take
messages during the wait; a page reloaded during the wait shows "Loading widget..." until it ends, because the
widget manager asks the kernel for its widgets on the blocked main shell.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from . import _compat
from .errors import InputError
from .io import png_bytes

MAX_TRIES = 3
DECISIONS = ("approve", "regenerate", "timeout")
BY_PERSON = "person"
BY_HEADLESS = "auto (headless)"


def retry_seed(seed: int, attempt: int) -> int:
    """The seed of try `attempt` (1-based): the run's seed first, then seeds far from the segment seeds."""
    return seed + 1000 * (attempt - 1)


def check_decision(decision, stage: str) -> str:
    if decision is True:
        return "approve"
    if decision is False:
        return "regenerate"
    if decision not in DECISIONS:
        raise InputError(f"the reviewer answered {decision!r} for stage '{stage}'; answer 'approve' or 'regenerate' "
                         f"(or 'timeout' when no one answered)")
    return decision


def check_answer(answer, stage: str) -> dict:
    """A reviewer's answer as a record: {"decision": ...} plus "by" when the reviewer said who decided."""
    if isinstance(answer, dict):
        if "decision" not in answer:
            raise InputError(f"the reviewer answered {answer!r} for stage '{stage}'; a dict answer needs 'decision'")
        record = {"decision": check_decision(answer["decision"], stage)}
        return {**record, "by": str(answer["by"])} if "by" in answer else record
    return {"decision": check_decision(answer, stage)}


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
        except IsADirectoryError:
            raise InputError(f"decisions file '{path}' is a directory; pass a JSON file (see "
                             f"moranb.review.DecisionsFile) or 'approve'") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"decisions file '{path}' is not JSON; see moranb.review.DecisionsFile") from None
        except OSError as exc:
            raise InputError(f"cannot read decisions file '{path}' ({exc.strerror or type(exc).__name__}); "
                             f"pass a readable JSON file") from None
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise InputError(f"decisions file '{path}' must map stage names to lists of 'approve'/'regenerate'")
        self.path = path
        self.pending = {stage: [check_decision(d, stage) for d in answers] for stage, answers in data.items()}

    def __call__(self, stage, artifact, attempt) -> str:
        answers = self.pending.get(stage, [])
        return answers.pop(0) if answers else "approve"


# -- waiting for a click in a notebook --------------------------------------------------------------------------------
def headless_reason() -> str | None:
    """None when a person can click a widget in this process now; otherwise why not, in a few words.

    A person can click when this is a Jupyter kernel whose frontend accepts input (JupyterLab, Notebook and VS Code
    send `allow_stdin: true` with a cell; papermill/nbclient send false) and the kernel can route clicks to a
    subshell while a cell runs (see the module docstring).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return "IPython is not installed"
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        return "not running in a Jupyter kernel"
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return "ipywidgets is not installed"
    parent = kernel.get_parent("shell") or {}
    if not parent.get("content", {}).get("allow_stdin", False):
        return "the notebook is run by a program (papermill/nbclient), not a person"
    if _shell_channel(kernel) is None:
        return "this kernel cannot take a click while a cell runs (needs ipykernel>=7.4 with subshells)"
    return None


def _shell_channel(kernel):
    """The kernel's shell channel thread if it can send a comm's messages to a subshell (ipykernel>=7.4), else None."""
    channel = getattr(kernel, "shell_channel_thread", None)
    return channel if _compat.subshell_support() and _compat.can_publish_status(kernel) else None


def wait_for_click(buttons, timeout: float | None = None):
    """Block until one of the ipywidgets `buttons` is clicked (return it) or `timeout` seconds pass (return None).

    Call it from a running cell after the buttons are displayed; the clicks reach the kernel while the cell waits
    (see the module docstring). The buttons' own `on_click` callbacks run on the subshell's thread. Outside a kernel
    that can route clicks it only waits, so a program may click with `Button.click()` from another thread. Ctrl-C
    (interrupt the kernel) stops the wait.
    """
    clicked, lock = threading.Event(), threading.Lock()
    first = []

    def on_click(button):
        with lock:
            if not first:
                first.append(button)
        clicked.set()

    for button in buttons:
        button.on_click(on_click)
    try:
        with _clicks_on_a_subshell(buttons):
            clicked.wait(timeout)
    finally:
        for button in buttons:
            button.on_click(on_click, remove=True)
    with lock:
        return first[0] if first else None


@contextmanager
def _clicks_on_a_subshell(widgets):
    """While inside, messages from the frontend to `widgets` are handled on a new subshell's thread."""
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = lambda: None  # noqa: E731
    kernel = getattr(get_ipython(), "kernel", None)
    channel = _shell_channel(kernel)
    comms = [w.comm for w in widgets if getattr(w, "comm", None) is not None]
    if channel is None or not comms:
        yield
        return
    manager = channel.manager
    # the shell channel thread owns subshells
    subshell = _on_loop(channel.io_loop, lambda: _compat.create_subshell(manager))
    for comm in comms:  # an instance attribute, so a publish from either thread cannot re-route the comm
        _compat.route_comm_to(comm, subshell)
    try:
        yield
    finally:
        for comm in comms:
            _compat.unroute_comm(comm)
        # joins it: its last message is out
        _on_loop(channel.io_loop, lambda: _compat.delete_subshell(manager, subshell))
        # The subshell announced "idle" after handling a click, and JupyterLab shows the kernel's last announced
        # state; the cell is still running.
        _compat.publish_status(kernel, "busy", "shell")


def _on_loop(io_loop, call, timeout: float = 10.0):
    """Run `call()` on another thread's tornado loop and return its result."""
    from concurrent.futures import Future

    done = Future()

    def run():
        try:
            done.set_result(call())
        except BaseException as exc:  # handed back to the waiting thread
            done.set_exception(exc)

    io_loop.add_callback(run)
    return done.result(timeout)


class WidgetReviewer:
    """Approve / Regenerate buttons under the stage's image or frame strip, in a Jupyter notebook.

    The running cell waits for a click (`wait_for_click`), at most `timeout` seconds; then the try is kept and
    recorded as "timeout", never as an approval. Where no person can click (papermill, a script; see
    `headless_reason`) it approves at once and records `"by": "auto (headless)"`, so a headless run never hangs.
    """

    def __init__(self, strip_frames: int = 8, timeout: float = 600.0, min_width: int = 384):
        self.strip_frames = strip_frames
        self.timeout = timeout
        self.min_width = min_width

    def __call__(self, stage, artifact, attempt) -> dict:
        if not _in_a_kernel():  # a script or a terminal: nothing to show
            return {"decision": "approve", "by": BY_HEADLESS}
        shown = self._ask(f"<b>{stage}</b>, try {attempt} of {MAX_TRIES}", artifact, "approved automatically",
                          (("Approve", "success", "check"), ("Regenerate", "warning", "refresh")),
                          f"waiting for a click (at most {self.timeout:g} s)")
        if shown is None:
            return {"decision": "approve", "by": BY_HEADLESS}
        clicked, status = shown
        if clicked is None:
            status.value = f"<i>no answer in {self.timeout:g} s: this try is kept (recorded as timeout)</i>"
            return {"decision": "timeout", "by": f"no one (waited {self.timeout:g} s)"}
        decision = ("approve", "regenerate")[clicked]
        status.value = "<b>approved</b>" if decision == "approve" else "<b>regenerating with a new seed</b>"
        return {"decision": decision, "by": BY_PERSON}

    def reused(self, stage, artifact, decisions: list[dict]) -> bool:
        """A rerun found `stage` made (and reviewed, `decisions`) by an earlier run: show it and say so, with Keep /
        Review again buttons; True when the person asks to review it again. Where no person can click: kept, and
        the notebook says so in a line."""
        if not _in_a_kernel():
            return False
        before = "; ".join(f"try {d.get('attempt')}: {d.get('decision')} by {d.get('by')}" for d in decisions) \
            or "not reviewed"
        shown = self._ask(f"<b>{stage}</b> is reused from an earlier run of the same task, seed and profile "
                          f"({before})", artifact, "kept",
                          (("Keep", "success", "check"), ("Review again", "warning", "refresh")),
                          f"waiting for a click (at most {self.timeout:g} s; then it is kept)")
        if shown is None:
            return False
        clicked, status = shown
        status.value = "<b>reviewing it again</b>" if clicked == 1 else "<b>kept</b>"
        return clicked == 1

    def _ask(self, label: str, artifact, headless: str, choices, waiting: str):
        """`label`, the artifact's preview (`_preview`) and a button per choice (description, style, icon); the cell
        waits for a click (`wait_for_click`, at most `timeout`). Returns (the index clicked or None, the status
        line), or None where no person can click (shown with `headless` and the reason)."""
        import ipywidgets as widgets
        from IPython.display import display

        preview = self._preview(artifact)
        parts = [widgets.HTML(label), widgets.Image(value=png_bytes(preview), format="png", width=preview.width)]
        reason = headless_reason()
        if reason is not None:
            display(widgets.VBox([*parts, widgets.HTML(f"<i>{headless}: {reason}</i>")]))
            return None
        buttons = [widgets.Button(description=d, button_style=style, icon=icon) for d, style, icon in choices]
        status = widgets.HTML(f"<i>{waiting}</i>")
        display(widgets.VBox([*parts, widgets.HBox(buttons), status]))
        try:
            clicked = wait_for_click(buttons, self.timeout)
        finally:  # also on an interrupt: a stale widget must not look clickable
            for button in buttons:
                button.disabled = True
        return (None if clicked is None else buttons.index(clicked)), status

    def _preview(self, artifact):
        from PIL import Image

        from .video import Video, frame_strip

        image = frame_strip(artifact, num=self.strip_frames) if isinstance(artifact, Video) else artifact
        if image.width < self.min_width:  # tiny-profile frames: blown up with nearest neighbour, pixels stay honest
            scale = -(-self.min_width // image.width)
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
        return image


def _in_a_kernel() -> bool:
    """Whether widgets can be shown here: a Jupyter kernel with ipywidgets (clicks are `headless_reason`'s)."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def as_reviewer(review):
    """None, a callable, "approve", "widget", or a path to a decisions file -> a reviewer (or None)."""
    if review is None or callable(review):
        return review
    if review == "approve":
        return approve_all
    if review == "widget":
        return WidgetReviewer()
    if isinstance(review, (str, os.PathLike)):
        return DecisionsFile(review)
    raise InputError(f"review must be a callable, 'approve', 'widget' or a decisions-file path; "
                     f"got {type(review).__name__}")
