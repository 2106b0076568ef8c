"""Our metrics against VBench's own scoring functions: same frames, same (small, random) backbone, same score.

VBench's functions read videos from disk with decord or OpenCV; here its readers are pointed at the in-memory
frames, so both sides see exactly the same pixels. The backbones are random-weight instances of the real classes
where they are small enough for a CPU (OpenAI CLIP, RAFT, AMT-S) and small stand-in networks otherwise (for DINO
and MUSIQ, whose only role in the formula is "frame -> features" and "frame -> score").
"""

import numpy as np
import pytest
import torch

from moranb import Video
from moranb.eval import (
    Backbones,
    aesthetic_quality,
    appearance_style,
    background_consistency,
    dynamic_degree,
    imaging_quality,
    motion_smoothness,
    subject_consistency,
    temporal_flickering,
    temporal_style,
)
from moranb.eval.core import build_amt, frames_tchw
from moranb.eval.dynamic_degree import raft_scores, sampled

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def video():
    """7 frames of a smooth texture drifting right and brightening a little."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (64, 160, 3)).astype(np.float32)
    from scipy.ndimage import gaussian_filter

    base = gaussian_filter(base, (2, 2, 0))
    frames = [np.clip(base[:, 3 * t : 3 * t + 96] * (1 + 0.02 * t), 0, 255).astype(np.uint8) for t in range(7)]
    return Video(np.stack(frames), fps=8)


@pytest.fixture(scope="module")
def tiny_clip():
    import clip.model

    torch.manual_seed(0)
    model = clip.model.CLIP(embed_dim=32, image_resolution=224, vision_layers=2, vision_width=64,
                            vision_patch_size=32, context_length=77, vocab_size=49408, transformer_width=32,
                            transformer_heads=2, transformer_layers=1)
    return model.float().eval()


def feature_net(out: int = 32):
    torch.manual_seed(1)
    # Any aspect ratio in (DINO's transform keeps it), a feature vector out.
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 16, 16), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4),
                               torch.nn.Flatten(), torch.nn.Linear(8 * 16, out)).eval()


def as_vbench_video(monkeypatch, module, video):
    """Point `module.load_video` (VBench's decord reader) at our frames."""
    def load_video(path, data_transform=None, num_frames=None, return_tensor=True, **_):
        return frames_tchw(video) if return_tensor else video.frames.copy()

    monkeypatch.setattr(module, "load_video", load_video)


def test_subject_consistency_matches_vbench(monkeypatch, video):
    import vbench.subject_consistency as theirs

    net = feature_net()
    as_vbench_video(monkeypatch, theirs, video)
    expected, _ = theirs.subject_consistency(net, ["v.mp4"], "cpu", read_frame=False)
    ours = subject_consistency(video, "vbench", Backbones(dino=net))
    assert ours.backend == "vbench" and ours.value == pytest.approx(expected, abs=1e-6)


def test_background_consistency_matches_vbench(monkeypatch, video, tiny_clip):
    import vbench.background_consistency as theirs

    as_vbench_video(monkeypatch, theirs, video)
    expected, _ = theirs.background_consistency(tiny_clip, None, ["v.mp4"], "cpu", read_frame=False)
    ours = background_consistency(video, "vbench", Backbones(clip_b32=tiny_clip))
    assert ours.value == pytest.approx(expected, abs=1e-6)


def test_temporal_flickering_matches_vbench(monkeypatch, video):
    import vbench.temporal_flickering as theirs

    monkeypatch.setattr(theirs, "get_frames", lambda path: [f[..., ::-1].copy() for f in video.frames])  # cv2: BGR
    expected = theirs.cal_score("v.mp4")
    for backend in ("vbench", "offline"):
        assert temporal_flickering(video, backend).value == pytest.approx(expected, abs=1e-9)


def test_motion_smoothness_matches_vbench(video):
    from vbench.motion_smoothness import MotionSmoothness

    torch.manual_seed(2)
    amt = build_amt().eval()
    scorer = MotionSmoothness.__new__(MotionSmoothness)  # skip its checkpoint loading
    scorer.device, scorer.niters = "cpu", 1
    scorer.initialization()
    scorer.model = amt
    scorer.fp.get_frames = lambda path: list(video.frames)
    expected = scorer.motion_score("v.mp4")
    ours = motion_smoothness(video, "vbench", Backbones(amt=amt))
    assert ours.value == pytest.approx(expected, abs=1e-9)


def test_dynamic_degree_matches_vbench(video):
    from easydict import EasyDict
    from vbench.dynamic_degree import DynamicDegree
    from vbench.third_party.RAFT.core.raft import RAFT

    torch.manual_seed(3)
    raft = RAFT(EasyDict(small=False, mixed_precision=False, alternate_corr=False)).eval()
    scorer = DynamicDegree.__new__(DynamicDegree)
    scorer.device, scorer.model = "cpu", raft
    frames = sampled(video)
    scorer.get_frames = lambda path: [torch.from_numpy(f).permute(2, 0, 1).float()[None] for f in frames]
    seen = []
    check = scorer.check_move
    scorer.check_move = lambda scores: seen.append(list(scores)) or check(scores)
    expected = scorer.infer("v.mp4")
    np.testing.assert_allclose(raft_scores(frames, raft), seen[0], rtol=1e-6)
    assert dynamic_degree(video, "vbench", Backbones(raft=raft)).value == float(expected)


def test_aesthetic_quality_matches_vbench(monkeypatch, video, tiny_clip):
    import vbench.aesthetic_quality as theirs

    torch.manual_seed(4)
    head = torch.nn.Linear(32, 1).eval()
    as_vbench_video(monkeypatch, theirs, video)
    expected, _ = theirs.laion_aesthetic(head, tiny_clip, ["v.mp4"], "cpu")
    ours = aesthetic_quality(video, "vbench", Backbones(clip_l14=tiny_clip, aesthetic=head))
    assert ours.value == pytest.approx(expected, abs=1e-6)


def test_imaging_quality_matches_vbench(monkeypatch, video):
    import vbench.imaging_quality as theirs

    torch.manual_seed(5)
    scorer = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 8, 8), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                 torch.nn.Linear(4, 1)).eval()

    def score(frame):  # MUSIQ's interface: a (1, 3, H, W) frame in [0, 1] -> a 0..100 score
        with torch.no_grad():
            return 50 + 50 * torch.tanh(scorer(frame))

    as_vbench_video(monkeypatch, theirs, video)
    expected, _ = theirs.technical_quality(score, ["v.mp4"], "cpu")
    assert imaging_quality(video, "vbench", Backbones(musiq=score)).value == pytest.approx(expected, abs=1e-6)


