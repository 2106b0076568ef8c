"""The CLIP BPE vocabulary, found where a wheel ships it (nothing is downloaded).

One file, two readers: the tiny models' CLIP tokenizers are built from it (`moranb.tiny`), and VBench's ViCLIP reads
it from VBench's cache, where `moranb.eval.core.viclip_vocab` copies it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

CLIP_BPE = "bpe_simple_vocab_16e6.txt.gz"


def clip_bpe_path() -> Path:
    """The CLIP BPE merges file shipped in the openai-clip wheel (also in open_clip_torch)."""
    for module in ("clip", "open_clip"):
        spec = importlib.util.find_spec(module)
        if spec and spec.submodule_search_locations:
            path = Path(list(spec.submodule_search_locations)[0]) / CLIP_BPE
            if path.exists():
                return path
    raise FileNotFoundError(
        "the CLIP BPE vocabulary was not found; install it with `pip install --no-deps openai-clip`"
    )
