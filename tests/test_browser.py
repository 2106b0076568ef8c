"""The notebooks as a person uses them: JupyterLab from .venv, driven by headless Chromium through Playwright.

The harness (`Lab`, the module-scoped `lab` fixture, `wait_for_lines`) starts one JupyterLab server for the module
on 127.0.0.1 (free port, token, a fresh root, HOME and Jupyter dirs under a temp folder) and one browser; a test
writes a notebook into `lab.root`, opens it, runs it, clicks widget buttons by their text and waits for files.
Server, kernels and browser are stopped in the fixture's teardown, whatever happens.

Chromium is Debian's (`/usr/bin/chromium`; `make test` installs it), launched through `executable_path`:
`playwright install` would download a browser. Set MORANB_SCREENSHOTS=docs to refresh docs/review_widget.png.

A new check is a test that takes the `lab` fixture, e.g. for a panel whose clicks append to a JSONL file:

    def test_filter_panel_clicks_append_decisions(lab, tmp_path):
        here = ...  # a round folder with queued sets
        lab.notebook("panel.ipynb", f"from moranb.data import FilterPanel\nFilterPanel({str(here)!r})")
        lab.open("panel.ipynb")
        lab.run_all()
        lab.click("Pick 1")  # waits for an enabled widget button with exactly this text
        first = json.loads(wait_for_lines(here / "decisions.jsonl", 1)[-1])
        lab.click("Back")
        lab.click("Discard set")
        second = json.loads(wait_for_lines(here / "decisions.jsonl", 2)[-1])
        lab.screenshot(tmp_path / "filter_panel.png", lab.page.locator(".jp-OutputArea-output").last)
        assert ...

`lab.open` shuts down the kernels of earlier notebooks; `lab.wait_for_output(text)` waits for a cell's output;
`lab.page` is the Playwright page for anything else.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from moranb.tiny import tiny_root

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = os.environ.get("MORANB_SCREENSHOTS")  # a folder to keep screenshots in (docs/), or none


# -- harness ----------------------------------------------------------------------------------------------------------
def wait_for(condition, timeout: float, what: str, every: float = 0.2):
    """Poll `condition()` until it returns something truthy (returned); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def wait_for_lines(path, count: int = 1, timeout: float = 60) -> list[str]:
    """The non-empty lines of `path` once it has at least `count` of them (for JSONL files a click appends to)."""
    path = Path(path)

    def lines():
        found = [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
        return found if len(found) >= count else None

    return wait_for(lines, timeout, f"{count} line(s) in {path}")


def write_notebook(path, *cells: str) -> Path:
    """A notebook of code cells, on the venv's python3 kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, str(path))
    return Path(path)


class Lab:
    """A running JupyterLab server and a headless Chromium page on it (see the module docstring)."""

    def __init__(self, root: Path, url: str, token: str, browser, log: Path):
        self.root, self.url, self.token, self.browser, self.log = root, url, token, browser, log
        self.page = None

    def api(self, method: str, path: str):
        request = urllib.request.Request(f"{self.url}{path}?token={self.token}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def notebook(self, name: str, *cells: str) -> Path:
        """Write a notebook into the server's root."""
        return write_notebook(self.root / name, *cells)

    def open(self, name: str, timeout: float = 90):
        """Open `name` (a path under the root) in a fresh page, untrusted as any notebook JupyterLab did not save,
        and wait until its kernel is idle. Kernels of earlier notebooks are shut down first (2 cores)."""
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")
        if self.page is not None:
            self.page.close()
        self.page = self.browser.new_page(viewport={"width": 1200, "height": 900})
        self.page.set_default_timeout(timeout * 1000)
        self.page.goto(f"{self.url}/lab/tree/{name}?reset&token={self.token}")
        self.page.get_by_text(re.compile(r"\| Idle$")).first.wait_for()  # the status bar: "Python 3 (ipykernel) | Idle"
        return self.page

    def run_all(self):
        """Run > Run All Cells."""
        self.page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        self.page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()

    def button(self, text: str):
        """The first enabled widget button labelled `text` (a locator: it waits for one to appear)."""
        return self.page.locator("button.jupyter-button:not([disabled])",
                                 has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")).first

    def click(self, text: str, timeout: float = 90):
        """Click the first enabled widget button labelled `text`, once one appears; returns its element handle."""
        from playwright.sync_api import Error

        button = self.button(text)
        for attempt in range(5):
            button.wait_for(timeout=timeout * 1000)
            handle = button.element_handle()
            try:
                handle.click()
                return handle
            except Error as exc:  # the widget re-rendered between finding the button and clicking it: find it again
                if "not attached" not in str(exc) or attempt == 4:
                    raise

    def wait_for_output(self, text: str, timeout: float = 90):
        """Wait until a cell output (not the code) shows `text`."""
        output = self.page.locator(".jp-OutputArea-output", has_text=text).first
        output.wait_for(timeout=timeout * 1000)
        return output

    def screenshot(self, path, locator=None) -> Path:
        """A PNG of `locator` (or of the page) at `path`, also kept in $MORANB_SCREENSHOTS when that is set."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        (locator or self.page).screenshot(path=str(path))
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            (Path(SCREENSHOTS) / path.name).write_bytes(path.read_bytes())
        return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="`make setup` installs playwright (test extra)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing; `make test` installs Debian's chromium")
    from moranb.suite import lab_settings

    lab_settings()  # what `make setup` gives the venv's JupyterLab (widget state saved with a notebook)
    base = tmp_path_factory.mktemp("lab")
    root, home = base / "root", base / "home"
    dirs = {name: base / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
    for folder in (root, home, *dirs.values()):
        folder.mkdir()
    # No news toast in the way (it would ask to fetch announcements from the internet).
    (dirs["config"] / "labconfig").mkdir()
    (dirs["config"] / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(dirs["config"]),
           "JUPYTER_DATA_DIR": str(dirs["data"]), "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
           "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]), "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
           "IPYTHONDIR": str(dirs["ipython"]),
           # the tiny models the user already built (a new HOME would build them again)
           "MORANB_CACHE": str(tiny_root().parent)}
    port, token = _free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    log = base / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with open(log, "wb") as log_file:
        server = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    playwright = browser = None
    try:
        def up():
            if server.poll() is not None:
                raise AssertionError(f"JupyterLab exited ({server.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    return True
            except OSError:
                return False

        wait_for(up, 60, "JupyterLab to answer")
        playwright = playwright_api.sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield Lab(root, url, token, browser, log)
    finally:
        if browser is not None:
            browser.close()
        if playwright is not None:
            playwright.stop()
        server.send_signal(signal.SIGTERM)  # the server shuts its kernels down
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # its own session: the server and its kernels
            server.wait()


# -- the tests --------------------------------------------------------------------------------------------------------
def test_review_widget_clicks_reach_the_running_task(lab, tmp_path):
    """Regenerate on the first widget, Approve on the next ones, all while the task call is still running."""
    out = tmp_path / "fox"
    lab.notebook("review.ipynb",
                 "from moranb import tasks\n"
                 "from moranb.review import WidgetReviewer\n"
                 f"result = tasks.text_to_video('a fox', profile='tiny', segments=1, frames_per_segment=2,\n"
                 f"                             out_dir={str(out)!r}, review=WidgetReviewer())\n"
                 "print('task finished:', len(result.decisions), 'decisions')")
    page = lab.open("review.ipynb")
    lab.run_all()
    lab.button("Regenerate").wait_for()
    widget = page.locator(".jp-OutputArea-output", has=lab.button("Regenerate")).first
    lab.screenshot(tmp_path / "review_widget.png", widget)
    lab.click("Regenerate").wait_for_element_state("disabled")  # the kernel took the click and closed this widget
    lab.click("Approve").wait_for_element_state("disabled")  # text_to_image, try 2
    lab.click("Approve").wait_for_element_state("disabled")  # image_to_video
    lab.wait_for_output("task finished: 3 decisions")  # output after the clicks still lands in the cell

    review = json.loads((out / "manifest.json").read_text())["review"]
    t2i = [d for d in review if d["stage"] == "text_to_image"]
    assert [(d["decision"], d["by"]) for d in t2i] == [("regenerate", "person"), ("approve", "person")]
    assert t2i[0]["seed"] != t2i[1]["seed"]
    assert [(d["stage"], d["decision"], d["by"]) for d in review][-1] == ("image_to_video", "approve", "person")
    assert (tmp_path / "review_widget.png").stat().st_size < 200_000


def test_an_executed_untrusted_notebook_plays_its_video(lab):
    """papermill's output, opened as it is: the video is an animated GIF, which the sanitizer leaves alone."""
    from PIL import Image

    from moranb.suite import reproduce

    reproduce("tiny", lab.root / "executed", only=["01"], parameters={"segments": 1, "frames_per_segment": 2})
    name = "executed/01_text_to_video.ipynb"
    cells = lab.api("GET", f"/api/contents/{name}")["content"]["cells"]
    assert not any(c["metadata"].get("trusted") for c in cells)  # the server does not trust it
    page = lab.open(name)
    gif = page.locator(".jp-OutputArea-output img[src^='data:image/gif']").first
    gif.scroll_into_view_if_needed()
    assert gif.is_visible() and gif.evaluate("img => img.complete && img.naturalWidth") > 0
    frames = Image.open(io.BytesIO(base64.b64decode(gif.get_attribute("src").split(",", 1)[1])))
    assert frames.n_frames > 1
    first = gif.screenshot()
    wait_for(lambda: gif.screenshot() != first, 5, "the GIF to show another frame")  # it plays
    assert page.locator(".jp-OutputArea-output video").count() == 0


def test_filter_panel_clicks_append_decisions(lab, tmp_path):
    """The data round's human step: Pick and Discard clicks land in decisions.jsonl at once; Back revisits a set."""
    from moranb import data
    from moranb.agents.judge import Judgement

    def judge(name, picks):
        answers = iter(picks)
        return lambda prompt, videos, criterion: Judgement(
            judge=name, backend="scripted", criterion=criterion, pick=next(answers), reason="scripted", raw="")

    here = data.synthesize_round(tmp_path / "data", round=1, profile="tiny", prompts=2, candidates=3, segments=1,
                                 frames_per_segment=4, judges=[judge("A", [0, 2]), judge("B", [1, None])],
                                 progress=False).dir
    lab.notebook("panel.ipynb", f"from moranb.data import FilterPanel\nFilterPanel({str(here)!r})")
    page = lab.open("panel.ipynb")
    lab.run_all()
    lab.button("Pick 3").wait_for()
    panel = page.locator(".jp-OutputArea-output", has=lab.button("Discard set")).first
    assert "2 of 2 left" in panel.inner_text() and "r01-s000" in panel.inner_text()
    assert panel.locator("video").count() == 3
    videos = panel.locator("video")
    # every candidate decodes in the browser and plays (looping, muted autoplay)
    wait_for(lambda: all(videos.nth(k).evaluate("v => v.readyState >= 2 && !v.paused") for k in range(3)), 30,
             "the candidates' videos to play")
    lab.screenshot(tmp_path / "filter_panel.png", panel)

    lab.click("Pick 2")
    first = json.loads(wait_for_lines(here / "decisions.jsonl", 1)[-1])
    assert (first["set"], first["decision"], first["pick"], first["by"]) == ("r01-s000", "pick", 1, "person")
    wait_for(lambda: "1 of 2 left" in panel.inner_text() and "r01-s001" in panel.inner_text(), 30, "the next set")
    lab.click("Back")
    wait_for(lambda: "decided: pick 2 (person)" in panel.inner_text(), 30, "the decided set again")
    lab.click("Discard set")  # replaces the earlier pick
    second = json.loads(wait_for_lines(here / "decisions.jsonl", 2)[-1])
    assert (second["set"], second["decision"], second["pick"]) == ("r01-s000", "discard", None)
    assert data.read_decisions(here)["r01-s000"].decision == "discard" and len(data.pending(here)) == 1


def test_the_filter_panel_shows_mini_videos_large_and_playing(lab, tmp_path):
    """The mini world's 16x16 candidates: each plays in the panel as an animated GIF enlarged pixel by pixel to the
    panel's width (a 16x16 mp4 stretched by the browser is a blur no one can judge), and a click still decides."""
    from moranb import data
    from moranb.agents.judge import Judgement

    def judge(name, pick):
        return lambda prompt, videos, criterion: Judgement(
            judge=name, backend="scripted", criterion=criterion, pick=pick, reason="scripted", raw="")

    here = data.synthesize_round(tmp_path / "data", round=1, profile="mini", prompts=1, candidates=2,
                                 judges=[judge("A", 0), judge("B", 1)], progress=False).dir
    lab.notebook("mini_panel.ipynb", f"from moranb.data import FilterPanel\nFilterPanel({str(here)!r}, video_width=192)")
    page = lab.open("mini_panel.ipynb")
    lab.run_all()
    lab.button("Pick 2").wait_for()
    panel = page.locator(".jp-OutputArea-output", has=lab.button("Discard set")).first
    gifs = panel.locator("img")
    assert gifs.count() == 2 and panel.locator("video").count() == 0
    for k in range(2):
        gif = gifs.nth(k)
        wait_for(lambda: gif.evaluate("img => img.complete && img.naturalWidth") == 192, 30, "the GIF to load")
        assert gif.bounding_box()["width"] >= 190  # shown at the panel's width, not 16 pixels
        first = gif.screenshot()
        wait_for(lambda: gif.screenshot() != first, 5, "the GIF to show another frame")  # it plays
    lab.screenshot(tmp_path / "mini_panel.png", panel)
    lab.click("Pick 2")
    line = json.loads(wait_for_lines(here / "decisions.jsonl", 1)[-1])
    assert (line["set"], line["decision"], line["pick"], line["by"]) == ("r01-s000", "pick", 1, "person")


def test_run_all_of_notebook_08_waits_for_the_person_and_reopens_without_widget_errors(lab):
    """Notebook 08 as a person runs it in JupyterLab, from a clone's notebooks/ folder: "Run All" stops at the panel
    until every queued set is decided by a click, then goes on; the run lands in the project's outputs/ (not
    notebooks/outputs/); saved and reopened after its kernel is gone, no output reads "Error displaying widget"."""
    import nbformat

    from moranb.suite import NOTEBOOKS, PROJECT

    project = lab.root / "clone"  # the project's folder as a clone has it: pyproject.toml beside notebooks/
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text((PROJECT / "pyproject.toml").read_text())
    nb = nbformat.read(NOTEBOOKS / "08_data_free_training.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    # seed 0 with 2 prompts x 2 candidates: the tiny judges disagree on both sets, so both wait for a person
    cell.source += '\nhuman = "panel"\nprompts = 2\ncandidates = 2\nseed = 0'
    nbformat.write(nb, project / "notebooks" / "08.ipynb")
    here = project / "outputs" / "tiny" / "08_data_free_training"
    page = lab.open("clone/notebooks/08.ipynb", timeout=300)
    lab.run_all()
    lab.button("Pick 1").wait_for(timeout=300_000)  # the round is made, the panel shows the first queued set
    time.sleep(3)
    assert page.locator(".jp-OutputArea-output", has_text="samples in").count() == 0  # the dataset cell waits
    assert not (project / "outputs" / "tiny" / "08_data_free_training.json").exists()
    lab.click("Pick 1")
    wait_for_lines(here / "round-01" / "decisions.jsonl", 1)
    lab.click("Pick 2")
    decisions = [json.loads(line) for line in wait_for_lines(here / "round-01" / "decisions.jsonl", 2)]
    assert [(d["pick"], d["by"]) for d in decisions] == [(0, "person"), (1, "person")]
    lab.wait_for_output("recorded", timeout=120)  # the last cell ran: Run All went on after the last click
    record = json.loads((project / "outputs" / "tiny" / "08_data_free_training.json").read_text())
    assert record["human"] == "panel" and record["samples"] == 2
    assert not (project / "notebooks" / "outputs").exists()  # outputs/ of the project, wherever it was opened
    # save, let the kernel go, reopen: the progress is text and the panel's widgets were saved with it
    page.keyboard.press("Control+s")
    wait_for(lambda: lab.api("GET", "/api/contents/clone/notebooks/08.ipynb")["content"]["metadata"].get("widgets"),
             30, "the notebook to be saved with its widget state")
    page = lab.open("clone/notebooks/08.ipynb", timeout=120)  # shuts the kernel down first
    page.locator(".jp-OutputArea-output").first.wait_for()
    time.sleep(3)
    assert page.get_by_text("Error displaying widget").count() == 0
    assert page.locator(".jp-OutputArea-output", has_text="All 2 queued sets are decided").count() >= 1
