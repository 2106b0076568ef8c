"""Input checks shared by agents and tasks: each failure is one line naming the problem and the fix."""

from __future__ import annotations

from .errors import InputError, ResolutionError


def check_prompt(prompt, what: str = "prompt") -> str:
    if not isinstance(prompt, str):
        raise InputError(f"{what} must be a string; got {type(prompt).__name__}")
    if not prompt.strip():
        raise InputError(f"{what} is empty; describe what the video should show, e.g. \"a red fox running in snow\"")
    return prompt.strip()


def check_count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be a whole number; got {value!r}")
    if value < 1:
        raise InputError(f"{what} must be at least 1; got {value}")
    return value


def check_size(width, height, multiple: int, model: str) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < multiple:
            raise ResolutionError(f"{name} must be a whole number of at least {multiple} pixels for {model}; got {value!r}")
    if width % multiple or height % multiple:
        fixed = (round(width / multiple) * multiple or multiple, round(height / multiple) * multiple or multiple)
        raise ResolutionError(
            f"{model} cannot take {width}x{height}: width and height must be multiples of {multiple} "
            f"(try {fixed[0]}x{fixed[1]})"
        )
    return width, height
