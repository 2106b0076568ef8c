import os
import tempfile

# Nothing in the tests may reach a model hub: a hub id must fail fast, as on any offline machine.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# VBench's cache (its weights, and the ViCLIP vocabulary moranb copies there) is a fresh folder: the tests use no
# real backbone and leave the user's cache alone.
os.environ["VBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="moranb-test-vbench-")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny():
    """The tiny profile, its models built (tests read their files as well as loading them)."""
    from moranb import get_profile
    from moranb.tiny import ensure_tiny_models

    ensure_tiny_models()
    return get_profile("tiny")


@pytest.fixture
def moving_video():
    """A synthetic 12-frame video: a bright square moving right over a gradient."""
    from moranb import Video

    h, w = 64, 96
    frames = np.zeros((12, h, w, 3), np.uint8)
    frames[..., 2] = np.linspace(0, 200, w, dtype=np.uint8)[None, None, :]
    for t in range(12):
        frames[t, 20:40, 4 + 6 * t : 24 + 6 * t, :] = 255
    return Video(frames, fps=8)
