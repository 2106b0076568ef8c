"""What the notebooks call: showing results inline, recording key results, and running the whole suite.

    python -m moranb.notebook reproduce --profile tiny --out outputs/tiny   # every notebook, via papermill
    python -m moranb.notebook check                                         # notebooks committed without outputs?
    python -m moranb.notebook strip                                         # remove outputs and execution counts

Each notebook ends with `record(...)`, which writes `<out_dir>/<notebook>.json` next to the executed notebook: the
paths of its outputs, frame counts, fps, timings, seed and profile, for tests and the evaluation notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .io import png_bytes, write_json

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


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
    """Write `<out_dir>/<name>.json`: the result's key facts plus any `values`; returns its path."""
    out_dir = Path(out_dir)
    data = {"notebook": name, "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if result is not None:
        v = result.video
        data.update({
            "task": result.task, "frames": v.num_frames, "fps": v.fps, "width": v.width, "height": v.height,
            "segments": [s.num_frames for s in result.segments], "timings_s": result.timings,
            "files": {k: str(p) for k, p in result.files.items()}, "notes": result.notes,
            "decisions": result.decisions,
        })
    data.update(values)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_json(out_dir / f"{name}.json", data)


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The suite, in order: notebooks/NN_name.ipynb."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def reproduce(profile: str = "tiny", out="outputs/tiny", folder: Path = NOTEBOOKS, only: list[str] | None = None,
              parameters: dict | None = None) -> list[Path]:
    """Run every notebook with papermill into `out`; stop at the first failure, naming the notebook and cell."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from .errors import MoranbError

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = []
    chosen = [nb for nb in notebooks(folder) if not only or any(nb.stem.startswith(o) for o in only)]
    for nb in chosen:
        target = out / nb.name
        start = time.perf_counter()
        print(f"[reproduce] {nb.name} ...", flush=True)
        try:
            pm.execute_notebook(str(nb), str(target), parameters={"profile": profile, "out_dir": str(out),
                                                                  **(parameters or {})},
                                cwd=str(folder.parent), progress_bar=False, log_output=False)
        except PapermillExecutionError as exc:
            raise MoranbError(f"notebook {nb.name} failed in cell {exc.cell_index}: {exc.ename}: {exc.evalue} "
                              f"(executed copy: {target})") from None
        print(f"[reproduce] {nb.name} done in {time.perf_counter() - start:.1f}s", flush=True)
        done.append(target)
    return done


def dirty(paths) -> list[Path]:
    """The notebooks among `paths` that hold outputs or execution counts."""
    found = []
    for path in paths:
        nb = json.loads(Path(path).read_text())
        if any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"):
            found.append(Path(path))
    return found


def strip(paths) -> list[Path]:
    """Remove outputs and execution counts (and papermill's run metadata) in place."""
    import nbformat

    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)
        nb.metadata.pop("papermill", None)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(Path(path))
    return changed


def main(argv=None) -> int:
    from .errors import MoranbError

    parser = argparse.ArgumentParser(prog="python -m moranb.notebook")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="run every notebook with papermill")
    rep.add_argument("--profile", default="tiny")
    rep.add_argument("--out", help="default: outputs/<profile>")
    rep.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 05")
    sub.add_parser("check", help="fail if a notebook holds outputs")
    sub.add_parser("strip", help="remove outputs from the notebooks")
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        try:
            done = reproduce(args.profile, args.out or f"outputs/{args.profile}", only=args.only)
        except MoranbError as exc:
            print(f"moranb: error: {exc}", file=sys.stderr)
            return 1
        print(f"[reproduce] {len(done)} notebooks executed into {args.out or f'outputs/{args.profile}'}")
        return 0
    if args.command == "check":
        found = dirty(notebooks())
        for path in found:
            print(f"{path}: has outputs; run `make strip`", file=sys.stderr)
        return 1 if found else 0
    for path in strip(notebooks()):
        print(f"stripped {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
