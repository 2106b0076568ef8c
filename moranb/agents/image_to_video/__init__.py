"""Image-to-video: Stable Video Diffusion or Wan, chained into long videos; a Wan profile's VACE model extends and
edits."""

from ...video import SegmentedVideo
from ..role import Role
from . import realsize, tiny
from .agent import ImageToVideoAgent, wan_frames
from .trainer import ImageToVideoTrainer, WanImageToVideoTrainer

ROLE = Role(
    name="image_to_video", components={"image_to_video": ("unet", "vae", "image_encoder"),
                                       "vace": ("transformer", "vae", "text_encoder")},
    loads=realsize.LOADS,
    tiny=tiny.BUILDS, architectures=realsize.ARCHITECTURES,
    check=realsize.check_image_to_video,
    reads=("width", "height", "dtype", "fps", "image_to_video"),
    trainer=ImageToVideoTrainer,
    trainers={"WanImageToVideoPipeline": WanImageToVideoTrainer},
)

__all__ = ["ImageToVideoAgent", "ImageToVideoTrainer", "WanImageToVideoTrainer", "ROLE", "SegmentedVideo", "wan_frames"]
