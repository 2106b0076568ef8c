"""The human step as an ipywidgets panel: one candidate set at a time, the person picks a candidate or discards.

    panel = FilterPanel("outputs/data/round-01")
    panel          # shows the first undecided set

For each queued set (the judges disagreed or abstained) it shows the prompt, the k candidates side by side as playing
videos, and both judges' picks with their criteria and reasons; buttons Pick 1..k, Discard set and Back; and how
many sets are left. Every click is appended to the round's decisions.jsonl at once (`record_decision`), so closing
the notebook loses nothing, and a new panel on the same round starts at the first undecided set.

Shown with `panel`, nothing blocks: the buttons act whenever they are clicked, and later cells read the file. For
"Run All", `panel.wait()` holds the cell until every queued set is decided, taking the clicks while it waits (the
review widget's mechanism, `moranb.review`); where no person can click (papermill) it stops at once with one line.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path

from ..errors import MoranbError
from ..io import one_line
from .decisions import read_decisions, record_decision
from .round import CandidateSet, read_sets


class FilterPanel:
    def __init__(self, here, video_width: int = 192):
        import ipywidgets as widgets

        self.here = Path(here)
        self.data_dir = self.here.parent
        self.video_width = video_width
        self.queue: list[CandidateSet] = [s for s in read_sets(self.here) if s.status == "queued"]
        self.decided = read_decisions(self.here)
        self.index = self._next_undecided(0)
        # One button per candidate, made once and relabelled for each set (a click while `wait` holds the cell reaches
        # only the buttons routed to its subshell, so none is made anew).
        size = max((len(q.candidates) for q in self.queue), default=0)
        self.pick_buttons = [widgets.Button(description=f"Pick {k + 1}", button_style="success") for k in range(size)]
        for k, button in enumerate(self.pick_buttons):
            button.on_click(lambda _, k=k: self._decide("pick", k))
        self.discard_button = widgets.Button(description="Discard set", button_style="danger", icon="trash")
        self.back_button = widgets.Button(description="Back", icon="arrow-left")
        self.discard_button.on_click(lambda _: self._decide("discard"))
        self.back_button.on_click(lambda _: self._back())
        self.header, self.body, self.status = widgets.HTML(), widgets.VBox(), widgets.HTML()
        self._all_decided = threading.Event()
        self.buttons = widgets.HBox()
        self.widget = widgets.VBox([self.header, self.body, self.buttons, self.status])
        self.render()

    # -- state ---------------------------------------------------------------------------------------------------
    @property
    def left(self) -> int:
        return sum(1 for s in self.queue if s.id not in self.decided)

    @property
    def current(self) -> CandidateSet | None:
        return self.queue[self.index] if self.index < len(self.queue) else None

    def _next_undecided(self, start: int) -> int:
        """The first undecided set at or after `start`, else the first undecided one, else past the end."""
        for i in list(range(start, len(self.queue))) + list(range(0, start)):
            if self.queue[i].id not in self.decided:
                return i
        return len(self.queue)

    def _decide(self, kind: str, pick: int | None = None):
        current = self.current
        if current is None:
            return
        self.decided[current.id] = record_decision(self.here, current.id, kind, pick, by="person")
        self.index = self._next_undecided(self.index + 1)
        self.render()
        if self.left == 0:
            self._all_decided.set()

    def wait(self, timeout: float | None = None) -> int:
        """Hold the running cell until a person has decided every queued set (or `timeout` seconds pass); returns
        how many are left. Where no person can click (papermill, a script) it raises one line saying what to do
        instead, rather than waiting forever or letting the next cell build a dataset without the person."""
        from ..review import _clicks_on_a_subshell, headless_reason

        if self.left == 0:
            return 0
        reason = headless_reason()
        if reason is not None:
            raise MoranbError(f"{self.left} queued set(s) wait for a person and none can click here ({reason}); "
                              f"settle them with a policy (moranb.data.resolve_queue(..., policy='judge_a')) or a "
                              f"decisions file, or open the notebook in JupyterLab")
        self.status.value = f"<i>waiting for your decisions ({self.left} left); the next cells run after the last</i>"
        with _clicks_on_a_subshell([*self.pick_buttons, self.discard_button, self.back_button]):
            self._all_decided.wait(timeout)
        return self.left

    def _back(self):
        if self.index > 0:
            self.index -= 1
            self.render()

    # -- view ----------------------------------------------------------------------------------------------------
    def render(self):
        import ipywidgets as widgets

        total, s = len(self.queue), self.current
        self.back_button.disabled = self.index == 0
        if s is None:
            self.header.value = (f"<b>All {total} queued sets are decided.</b>" if total else
                                 "<b>Nothing to decide:</b> the judges agreed on every set.")
            self.body.children, self.buttons.children = (), (self.back_button,) if total else ()
            self.status.value = f"decisions: {self.here / 'decisions.jsonl'}"
            return
        self.header.value = (f"<b>Set {s.id}</b> ({self.index + 1} of {total} queued) &middot; "
                             f"<b>{self.left} of {total} left</b><br>Prompt: <i>{html.escape(s.prompt)}</i>")
        judges = "".join(
            f"<li>judge {html.escape(j.judge)} ({html.escape(j.criterion)}): "
            + (f"<b>candidate {j.pick + 1}</b>" if j.pick is not None else "<b>abstained</b>")
            + f" &mdash; {html.escape(j.reason)}</li>" for j in s.judgements)
        tiles, missing = [], set()
        for k, run in enumerate(s.candidates):
            path = self.data_dir / run / "video.mp4"
            try:
                video = self._player(path)
            except (OSError, MoranbError) as exc:  # moved or deleted since the round: it cannot be judged or picked
                missing.add(k)
                video = widgets.HTML(f"<span style='color:#b00'>cannot show {html.escape(str(path))} "
                                     f"({html.escape(one_line(exc))})</span>")
            tiles.append(widgets.VBox([widgets.HTML(f"<b>Candidate {k + 1}</b>"), video]))
        self.body.children = (widgets.HTML(f"<ul>{judges}</ul>"), widgets.HBox(tiles))
        for k, button in enumerate(self.pick_buttons):
            button.disabled = k in missing
        self.buttons.children = (*self.pick_buttons[:len(s.candidates)], self.discard_button, self.back_button)
        done = self.decided.get(s.id)
        self.status.value = ("undecided" if done is None else
                             f"decided: {'pick ' + str(done.pick + 1) if done.pick is not None else 'discard'} "
                             f"({html.escape(done.by)}); a new click replaces it")

    def _player(self, path: Path):
        """The candidate playing in a loop: its mp4 as it is, or, for frames too small to judge at their size (the
        mini world's 16x16), an animated GIF enlarged pixel by pixel to the panel's width (`video.gif_bytes`)."""
        import ipywidgets as widgets

        from ..video import SMALL_VIDEO, gif_bytes, read_video, video_size

        if video_size(path)[0] <= SMALL_VIDEO:
            return widgets.Image(value=gif_bytes(read_video(path), self.video_width), format="gif",
                                 width=str(self.video_width))
        return widgets.Video(value=path.read_bytes(), format="mp4", autoplay=True, loop=True, controls=False,
                             width=str(self.video_width))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def contact_sheet(s: CandidateSet, data_dir, frames: int = 6) -> "Image.Image":
    """A set as one picture: each candidate's frame strip, one per row, labelled with the judges who picked it."""
    from PIL import Image, ImageDraw

    from ..video import _font, frame_strip, read_video

    rows = []
    for k, run in enumerate(s.candidates):
        voters = [f"judge {j.judge} ({j.criterion})" for j in s.judgements if j.pick == k]
        label = f"candidate {k + 1}" + (": picked by " + ", ".join(voters) if voters else "")
        rows.append((label, frame_strip(read_video(Path(data_dir) / run / "video.mp4"), num=frames, height=96)))
    width, label_h = max(strip.width for _, strip in rows), 20
    sheet = Image.new("RGB", (width, sum(label_h + strip.height for _, strip in rows)), "white")
    draw, y = ImageDraw.Draw(sheet), 0
    for label, strip in rows:
        draw.text((4, y + 3), label, fill="black", font=_font(14))
        sheet.paste(strip, (0, y + label_h))
        y += label_h + strip.height
    return sheet
