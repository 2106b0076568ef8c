"""The five agents, each a thin wrapper around one model with a plain call signature."""

from .connection import ConnectionAgent
from .image_to_image import ImageToImageAgent
from .image_to_video import ImageToVideoAgent, SegmentedVideo
from .prompt import PromptAgent
from .text_to_image import TextToImageAgent

__all__ = ["PromptAgent", "TextToImageAgent", "ImageToImageAgent", "ImageToVideoAgent", "SegmentedVideo",
           "ConnectionAgent"]
