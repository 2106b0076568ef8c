"""What the notebooks call: checking their parameters, showing results inline and recording key results (the suite
runner is `moranb.suite`).

Each notebook's first cell after its parameters calls `start(...)`: from there on a moranb error shows as its one line,
and the parameters are checked before any agent runs. Each notebook ends with `record(...)`, which writes
`<out_dir>/<notebook>.json` next to the executed notebook: the notebook's own counts and checks, and the folder of the
run it made (whose manifest is the run's record).
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import time
from pathlib import Path

from .checks import check_count, check_flag, check_out_dir, check_prompt, check_seed
from .errors import InputError, MoranbError
from .io import png_bytes, write_json

# The parameters `start` checks, by name (each notebook passes the ones its parameters cell has). A count of None
# means the default; where a notebook lets 0 mean the default too, it passes `count or None`, as its cells read it.
COUNTS = {"segments": 1, "frames_per_segment": 1, "prompts": 1, "candidates": 1, "data_round": 1, "samples": 1,
          "limit": 1, "videos": 1, "eval_prompts": 1, "steps": 1, "steps_per_round": 1, "vae_steps": 0, "batch": 1,
          "batch_size": 1, "captions": 1}
TEXTS = ("prompt", "instruction", "style")
INPUTS = {"image_path": "image file", "video_path": "video file", "video_a": "video file", "video_b": "video file",
          "data_dir": "data folder"}  # "": the notebook makes its own input
CHECKED = ("profile", "seed", "out_dir", "review", "edit", "lr", *TEXTS, *COUNTS, *INPUTS)


def start(**parameters) -> None:
    """The first cell after a notebook's parameters: `start(profile=profile, seed=seed, out_dir=out_dir, ...)`.

    From here on a moranb error (a `MoranbError`: bad input, a missing model, ...) shows as its one line, e.g.
    `InputError: seed must be a whole number; got 'abc' (str)`, instead of a traceback (`%tb` shows the traceback); it
    is still an error, so the cell fails and papermill stops there. Then the parameters are checked, so a wrong value
    (papermill's `-p seed abc` arrives as the string 'abc') stops the notebook here, before any agent runs. The
    profile's name is checked by `get_profile(profile)`, which the cell calls next. Outside IPython: the checks only.

    In a kernel, relative paths (`out_dir`, inputs) are read from the project's folder, as papermill (`moranb.suite`)
    runs them, wherever the notebook was opened from: JupyterLab starts a kernel in `notebooks/`, which would put runs
    in `notebooks/outputs/` instead of the project's `outputs/` (git ignores only that one).
    """
    if show_errors_as_one_line() is not None:
        home = project_home()
        if home is not None and Path.cwd().resolve() != home:
            print(f"working in {home} (the project's folder: outputs/ and inputs are read from there)")
            os.chdir(home)
    for name, value in parameters.items():
        check_parameter(name, value)


def project_home(start=None) -> Path | None:
    """The moranb project folder holding `start` (default: the working directory): the nearest folder, `start` or
    above, with moranb's pyproject.toml and a notebooks/ folder; None outside a clone (Colab, an installed wheel)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if (folder / "notebooks").is_dir() and pyproject.is_file() and \
                'name = "moranb"' in pyproject.read_text(encoding="utf-8", errors="replace"):
            return folder
    return None


def check_parameter(name: str, value):
    """A notebook parameter's value, checked by its name; an `InputError` naming it and what it takes if wrong."""
    if name not in CHECKED:
        raise TypeError(f"start() has no check for a parameter named {name!r}; it checks {', '.join(CHECKED)}")
    if name == "seed":
        return check_seed(value)
    if name == "out_dir":
        if value is None:
            raise InputError("out_dir must be a folder name, e.g. 'outputs/tiny'; got None")
        return check_out_dir(value)
    if name == "profile":
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"profile must be a profile name, e.g. 'tiny'; got {value!r} ({type(value).__name__})")
        return value
    if name in TEXTS:
        return check_prompt(value, name)
    if name in COUNTS:
        return None if value is None else check_count(value, name, minimum=COUNTS[name])
    if name in INPUTS:
        if not isinstance(value, (str, os.PathLike)):
            raise InputError(f"{name} must be a path or '' (make one here); got {value!r} ({type(value).__name__})")
        if os.fspath(value) and not Path(value).exists():
            raise InputError(f"{name} '{os.fspath(value)}' does not exist; pass an existing {INPUTS[name]}, or '' to "
                             f"make one here")
        return value
    if name == "review":
        if value is None or value in ("approve", "widget"):
            return value
        if not isinstance(value, (str, os.PathLike)) or not Path(value).is_file():
            raise InputError(f"review must be 'approve', 'widget' or a decisions file (JSON, see "
                             f"moranb.review.DecisionsFile); got {value!r}, which is none of these")
        return value
    if name == "edit":
        return check_flag(value, name)
    if name == "lr":
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise InputError(f"lr must be a positive finite number, e.g. 1e-5; got {value!r}")
    return value


