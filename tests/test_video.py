import numpy as np
import pytest
from PIL import Image

from moranb import Video, frame_strip, read_video
from moranb.errors import InputError, VideoReadError
from moranb.video import as_image, concat, read_image


def test_video_validates_its_frames():
    with pytest.raises(InputError, match="uint8"):
        Video(np.zeros((2, 8, 8, 3), np.float32), 8)
    with pytest.raises(InputError, match=r"\(T, H, W, 3\)"):
        Video(np.zeros((8, 8, 3), np.uint8), 8)
    with pytest.raises(InputError, match="fps"):
        Video(np.zeros((2, 8, 8, 3), np.uint8), 0)


def test_from_float_rounds_and_clips():
    v = Video.from_float(np.array([[[[0.0, 0.5, 1.2]]]]), fps=4)
    assert v.frames.dtype == np.uint8 and v.frames[0, 0, 0].tolist() == [0, 128, 255]


def test_mp4_roundtrip_keeps_count_size_and_fps(tmp_path, moving_video):
    path = moving_video.save(tmp_path / "clip.mp4")
    back = read_video(path)
    assert back.frames.shape == moving_video.frames.shape
    assert back.fps == pytest.approx(8)
    # Lossy codec: close, not equal.
    assert np.abs(back.frames.astype(int) - moving_video.frames.astype(int)).mean() < 12
    assert not list(tmp_path.glob(".*partial*")), "temporary file left behind"


def test_gif_roundtrip(tmp_path, moving_video):
    back = read_video(moving_video.save(tmp_path / "clip.gif"))
    assert back.num_frames == moving_video.num_frames and back.size == moving_video.size


def test_odd_sizes_are_padded_for_h264(tmp_path):
    v = Video(np.full((3, 33, 47, 3), 90, np.uint8), 5)
    back = read_video(v.save(tmp_path / "odd.mp4"))
    assert back.num_frames == 3 and back.size == (48, 34)


def test_unreadable_inputs_give_one_line_errors(tmp_path):
    with pytest.raises(VideoReadError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video")
    with pytest.raises(VideoReadError, match="cannot be decoded"):
        read_video(bad)
    notimage = tmp_path / "notimage.png"
    notimage.write_text("hello")
    with pytest.raises(VideoReadError, match="not an image"):
        read_image(notimage)
    with pytest.raises(InputError):
        as_image(42)


def test_save_rejects_unknown_suffix(tmp_path, moving_video):
    with pytest.raises(InputError, match=".avi"):
        moving_video.save(tmp_path / "x.avi")


def test_concat_and_its_errors(moving_video):
    both = moving_video + moving_video
    assert both.num_frames == 24 and np.array_equal(both.frames[12:], moving_video.frames)
    with pytest.raises(InputError, match="resize or resample"):
        concat([moving_video, moving_video.resized(64, 32)])


def test_resample_and_resize(moving_video):
    assert moving_video.resampled(4).num_frames == 6
    assert moving_video.resized(48, 32).size == (48, 32)


def test_frame_strip_shows_evenly_spaced_frames(moving_video):
    strip = frame_strip(moving_video, num=4, height=64, caption="a square moving right")
    assert isinstance(strip, Image.Image)
    assert strip.width == 4 * 96 + 5 * 4
    # The second tile is frame 4 (of 0, 4, 7, 11): its pixels are that frame's.
    x0, y0 = 4 + 96 + 4, 4 + 18
    tile = np.asarray(strip.crop((x0, y0, x0 + 96, y0 + 64)))
    assert np.array_equal(tile, moving_video.frames[4])


@pytest.mark.parametrize("given", ["image", "path", "str"])
def test_show_image_takes_an_image_or_a_png_path_and_enlarges_it(given, tmp_path, monkeypatch):
    import io

    from moranb import notebook

    shown = []
    monkeypatch.setattr(notebook, "_display", lambda *objects: shown.extend(objects))
    picture = Image.new("RGB", (16, 8), (200, 10, 10))
    picture.save(tmp_path / "p.png")
    arg = {"image": picture, "path": tmp_path / "p.png", "str": str(tmp_path / "p.png")}[given]
    notebook.show_image(arg, "a title", width=64)
    with Image.open(io.BytesIO(shown[-1].data)) as back:
        assert back.size == (64, 32) and back.getpixel((63, 31)) == (200, 10, 10)
