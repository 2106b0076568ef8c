"""The aggregate scores: the paper's Video Quality and VBench's normalised quality score."""

from __future__ import annotations

import numpy as np

# The paper's VQ (Appendix A.2): the unweighted mean of these six.
VQ_PARTS = ("subject_consistency", "background_consistency", "motion_smoothness", "aesthetic_quality",
            "dynamic_degree", "imaging_quality")

# VBench's leaderboard normalisation (x - Min) / (Max - Min), from its scripts' NORMALIZE_DIC.
NORMALIZE = {
    "subject_consistency": (0.1462, 1.0), "background_consistency": (0.2615, 1.0),
    "temporal_flickering": (0.6293, 1.0), "motion_smoothness": (0.706, 0.9975), "dynamic_degree": (0.0, 1.0),
    "aesthetic_quality": (0.0, 1.0), "imaging_quality": (0.0, 1.0), "appearance_style": (0.0009, 0.2855),
    "temporal_style": (0.0, 0.364),
}
QUALITY_WEIGHTS = {"subject_consistency": 1, "background_consistency": 1, "temporal_flickering": 1,
                   "motion_smoothness": 1, "aesthetic_quality": 1, "imaging_quality": 1, "dynamic_degree": 0.5}


def video_quality(values: dict) -> float | None:
    """The paper's VQ from per-dimension values; None unless all six are there."""
    parts = [values.get(name) for name in VQ_PARTS]
    return None if any(v is None for v in parts) else float(np.mean(parts))


def normalized(name: str, value: float) -> float:
    low, high = NORMALIZE[name]
    return (value - low) / (high - low)


def vbench_quality(values: dict) -> float | None:
    """VBench's quality score: sum of weighted normalised dimensions / sum of weights (6.5); None if one is missing."""
    if any(values.get(name) is None for name in QUALITY_WEIGHTS):
        return None
    total = sum(w * normalized(name, values[name]) for name, w in QUALITY_WEIGHTS.items())
    return float(total / sum(QUALITY_WEIGHTS.values()))
