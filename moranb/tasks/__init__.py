"""The six Mora tasks, each a short function that calls agents in order and returns a `TaskResult`."""

from .run import TaskResult
from .text_to_video import text_to_video

__all__ = ["TaskResult", "text_to_video"]
