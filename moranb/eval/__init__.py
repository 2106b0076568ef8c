"""Evaluation: VBench's dimensions and the paper's task metrics, on `Video`s in memory or runs on disk.

    from moranb.eval import evaluate
    results = evaluate(["outputs/tiny"], backend="offline", out="outputs/tiny/eval.json")

One module per metric; `scoring` reads runs and scores them. Every score says which backend produced it ("vbench":
VBench's real backbones from its cache; "offline": weight-free stand-ins); see `moranb.eval.core`.
"""

from .aesthetic_quality import aesthetic_quality
from .appearance_style import appearance_style
from .background_consistency import background_consistency
from .core import BACKENDS, Backbones, Score
from .dynamic_degree import dynamic_degree
from .imaging_quality import imaging_quality
from .motion_smoothness import motion_smoothness
from .quality import VQ_PARTS, vbench_quality, video_quality
from .scoring import CONTEXT_METRICS, METRICS, TASK_METRICS, VIDEO_METRICS, aggregate, evaluate, read_run
from .subject_consistency import subject_consistency
from .temporal_flickering import temporal_flickering
from .temporal_style import tcon, temporal_style, tmean
from .videoti import videoti

__all__ = ["evaluate", "aggregate", "read_run", "Score", "Backbones", "BACKENDS", "METRICS", "VIDEO_METRICS",
           "CONTEXT_METRICS", "TASK_METRICS", "VQ_PARTS", "subject_consistency", "background_consistency",
           "motion_smoothness", "dynamic_degree", "aesthetic_quality", "imaging_quality", "temporal_flickering",
           "temporal_style", "appearance_style", "tcon", "tmean", "videoti", "video_quality", "vbench_quality"]
