"""The paper's training half: self-modulated multi-agent fine-tuning on the data-free training dataset.

    from moranb.train import finetune
    result = finetune("outputs/data/dataset", profile="tiny", out="outputs/finetune")
    profile = get_profile("tiny", adapters=result.adapters)   # every task now uses the fine-tuned agents
"""

from .loop import FineTuner, TrainConfig, TrainResult, finetune, open_dataset, plot_history
from ..modulation import Modulation

__all__ = ["FineTuner", "Modulation", "TrainConfig", "TrainResult", "finetune", "open_dataset", "plot_history"]
