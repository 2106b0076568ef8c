"""What each metric means, on synthetic videos; evaluate(), the tables and the report."""

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from moranb import Video
from moranb.errors import InputError, ModelNotAvailableError
from moranb.eval import (
    Backbones,
    aesthetic_quality,
    dynamic_degree,
    evaluate,
    imaging_quality,
    motion_smoothness,
    subject_consistency,
    temporal_flickering,
    vbench_quality,
    video_quality,
)
from moranb.paper import TABLE1, TABLE1_COLUMNS


def texture(h=64, w=200, seed=0):
    rng = np.random.default_rng(seed)
    return gaussian_filter(rng.integers(0, 255, (h, w, 3)).astype(np.float32), (1.5, 1.5, 0))


def panning(step=8, frames=12):
    base = texture()
    return Video(np.stack([base[:, step * t : step * t + 96] for t in range(frames)]).astype(np.uint8), fps=8)


def static(frames=12):
    return Video(np.repeat(texture()[None, :, :96].astype(np.uint8), frames, axis=0), fps=8)


def shuffled(video, seed=0):
    order = np.random.default_rng(seed).permutation(video.num_frames)
    return Video(video.frames[order], video.fps)


def test_static_video_is_not_dynamic_and_does_not_flicker():
    video = static()
    assert dynamic_degree(video).value == 0.0
    assert temporal_flickering(video).value == pytest.approx(1.0)
    assert motion_smoothness(video).value == pytest.approx(1.0)
    assert subject_consistency(video).value == pytest.approx(1.0)


def test_panning_8px_per_frame_is_dynamic():
    assert dynamic_degree(panning(8)).value == 1.0


def test_shuffling_frames_lowers_smoothness_and_consistency():
    smooth = panning(2, frames=16)
    mixed = shuffled(smooth, seed=3)
    assert motion_smoothness(mixed).value < motion_smoothness(smooth).value - 0.01
    assert subject_consistency(mixed).value < subject_consistency(smooth).value


def test_noise_lowers_imaging_quality():
    clean = panning(2)
    rng = np.random.default_rng(1)
    noisy = Video(np.clip(clean.frames + rng.normal(0, 25, clean.frames.shape), 0, 255).astype(np.uint8), clean.fps)
    blurred = Video(np.stack([gaussian_filter(f, (2, 2, 0)) for f in clean.frames]), clean.fps)
    assert imaging_quality(noisy).value < imaging_quality(clean).value - 0.05
    assert imaging_quality(blurred).value < imaging_quality(clean).value
    assert 0.0 <= imaging_quality(noisy).value <= 1.0


def test_offline_backend_gives_no_made_up_aesthetics():
    score = aesthetic_quality(panning())
    assert score.value is None and score.backend == "offline" and "no weight-free" in score.reason
    with pytest.raises(InputError, match="no value"):
        float(score)


def test_vbench_backend_without_its_weights_names_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match=r"raft_model/models/raft-things\.pth.*backend='offline'"):
        dynamic_degree(panning(), backend="vbench", backbones=Backbones())


def test_video_quality_reproduces_the_papers_vq_column():
    for model, values in TABLE1.items():
        row = dict(zip(TABLE1_COLUMNS, values))
        assert video_quality(row) == pytest.approx(row["video_quality"], abs=0.0015), model


def test_vbench_quality_normalises_and_weights():
    perfect = {"subject_consistency": 1.0, "background_consistency": 1.0, "temporal_flickering": 1.0,
               "motion_smoothness": 0.9975, "aesthetic_quality": 1.0, "imaging_quality": 1.0, "dynamic_degree": 1.0}
    assert vbench_quality(perfect) == pytest.approx(1.0)
    assert vbench_quality(perfect | {"dynamic_degree": 0.0}) == pytest.approx(6 / 6.5)
    assert vbench_quality(perfect | {"aesthetic_quality": None}) is None


@pytest.mark.slow
def test_evaluate_task_results_writes_labelled_json(tiny, tmp_path):
    from moranb import tasks

    made = [tasks.text_to_video("a fox", profile=tiny, segments=1, frames_per_segment=4),
            tasks.connect_videos(panning(), static(), profile=tiny)]
    out = tmp_path / "eval.json"
    results = evaluate(made, backend="offline", out=out, progress=False)
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(results))
    assert [row["task"] for row in saved["videos"]] == ["text_to_video", "connect_videos"]
    for row in saved["videos"]:
        assert all(s["backend"] == "offline" for s in row["scores"].values())
        assert row["scores"]["aesthetic_quality"]["value"] is None
    assert 0 < saved["videos"][1]["scores"]["tmean"]["value"] <= 1  # the offline stand-in (pixel video features)
    assert "ViCLIP" in saved["videos"][0]["scores"]["temporal_style"]["reason"]  # no offline value, and why
    assert saved["aggregate"]["dynamic_degree"]["count"] == 2


