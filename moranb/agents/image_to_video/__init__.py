"""Image-to-video: Stable Video Diffusion, chained into long videos."""

from ...video import SegmentedVideo
from ..role import Role
from . import realsize, tiny
from .agent import ImageToVideoAgent
from .trainer import ImageToVideoTrainer

ROLE = Role(
    name="image_to_video", components={"image_to_video": ("unet", "vae", "image_encoder")},
    tiny=tiny.BUILDS, architectures=realsize.ARCHITECTURES,
    check=realsize.check_image_to_video,
    reads=("width", "height", "dtype", "image_to_video", "frames_per_segment", "decode_chunk_size", "fps",
           "motion_bucket_id", "noise_aug_strength"),
    trainer=ImageToVideoTrainer,
)

__all__ = ["ImageToVideoAgent", "ImageToVideoTrainer", "ROLE", "SegmentedVideo"]
