"""`Video`: the one currency between agents, tasks, evaluation and figures.

A video is a uint8 array of frames, shape (T, H, W, 3), and a frame rate; a `SegmentedVideo` is a long video made
segment after segment (what the image-to-video agent returns). Agents return videos, tasks pass them on,
evaluation reads them, and this module writes them as mp4 or gif and draws frame strips (a row of evenly spaced
frames with a caption, like the paper's figures).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .checks import check_fps
from .errors import InputError, OutputDirError, VideoReadError
from .io import atomic_path, one_line


@dataclass(frozen=True, eq=False)
class Video:
    frames: np.ndarray  # uint8, (T, H, W, 3)
    fps: float

    def __post_init__(self):
        frames = np.asarray(self.frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise InputError(f"a video needs frames of shape (T, H, W, 3); got {frames.shape}")
        if frames.dtype != np.uint8:
            raise InputError(f"a video's frames must be uint8; got {frames.dtype} (use Video.from_float for [0, 1] floats)")
        if frames.shape[0] < 1:
            raise InputError("a video needs at least one frame")
        fps = check_fps(self.fps)  # inf or nan would pass "> 0" and fail later in the encoder or in resampling
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "fps", fps)

    @classmethod
    def from_float(cls, frames, fps: float) -> "Video":
        """From floats in [0, 1] (what diffusers returns with output_type="np")."""
        frames = np.asarray(frames, dtype=np.float32)
        return cls((np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8), fps)

    # -- shape ---------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def num_frames(self) -> int:
        return len(self)

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), PIL's order."""
        return self.width, self.height

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    def frame(self, index: int) -> Image.Image:
        return Image.fromarray(self.frames[index])

    @property
    def first_frame(self) -> Image.Image:
        return self.frame(0)

    def images(self) -> list[Image.Image]:
        """Every frame as a PIL image."""
        return [self.frame(i) for i in range(len(self))]

    @property
    def last_frame(self) -> Image.Image:
        return self.frame(-1)

    # -- editing -------------------------------------------------------------------------------------------------
    def resized(self, width: int, height: int) -> "Video":
        if (width, height) == self.size:
            return self
        frames = [np.asarray(self.frame(i).resize((width, height), Image.LANCZOS)) for i in range(len(self))]
        return Video(np.stack(frames), self.fps)

    def resampled(self, fps: float) -> "Video":
        """The same duration at another frame rate (nearest frame; no interpolation)."""
        if fps == self.fps:
            return self
        count = max(1, round(len(self) * fps / self.fps))
        index = np.minimum((np.arange(count) * self.fps / fps).round().astype(int), len(self) - 1)
        return Video(self.frames[index], fps)

    def __add__(self, other: "Video") -> "Video":
        return concat([self, other])

    # -- files ---------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write an mp4 (H.264) or gif, atomically: the file appears whole or not at all. An mp4 is decoded back and
        its frames counted before it replaces anything: ffmpeg may fail (a full disk) without imageio raising."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".mp4", ".gif"):
            raise InputError(f"cannot write a video as '{suffix}': use a .mp4 or .gif path")
        import imageio.v2 as imageio

        with atomic_path(path) as tmp:
            try:
                if suffix == ".gif":
                    imageio.mimsave(tmp, list(self.frames), format="GIF", duration=1000.0 / self.fps, loop=0)
                else:
                    self._write_mp4(tmp, imageio)
                    written = _count_frames(tmp, imageio)
                    if written != len(self):
                        raise OSError(0, f"{written} of {len(self)} frames could be read back")
            except (OSError, RuntimeError, ValueError) as exc:  # imageio and ffmpeg raise these for a failed write
                raise OutputDirError(f"could not write video '{path}' ({one_line(exc)}); is the disk full? "
                                     f"nothing there was replaced") from None
        return path

    def _write_mp4(self, path: Path, imageio) -> None:
        # yuv420p needs even sizes; pad by one pixel rather than fail on odd ones.
        frames = self.frames
        pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
        if pad_h or pad_w:
            frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        with imageio.get_writer(  # closing it (on every way out) stops the ffmpeg child
            path, format="FFMPEG", mode="I", fps=self.fps, codec="libx264", quality=8,
            pixelformat="yuv420p", macro_block_size=1, ffmpeg_log_level="error",
        ) as writer:
            for frame in frames:
                writer.append_data(frame)


