"""Every private API of another package that moranb calls, in one place, each with the version it was written against.

A private name (a leading underscore) can change in any release. Called only through here, a change breaks one
function with a clear error instead of a deep traceback somewhere in a task, and `pyproject.toml` caps each of these
packages at the release line tested (diffusers 0.42, transformers 5.x, peft 0.21, ipykernel 7.x, torch 2.x).

Written against: diffusers 0.42.1, transformers 5.24.0, ipykernel 7.4.0, torch 2.14.1.
"""

from __future__ import annotations

from .errors import MoranbError


class CompatError(MoranbError):
    """A private API moranb relies on is gone or changed in the installed version of its package."""


def _missing(owner, name: str, package: str, tested: str):
    raise CompatError(f"{type(owner).__name__ if not isinstance(owner, type) else owner.__name__} has no '{name}' in "
                      f"the installed {package}; moranb was written against {package} {tested}: install that release "
                      f"line (pip install '{package}=={tested.rsplit('.', 1)[0]}.*')")


def _method(owner, name: str, package: str = "diffusers", tested: str = "0.42.1"):
    method = getattr(owner, name, None)
    if method is None:
        _missing(owner, name, package, tested)
    return method


# -- diffusers 0.42.1 ----------------------------------------------------------------------------------------------

def svd_encode_image(pipe, image, device, num_videos: int, guidance: bool):
    """StableVideoDiffusionPipeline._encode_image: the CLIP image embedding (B, 1, D), the negative first if
    `guidance`."""
    return _method(pipe, "_encode_image")(image, device, num_videos, guidance)


def svd_encode_vae_image(pipe, pixels, device, num_videos: int, guidance: bool):
    """StableVideoDiffusionPipeline._encode_vae_image: the conditioning image's VAE latents (mode, unscaled)."""
    return _method(pipe, "_encode_vae_image")(pixels, device, num_videos, guidance)


def svd_add_time_ids(pipe, fps: int, motion_bucket_id: int, noise_aug_strength: float, dtype, batch: int,
                     num_videos: int, guidance: bool):
    """StableVideoDiffusionPipeline._get_add_time_ids: (fps, motion bucket, noise augmentation)."""
    return _method(pipe, "_get_add_time_ids")(fps, motion_bucket_id, noise_aug_strength, dtype, batch, num_videos,
                                               guidance)


def svd_resize_with_antialiasing(pixels, size: tuple[int, int]):
    """diffusers' SVD module's `_resize_with_antialiasing` (what `_encode_image` does to a tensor before CLIP)."""
    from diffusers.pipelines.stable_video_diffusion import pipeline_stable_video_diffusion as svd

    return _method(svd, "_resize_with_antialiasing")(pixels, size)


def sdxl_add_time_ids(pipe, *args, **kwargs):
    """StableDiffusionXL(Img2Img)Pipeline._get_add_time_ids: the micro-conditioning ids (base: 6, refiner: 5 and the
    negative's)."""
    return _method(pipe, "_get_add_time_ids")(*args, **kwargs)


def pix2pix_encode_prompt(pipe, prompt, device, num_images: int, guidance: bool):
    """StableDiffusionInstructPix2PixPipeline._encode_prompt: text states (prompt, negative, negative) with guidance."""
    return _method(pipe, "_encode_prompt")(prompt, device, num_images, guidance)


def ltx_normalize_latents(pipe, latents):
    """LTXConditionPipeline._normalize_latents with the VAE's own mean and std (what its `prepare_latents` does)."""
    return _method(pipe, "_normalize_latents")(latents, pipe.vae.latents_mean, pipe.vae.latents_std)


def ltx_pack_latents(pipe, latents):
    """LTXConditionPipeline._pack_latents: (B, C, F, H, W) -> tokens, with the transformer's patch sizes."""
    return _method(pipe, "_pack_latents")(latents, pipe.transformer_spatial_patch_size,
                                          pipe.transformer_temporal_patch_size)


