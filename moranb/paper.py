"""The paper's tables as data: Mora (arXiv 2403.13248, v3, October 2024), Tables 1, 2 and 5.

Values are as printed in the paper (two or three decimals). Column names follow `moranb.eval`'s metric names.
"""

SOURCE = "Mora: Enabling Generalist Video Generation via a Multi-Agent Framework, arXiv 2403.13248 v3 (Oct 2024)"

# Table 1, text-to-video: VQ and its six parts, temporal style, and video length in seconds.
TABLE1_COLUMNS = ["video_quality", "subject_consistency", "background_consistency", "motion_smoothness",
                  "aesthetic_quality", "dynamic_degree", "imaging_quality", "temporal_style", "seconds"]
TABLE1 = {
    "Sora": [0.797, 0.95, 0.96, 1.00, 0.60, 0.69, 0.58, 0.35, 60],
    "VideoCrafter1": [0.778, 0.95, 0.98, 0.95, 0.63, 0.55, 0.61, 0.26, 2],
    "ModelScope": [0.758, 0.89, 0.95, 0.95, 0.52, 0.66, 0.58, 0.25, 2],
    "Show-1": [0.751, 0.95, 0.98, 0.98, 0.57, 0.44, 0.59, 0.25, 3],
    "LaVie": [0.746, 0.91, 0.97, 0.96, 0.54, 0.49, 0.61, 0.26, 3],
    "Pika": [0.741, 0.96, 0.96, 0.99, 0.63, 0.37, 0.54, 0.24, 3],
    "Gen-2": [0.733, 0.97, 0.97, 0.99, 0.66, 0.18, 0.63, 0.24, 4],
    "CogVideo": [0.673, 0.92, 0.95, 0.96, 0.38, 0.42, 0.41, 0.07, 4],
    "Mora (SVD), no fine-tuning": [0.792, 0.95, 0.95, 0.99, 0.57, 0.70, 0.59, 0.26, 12],
    "Mora (OSP), fine-tuned": [0.800, 0.98, 0.97, 0.99, 0.66, 0.50, 0.70, 0.31, 12],
}

# Context beside Table 1, reported elsewhere (not the paper's, not measured by moranb): today's open video models'
# VBench Total Scores as their authors or others report them, with where. VBench's Total Score weighs its 16
# dimensions; Table 1's VQ is the mean of six: the two are different aggregates and are not compared here.
REPORTED_VBENCH_TOTAL = {
    "Wan 2.1 T2V-14B, by its authors (Feb 2025)": (
        0.8622, "the Wan 2.1 release (github.com/Wan-Video/Wan2.1), as relayed at https://aitide.news/article/326 "
                "and https://bestai.com/models/wan21"),
    "Wan 2.1, VBench leaderboard as a wiki reports it": (0.847, "https://aiwiki.ai/wiki/wan_2_1"),
}


# Table 2, the other tasks: Sora against Mora (SVD, no fine-tuning).
TABLE2 = {
    "image_to_video": {"videoti": (0.90, 0.88), "motion_smoothness": (0.99, 0.97), "dynamic_degree": (0.75, 0.75),
                       "imaging_quality": (0.63, 0.60)},
    "extend_video": {"tcon": (0.99, 0.94), "imaging_quality": (0.43, 0.39), "temporal_style": (0.24, 0.22)},
    "edit_video": {"imaging_quality": (0.52, 0.38), "temporal_style": (0.24, 0.23)},
    "connect_videos": {"imaging_quality": (0.52, 0.42), "tmean": (0.64, 0.45)},
    "simulate_digital_world": {"imaging_quality": (0.62, 0.52), "appearance_style": (0.23, 0.23)},
}
TABLE2_MODELS = ("Sora", "Mora (SVD)")


def table1_row(model: str) -> dict:
    return dict(zip(TABLE1_COLUMNS, TABLE1[model]))


# Table 5, the ablation of the training half: VQ of each variant (fine-tuned Mora, text-to-video).
TABLE5 = {
    "full": 0.800,
    "no_finetuning": 0.767,
    "no_human": 0.785,
    "no_self_modulation": 0.776,
    "random_modulation": 0.797,
}
