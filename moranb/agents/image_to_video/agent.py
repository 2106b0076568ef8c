"""The image-to-video agent: Stable Video Diffusion, chained into long videos.

A long video is built from segments: segment 0 animates the input image, and each later segment animates the
previous segment's last frame (the uint8 frame as written, so what a viewer sees is what conditions the next
segment). Segment k uses seed + k.
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from ... import models
from ...checks import check_count, check_size
from ...config import Profile
from ...video import SegmentedVideo, Video, as_image
from .tiny import BUILDS



class ImageToVideoAgent:
    def __init__(self, profile: Profile):
        self.profile = profile

    @property
    def pipe(self):
        from diffusers import StableVideoDiffusionPipeline

        svd = self.profile.image_to_video
        return models.load(StableVideoDiffusionPipeline, svd.model, self.profile, "image_to_video", tiny_builds=BUILDS)

    def motion_bucket(self, motion: str | None) -> int:
        """SVD's motion bucket: the profile's, or, where the profile's plugin gives the model's motion buckets (the
        mini profile's model takes the motion as its bucket), the bucket of `motion` (a caption or a motion's name;
        none: still)."""
        hooks = self.profile.plugin_module()
        if not hasattr(hooks, "motion_bucket"):
            return self.profile.image_to_video.motion_bucket_id
        return hooks.motion_bucket(motion or "still")

    def segment(self, image, seed: int = 0, num_frames: int | None = None, motion: str | None = None) -> Video:
        """One SVD clip of `num_frames` frames animating `image` (at the image's size); `motion`: see
        `motion_bucket`."""
        p, s = self.profile, self.profile.image_to_video
        image = as_image(image)
        num_frames = check_count(num_frames if num_frames is not None else s.frames_per_segment, "frames per segment")
        check_size(image.width, image.height, p.size_multiple, "Stable Video Diffusion")
        out = self.pipe(
            image=image, height=image.height, width=image.width, num_frames=num_frames,
            num_inference_steps=s.steps, fps=p.fps, motion_bucket_id=self.motion_bucket(motion),
            noise_aug_strength=s.noise_aug_strength, decode_chunk_size=s.decode_chunk_size,
            min_guidance_scale=s.min_guidance, max_guidance_scale=s.max_guidance,
            generator=torch.Generator("cpu").manual_seed(seed), output_type="np",
        )
        return Video.from_float(out.frames[0], p.fps)

    def __call__(self, image, seed: int = 0, segments: int | None = None,
                 frames_per_segment: int | None = None, progress: bool = True,
                 motion: str | None = None) -> SegmentedVideo:
        p = self.profile
        segments = check_count(segments if segments is not None else p.image_to_video.segments, "segments")
        first = current = as_image(image)
        clips = []
        bar = {} if progress else {"disable": True}  # unset, tqdm honours TQDM_DISABLE=1
        for k in tqdm(range(segments), desc="image-to-video", unit="segment", leave=False, **bar):
            clips.append(self.segment(current, seed=seed + k, num_frames=frames_per_segment, motion=motion))
            current = clips[-1].last_frame
        return SegmentedVideo(first, clips)
