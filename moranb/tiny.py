"""The tiny profile's models: the paper's model classes built from small configs with random, seeded weights.

Each model is the same diffusers/transformers class as its real counterpart, with schedulers and processors
configured like the real ones; each role's home builds its own (`moranb.agents.<role>.tiny`, a dict of folder name
-> builder). A tiny model is written with `save_pretrained` into a folder under `tiny_root()` where it is first
loaded (`moranb.models.from_pretrained` calls `build`) and from then on loaded with `from_pretrained`, exactly like a
model from the hub. `moranb.agents.ensure_tiny_models` builds them all (`moranb build-tiny`).

Here: where they live, the atomic build, and the small parts more than one role's models share (the CLIP text
encoder's config, the SD VAE). Tokenizers: `moranb.tokenizers`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import OutputDirError
from .tokenizers import clip_vocab_and_merges

TINY_VERSION = "v1"  # bump when a tiny config changes, so old caches are rebuilt


def tiny_root() -> Path:
    """The tiny models' folder, one sub-folder per model: $MORANB_CACHE/tiny-<version> (default ~/.cache/moranb)."""
    cache = Path(os.environ.get("MORANB_CACHE") or Path.home() / ".cache" / "moranb")
    return cache / f"tiny-{TINY_VERSION}"


def build(folder: Path, builder) -> Path:
    """`builder(tmp)` into a temporary folder beside `folder`, marked complete and renamed into place: a half-written
    model is never picked up. Nothing is built where `folder` is already complete."""
    folder = Path(folder)
    if (folder / ".complete").exists():
        return folder
    root = writable(folder.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
    try:
        builder(tmp)
        (tmp / ".complete").write_text("ok\n")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def writable(root: Path) -> Path:
    """`root`, made if missing, once it is known to be writable: before minutes of building, not after."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=root).close()
    except OSError as exc:
        raise OutputDirError(f"cannot build the tiny models in '{root}' ({exc.strerror or type(exc).__name__}); set "
                             f"$MORANB_CACHE to a writable folder or pass --dir (root=) a writable one") from None
    return root


# -- parts more than one role's tiny models use ---------------------------------------------------------------------

def seeded(seed: int = 0):
    import torch

    torch.manual_seed(seed)


def clip_text_config(with_projection: bool):
    from transformers import CLIPTextConfig

    vocab, _ = clip_vocab_and_merges()
    return CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        projection_dim=32, bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=1, hidden_act="quick_gelu" if not with_projection else "gelu", max_position_embeddings=77,
    )


def sd_vae():
    from diffusers import AutoencoderKL

    # Three blocks: 4x spatial downsampling (the real SD VAEs use four blocks and 8x).
    return AutoencoderKL(
        block_out_channels=[16, 32, 32], in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3, norm_num_groups=8,
        sample_size=64, scaling_factor=0.13025,
    )
