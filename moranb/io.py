"""Atomic files, output sets published as a unit, output directories, run manifests and PNG bytes.

A file is first written beside its destination under a hidden temporary name and then renamed over it, so a run
that dies half-way never leaves a truncated video or JSON behind. A run's whole output set is written into a
staging folder (`<out_dir>/.publish-<pid>/`) and published only once every file is written (`staging`,
`publish`): a plan is written first, then the old manifest is removed, the files are moved in, and the new manifest
comes last. So a `manifest.json` in an output folder always describes the files beside it, and a run killed
half-way through publishing is finished by the next run on the same folder (`clean_output_dir`), which also removes
what a killed run left half-written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import sys
import time
from pathlib import Path

from .checks import check_out_dir
from .errors import InputError, OutputDirError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path` (same suffix); rename it onto `path` when the block succeeds."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def new_folder(folder: str | os.PathLike, sync: bool = False, reads=()):
    """Yield an empty hidden folder beside `folder`; when the block succeeds it replaces `folder` whole (a reader
    sees the old folder or the new one, never half of one). `sync`: its files reach the disk before the swap.

    `folder` must pass `check_replaceable` (not empty, apart from the folders in `reads`, holding nothing moranb did
    not write); the new folder carries the marker that says moranb wrote it."""
    import tempfile

    folder = check_replaceable(folder, reads)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        (tmp / MARKER).write_text("written by moranb; the whole folder is replaced when it is written again\n")
        yield tmp
        if sync:
            for path in tmp.rglob("*"):
                if path.is_file():
                    with open(path, "rb") as fh:
                        os.fsync(fh.fileno())
        old = folder.with_name(f".{folder.name}-old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


MARKER = ".moranb"  # in every folder `new_folder` writes: moranb may replace it whole


def check_replaceable(folder, reads=(), what: str = "output folder") -> Path:
    """`folder` as a Path, if moranb may replace it whole: the one rule for every folder the project replaces, checked
    before any work starts. Never an empty path (the current folder), never a folder in `reads` (the folders the
    work reads from), inside one or above one, and never a folder holding files moranb did not write (no `MARKER`):
    a user's own files are kept. Otherwise one line saying which rule and what to do."""
    check_out_dir(folder)
    folder = Path(folder)
    target = folder.resolve()
    for read in reads:
        source = Path(read).resolve()
        if target == source or source in target.parents or target in source.parents:
            relation = "is" if target == source else "is inside" if source in target.parents else "holds"
            raise OutputDirError(f"{what} '{folder}' {relation} '{read}', which this reads from; writing it would "
                                 f"replace what it reads: choose a folder apart from it")
    if target.exists():
        if not target.is_dir():
            raise OutputDirError(f"{what} '{folder}' is a file; choose a folder")
        if any(target.iterdir()) and not (target / MARKER).exists():
            raise OutputDirError(f"{what} '{folder}' holds files moranb did not write, which replacing it would delete; "
                                 f"choose another folder, or move those files away")
    return folder


def contained(folder, relative, where: str) -> Path:
    """`folder / relative` where `relative` (read from a data file, so input) is a relative path that stays inside
    `folder`; otherwise one line naming `where` it was read (file:line and field)."""
    if not isinstance(relative, str) or not relative or os.path.isabs(relative) or "\x00" in relative:
        raise InputError(f"{where}: {relative!r} is not a path relative to '{folder}'; fix or delete that line")
    path = Path(folder) / relative
    if Path(folder).resolve() not in path.resolve().parents:
        raise InputError(f"{where}: '{relative}' points outside '{folder}'; a data file may only name files inside "
                         f"its own folder: fix or delete that line")
    return path


def read_json(path, fields: dict, fix: str, error: type = InputError) -> dict:
    """The JSON object at `path` (a file moranb wrote, though a person may have edited it), with each of `fields`
    ("name" or "outer.inner" -> a type or tuple of types) present and of its type; otherwise one line of `error`
    naming the file and the field, then `fix`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path} is missing; {fix}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise error(f"{path} is not the JSON moranb wrote ({one_line(exc)}); {fix}") from None
    if not isinstance(data, dict):
        raise error(f"{path} is not a JSON object; {fix}")
    for name, kind in fields.items():
        value = data
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise error(f"{path}: field '{name}' is {'missing' if value is None else repr(value)[:40]}, not "
                        f"{'a number' if float in kinds else wanted}; {fix}")
    return data


@contextlib.contextmanager
def held_lock(path, busy: str):
    """Hold the file lock at `path` (filelock: an OS lock, gone with a killed holder) for the block; if another
    process holds it, `InputError(busy)` at once: one process at a time works in a folder."""
    from filelock import FileLock, Timeout

    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise InputError(busy) from None
    try:
        yield
    finally:
        lock.release()


PUBLISH_PREFIX = ".publish-"
_PLAN = ".plan.json"  # in a staging folder: what to publish, written once every file is there
_PARTIAL = re.compile(r"^\..+\.partial-(\d+)(\.[^.]*)?$|^\.write-test-(\d+)$")  # atomic_path, prepare_output_dir


def one_line(exc: BaseException) -> str:
    """An OS or library error as a short reason for a one-line message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


