"""Models at their published sizes on the meta device: shapes, no memory, no download.

`Part` is one model of a pipeline (its class and published config); `build` makes it on the meta device (a second
or two), `count` counts its parameters. A wiring check (each role's `moranb.agents.<role>.realsize.check`) pushes
meta tensors through the models wired the way the agent wires them, marking each agent step with `stage`; inside
`recording()` each step's peak of live activation bytes is measured (`moranb.realsize.measure`, `moranb.plan`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from . import _compat
from .errors import InputError


# -- published configs more than one role's models use ------------------------------------------------------------

CLIP_VOCAB = 49408  # the CLIP BPE vocabulary (moranb.tokenizers builds the same tokenizer offline)

# SDXL's first text encoder and Stable Diffusion 1.5's (InstructPix2Pix's): OpenAI CLIP ViT-L/14's text tower.
CLIP_L_TEXT = dict(vocab_size=CLIP_VOCAB, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                   num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
                   bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
# The SD VAE (SDXL's, SD 1.5's): 8x spatial downsampling, 4 latent channels.
SD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
              layers_per_block=2, down_block_types=["DownEncoderBlock2D"] * 4,
              up_block_types=["UpDecoderBlock2D"] * 4, act_fn="silu", norm_num_groups=32)


@dataclass(frozen=True)
class Part:
    """One model of a pipeline: its class (module:name), its published config, what it is."""

    D, T = "diffusers", "transformers"  # the two packages a class comes from

    cls: str
    config: dict
    about: str
    # The parameter count of the real checkpoint, where known: the denoisers and T5 measured on the published
    # weights, the others as their model cards give them, to the digits given there.
    published: float | None = None

    def load_class(self):
        import importlib

        module, name = self.cls.split(":")
        return getattr(importlib.import_module(module), name)


def lookup(catalogue: dict, source: str, component: str) -> Part:
    """The published architecture of `component` of the model `source` in `catalogue` (hub id -> component -> Part)."""
    if source not in catalogue:
        raise InputError(f"no real-size architecture known for model '{source}'; moranb knows {sorted(catalogue)} (a "
                         f"profile pointing at a local copy: give its Hugging Face id to moranb.plan, or add its "
                         f"config to its role's home, moranb.agents.<role>.realsize)")
    components = catalogue[source]
    if component not in components:
        raise InputError(f"model '{source}' has no component '{component}' here; it has {sorted(components)}")
    return components[component]


def config_object(p: Part):
    """The class's config object (transformers) or config dict (diffusers) for `p`."""
    cls = p.load_class()
    if cls.__module__.startswith("diffusers"):
        return dict(p.config)
    return cls.config_class(**p.config)


def build(p: Part, device: str = "meta", dtype=None):
    """The model `p` describes at its published size, on `device` (default meta: shapes, no memory).

    On a real device the weights are random (the classes' own initialisation); the GPU benchmark saves them with
    `save_pretrained` and loads them back through `moranb.models.from_pretrained`.
    """
    import torch

    cls = p.load_class()
    config = config_object(p)
    with torch.device(device):
        model = cls.from_config(config) if isinstance(config, dict) else cls(config)
    # A few parameters are made by legacy constructors that ignore the device context (SVD's AlphaBlender's
    # torch.Tensor([alpha])); nn.Module.to moves them too (diffusers' own `to` would warn about fp32 modules).
    torch.nn.Module.to(model, device=device, dtype=dtype)
    return model.eval()


def build_from(catalogue: dict, source: str, component: str, dtype=None):
    """`component` of `source`, looked up in `catalogue` (a role's ARCHITECTURES), on the meta device."""
    return build(lookup(catalogue, source, component), dtype=dtype)


def count(p: Part) -> int:
    """Parameters of the model `p` describes at its published size (built on the meta device: no memory).

    Tied weights (Qwen's tied input and output embeddings) are counted once, as `num_parameters()` does.
    """
    model = build(p)
    return sum(p.numel() for p in model.parameters())


