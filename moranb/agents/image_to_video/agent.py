"""The image-to-video agent: Stable Video Diffusion or Wan (the profile's `image_to_video.pipeline`), chained into
long videos.

A long video is built from segments: segment 0 animates the input image, and each later segment animates the
previous segment's last frame (the uint8 frame as written, so what a viewer sees is what conditions the next
segment). Segment k uses seed + k. SVD takes the image alone (and a motion bucket); Wan takes the image and a prompt.

Where the profile names a VACE model (`image_to_video.vace`), the agent also makes videos around frames it is given
(`continue_video`, `redo_video`): the extension and editing tasks' route "vace".
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from ... import models
from ...checks import check_count, check_size
from ...config import Profile
from ...errors import InputError
from ...video import SegmentedVideo, Video, as_image
from .. import wan
from .tiny import BUILDS



class ImageToVideoAgent:
    def __init__(self, profile: Profile):
        self.profile = profile

    @property
    def pipe(self):
        import diffusers

        s = self.profile.image_to_video
        if self.wan:
            return wan.load(getattr(diffusers, s.pipeline), s.model, self.profile, "image_to_video", BUILDS)
        return models.load(getattr(diffusers, s.pipeline), s.model, self.profile, "image_to_video", tiny_builds=BUILDS)

    @property
    def wan(self) -> bool:
        return self.profile.image_to_video.pipeline.startswith("Wan")

    @property
    def vace_pipe(self):
        from diffusers import WanVACEPipeline

        s = self.profile.image_to_video
        if s.vace is None:
            raise InputError(f"profile '{self.profile.name}' names no VACE model (image_to_video.vace), so route "
                             f"'vace' is not open to it; use route 'first_frame', or a Wan profile (wan, wan16)")
        return wan.load(WanVACEPipeline, s.vace, self.profile, "vace", BUILDS)

    def _text(self, prompt: str | None, vace: bool = False) -> dict:
        import diffusers

        s = self.profile.image_to_video
        cls = diffusers.WanVACEPipeline if vace else getattr(diffusers, s.pipeline)
        return wan.text(cls, s.vace if vace else s.model, self.profile, "vace" if vace else "image_to_video",
                        BUILDS, prompt or s.prompt, s.guidance_scale)

    def motion_bucket(self, motion: str | None) -> int:
        """SVD's motion bucket: the profile's, or, where the profile's plugin gives the model's motion buckets (the
        mini profile's model takes the motion as its bucket), the bucket of `motion` (a caption or a motion's name;
        none: still)."""
        hooks = self.profile.plugin_module()
        if not hasattr(hooks, "motion_bucket"):
            return self.profile.image_to_video.motion_bucket_id
        return hooks.motion_bucket(motion or "still")

    def segment(self, image, seed: int = 0, num_frames: int | None = None, motion: str | None = None,
                prompt: str | None = None) -> Video:
        """One clip of `num_frames` frames animating `image` (at the image's size); `motion`: see `motion_bucket`
        (SVD); `prompt`: what the clip shows (Wan; the profile's `image_to_video.prompt` where None)."""
        p, s = self.profile, self.profile.image_to_video
        image = as_image(image)
        num_frames = check_count(num_frames if num_frames is not None else s.frames_per_segment, "frames per segment")
        if self.wan:
            return self._wan_segment(image, seed, num_frames, prompt)
        check_size(image.width, image.height, p.size_multiple, "Stable Video Diffusion")
        out = self.pipe(
            image=image, height=image.height, width=image.width, num_frames=num_frames,
            num_inference_steps=s.steps, fps=p.fps, motion_bucket_id=self.motion_bucket(motion),
            noise_aug_strength=s.noise_aug_strength, decode_chunk_size=s.decode_chunk_size,
            min_guidance_scale=s.min_guidance, max_guidance_scale=s.max_guidance,
            generator=torch.Generator("cpu").manual_seed(seed), output_type="np",
        )
        return Video.from_float(out.frames[0], p.fps)

    def _wan_segment(self, image, seed: int, num_frames: int, prompt: str | None) -> Video:
        p, s = self.profile, self.profile.image_to_video
        wan_frames(num_frames, "frames per segment")
        check_size(image.width, image.height, p.size_multiple, "Wan")
        text = self._text(prompt)
        out = self.pipe(image=image, **text, height=image.height, width=image.width, num_frames=num_frames,
                        num_inference_steps=s.steps, guidance_scale=s.guidance_scale, generator=torch.Generator("cpu").manual_seed(seed),
                        output_type="np")
        return Video.from_float(out.frames[0], p.fps)

    def continue_video(self, frames: list, new_frames: int, seed: int = 0, prompt: str | None = None) -> Video:
        """`new_frames` frames that follow `frames` (PIL images, the video so far): VACE given the last
        `vace_context` of them as kept frames, its mask open after them (route "vace" of the extension)."""
        p, s = self.profile, self.profile.image_to_video
        width, height = frames[-1].size
        check_size(width, height, p.size_multiple, "Wan VACE")
        total = _four_k_plus_one(s.vace_context + new_frames)
        context = total - new_frames  # at least vace_context: the window is 4k+1 frames
        tail = frames[-context:]
        known = {context - len(tail) + i: frame for i, frame in enumerate(tail)}
        out = wan.vace_frames(self.vace_pipe, known, total, width, height, self._text(prompt, True), steps=s.steps,
                              guidance_scale=s.guidance_scale, seed=seed)
        return Video.from_float(out[context:], p.fps)

    def redo_video(self, first, frames: list, seed: int = 0, prompt: str | None = None) -> Video:
        """A video of len(`frames`) frames that starts at `first` (the edited first frame, kept) and remakes the
        input `frames` (PIL images) under VACE's mask, in windows of `frames_per_segment` (4k+1) frames, each
        window's first frame the previous one's last (route "vace" of the editing)."""
        p, s = self.profile, self.profile.image_to_video
        first = as_image(first)
        width, height = first.size
        check_size(width, height, p.size_multiple, "Wan VACE")
        window = wan_frames(s.frames_per_segment, "frames per segment")
        made, current, k, text = [], first, 0, self._text(prompt, True)
        while len(made) < len(frames):
            start = len(made) - 1 if made else 0  # the window starts at the last frame made (kept)
            context = [fr.resize((width, height)) for fr in frames[start:start + window]]
            context += [context[-1]] * (window - len(context))
            out = wan.vace_frames(self.vace_pipe, {0: current}, window, width, height, text,
                                  steps=s.steps, guidance_scale=s.guidance_scale, seed=seed + k, context=context)
            clip = Video.from_float(out, p.fps)
            made.extend(clip.frames if not made else clip.frames[1:])
            current, k = clip.last_frame, k + 1
        return Video(np.stack(made[:len(frames)]), p.fps)

    def __call__(self, image, seed: int = 0, segments: int | None = None,
                 frames_per_segment: int | None = None, progress: bool = True,
                 motion: str | None = None, prompt: str | None = None) -> SegmentedVideo:
        p = self.profile
        segments = check_count(segments if segments is not None else p.image_to_video.segments, "segments")
        first = current = as_image(image)
        clips = []
        bar = {} if progress else {"disable": True}  # unset, tqdm honours TQDM_DISABLE=1
        for k in tqdm(range(segments), desc="image-to-video", unit="segment", leave=False, **bar):
            clips.append(self.segment(current, seed=seed + k, num_frames=frames_per_segment, motion=motion,
                                      prompt=prompt))
            current = clips[-1].last_frame
        return SegmentedVideo(first, clips)


def _four_k_plus_one(n: int) -> int:
    return (n - 1 + 3) // 4 * 4 + 1


def wan_frames(n: int, what: str) -> int:
    """`n`, where a Wan model takes it (4k+1 frames: its VAE packs 4 frames into one latent after the first)."""
    if n < 5 or n % 4 != 1:
        up = max(5, _four_k_plus_one(n))
        raise InputError(f"Wan makes 4k+1 frames (5, 9, ..., 81); {what} {n} is not one: use {up}")
    return n