def _count_frames(path: Path, imageio) -> int:
    """How many frames of the mp4 at `path` decode; 0 when it cannot be opened."""
    try:
        reader = imageio.get_reader(path, format="FFMPEG")
    except Exception:  # imageio raises many types for a file ffmpeg cannot open
        return 0
    count = 0
    try:
        for _ in reader:
            count += 1
    except Exception:  # a truncated file: count what decoded
        pass
    finally:
        reader.close()
    return count


@dataclass(frozen=True, eq=False)
class SegmentedVideo:
    """Segments made one after another, each animating the one before's last frame: what the agent returns and
    what the stage cache keeps, as it is.

    It holds only what cannot be derived: the image segment 0 animated and the segments. The conditioning images
    (that image, then each segment's last frame but the final one's) and the joined video follow from them; the
    video is joined once, on first use.
    """

    first: Image.Image  # the image segment 0 animated
    segments: tuple[Video, ...]

    def __post_init__(self):
        object.__setattr__(self, "segments", tuple(self.segments))
        if not self.segments:
            raise InputError("a segmented video needs at least one segment")

    @cached_property
    def video(self) -> Video:
        """All segments joined."""
        return concat(list(self.segments))

    @cached_property
    def conditioning(self) -> tuple[Image.Image, ...]:
        """The image each segment animated."""
        return (self.first, *(s.last_frame for s in self.segments[:-1]))


def concat(videos: list[Video]) -> Video:
    """Join videos end to end; they must share size and fps (`Video.resized`, `Video.resampled` make them so)."""
    if not videos:
        raise InputError("nothing to concatenate")
    first = videos[0]
    for video in videos[1:]:
        if video.size != first.size or video.fps != first.fps:
            raise InputError(
                f"cannot join a {video.width}x{video.height}@{video.fps} video to a "
                f"{first.width}x{first.height}@{first.fps} one; resize or resample one of them first"
            )
    return Video(np.concatenate([v.frames for v in videos]), first.fps)


def read_video(path: str | os.PathLike, fps: float | None = None) -> Video:
    """Read an mp4/gif/webm/... file into a `Video`; a one-line error if it is missing or cannot be decoded."""
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"video '{path}' does not exist; check the path")
    import imageio.v2 as imageio

    try:
        if path.suffix.lower() == ".gif":
            reader = imageio.get_reader(path, format="GIF")
            duration = reader.get_meta_data(0).get("duration", 100)  # ms per frame, read from the first
            frames = [np.asarray(Image.fromarray(f).convert("RGB")) for f in reader]
            native_fps = 1000.0 / duration if duration else 10.0
        else:
            reader = imageio.get_reader(path, format="FFMPEG")
            native_fps = float(reader.get_meta_data().get("fps") or 0) or 8.0
            frames = [np.asarray(f)[..., :3] for f in reader]
        reader.close()
    except Exception as exc:  # imageio raises many types; the user needs one line.
        raise VideoReadError(f"video '{path}' cannot be decoded ({type(exc).__name__}); is it a video file?") from exc
    if not frames:
        raise VideoReadError(f"video '{path}' has no frames")
    return Video(np.stack(frames), fps or native_fps)