def show_errors_as_one_line(shell=None):
    """In IPython (a notebook's kernel, say): show a `MoranbError` as its one line, not a traceback. The line is an
    error output all the same (the cell fails; papermill stops there); other exceptions keep their traceback. Returns
    the shell, or None outside IPython, where nothing changes."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return None
        shell = get_ipython()
    if shell is None:
        return None
    shell.set_custom_exc((MoranbError,), _one_line)
    return shell


def _one_line(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler (see `InteractiveShell.set_custom_exc`): `Name: message` as the structured
    traceback of an error output. `sys.last_*` keep the exception, so `%tb` still shows its traceback."""
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = value
    stb = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def _display(*objects):
    from IPython.display import display

    display(*objects)


def show_image(image, title: str | None = None, width: int = 384):
    """An image (a PIL image or a PNG's path) inline, scaled up (nearest neighbour) so tiny-profile frames stay
    visible."""
    from IPython.display import HTML, Image as IPImage

    if isinstance(image, (str, os.PathLike)):
        from .video import read_image  # a missing or unreadable file is one line

        image = read_image(image)
    if image.width < width:
        from PIL import Image

        image = image.resize((width, round(image.height * width / image.width)), Image.NEAREST)
    if title:
        _display(HTML(f"<b>{title}</b>"))
    _display(IPImage(data=png_bytes(image), format="png"))


def show_video(video, width: int = 384, colors: int = 64):
    """A video (a `Video` or a file) inline as a looping animated GIF, `width` pixels wide on screen.

    A GIF, not an embedded mp4: JupyterLab's sanitizer strips the `data:` source of a <video> in a notebook that is
    not trusted (any notebook it did not save itself, e.g. one papermill executed), leaving an empty player, while an
    `image/gif` output renders trusted or not. How it is enlarged: `moranb.video.gif_bytes` (the mini world's 16x16
    frames pixel by pixel, to the full width, so a person can judge them).
    """
    from IPython.display import Image as IPImage

    from .video import as_video, gif_bytes

    _display(IPImage(data=gif_bytes(as_video(video), width, colors), format="gif", width=width))


def show(result, strip: bool = True, video: bool = True):
    """A task's result: its frame strip and its video (a looping GIF; see `show_video`)."""
    from .video import frame_strip

    if strip:
        image = frame_strip(result.video, caption=result.enhanced_prompt or result.prompt)
        show_image(image, f"{result.task}: {result.video.num_frames} frames @ {result.video.fps:g} fps", width=image.width)
    if video:
        show_video(result.video)
    for name, note in result.notes.items():
        _display(f"{name}: {note}")
    if result.reused:
        _display(f"reused from an earlier identical run (same task, inputs, seed and profile): "
                 f"{', '.join(result.reused)}; another seed or out_dir makes them again")


def record(name: str, out_dir, result=None, **values) -> Path:
    """Write `<out_dir>/<name>.json`: what is the notebook's own (`values`: its counts and checks) and, for a task
    notebook, `run`: the folder of the run it made, whose manifest is the run's one record (task, inputs, seed,
    profile, files, review, timings). Nothing the manifest says is said again here."""
    out_dir = Path(out_dir)
    data = {"notebook": name, "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if result is not None:
        if result.out_dir is None:
            raise ValueError(f"{name}: the task ran without out_dir, so there is no run to record")
        data["run"] = str(result.out_dir)
    data.update(values)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_json(out_dir / f"{name}.json", data)