def ltx_prepare_latents(pipe, *args, **kwargs):
    """LTXConditionPipeline.prepare_latents (public, but its 4-tuple return is not a documented contract):
    (tokens, conditioning mask, video coordinates, number of extra conditioning tokens)."""
    out = pipe.prepare_latents(*args, **kwargs)
    if not isinstance(out, tuple) or len(out) != 4:
        raise CompatError(f"LTXConditionPipeline.prepare_latents returned {type(out).__name__} of "
                          f"{len(out) if isinstance(out, tuple) else 1} values, not the 4 of diffusers 0.42.1 "
                          f"(latents, conditioning mask, video coords, extra tokens); install diffusers 0.42.*")
    return out


def group_offload_enabled(module) -> bool:
    """diffusers.hooks.group_offloading._is_group_offload_enabled: whether `module` already carries the hooks."""
    from diffusers.hooks import group_offloading

    return _method(group_offloading, "_is_group_offload_enabled")(module)


def repeated_blocks(module) -> tuple:
    """ModelMixin._repeated_blocks: the block classes a model names for regional compilation (empty: none)."""
    return tuple(getattr(module, "_repeated_blocks", None) or ())


# -- transformers 5.24.0 ------------------------------------------------------------------------------------------

def auto_model_class():
    """transformers' `_BaseAutoModelClass` (AutoModel..., which take `use_safetensors`). Fails closed: without it the
    caller cannot tell that an Auto class loads weights, and moranb then refuses rather than skip the safetensors
    guard."""
    try:
        from transformers.models.auto.auto_factory import _BaseAutoModelClass
    except ImportError:
        raise CompatError("transformers.models.auto.auto_factory._BaseAutoModelClass is gone in the installed "
                          "transformers, so moranb cannot enforce safetensors-only loading for Auto classes; install "
                          "transformers 5.x (tested: 5.24.0)") from None
    return _BaseAutoModelClass


# -- torch 2.14.1 ---------------------------------------------------------------------------------------------------

def dispatch_mode():
    """torch.utils._python_dispatch.TorchDispatchMode: sees every op's output (the meta-device memory profiler)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    return TorchDispatchMode


def tree_leaves(tree):
    """torch.utils._pytree.tree_leaves."""
    from torch.utils import _pytree

    return _pytree.tree_leaves(tree)


# -- ipykernel 7.4.0 ------------------------------------------------------------------------------------------------

def subshell_support() -> bool:
    """Whether this ipykernel routes a comm's replies to a subshell (7.4's `BaseComm._reply_subshell_for`,
    `SubshellManager._create_subshell`/`_delete_subshell`)."""
    try:
        from ipykernel.comm.comm import BaseComm
        from ipykernel.subshell_manager import SubshellManager
    except ImportError:
        return False
    return hasattr(BaseComm, "_reply_subshell_for") and all(
        hasattr(SubshellManager, name) for name in ("_create_subshell", "_delete_subshell"))


def create_subshell(manager):
    return _method(manager, "_create_subshell", "ipykernel", "7.4.0")()


def delete_subshell(manager, subshell) -> None:
    _method(manager, "_delete_subshell", "ipykernel", "7.4.0")(subshell)


def route_comm_to(comm, subshell) -> None:
    """Send the frontend's messages for `comm` to `subshell` (ipykernel 7.4 asks `comm._reply_subshell_for`)."""
    comm._reply_subshell_for = lambda data, default: subshell


def unroute_comm(comm) -> None:
    comm.__dict__.pop("_reply_subshell_for", None)


def can_publish_status(kernel) -> bool:
    return hasattr(kernel, "_publish_status")


def publish_status(kernel, status: str, channel: str = "shell") -> None:
    """IPythonKernel._publish_status: announce the kernel busy or idle on a channel."""
    _method(kernel, "_publish_status", "ipykernel", "7.4.0")(status, channel)
