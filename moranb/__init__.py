"""moranb: Mora's multi-agent video generation, runnable and reproducible.

    from moranb import tasks
    result = tasks.text_to_video("a red fox running in snow", profile="tiny", out_dir="outputs/fox")
"""

from .config import Model, Profile, get_profile
from .errors import MoranbError
from .video import Video, frame_strip, read_video

__version__ = "0.1.0"
__all__ = ["Model", "Profile", "get_profile", "MoranbError", "Video", "frame_strip", "read_video", "__version__"]
