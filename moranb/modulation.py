"""Self-modulation (Mora, Oct 2024): one trainable token z_i per agent, appended to the agent's conditioning.

The paper writes agent i's conditioning as e_i = [E_i(P_enh); z_i]: the enhanced prompt's embedding with the
modulation embedding concatenated. Here z_i is one extra token at the end of the sequence the denoiser attends to
(`encoder_hidden_states`), appended by a forward pre-hook on the denoiser, so training and inference go through the
same code and every diffusers pipeline works unchanged:

- text-to-image (SDXL): after the two text encoders' concatenated states (77 tokens of 2048 on the real model). The
  pooled embedding SDXL also needs is the prompt's own; z_i has no pooled twin (the pooled vector is one global
  vector, nothing can be appended to it, and the pipeline computes it from the prompt as before).
- image-to-video (SVD): beside the image embedding (SVD attends to one CLIP image token; with z_i it attends to two).
  SVD has no text encoder, so "E_i([Mod])" is its own encoder, the CLIP image encoder, applied to the token rendered
  as an image.

The self-modulation factor alpha_i = ||z_i||_2 / n scales agent i's learning rate. n = sqrt(dim z_i): alpha_i is then
the root mean square of z_i, the same scale for agents whose embeddings differ in width (2048 for SDXL, 1024 for
SVD), and a token of unit RMS (the scale a normalised encoder output has) trains at the paper's base rate.
"""

from __future__ import annotations

import math

import torch

MOD_TOKEN = "[Mod]"


class Modulation(torch.nn.Module):
    """z_i, a trainable vector of the width of the agent's conditioning tokens."""

    def __init__(self, z: torch.Tensor):
        super().__init__()
        self.z = torch.nn.Parameter(z.detach().reshape(-1).to(torch.float32).clone())

    @property
    def alpha(self) -> float:
        """||z||_2 / sqrt(dim): the self-modulation factor (see the module's docstring for the normalisation)."""
        z = self.z.detach().float()
        return float(z.norm() / math.sqrt(z.numel()))

    def append(self, states: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, L + 1, D), z last."""
        z = self.z.to(device=states.device, dtype=states.dtype)
        return torch.cat([states, z.expand(states.shape[0], 1, -1)], dim=1)

    def attach(self, denoiser: torch.nn.Module):
        """Append z to every call's `encoder_hidden_states` (and extend its attention mask); returns the hook's
        handle (`handle.remove()` detaches it)."""

        def hook(module, args, kwargs):
            if kwargs.get("encoder_hidden_states") is not None:
                kwargs["encoder_hidden_states"] = self.append(kwargs["encoder_hidden_states"])
            elif len(args) > 2:
                args = (*args[:2], self.append(args[2]), *args[3:])
            else:
                raise TypeError(f"{type(module).__name__} was called without encoder_hidden_states; the modulation "
                                f"token has nothing to join")
            mask = kwargs.get("encoder_attention_mask")
            if mask is not None:
                kwargs["encoder_attention_mask"] = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
            return args, kwargs

        return denoiser.register_forward_pre_hook(hook, with_kwargs=True)


def random_init(dim: int, seed: int) -> torch.Tensor:
    """The ablation's "random-initialised modulation": N(0, 1) per element (alpha about 1)."""
    return torch.randn(dim, generator=torch.Generator("cpu").manual_seed(seed))
