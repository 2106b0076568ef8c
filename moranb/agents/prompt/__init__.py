"""The prompt agent: rewrites a short prompt into the detailed one the other agents work from, and writes new ones."""

from ..role import Role
from . import realsize, tiny
from .agent import BACKENDS, PromptAgent, with_style

ROLE = Role(name="prompt", components={"llm": ("model",)}, tiny=tiny.BUILDS, architectures=realsize.ARCHITECTURES,)

__all__ = ["BACKENDS", "PromptAgent", "ROLE", "with_style"]