@contextlib.contextmanager
def staging(out_dir: str | os.PathLike):
    """Yield an empty staging folder inside `out_dir` to write a run's outputs into before `publish`. It is removed
    on every way out, unless publishing had begun (then the next run on `out_dir` finishes it)."""
    folder = Path(out_dir) / f"{PUBLISH_PREFIX}{os.getpid()}"
    try:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    except OSError as exc:
        raise OutputDirError(f"cannot write to output directory '{out_dir}' ({one_line(exc)}); "
                             f"free some space or pass a writable --out/out_dir") from None
    try:
        yield folder
    finally:
        if not (folder / _PLAN).exists():
            shutil.rmtree(folder, ignore_errors=True)


def publish(folder: Path, names: list[str], replaces: tuple[str, ...] = (), manifest: str = "manifest.json") -> None:
    """Move the files `names` (the manifest among them) from the staging `folder` into its parent, as one set:
    the plan first, then the old manifest out, the files in, the parent's files named in `replaces` that are not
    part of the new set removed, the new manifest last. Repeatable: the next run finishes a killed one's."""
    plan = {"files": [n for n in names if n != manifest] + [manifest],
            "remove": [n for n in replaces if n not in names]}
    with atomic_path(folder / _PLAN) as tmp:
        tmp.write_text(json.dumps(plan), encoding="utf-8")
    _finish_publishing(folder)


def _finish_publishing(folder: Path) -> None:
    plan = json.loads((folder / _PLAN).read_text(encoding="utf-8"))
    target = folder.parent
    *files, manifest = plan["files"]
    if (folder / manifest).exists():  # the old manifest would describe a mix while the files are moved
        (target / manifest).unlink(missing_ok=True)
    for name in files:
        if (folder / name).exists():
            os.replace(folder / name, target / name)
    for name in plan["remove"]:
        (target / name).unlink(missing_ok=True)
    if (folder / manifest).exists():
        os.replace(folder / manifest, target / manifest)
    shutil.rmtree(folder)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a folder of ours from before is a leftover: a process finishes or removes its own
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def clean_output_dir(out_dir: Path) -> None:
    """Finish what a killed run began publishing in `out_dir`, and remove what it left half-written (staging
    folders without a plan, hidden partial files here and in `.stages`). A live process's files are left alone."""
    for entry in sorted(out_dir.glob(f"{PUBLISH_PREFIX}*")):
        pid = entry.name[len(PUBLISH_PREFIX):]
        if not entry.is_dir() or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            if (entry / _PLAN).exists():
                _finish_publishing(entry)
            else:
                shutil.rmtree(entry)
        except (OSError, ValueError, KeyError) as exc:
            raise OutputDirError(f"cannot finish or remove the half-published outputs '{entry}' of a run that "
                                 f"stopped ({one_line(exc)}); remove that folder by hand") from None
    for folder in (out_dir, out_dir / ".stages"):
        for entry in folder.glob(".*") if folder.is_dir() else ():
            match = _PARTIAL.match(entry.name)
            if match and entry.is_file() and not _alive(int(match.group(1) or match.group(3))):
                entry.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json(path: str | os.PathLike, data) -> Path:
    return write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def save_image(image, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp)
    return path


def save_figure(fig, path: str | os.PathLike) -> Path:
    """A matplotlib figure as an RGB PNG at `path`, written atomically; the figure is closed."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    buffer.seek(0)
    return save_image(Image.open(buffer).convert("RGB"), path)


def png_bytes(image) -> bytes:
    """A PIL image encoded as PNG, in memory (for widgets and inline display)."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


def prepare_output_dir(path: str | os.PathLike) -> Path:
    """Create `path` if needed and prove it is writable, before any model is loaded."""
    path = Path(check_out_dir(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputDirError(f"cannot write to output directory '{path}' ({reason}); pass a writable --out/out_dir") from None
    return path


def versions() -> dict[str, str]:
    """Versions of what shapes the frames: Python, the platform and the libraries."""
    from importlib import metadata

    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("moranb", "torch", "diffusers", "transformers", "accelerate", "numpy", "pillow", "imageio"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


class Timer:
    """Named wall-clock timings: `with timer("text_to_image"): ...`; `timer.seconds` holds them."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 4)


def write_manifest(out_dir: str | os.PathLike, *, task: str, profile, seed: int, inputs: dict, outputs: dict,
                   timings: dict, extra: dict | None = None) -> Path:
    """The record of a run: what was asked, with which configuration and seed, what it wrote, how long it took."""
    manifest = {
        "task": task,
        "profile": dataclasses.asdict(profile) if dataclasses.is_dataclass(profile) else profile,
        "seed": seed,
        "inputs": inputs,
        "outputs": {name: str(Path(p).name) if isinstance(p, (str, Path)) else p for name, p in outputs.items()},
        "timings_s": timings,
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if extra:
        manifest.update(extra)
    return write_json(Path(out_dir) / "manifest.json", manifest)
