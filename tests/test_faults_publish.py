"""Faults while a run publishes its outputs or reads its kept stages: a full disk, a kill between two steps, a
corrupt stage file, a read-only stage folder. Nothing earlier is lost, the error is one line, nothing is left over.
"""

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from moranb import Video, read_video, stages, tasks
from moranb.errors import OutputDirError
from moranb.io import clean_output_dir

PROMPT = "a red fox running in snow"
SMALL = {"segments": 1, "frames_per_segment": 4}


def run(tiny, out, seed=0):
    return tasks.text_to_video(PROMPT, profile=tiny, seed=seed, out_dir=out, **SMALL)


def files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


def leftovers(out: Path) -> list[str]:
    found = [p.name for p in out.iterdir() if p.name.startswith(".publish-") or ".partial-" in p.name]
    if (out / ".stages").is_dir():
        found += [p.name for p in (out / ".stages").iterdir() if ".partial-" in p.name]
    return found


def assert_one_set(out: Path, references: dict[int, dict[str, bytes]]):
    """The manifest names exactly the files beside it, and each is the one its run (by seed) wrote."""
    manifest = json.loads((out / "manifest.json").read_text())
    reference = references[manifest["seed"]]
    assert sorted(manifest["outputs"].values()) == sorted(set(reference) - {"manifest.json"})
    for name in reference:
        if name != "manifest.json":
            assert (out / name).read_bytes() == reference[name], name
    assert manifest["run_key"] == json.loads(reference["manifest.json"])["run_key"]


class FullDiskWriter:
    """imageio's ffmpeg writer on a disk that fills up: ffmpeg's "No space left on device" either reaches Python
    (`loud`) or stays in ffmpeg's log, leaving a truncated file (what imageio does with a failed trailer)."""

    real = staticmethod(imageio.get_writer)

    def __init__(self, path, loud=False, **kwargs):
        self.path, self.loud, self.writer = Path(path), loud, self.real(path, **kwargs)

    def append_data(self, frame):
        if self.loud:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.writer.append_data(frame)

    def close(self):
        self.writer.close()
        self.path.write_bytes(self.path.read_bytes()[:64])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.mark.slow
@pytest.mark.parametrize("loud", [False, True], ids=["silent-ffmpeg", "enospc-raised"])
def test_full_disk_while_writing_the_video_keeps_the_earlier_outputs(tiny, tmp_path, monkeypatch, loud):
    out = tmp_path / "run"
    good = run(tiny, out, seed=0)
    before = files(out)
    monkeypatch.setattr(imageio, "get_writer", lambda path, **kw: FullDiskWriter(path, loud=loud, **kw))
    with pytest.raises(OutputDirError) as error:
        run(tiny, out, seed=1)
    assert "\n" not in str(error.value) and "video.mp4" in str(error.value)
    assert files(out) == before  # the earlier video and manifest are untouched
    assert read_video(out / "video.mp4").num_frames == good.video.num_frames
    assert leftovers(out) == []


def test_an_mp4_that_does_not_decode_back_is_not_saved(moving_video, tmp_path, monkeypatch):
    path = moving_video.save(tmp_path / "clip.mp4")
    before = path.read_bytes()
    monkeypatch.setattr(imageio, "get_writer", lambda p, **kw: FullDiskWriter(p, **kw))
    with pytest.raises(OutputDirError, match="could not write video"):
        Video(moving_video.frames[::-1], moving_video.fps).save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


# A run of the tiny task killed with SIGKILL at a chosen point of writing or publishing its outputs.
KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import imageio.v2 as imageio
    from moranb import tasks

    out, seed, point = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    real_replace, real_writer, moved = os.replace, imageio.get_writer, []

    def kill():
        os.kill(os.getpid(), signal.SIGKILL)

    def replace(src, dst):
        into_out = os.path.dirname(os.path.abspath(dst)) == os.path.abspath(out)
        if point == "staged" and ".publish-" in str(dst) and not into_out:
            kill()  # the first file of the set is being written
        if into_out:
            if point == f"moved-{len(moved)}":
                kill()
            moved.append(dst)
        return real_replace(src, dst)

    class Writer:  # killed while ffmpeg encodes, two frames in
        def __init__(self, path, **kw):
            self.writer, self.count = real_writer(path, **kw), 0
        def append_data(self, frame):
            self.writer.append_data(frame)
            self.count += 1
            if self.count == 2 and point == "encoding":
                kill()
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.writer.close()

    os.replace = replace
    imageio.get_writer = Writer
    tasks.text_to_video("%s", profile="tiny", seed=seed, out_dir=out, segments=1, frames_per_segment=4)
