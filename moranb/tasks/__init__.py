"""The six Mora tasks, each a short function that calls agents in order and returns a `TaskResult`.

Every task takes `profile`, `seed`, `out_dir` (files and a manifest are written there when given; a rerun with the
same arguments resumes from the stages already finished) and `review` (see `moranb.review`).
"""

from .connect_videos import connect_videos
from .edit_video import edit_video
from .extend_video import extend_video
from .image_to_video import image_to_video
from .run import TaskResult
from .simulate_digital_world import simulate_digital_world
from .text_to_video import text_to_video

TASKS = {
    "text_to_video": text_to_video,
    "image_to_video": image_to_video,
    "extend_video": extend_video,
    "edit_video": edit_video,
    "connect_videos": connect_videos,
    "simulate_digital_world": simulate_digital_world,
}

__all__ = ["TaskResult", "TASKS", *TASKS]
