"""Issue 11, bad inputs: each ends in one `MoranbError` line (from Python) or one `moranb: error: ...` line with exit
status 2 (from the command line), before any folder is made or model loaded, and nothing earlier is lost."""

from __future__ import annotations

import errno
import tempfile

import numpy as np
import pytest

from moranb import get_profile, tasks
from moranb.cli import main
from moranb.errors import InputError, MoranbError, OutputDirError
from moranb.video import Video


def cli_error(capsys, argv: list[str]) -> str:
    """The one error line `moranb argv` prints (asserting exit status 2 and a single line on stderr)."""
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("moranb: error: ")
    return err


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and isinstance(exc.value, MoranbError)
    return text


# -- --out "" (an unset shell variable) --------------------------------------------------------------------------------
def test_empty_out_is_refused_and_cwd_manifest_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifest.json").write_text('{"mine": true}\n')
    err = cli_error(capsys, ["t2v", "a fox", "--out", ""])
    assert "output directory is empty" in err and "--out" in err
    assert (tmp_path / "manifest.json").read_text() == '{"mine": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    with pytest.raises(InputError) as exc:
        tasks.text_to_video("a fox", out_dir="  ")
    assert "empty" in one_line(exc)


@pytest.mark.parametrize("out_dir", [123, 1.5, b"out"])
def test_out_dir_of_the_wrong_type(tmp_path, monkeypatch, out_dir):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as exc:
        tasks.text_to_video("a fox", out_dir=out_dir)
    assert "out_dir" in one_line(exc) or "output directory" in str(exc.value)
    assert list(tmp_path.iterdir()) == []


# -- sizes and counts --------------------------------------------------------------------------------------------------
def test_width_zero_is_not_taken_as_not_given(capsys, tmp_path):
    err = cli_error(capsys, ["t2v", "a fox", "--out", str(tmp_path / "o"), "--width", "0"])
    assert "width" in err and "got 0" in err
    with pytest.raises(InputError):
        tasks.text_to_video("a fox", height=0)
    assert not (tmp_path / "o").exists()


def test_one_frame_per_segment(capsys, tmp_path):
    err = cli_error(capsys, ["t2v", "a fox", "--out", str(tmp_path / "o"), "--frames", "1"])
    assert "frames per segment must be at least 2" in err
    with pytest.raises(InputError):
        tasks.image_to_video(np.zeros((64, 96, 3), np.uint8), "sunset", frames_per_segment=1)


@pytest.mark.parametrize("argv, words", [
    (["--frames", "100000"], ["limit of 1000", "max_frames"]),
    (["--segments", "100000"], ["limit of 1000", "max_frames"]),
    (["--segments", "50", "--frames", "50"], ["frames in all", "max_frames"]),
    (["--width", "100000", "--height", "100000"], ["limit of", "max_pixels"]),
])
def test_resource_limits_before_allocation(capsys, tmp_path, argv, words):
    err = cli_error(capsys, ["t2v", "a fox", "--out", str(tmp_path / "o"), *argv])
    assert all(w in err for w in words), err
    assert not (tmp_path / "o").exists()


def test_limits_are_profile_settings():
    small = get_profile("tiny", max_frames=4, max_pixels=64 * 64)
    with pytest.raises(InputError, match="max_frames=8"):
        tasks.text_to_video("a fox", profile=small, segments=1)
    with pytest.raises(InputError, match="max_pixels=6144"):
        tasks.text_to_video("a fox", profile=small.replace(max_frames=1000), segments=1)
    with pytest.raises(InputError, match="max_frames"):
        tasks.edit_video(Video(np.zeros((3, 64, 96, 3), np.uint8), 8), "winter", profile=small)


# -- flags, seeds, text ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("edit", ["no", 0, None])
def test_edit_must_be_a_bool(edit):
    with pytest.raises(InputError) as exc:
        tasks.image_to_video(np.zeros((64, 96, 3), np.uint8), "sunset", edit=edit)
    assert "edit must be True or False" in one_line(exc)


def test_seed_beyond_64_bits(capsys, tmp_path):
    err = cli_error(capsys, ["t2v", "a fox", "--out", str(tmp_path / "o"), "--seed", str(2**70)])
    assert "seed must be between 0 and 2**63-1" in err
    assert not (tmp_path / "o").exists()
    err = cli_error(capsys, ["t2v", "a fox", "--out", str(tmp_path / "o"), "--seed", "-1"])
    assert "seed" in err


@pytest.mark.parametrize("seed", ["0", 1.5, True, None, np.float32(1)])
def test_seed_of_the_wrong_type(seed, tmp_path):
    with pytest.raises(InputError) as exc:
        tasks.text_to_video("a fox", seed=seed, out_dir=tmp_path / "o")
    assert "seed must be a whole number" in one_line(exc)
    assert not (tmp_path / "o").exists()


def test_numpy_integer_seed_is_refused_or_taken():
    # np.int64 is not an int subclass: refused with the same line rather than failing inside torch.
    with pytest.raises(InputError):
        tasks.text_to_video("a fox", seed=np.int64(3))


def test_non_utf8_prompt_from_the_command_line(capsys, tmp_path):
    # Bytes that are not UTF-8 in argv reach Python as lone surrogates (os.fsdecode's surrogateescape).
    prompt = b"a fox \xff in snow".decode("utf-8", "surrogateescape")
    err = cli_error(capsys, ["t2v", prompt, "--out", str(tmp_path / "o")])
    assert "prompt is not valid UTF-8" in err
    assert not (tmp_path / "o").exists()
    err = cli_error(capsys, ["world", "a fox", "--style", prompt, "--out", str(tmp_path / "o")])
    assert "style is not valid UTF-8" in err
    with pytest.raises(InputError, match="instruction is not valid UTF-8"):
        tasks.edit_video(Video(np.zeros((3, 64, 96, 3), np.uint8), 8), prompt)
    with pytest.raises(InputError, match="prompt is not valid UTF-8"):
        tasks.connect_videos(Video(np.zeros((3, 64, 96, 3), np.uint8), 8), Video(np.zeros((3, 64, 96, 3), np.uint8), 8),
                             prompt=prompt)


# -- review, cache -----------------------------------------------------------------------------------------------------
def test_review_naming_a_directory(capsys, tmp_path):
    err = cli_error(capsys, ["t2v", "a fox", "--out", str(tmp_path / "o"), "--review", str(tmp_path)])
    assert "is a directory" in err and "JSON file" in err
    assert not (tmp_path / "o").exists()


def test_build_tiny_on_a_read_only_cache(capsys, tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    # Root may write anywhere, so the read-only file system is injected where files are first created.
    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    err = cli_error(capsys, ["build-tiny", "--dir", str(tmp_path / "cache")])
    assert "Read-only file system" in err and "MORANB_CACHE" in err
    from moranb.agents import ensure_tiny_models

    with pytest.raises(OutputDirError):
        ensure_tiny_models(tmp_path / "cache")


# -- Video -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fps", [float("inf"), float("nan"), -1, 0, "7", None, True])
def test_video_fps_must_be_finite_and_positive(fps):
    with pytest.raises(InputError) as exc:
        Video(np.zeros((2, 8, 8, 3), np.uint8), fps)
    assert "fps must be a positive" in one_line(exc)


def test_good_values_still_pass():
    assert Video(np.zeros((2, 8, 8, 3), np.uint8), np.float32(7.5)).fps == 7.5
    from moranb.checks import check_out_dir, check_seed

    assert check_seed(2**63 - 1) == 2**63 - 1
    assert check_out_dir("out") == "out"