def video_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of a video file, from its header (nothing decoded); a one-line error as `read_video`'s."""
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"video '{path}' does not exist; check the path")
    import imageio.v2 as imageio

    try:
        reader = imageio.get_reader(path, format="GIF" if path.suffix.lower() == ".gif" else "FFMPEG")
        size = reader.get_meta_data().get("size") or reader.get_data(0).shape[1::-1]
        reader.close()
    except Exception as exc:  # imageio raises many types; the user needs one line.
        raise VideoReadError(f"video '{path}' cannot be decoded ({type(exc).__name__}); is it a video file?") from exc
    return int(size[0]), int(size[1])


def read_image(path: str | os.PathLike) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"image '{path}' does not exist; check the path")
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except Exception as exc:
        raise VideoReadError(f"'{path}' is not an image PIL can read ({type(exc).__name__})") from exc


def as_image(image) -> Image.Image:
    """A PIL image from a PIL image, a path, or a uint8 (H, W, 3) array."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 3 and array.dtype == np.uint8:
        return Image.fromarray(array)
    raise InputError(f"expected an image (PIL image, path or uint8 HxWx3 array); got {type(image).__name__}")


def as_video(video, fps: float | None = None) -> Video:
    if isinstance(video, Video):
        return video
    if isinstance(video, (str, os.PathLike)):
        return read_video(video, fps)
    raise InputError(f"expected a Video or a path to a video file; got {type(video).__name__}")


SMALL_VIDEO = 32  # frames this wide or narrower (the mini world's 16x16) are shown enlarged in full, pixel by pixel


def gif_bytes(video: Video, width: int = 384, colors: int = 64) -> bytes:
    """`video` as a looping animated GIF for a person to watch at `width` pixels. Small frames (at most `SMALL_VIDEO`
    wide: the mini world's) are enlarged to `width` with nearest neighbour, so each pixel stays a sharp square rather
    than the browser's blur; larger frames narrower than `width` are only doubled (the browser scales the rest: a GIF
    of noise at full size would weigh megabytes), wider ones shrunk to `width`; the palette has `colors` colours."""
    import io

    if video.width <= SMALL_VIDEO:
        scale = max(1, width // video.width)
        size, resample = (video.width * scale, video.height * scale), Image.NEAREST
    elif video.width < width:
        scale = min(2, width // video.width)
        size, resample = (video.width * scale, video.height * scale), Image.NEAREST
    else:
        size, resample = (width, max(1, round(video.height * width / video.width))), Image.LANCZOS
    frames = [video.frame(i).resize(size, resample).quantize(colors, dither=Image.Dither.NONE)
              for i in range(len(video))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=max(20, round(1000 / video.fps)))
    return buffer.getvalue()


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def frame_strip(video: Video, num: int = 8, height: int = 160, caption: str | None = None) -> Image.Image:
    """A row of `num` evenly spaced frames, each labelled with its index, and an optional caption below."""
    count = min(num, len(video))
    indices = np.linspace(0, len(video) - 1, count).round().astype(int)
    scale = height / video.height
    tile_w = max(1, round(video.width * scale))
    # Small (tiny-profile) frames are blown up with nearest neighbour so their pixels stay honest.
    resample = Image.NEAREST if scale >= 2 else Image.LANCZOS
    gap, label_h = 4, 18
    caption_lines = _wrap(caption, max(20, (count * (tile_w + gap)) // 8)) if caption else []
    width = count * tile_w + (count + 1) * gap
    total_h = gap + label_h + height + gap + 20 * len(caption_lines) + (gap if caption_lines else 0)
    strip = Image.new("RGB", (width, total_h), "white")
    draw = ImageDraw.Draw(strip)
    font = _font(13)
    for slot, index in enumerate(indices):
        x = gap + slot * (tile_w + gap)
        draw.text((x, gap), f"t={index}", fill="black", font=font)
        strip.paste(video.frame(int(index)).resize((tile_w, height), resample), (x, gap + label_h))
    y = gap + label_h + height + gap
    for line in caption_lines:
        draw.text((gap, y), line, fill="black", font=_font(15))
        y += 20
    return strip


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width)[:4]