""" % PROMPT)


@pytest.mark.slow
def test_a_kill_while_publishing_never_leaves_a_mix_and_the_next_run_finishes(tiny, tmp_path):
    references = {}
    for seed in (0, 1):
        run(tiny, tmp_path / f"reference{seed}", seed=seed)
        references[seed] = files(tmp_path / f"reference{seed}")
    out = tmp_path / "run"
    run(tiny, out, seed=0)
    script = tmp_path / "killed_run.py"
    script.write_text(KILLED_RUN)
    # encoding, the set half written, after the plan, after one file, before the manifest
    for point, published in [("encoding", 0), ("staged", 0), ("moved-0", 1), ("moved-1", 1), ("moved-4", 1)]:
        killed = subprocess.run([sys.executable, str(script), str(out), "1", point], capture_output=True)
        assert killed.returncode == -9, (point, killed.stderr.decode()[-2000:])
        if (out / "manifest.json").exists():  # a manifest always describes the files beside it
            assert_one_set(out, references)
        clean_output_dir(out)  # what the next run on this folder does first
        assert_one_set(out, references)
        assert json.loads((out / "manifest.json").read_text())["seed"] == published, point
        assert leftovers(out) == [], point
        run(tiny, out, seed=0)  # the next run completes and leaves nothing half-written
        assert_one_set(out, references)
        assert json.loads((out / "manifest.json").read_text())["seed"] == 0 and leftovers(out) == []


def test_cleaning_leaves_a_live_process_alone_and_removes_a_dead_ones_partials(tmp_path):
    live = tmp_path / ".publish-1"  # pid 1 is always alive
    live.mkdir()
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
    (tmp_path / f".publish-{dead_pid}").mkdir()
    (tmp_path / f".publish-{dead_pid}" / "video.mp4").write_bytes(b"partial")
    (tmp_path / ".stages").mkdir()
    (tmp_path / ".stages" / f".text_to_image-abc.partial-{dead_pid}.png").write_bytes(b"partial")
    (tmp_path / f".video.partial-{dead_pid}.mp4").write_bytes(b"partial")
    clean_output_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".publish-1", ".stages"]
    assert list((tmp_path / ".stages").iterdir()) == []


def corrupt(path: Path):
    if path.suffix == ".txt":
        path.write_bytes(b"\xff\xfe\xfa not utf-8")
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated: BadZipFile, a broken PNG


@pytest.mark.slow
@pytest.mark.parametrize("stage, suffix", [("image_to_video", ".npz"), ("text_to_image", ".png"),
                                           ("enhance_prompt", ".txt")])
def test_a_corrupt_stage_file_is_discarded_and_made_again(tiny, tmp_path, stage, suffix):
    clean = run(tiny, tmp_path / "clean")
    out = tmp_path / "run"
    run(tiny, out)
    [kept] = (out / ".stages").glob(f"{stage}-*{suffix}")
    corrupt(kept)
    with pytest.warns(UserWarning, match="cannot be read") as caught:
        again = run(tiny, out)
    assert all("\n" not in str(w.message) for w in caught)
    assert stage not in again.reused
    assert np.array_equal(again.video.frames, clean.video.frames)
    assert stages.load(kept.with_suffix("")) is not None  # kept again, whole
    assert_one_set(out, {0: files(tmp_path / "clean")})


def test_stage_load_discards_what_it_cannot_read(tmp_path, moving_video):
    base = tmp_path / ".stages" / "image_to_video-0123"
    stages.keep(base, moving_video, [{"stage": "image_to_video", "attempt": 1, "seed": 0, "decision": "approve"}])
    corrupt(base.with_suffix(".npz"))
    with pytest.warns(UserWarning, match="BadZipFile"):
        assert stages.load(base) is None
    assert list(base.parent.iterdir()) == []  # the value and its review are gone: the stage is made again


@pytest.mark.slow
@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC], ids=["read-only", "disk-full"])
def test_a_stage_folder_that_cannot_be_written_is_one_line(tiny, tmp_path, monkeypatch, code):
    out = tmp_path / "run"
    (out / ".stages").mkdir(parents=True)
    real = os.replace

    def replace(src, dst):  # what a read-only or full `.stages` does to a kept stage (root ignores chmod)
        if Path(dst).parent.name == ".stages":
            raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputDirError) as error:
        run(tiny, out)
    message = str(error.value)
    assert "\n" not in message and os.strerror(code) in message and ".stages" in message
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_a_truncated_png_stage_is_refused_even_where_pil_is_told_to_pad_it(tmp_path, monkeypatch):
    from PIL import Image, ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # what importing VBench's AMT utilities does
    base = tmp_path / ".stages" / "text_to_image-0123"
    stages.keep(base, Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)), [])
    corrupt(base.with_suffix(".png"))
    with pytest.warns(UserWarning, match="truncated"):
        assert stages.load(base) is None
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the global is left as it was found
