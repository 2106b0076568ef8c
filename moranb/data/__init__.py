"""Data-free training data (the Oct 2024 Mora): rounds of LLM-written prompts, candidate videos and two MLLM judges,
a person for the sets the judges disagree on, and the accepted samples as a dataset.

    from moranb import data
    r = data.synthesize_round("outputs/data", round=1, profile="tiny")   # prompts -> candidates -> judges
    data.FilterPanel(r.dir)                                             # a person decides the queued sets
    data.resolve_queue(r.dir, policy="judge_a")                         # ... or a file / a policy, headless
    ds = data.build_dataset("outputs/data")                             # metadata.jsonl, videos, first frames
"""

from .dataset import Dataset, EmptyDatasetError, Sample, build_dataset
from .decisions import POLICIES, Decision, pending, read_decisions, record_decision, resolve_queue
from .panel import FilterPanel, contact_sheet
from .round import CandidateSet, RoundResult, prompts_in_round, round_dir, round_prompts, synthesize_round

__all__ = ["Dataset", "EmptyDatasetError", "Sample", "build_dataset", "POLICIES", "Decision", "pending",
           "read_decisions", "record_decision", "resolve_queue", "FilterPanel", "contact_sheet", "CandidateSet",
           "RoundResult", "prompts_in_round", "round_dir", "round_prompts", "synthesize_round"]
