"""Will it fit? GPU memory of a profile before its 45 GB of weights are downloaded.

    moranb plan --profile lowvram --gpu-gb 16        # Python: moranb.plan.plan("lowvram", gpu_gb=16).table()

- **Weights**: each model's parameter count (`moranb.realsize`, the published architectures built on the meta
  device) x the bytes of the dtype the profile loads it in (fp16/bf16: 2, fp32: 4). Exact, given the configs.
- **Activations** (an estimate): each agent step (a text encoder, one denoiser step, a VAE encode or decode) is run
  on the meta device at the profile's own sizes (1024x576, 25 frames, the decode chunk), and the peak of the bytes
  held by live tensors is taken (`moranb.realsize.measure`), with attention counted as a fused GPU kernel computes
  it (no N x N matrix) and VAEs in float32 where diffusers upcasts them. To that: +20 % and 1 GiB for what shapes
  cannot see (the CUDA context, cuBLAS/cuDNN workspaces, the caching allocator's slack). The prompt LLM's and the
  judges' own activations (a few hundred tokens, k frame strips) are not measured.
- **Placement** (the profile's `offload`, `moranb.config.OFFLOAD`): with `none` (`full`) every model a task loads
  stays on the GPU for the life of the process (`moranb.models` keeps one copy of each), so the peak is all the
  weights plus the largest step's activations. With `model` (`lowvram`) only the running model is on the GPU and
  the prompt LLM runs on the CPU, so the peak is the largest single step: its model's weights plus its activations.
  With `group` the running model's layers stream through the GPU one ahead of use: a step holds about its two
  largest layers. The judges (a data-free training round) are moved onto the GPU only while they judge, one at a
  time, on top of whatever the placement keeps there.
- **A GPU without bfloat16** (`bf16=False`, `--no-bf16`: a T4): the models a profile runs in bfloat16 (LTX-Video,
  with its T5-XXL) load in float32 instead (`moranb.config.Model.torch_dtype`), streamed where the profile offloads.

`benchmarks/bench_gpu.py` measures the same on a GPU; where the two differ, the measurement wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import realsize
from .agents import ROLES
from .config import OFFLOAD, Profile, get_profile
from .errors import InputError

GiB = 2**30
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4}
ACTIVATION_MARGIN = 1.2  # activations x this ...
OVERHEAD_GIB = 1.0  # ... + this: CUDA context, library workspaces, allocator slack

# The components each agent loads, by the name of its model in the profile (moranb.config.MODELS); each role's
# home says which.
COMPONENTS = {field: parts for role in ROLES.values() for field, parts in role.components.items()}
JUDGES = tuple(ROLES["judge"].components)  # judge_a, judge_b


@dataclass
class ModelMemory:
    field: str  # the name of the model in the profile (moranb.config.MODELS)
    source: str
    component: str
    about: str
    params: int
    dtype: str
    on_gpu: str  # "always", "while running" or "never (CPU)"

    @property
    def gib(self) -> float:
        return self.params * DTYPE_BYTES[self.dtype] / GiB


@dataclass
class StepMemory:
    label: str
    weights_gib: float  # on the GPU during the step
    activations_gib: float  # measured on the meta device, before the margin

    @property
    def total_gib(self) -> float:
        return self.weights_gib + self.activations_gib * ACTIVATION_MARGIN + OVERHEAD_GIB


@dataclass
class Plan:
    profile: str
    placement: str
    gpu_gb: float
    models: list[ModelMemory]
    steps: list[StepMemory]
    peak_gib: float  # the six tasks
    peak_step: str
    round_peak_gib: float | None  # a data-free training round (the tasks, and a judge while it judges); None: no judge model
    notes: list[str] = field(default_factory=list)

    @property
    def weights_gib(self) -> float:
        """All the weights the tasks load (the judges apart)."""
        return sum(m.gib for m in self.models if m.field not in JUDGES)

    @property
    def judges_gib(self) -> float:
        return sum(m.gib for m in self.models if m.field in JUDGES)

    @property
    def fits(self) -> bool:
        return self.peak_gib <= self.gpu_gb

    def verdict(self, peak: float | None = None) -> str:
        peak = self.peak_gib if peak is None else peak
        spare = self.gpu_gb - peak
        if spare < 0:
            return f"does not fit in {self.gpu_gb:g} GiB of GPU memory ({-spare:.1f} GiB short)"
        return f"fits in {self.gpu_gb:g} GiB of GPU memory ({spare:.1f} GiB to spare{', tight' if spare < 1 else ''})"

    def table(self) -> str:
        lines = [f"### moranb plan: profile `{self.profile}`, {self.placement}", "",
                 "| agent | model | parameters | dtype | weights (GiB) | on the GPU |", "|---|---|---|---|---|---|"]
        for m in self.models:
            lines.append(f"| {m.field} | {m.about} | {m.params / 1e9:.3f} B | {m.dtype} | {m.gib:.2f} | {m.on_gpu} |")
        lines.append(f"| **tasks, all weights** | | {sum(m.params for m in self.models if m.field not in JUDGES) / 1e9:.2f}"
                     f" B | | **{self.weights_gib:.2f}** | |")
        if self.judges_gib:
            lines.append(f"| **judges** | | {sum(m.params for m in self.models if m.field in JUDGES) / 1e9:.2f} B | | "
                         f"**{self.judges_gib:.2f}** | |")
        lines += ["", "| step | weights on the GPU (GiB) | activations (GiB, measured) | peak (GiB, estimate) |",
                  "|---|---|---|---|"]
        for s in self.steps:
            lines.append(f"| {s.label} | {s.weights_gib:.2f} | {s.activations_gib:.2f} | {s.total_gib:.2f} |")
        lines += ["", f"**Peak, the six tasks: {self.peak_gib:.1f} GiB** ({self.peak_step}): {self.verdict()}."]
        if self.round_peak_gib is not None:
            lines.append(f"Peak, a data-free training round (a judge on the GPU while it judges): "
                         f"{self.round_peak_gib:.1f} GiB: {self.verdict(self.round_peak_gib)}.")
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def plan(profile: str | Profile = "lowvram", gpu_gb: float = 16.0, bf16: bool = True) -> Plan:
    """The GPU memory `profile` needs: weights per model, per step and at its peak, against a `gpu_gb` GiB GPU
    (`bf16=False`: one without native bfloat16, such as a T4)."""
    if not isinstance(gpu_gb, (int, float)) or isinstance(gpu_gb, bool) or not gpu_gb > 0:
        raise InputError(f"gpu_gb must be a positive number of GiB (a 16 GB T4 has 15 GiB); got {gpu_gb!r}")
    profile = get_profile(profile)
    if profile.name == "tiny":
        raise InputError("the tiny profile runs on a CPU with small models and needs no plan; plan the real models "
                         "with profile 'full' or 'lowvram'")
    offload = profile.offload if profile.device != "cpu" else "none"
    models = []
    for agent, components in COMPONENTS.items():
        if agent == "llm" and profile.prompt.backend != "transformers":
            continue
        if agent in JUDGES and profile.judge.backend != "transformers":
            continue
        model = profile.model(agent)
        if model is None:  # no refiner
            continue
        dtype = model.dtype or profile.dtype
        fallback = dtype == "bfloat16" and not bf16
        dtype = "float32" if fallback else dtype
        if agent == "llm" and offload != "none":
            on_gpu = "never (CPU)"  # moranb.models.load_llm: with offload the LLM runs on the CPU
        elif agent in JUDGES:
            on_gpu = "while judging"  # moranb.models.on_device
        elif offload == "group" or (offload == "model" and fallback):
            on_gpu = STREAMED
        else:
            on_gpu = "always" if offload == "none" else "while running"
        for component in components:
            p = realsize.part(model.source, component)
            models.append(ModelMemory(agent, model.source, component, p.about,
                                      _count(model.source, component), dtype, on_gpu))
    by_key = {(m.field, m.component): m for m in models}
    resident = sum(m.gib for m in models if m.on_gpu == "always")
    steps = []
    for stage in realsize.measure(profile):
        if not all(key in by_key for key in stage.models):
            continue  # an agent the profile does not load (no refiner)
        running = [by_key[key] for key in stage.models]
        upcast_extra = sum(m.params * (4 - DTYPE_BYTES[m.dtype]) / GiB for m in running) if stage.upcast else 0.0
        weights = resident + upcast_extra
        for m in running:
            if m.on_gpu == "while running":
                weights += m.gib
            elif m.on_gpu == STREAMED:  # the layer computing and the next one, prefetched
                weights += 2 * _largest_layer(m.source, m.component) * DTYPE_BYTES[m.dtype] / GiB
        steps.append(StepMemory(stage.label, weights, stage.activation_bytes / GiB))
    top = max(steps, key=lambda s: s.total_gib)
    judges = [m for m in models if m.field in JUDGES]
    largest_judge = max((sum(m.gib for m in judges if m.field == j) for j in JUDGES), default=0.0)
    notes = [
        "weights: parameters x dtype bytes, exact for the published configs (moranb.realsize); activations: peak "
        "of live tensors in one step, measured on the meta device at the profile's sizes with fused attention; "
        f"a step's peak = weights + activations x {ACTIVATION_MARGIN} + {OVERHEAD_GIB:g} GiB (CUDA context, "
        "workspaces, allocator): an estimate, benchmarks/bench_gpu.py measures it",
        "the judges' and the prompt LLM's own activations are not measured (a few hundred tokens and k images)",
    ]
    if offload == "group" or any(m.on_gpu == STREAMED for m in models):
        notes.append("streamed models: the two largest layers on the GPU at a time (leaf-level group offload with "
                     "a CUDA stream prefetching the next); their weights live in pinned CPU memory")
    if not bf16:
        notes.append("a GPU without bfloat16: the bfloat16 models load in float32 (twice the bytes), streamed "
                     "where the profile offloads")
    placement = OFFLOAD[offload].split(" (")[0] if offload != "none" else f"every model on the {profile.device} GPU"
    if offload == "model":
        placement += ", the prompt LLM on the CPU"
    return Plan(profile.name, placement, float(gpu_gb), models, steps, top.total_gib, top.label,
                max(top.total_gib, resident + largest_judge + OVERHEAD_GIB) if judges else None, notes)


STREAMED = "streamed (layer by layer)"
_LARGEST: dict[tuple[str, str], int] = {}


def _largest_layer(source: str, component: str) -> int:
    """Parameters of the model's largest leaf module (what leaf-level group offload moves at once)."""
    if (source, component) not in _LARGEST:
        model = realsize.build(source, component)  # meta device: no memory
        _LARGEST[(source, component)] = max(sum(p.numel() for p in m.parameters(recurse=False))
                                            for m in model.modules())
    return _LARGEST[(source, component)]


_COUNTS: dict[tuple[str, str], int] = {}


def _count(source: str, component: str) -> int:
    if (source, component) not in _COUNTS:
        _COUNTS[(source, component)] = realsize.count(source, component)
    return _COUNTS[(source, component)]
