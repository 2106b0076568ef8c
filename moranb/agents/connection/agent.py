"""The video-connection agent: a transition from one frame to another.

Mora used SEINE, which is not in diffusers. moranb uses LTX-Video's condition pipeline (`LTXConditionPipeline`):
it conditions one generation on images at chosen frame indices, so the last frame of video A goes at index 0 and
the first frame of video B at the last index, and the model fills the frames between. It is a 2B-parameter model
that fits one consumer GPU (Wan 2.1 FLF2V, the other first/last-frame model in diffusers, is 14B), and the same
pipeline also extends videos. Its frame count must be 8k+1; the two conditioning frames are dropped from the
output, so `connection_frames=17` gives 15 transition frames (SEINE made 16).

The Wan profiles connect with Wan 2.1 FLF2V-14B (`WanImageToVideoPipeline` given `last_image`) or Wan 2.1 VACE
(`WanVACEPipeline`, the two frames kept by its mask); their frame counts are 4k+1 (`connection.pipeline`).
"""

from __future__ import annotations

import torch

from ... import models
from ...checks import check_count, check_size
from ...config import Profile
from ...errors import InputError
from ...video import Video, as_image
from .. import wan
from .tiny import BUILDS


NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"


class ConnectionAgent:
    def __init__(self, profile: Profile):
        self.profile = profile

    @property
    def pipe(self):
        """The pipeline; with offload "sequential" without its T5-XXL text encoder (see `encode`)."""
        import diffusers
        from diffusers import LTXConditionPipeline
        from diffusers.utils import logging

        c = self.profile.connection
        if c.pipeline != "LTXConditionPipeline":
            return wan.load(getattr(diffusers, c.pipeline), c.model, self.profile, "connection", BUILDS)
        # The pipeline hands its scheduler explicit timesteps on every call, which the scheduler warns about each
        # time; the schedule is the one LTX-Video was trained with, so the warning says nothing here.
        logging.get_logger("diffusers.schedulers.scheduling_flow_match_euler_discrete").setLevel(logging.ERROR)
        alone = {"text_encoder": None} if self.profile.offload == "sequential" else {}
        return models.load(LTXConditionPipeline, self.profile.connection.model, self.profile, "connection",
                           tiny_builds=BUILDS, **alone)

    def encode(self, prompt: str) -> dict:
        """The prompt's and the negative prompt's T5 embeddings, by the text encoder loaded alone (offload
        "sequential": LTX-Video's T5-XXL, 9-11 GiB in float16, and its transformer do not fit a 15 GiB GPU together;
        one after the other they do). The same embeddings the whole pipeline computes (tests compare the frames)."""
        from diffusers import LTXConditionPipeline

        p = self.profile
        encoder = models.load(LTXConditionPipeline, p.connection.model, p.replace(adapters=None), "connection",
                              tiny_builds=BUILDS, transformer=None, vae=None)
        embeds, mask, negative, negative_mask = encoder.encode_prompt(
            prompt, NEGATIVE_PROMPT, do_classifier_free_guidance=p.connection.guidance_scale > 1.0,
            device=p.device)
        return {"prompt_embeds": embeds, "prompt_attention_mask": mask, "negative_prompt_embeds": negative,
                "negative_prompt_attention_mask": negative_mask}

    def __call__(self, last_frame, first_frame, seed: int = 0, prompt: str | None = None,
                 num_frames: int | None = None) -> Video:
        """The frames strictly between `last_frame` (of video A) and `first_frame` (of video B)."""
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        p = self.profile
        start, end = as_image(last_frame), as_image(first_frame)
        if start.size != end.size:
            raise InputError(f"frames to connect differ in size ({start.size} vs {end.size}); resize one first")
        num_frames = check_count(num_frames or p.connection.frames, "connection frames")
        if p.connection.pipeline != "LTXConditionPipeline":
            return self._wan(start, end, seed, prompt or p.connection.prompt, num_frames)
        if num_frames < 9 or (num_frames - 1) % 8:
            raise InputError(f"connection frames must be 8k+1 and at least 9 (LTX-Video); got {num_frames}")
        width, height = check_size(start.width, start.height, p.connection.size_multiple, "LTX-Video")
        text = self.encode(prompt or p.connection.prompt) if p.offload == "sequential" else \
            {"prompt": prompt or p.connection.prompt, "negative_prompt": NEGATIVE_PROMPT}
        out = self.pipe(
            conditions=[LTXVideoCondition(image=start, frame_index=0),
                        LTXVideoCondition(image=end, frame_index=num_frames - 1)],
            **text, width=width, height=height,
            num_frames=num_frames, frame_rate=p.fps, num_inference_steps=p.connection.steps,
            guidance_scale=p.connection.guidance_scale, generator=torch.Generator("cpu").manual_seed(seed),
            output_type="np",
        )
        return Video.from_float(out.frames[0][1:-1], p.fps)

    def _wan(self, start, end, seed: int, prompt: str, num_frames: int) -> Video:
        import diffusers

        p, c = self.profile, self.profile.connection
        if num_frames < 5 or num_frames % 4 != 1:
            raise InputError(f"connection frames must be 4k+1 and at least 5 (Wan); got {num_frames}")
        width, height = check_size(start.width, start.height, c.size_multiple, "Wan")
        text = wan.text(getattr(diffusers, c.pipeline), c.model, p, "connection", BUILDS, prompt, c.guidance_scale)
        if c.pipeline == "WanVACEPipeline":
            out = wan.vace_frames(self.pipe, {0: start, num_frames - 1: end}, num_frames, width, height, text,
                                  steps=c.steps, guidance_scale=c.guidance_scale, seed=seed)
        else:  # FLF2V: the first and the last frame, each through CLIP and the VAE
            out = self.pipe(image=start, last_image=end, **text, height=height, width=width, num_frames=num_frames, num_inference_steps=c.steps,
                            guidance_scale=c.guidance_scale, generator=torch.Generator("cpu").manual_seed(seed),
                            output_type="np").frames[0]
        return Video.from_float(out[1:-1], p.fps)
