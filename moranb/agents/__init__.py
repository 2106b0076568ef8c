"""The agents, each a thin wrapper around one model with a plain call signature: the five of the pipeline, and the
judges of data-free training."""

from .connection import ConnectionAgent
from .image_to_image import ImageToImageAgent
from .image_to_video import ImageToVideoAgent, SegmentedVideo
from .judge import CRITERIA, Judge, Judgement
from .prompt import PromptAgent
from .text_to_image import TextToImageAgent

__all__ = ["PromptAgent", "TextToImageAgent", "ImageToImageAgent", "ImageToVideoAgent", "SegmentedVideo",
           "ConnectionAgent", "Judge", "Judgement", "CRITERIA"]
