"""The judges of data-free training: a multimodal LLM picks the best of k candidate videos under one criterion."""

from ..role import Role
from . import realsize, tiny
from .agent import BACKENDS, CRITERIA, Judge, Judgement, candidate_image, judge_content, parse_answer

ROLE = Role(name="judge", components={"judge_a": ("model",), "judge_b": ("model",)}, tiny=tiny.BUILDS,
            architectures=realsize.ARCHITECTURES)

__all__ = ["BACKENDS", "CRITERIA", "Judge", "Judgement", "ROLE", "candidate_image", "judge_content", "parse_answer"]