@dataclass
class Stage:
    """One step of an agent on the GPU: which models it needs there, and the activations it holds at its peak."""

    field: str  # the profile's name of the agent's model ("text_to_image", "refiner", ...)
    label: str
    models: tuple  # (model name, component) pairs whose weights this step needs on the GPU
    activation_bytes: int = 0
    upcast: bool = False  # run in float32 although the profile says fp16 (diffusers' VAE force_upcast)


_RECORDING: list | None = None  # the stages of the check being measured, or None (the check alone)


@contextmanager
def recording():
    """Inside, every `stage` records its peak activations; yields the list the stages are appended to."""
    global _RECORDING
    _RECORDING = []
    try:
        yield _RECORDING
    finally:
        _RECORDING = None


class _LiveBytes:
    """The peak of the bytes held by live tensors made inside it: a dispatch mode that sees every op's output
    (meta tensors have a size, no memory), counts each storage once and forgets it when its last tensor dies.

    Attention goes through `scaled_dot_product_attention` as a fused kernel would on a GPU (flash or memory
    efficient: the output only, no N x N matrix); on the meta device it would otherwise decompose into the math
    path and count a matrix no GPU run makes.
    """

    def __enter__(self):
        import weakref

        import torch
        import torch.nn.functional as F
        from torch.overrides import TorchFunctionMode

        tracker = self
        self.live, self.now, self.peak = {}, 0, 0

        def release(key):
            entry = tracker.live.get(key)
            if entry is not None:
                entry[0] -= 1
                if entry[0] == 0:
                    tracker.now -= entry[1]
                    del tracker.live[key]

        class Count(_compat.dispatch_mode()):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in _compat.tree_leaves(out):
                    if isinstance(t, torch.Tensor):
                        key = t.untyped_storage()._cdata
                        if key not in tracker.live:
                            tracker.live[key] = [0, t.untyped_storage().nbytes()]
                            tracker.now += tracker.live[key][1]
                            tracker.peak = max(tracker.peak, tracker.now)
                        tracker.live[key][0] += 1
                        weakref.finalize(t, release, key)
                return out

        class FusedAttention(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                if func is F.scaled_dot_product_attention:
                    named = dict(zip(("query", "key", "value"), args), **(kwargs or {}))
                    q, v = named["query"], named["value"]
                    return q.new_empty(q.shape[:-1] + (v.shape[-1],))
                return func(*args, **(kwargs or {}))

        self._modes = [FusedAttention(), Count()]
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc):
        for mode in reversed(self._modes):
            mode.__exit__(*exc)


class stage:
    """Marks one agent step inside a check; while `measure` runs, records the step's peak activations."""

    def __init__(self, field: str, label: str, *models, upcast: bool = False):
        self.stage = Stage(field, label, tuple(models), upcast=upcast)
        # Bytes the step holds beside what runs inside (a part measured for the whole: one tile of a tiled decode,
        # the other tiles' outputs counted from their shapes).
        self.extra_bytes = 0

    def __enter__(self):
        self.tracker = _LiveBytes().__enter__() if _RECORDING is not None else None
        return self

    def __exit__(self, *exc):
        if self.tracker is not None:
            self.tracker.__exit__(*exc)
            self.stage.activation_bytes = self.tracker.peak + self.extra_bytes
            _RECORDING.append(self.stage)


class WiringError(InputError):
    """Two real-size models the agents connect do not fit together (a width, a channel count, a time id)."""


def expect(what: str, got, want):
    if tuple(got) != tuple(want):
        raise WiringError(f"{what}: got shape {tuple(got)}, expected {tuple(want)}; the profile's models do not "
                          f"fit together as the agents connect them (see moranb.agents.<role>.realsize)")
    return f"{what}: {tuple(got)}"


def meta(*shape, dtype=None):
    import torch

    return torch.empty(*shape, device="meta", dtype=dtype or torch.float16)


def dtype_of(profile, field: str):
    return profile.model(field).torch_dtype(profile)
