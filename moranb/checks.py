"""Input checks shared by agents and tasks: each failure is one line naming the problem and the fix.

Every task checks its arguments here before it creates a folder or loads a model, so a bad value from Python or from
the command line ends in one `MoranbError` line, never in a traceback from deep inside a pipeline or an allocator.
"""

from __future__ import annotations

import math
import numbers
import os

from .errors import InputError, ResolutionError

SEED_LIMIT = 2**63  # torch generators take 64 bits; retries and segments add small offsets to the seed


def check_prompt(prompt, what: str = "prompt") -> str:
    if not isinstance(prompt, str):
        raise InputError(f"{what} must be a string; got {type(prompt).__name__}")
    check_text(prompt, what)
    if not prompt.strip():
        raise InputError(f"{what} is empty; describe what the video should show, e.g. \"a red fox running in snow\"")
    return prompt.strip()


def check_text(text: str, what: str) -> str:
    """`text` if it can be written as UTF-8. Bytes that are not UTF-8 on the command line reach Python as lone
    surrogates, which neither a file nor a tokenizer takes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"{what} is not valid UTF-8 text (undecodable byte at character {exc.start}); "
                         f"pass it as UTF-8 (check the terminal's or file's encoding)") from None
    return text


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be a whole number; got {seed!r} ({type(seed).__name__})")
    if not 0 <= seed < SEED_LIMIT:
        raise InputError(f"seed must be between 0 and 2**63-1; got {seed}")
    return seed


def check_flag(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{what} must be True or False; got {value!r}")
    return value


def check_count(value, what: str, minimum: int = 1, limit: int | None = None, setting: str | None = None) -> int:
    """A whole number from `minimum` up to `limit`; `setting` names the profile setting that raises the limit."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be a whole number; got {value!r}")
    if value < minimum:
        raise InputError(f"{what} must be at least {minimum}; got {value}")
    if limit is not None and value > limit:
        raise InputError(f"{what} is {value}, above the limit of {limit}; use fewer, or raise the profile's "
                         f"'{setting}' setting (get_profile(name, {setting}={value}) from Python)")
    return value


def check_size(width, height, multiple: int, model: str, max_pixels: int | None = None) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < multiple:
            raise ResolutionError(f"{name} must be a whole number of at least {multiple} pixels for {model}; got {value!r}")
    if width % multiple or height % multiple:
        fixed = (round(width / multiple) * multiple or multiple, round(height / multiple) * multiple or multiple)
        raise ResolutionError(
            f"{model} cannot take {width}x{height}: width and height must be multiples of {multiple} "
            f"(try {fixed[0]}x{fixed[1]})"
        )
    if max_pixels is not None and width * height > max_pixels:
        raise ResolutionError(f"{width}x{height} is {width * height} pixels, above the limit of {max_pixels}; use a "
                              f"smaller size, or raise the profile's 'max_pixels' setting "
                              f"(get_profile(name, max_pixels={width * height}) from Python)")
    return width, height


def check_out_dir(out_dir):
    """None, or a non-empty path (an empty one, as from an unset shell variable, would mean the current folder)."""
    if out_dir is None:
        return None
    if not isinstance(out_dir, (str, os.PathLike)):
        raise InputError(f"out_dir must be a path (a string or pathlib.Path); got {type(out_dir).__name__}")
    text = os.fspath(out_dir)
    if isinstance(text, bytes) or not text.strip():
        raise InputError(f"output directory is empty ({text!r}); pass --out/out_dir a folder name (an unset shell "
                         f"variable gives an empty one)")
    check_text(text, "output directory")
    return out_dir


def check_fps(fps) -> float:
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real):
        raise InputError(f"fps must be a positive number; got {fps!r}")
    value = float(fps)
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"fps must be a positive, finite number; got {fps!r}")
    return value