def test_evaluate_a_folder_and_reject_unknown_metrics(tmp_path):
    (tmp_path / "sub" / "empty").mkdir(parents=True)
    panning().save(tmp_path / "a.mp4")
    static().save(tmp_path / "sub" / "b.mp4")
    results = evaluate(tmp_path, metrics=["dynamic_degree"], progress=False)
    assert {r["name"]: r["scores"]["dynamic_degree"]["value"] for r in results["videos"]} == {"a": 1.0, "sub/b": 0.0}
    with pytest.raises(InputError, match="unknown metric"):
        evaluate(tmp_path, metrics=["beauty"])
    with pytest.raises(InputError, match="no .mp4"):
        evaluate(tmp_path / "sub" / "empty")


def test_report_puts_our_numbers_beside_the_paper(tmp_path):
    from moranb.report import write_report

    results = evaluate([panning(), static()], backend="offline", progress=False)
    files = write_report(results, tmp_path)
    text = files["report"].read_text()
    assert "| Sora | 0.797 |" in text and "(offline)" in text and "n/a (offline)" in text
    assert files["table1"].read_text().splitlines()[0].startswith("model,video_quality")
    # Today's open models' VBench totals stand beside Table 1 as context, marked as reported elsewhere, each with its
    # source; they are not in Table 1's own rows or its CSV.
    assert "| Wan 2.1 T2V-14B, by its authors (Feb 2025) | 86.2% | the Wan 2.1 release" in text
    assert "reported elsewhere, not measured here" in text and "Wan" not in files["table1"].read_text()
    from PIL import Image

    with Image.open(files["chart"]) as chart:
        assert chart.size == (1000, 460)


class FakeViCLIP:
    """ViCLIP's interface (encode_vision on (1, 8, 3, 224, 224), encode_text on a string) over a tiny random net."""

    def __init__(self):
        import torch

        torch.manual_seed(7)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 16, 16), torch.nn.AdaptiveAvgPool2d(2),
                                       torch.nn.Flatten(), torch.nn.Linear(16, 8))

    def encode_vision(self, clips, test=True):
        assert clips.shape[1:] == (8, 3, 224, 224)
        return self.net(clips[0]).mean(dim=0, keepdim=True)

    def encode_text(self, text):
        import torch

        return torch.ones(1, 8)


def test_tcon_and_tmean_compare_video_features():
    from moranb.eval import tcon, tmean

    backbones = Backbones(viclip=FakeViCLIP())
    a, b = panning(2), static()
    assert tcon(a, a, "vbench", backbones).value == pytest.approx(1.0, abs=1e-6)
    ab, ba = tcon(a, b, "vbench", backbones).value, tcon(b, a, "vbench", backbones).value
    assert ab == pytest.approx(ba, abs=1e-6) and ab < 1.0
    joined = Video(np.concatenate([a.frames, b.frames]), a.fps)
    expected = (tcon(a, joined, "vbench", backbones).value + tcon(b, joined, "vbench", backbones).value) / 2
    assert tmean(a, b, joined, "vbench", backbones).value == pytest.approx(expected)
    # Offline: the pixel stand-in, a cosine that is 1 for the same video and lower for different ones.
    assert tcon(a, a).value == pytest.approx(1.0, abs=1e-6) and tcon(a, b).value < 0.9
    assert tmean(a, b, joined).value == pytest.approx((tcon(a, joined).value + tcon(b, joined).value) / 2)


def test_videoti_is_the_cosine_of_the_two_captions_embeddings():
    from moranb.eval import videoti

    vocabulary = ["a", "red", "fox", "snow", "night", "make", "it", "boat"]

    def embed(text):
        import torch

        words = text.lower().split()
        return torch.tensor([float(words.count(w)) for w in vocabulary])

    video = panning(2)
    same = videoti(video.first_frame, "make it night", video, "vbench",
                   caption=lambda image: "a red fox", embed=embed)
    # T_mix = "a red fox make it night", T_v = "a red fox": cosine of the word-count vectors.
    assert same.value == pytest.approx(3 / (np.sqrt(6) * np.sqrt(3)))
    assert videoti(video.first_frame, "make it night", video).value is None