def test_appearance_style_matches_vbench(monkeypatch, video, tiny_clip):
    import vbench.appearance_style as theirs

    as_vbench_video(monkeypatch, theirs, video)
    style = "a voxel sandbox game"
    expected, _ = theirs.appearance_style(tiny_clip, [{"auxiliary_info": {"appearance_style": style},
                                                        "video_list": ["v.mp4"]}], "cpu")
    ours = appearance_style(video, style, "vbench", Backbones(clip_b32=tiny_clip))
    assert ours.value == pytest.approx(expected, abs=1e-6)


@pytest.fixture(scope="module")
def small_viclip():
    """VBench's own ViCLIP class with small vision and text towers (its own VisionTransformer and CLIP_TEXT) and
    random weights: the real one is a ViT-L/14, too slow for a CPU test."""
    from moranb.eval.core import viclip_vocab

    vocab = viclip_vocab()  # before VBench's tokenizer module is imported, or it runs wget
    from vbench.third_party.ViCLIP import viclip
    from vbench.third_party.ViCLIP.simple_tokenizer import SimpleTokenizer
    from vbench.third_party.ViCLIP.viclip_text import CLIP_TEXT
    from vbench.third_party.ViCLIP.viclip_vision import VisionTransformer

    def vision(**kw):
        return VisionTransformer(input_resolution=224, patch_size=32, width=64, layers=2, heads=2, output_dim=32,
                                 num_frames=kw["num_frames"]).eval()

    def text(**kw):
        return CLIP_TEXT(embed_dim=32, context_length=kw["context_length"], vocab_size=kw["vocab_size"],
                         transformer_width=32, transformer_heads=2, transformer_layers=1, checkpoint_num=0).eval()

    torch.manual_seed(6)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(viclip, "clip_joint_l14", vision)
        m.setattr(viclip, "clip_text_l14", text)
        model = viclip.ViCLIP(tokenizer=SimpleTokenizer(str(vocab)), pretrain=None)
    with torch.no_grad():
        for p in model.parameters():  # some of its tensors are torch.empty until a checkpoint fills them
            p.normal_(0, 0.05)
    return model.eval()


def test_temporal_style_matches_vbench(monkeypatch, video, small_viclip):
    """VBench reads 8 'middle' frames with decord as uint8; its reader is pointed at our frames, and its own
    sampling, transform and ViCLIP calls run."""
    import vbench.temporal_style as theirs
    import vbench.utils

    long = Video(np.concatenate([video.frames, video.frames[::-1], video.frames]), fps=8)  # 21 frames: 8 sampled

    class Reader:  # decord.VideoReader's interface over `long`, with the torch bridge VBench sets
        def __init__(self, path, num_threads=1):
            pass

        def __len__(self):
            return len(long)

        def get_avg_fps(self):
            return long.fps

        def get_batch(self, index):
            return torch.from_numpy(long.frames[list(index)])

    monkeypatch.setattr(vbench.utils, "VideoReader", Reader)
    style = "a time-lapse of clouds"
    expected, _ = theirs.temporal_style(small_viclip, [{"prompt": style, "video_list": ["v.mp4"]}],
                                        small_viclip.tokenizer, "cpu")
    ours = temporal_style(long, style, "vbench", Backbones(viclip=small_viclip))
    assert ours.backend == "vbench" and ours.value == pytest.approx(expected, abs=1e-6)
    assert abs(expected) > 1e-3  # a real cosine, not a degenerate zero
