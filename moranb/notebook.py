"""What the notebooks call: showing results inline and recording key results (the suite runner is `moranb.suite`).

Each notebook ends with `record(...)`, which writes `<out_dir>/<notebook>.json` next to the executed notebook: the
notebook's own counts and checks, and the folder of the run it made (whose manifest is the run's record).
"""

from __future__ import annotations

import time
from pathlib import Path

from .io import png_bytes, write_json


def _display(*objects):
    from IPython.display import display

    display(*objects)


def show_image(image, title: str | None = None, width: int = 384):
    """An image inline, scaled up (nearest neighbour) so tiny-profile frames stay visible."""
    from IPython.display import HTML, Image as IPImage

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
    `image/gif` output renders trusted or not. To keep the output small (tiny profile: about 300 kB for 24 frames of
    noise) frames narrower than `width` are only doubled, with nearest neighbour so their pixels stay honest, and the
    browser scales the rest of the way; wider frames are shrunk to `width`; the palette has `colors` colours.
    """
    import io

    from IPython.display import Image as IPImage
    from PIL import Image

    from .video import as_video

    video = as_video(video)
    if video.width < width:
        scale = min(2, width // video.width)
        size, resample = (video.width * scale, video.height * scale), Image.NEAREST
    else:
        size, resample = (width, max(1, round(video.height * width / video.width))), Image.LANCZOS
    frames = [video.frame(i).resize(size, resample).quantize(colors, dither=Image.Dither.NONE)
              for i in range(len(video))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=max(20, round(1000 / video.fps)))
    _display(IPImage(data=buffer.getvalue(), format="gif", width=width))


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
