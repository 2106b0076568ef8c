"""Will it fit? GPU and CPU memory of a profile before its 45 GB of weights are downloaded.

    moranb plan --profile lowvram --gpu-gb 16 --ram-gb 32   # Python: moranb.plan.plan("lowvram", 16, ram_gb=32)
    moranb plan --profile colab --gpu-gb 15 --ram-gb 12.7   # a free Colab T4

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
- **CPU memory**: the process itself (`CPU_BASE_GIB`: Python, torch, the CUDA libraries and context on the host
  side, an estimate) plus the weights the placement keeps in CPU memory during a step. `none`: none kept, but a
  pipeline passes through CPU memory whole while it loads (from_pretrained, then .to(GPU)): the largest one is the
  CPU's peak. `model` and `group`: every model the tasks have loaded waits in CPU memory (pinned, for `group`), and
  the prompt LLM runs there. `sequential`: each model loads from its memory-mapped safetensors straight onto the
  GPU (the page cache the kernel may drop is not counted), so the CPU holds only the process; the judges load on
  the CPU and move to the GPU to judge, one at a time.
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
CPU_BASE_GIB = 3.0  # the process in CPU memory: Python, torch and diffusers, the CUDA libraries (an estimate)
# Models the transformers library keeps partly in float32 when loaded in float16: T5's feed-forward output layers
# (T5's _keep_in_fp32_modules, which it needs in fp16 to not overflow).
KEEP_FP32 = {"T5EncoderModel": ("wo",)}

# The components each agent loads, by the name of its model in the profile (moranb.config.MODELS); each role's
# home says which (`Role.components_of`: a Wan model's differ from its role's first model's).
COMPONENTS = {field: parts for role in ROLES.values() for field, parts in role.components.items()}
ROLE_OF = {field: role for role in ROLES.values() for field in role.components}
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
    fp32_params: int = 0  # of `params`, kept in float32 all the same (KEEP_FP32: T5's in float16)

    @property
    def gib(self) -> float:
        return ((self.params - self.fp32_params) * DTYPE_BYTES[self.dtype] + self.fp32_params * 4) / GiB


@dataclass
class StepMemory:
    label: str
    weights_gib: float  # on the GPU during the step
    activations_gib: float  # measured on the meta device, before the margin
    cpu_gib: float = CPU_BASE_GIB  # CPU memory during the step: the process and the weights kept there

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
    ram_gb: float | None = None  # the machine's CPU memory (GiB); None: not checked
    cpu_peak_gib: float = 0.0  # the six tasks
    cpu_peak_step: str = ""
    round_cpu_peak_gib: float | None = None

    @property
    def weights_gib(self) -> float:
        """All the weights the tasks load (the judges apart), a model two agents name once."""
        return sum(m.gib for m in {(m.source, m.component, m.dtype): m for m in self.models
                                   if m.field not in JUDGES}.values())

    @property
    def judges_gib(self) -> float:
        return sum(m.gib for m in self.models if m.field in JUDGES)

    @property
    def fits(self) -> bool:
        return self.peak_gib <= self.gpu_gb and (self.ram_gb is None or self.cpu_peak_gib <= self.ram_gb)

    @property
    def round_fits(self) -> bool | None:
        if self.round_peak_gib is None:
            return None
        return self.round_peak_gib <= self.gpu_gb and (self.ram_gb is None or self.round_cpu_peak_gib <= self.ram_gb)

    def verdict(self, peak: float | None = None, memory: str = "GPU") -> str:
        peak = self.peak_gib if peak is None else peak
        size = self.gpu_gb if memory == "GPU" else self.ram_gb
        spare = size - peak
        if spare < 0:
            return f"does not fit in {size:g} GiB of {memory} memory ({-spare:.1f} GiB short)"
        return f"fits in {size:g} GiB of {memory} memory ({spare:.1f} GiB to spare{', tight' if spare < 1 else ''})"

    def summary(self) -> list[str]:
        """The verdict lines: the six tasks, and a data-free round, on the GPU and (with `ram_gb`) the CPU."""
        lines = [f"**The six tasks: {'fits' if self.fits else 'does not fit'}.** GPU peak {self.peak_gib:.1f} GiB "
                 f"({self.peak_step}): {self.verdict()}."]
        if self.ram_gb is not None:
            lines.append(f"CPU peak {self.cpu_peak_gib:.1f} GiB ({self.cpu_peak_step}): "
                         f"{self.verdict(self.cpu_peak_gib, 'CPU')}.")
        if self.round_peak_gib is not None:
            lines.append(f"**A data-free training round (a judge loaded while it judges): "
                         f"{'fits' if self.round_fits else 'does not fit'}.** GPU peak {self.round_peak_gib:.1f} GiB: "
                         f"{self.verdict(self.round_peak_gib)}"
                         + (f"; CPU peak {self.round_cpu_peak_gib:.1f} GiB: "
                            f"{self.verdict(self.round_cpu_peak_gib, 'CPU')}" if self.ram_gb is not None else "")
                         + ".")
        return lines

    def table(self) -> str:
        lines = [f"### moranb plan: profile `{self.profile}`, {self.placement}", "",
                 "| agent | model | parameters | dtype | weights (GiB) | on the GPU |", "|---|---|---|---|---|---|"]
        for m in self.models:
            lines.append(f"| {m.field} | {m.about} | {m.params / 1e9:.3f} B | {m.dtype} | {m.gib:.2f} | {m.on_gpu} |")
        unique = {(m.source, m.component): m.params for m in self.models if m.field not in JUDGES}
        lines.append(f"| **tasks, all weights** | | {sum(unique.values()) / 1e9:.2f}"
                     f" B | | **{self.weights_gib:.2f}** | |")
        if self.judges_gib:
            lines.append(f"| **judges** | | {sum(m.params for m in self.models if m.field in JUDGES) / 1e9:.2f} B | | "
                         f"**{self.judges_gib:.2f}** | |")
        lines += ["", "| step | weights on the GPU (GiB) | activations (GiB, measured) | GPU peak (GiB, estimate) | "
                      "CPU (GiB, estimate) |", "|---|---|---|---|---|"]
        for s in self.steps:
            lines.append(f"| {s.label} | {s.weights_gib:.2f} | {s.activations_gib:.2f} | {s.total_gib:.2f} | "
                         f"{s.cpu_gib:.2f} |")
        lines += [""] + self.summary()
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def plan(profile: str | Profile = "lowvram", gpu_gb: float = 16.0, bf16: bool = True,
         ram_gb: float | None = None) -> Plan:
    """The GPU and CPU memory `profile` needs: weights per model, per step and at its peak, against a `gpu_gb` GiB
    GPU (`bf16=False`: one without native bfloat16, such as a T4) and, where given, `ram_gb` GiB of CPU memory."""
    if not isinstance(gpu_gb, (int, float)) or isinstance(gpu_gb, bool) or not gpu_gb > 0:
        raise InputError(f"gpu_gb must be a positive number of GiB (a 16 GB T4 has 15 GiB); got {gpu_gb!r}")
    if ram_gb is not None and (not isinstance(ram_gb, (int, float)) or isinstance(ram_gb, bool) or not ram_gb > 0):
        raise InputError(f"ram_gb must be a positive number of GiB (free Colab: 12.7); got {ram_gb!r}")
    profile = get_profile(profile)
    if profile.name.startswith("tiny"):
        raise InputError(f"the {profile.name} profile runs on a CPU with small models and needs no plan; plan the real "
                         "models with profile 'full', 'lowvram', 'wan' or 'wan16'")
    offload = profile.offload if profile.device != "cpu" else "none"
    models = []
    for agent in COMPONENTS:
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
        if agent == "llm" and offload not in ("none", "sequential"):
            on_gpu = "never (CPU)"  # moranb.models.load_llm: with model or group offload the LLM runs on the CPU
        elif agent in JUDGES:
            on_gpu = "while judging"  # moranb.models.on_device
        elif offload == "group" or (offload == "model" and fallback):
            on_gpu = STREAMED
        else:
            on_gpu = "always" if offload == "none" else "while running"
        for component in ROLE_OF[agent].components_of(agent, model.source):
            p = realsize.part(model.source, component)
            fp32 = _fp32_params(model.source, component) if dtype == "float16" else 0
            models.append(ModelMemory(agent, model.source, component, p.about,
                                      _count(model.source, component), dtype, on_gpu, fp32))
    by_key = {(m.field, m.component): m for m in models}
    # A model two agents name (wan16's VACE-1.3B extends, edits and connects) is loaded once (`moranb.models` keeps
    # one copy per class and model): its weights count once.
    once = list({(m.source, m.component, m.dtype): m for m in models}.values())
    resident = sum(m.gib for m in once if m.on_gpu == "always")
    tasks_gib = sum(m.gib for m in once if m.field not in JUDGES)
    # CPU memory a step finds taken (see the module's docstring): with model or group offload every task model
    # waits there; otherwise only the process.
    parked = tasks_gib if offload in ("model", "group") else 0.0
    steps = []
    if offload == "sequential" and "llm" in {m.field for m in models}:  # the LLM takes the GPU in its turn
        steps.append(StepMemory("prompt LLM (weights; its few hundred tokens' activations not measured)",
                                sum(m.gib for m in models if m.field == "llm"), 0.0, CPU_BASE_GIB))
    for stage in realsize.measure(profile):
        if not all(key in by_key for key in stage.models):
            continue  # an agent the profile does not load (no refiner)
        running = [by_key[key] for key in stage.models]
        upcast_extra = sum(m.params * (4 - DTYPE_BYTES[m.dtype]) / GiB for m in running) if stage.upcast else 0.0
        weights = resident + upcast_extra
        if offload == "sequential":  # the whole pipeline the step belongs to is on the GPU (`loaded_with`)
            weights += sum(by_key[key].gib for key in loaded_with(stage, by_key))
        for m in running:
            if m.on_gpu == "while running" and offload != "sequential":
                weights += m.gib
            elif m.on_gpu == STREAMED:  # the layer computing and the next one, prefetched
                weights += 2 * _largest_layer(m.source, m.component) * DTYPE_BYTES[m.dtype] / GiB
        steps.append(StepMemory(stage.label, weights, stage.activation_bytes / GiB, CPU_BASE_GIB + parked))
    top = max(steps, key=lambda s: s.total_gib)
    if offload == "none":  # a pipeline passes through CPU memory whole while it loads, then goes to the GPU
        pipelines = {}
        for m in models:
            if m.field not in JUDGES:
                pipelines[m.field] = pipelines.get(m.field, 0.0) + m.gib
        name, largest = max(pipelines.items(), key=lambda kv: kv[1])
        cpu_peak, cpu_step = CPU_BASE_GIB + largest, f"loading {name} (before it moves to the GPU)"
    else:
        cpu_top = max(steps, key=lambda s: s.cpu_gib)
        cpu_peak, cpu_step = cpu_top.cpu_gib, ("every step: the process" + (
            " and every loaded model" if parked else "")) if len({s.cpu_gib for s in steps}) == 1 else cpu_top.label
    judges = [m for m in models if m.field in JUDGES]
    largest_judge = max((sum(m.gib for m in judges if m.field == j) for j in JUDGES), default=0.0)
    notes = [
        "weights: parameters x dtype bytes, exact for the published configs (moranb.realsize); activations: peak "
        "of live tensors in one step, measured on the meta device at the profile's sizes with fused attention; "
        f"a step's peak = weights + activations x {ACTIVATION_MARGIN} + {OVERHEAD_GIB:g} GiB (CUDA context, "
        "workspaces, allocator): an estimate, benchmarks/bench_gpu.py measures it",
        "the judges' and the prompt LLM's own activations are not measured (a few hundred tokens and k images)",
        f"CPU: {CPU_BASE_GIB:g} GiB for the process (an estimate) plus the weights the placement keeps there",
    ]
    if offload == "group" or any(m.on_gpu == STREAMED for m in models):
        notes.append("streamed models: the two largest layers on the GPU at a time (leaf-level group offload with "
                     "a CUDA stream prefetching the next); their weights live in pinned CPU memory")
    if offload == "sequential":
        notes.append("sequential: each model is read from disk when its stage starts (straight onto the GPU, "
                     "memory-mapped safetensors) and freed when the next loads; LTX-Video's T5-XXL and the Wan "
                     "models' UMT5-XXL encode the prompt alone, before their transformers and VAE load")
    if any(m.fp32_params for m in models):
        notes.append("T5 in float16 keeps its feed-forward output layers in float32 (transformers' "
                     "_keep_in_fp32_modules), counted at 4 bytes")
    if not bf16 and any((profile.model(m.field).dtype or profile.dtype) == "bfloat16" for m in models):
        notes.append("a GPU without bfloat16: the bfloat16 models load in float32 (twice the bytes), streamed "
                     "where the profile offloads")
    placement = OFFLOAD[offload].split(" (")[0] if offload != "none" else f"every model on the {profile.device} GPU"
    if offload == "model":
        placement += ", the prompt LLM on the CPU"
    if offload == "sequential":
        placement = OFFLOAD[offload].split(": ")[0]
    # A round: a judge joins what stays on the GPU (with sequential, nothing: it is the one resident model) and is
    # kept on the CPU between its turns.
    # (with sequential one judge at a time; otherwise both stay loaded there, `moranb.models.load_vlm`).
    held = largest_judge if offload == "sequential" else sum(m.gib for m in judges)
    round_cpu = max(cpu_peak, CPU_BASE_GIB + parked + held) if judges else None
    return Plan(profile.name, placement, float(gpu_gb), models, steps, top.total_gib, top.label,
                max(top.total_gib, resident + largest_judge + OVERHEAD_GIB) if judges else None, notes,
                None if ram_gb is None else float(ram_gb), cpu_peak, cpu_step, round_cpu)


# With offload "sequential", the text encoders that encode alone, before the rest of their pipeline loads: LTX-Video's
# T5-XXL (`ConnectionAgent.encode`) and every Wan model's UMT5-XXL (`moranb.agents.wan.text`).
ENCODE_ALONE = {("connection", "text_encoder"), ("image_to_video", "text_encoder"), ("vace", "text_encoder")}


def loaded_with(stage, by_key) -> list[tuple[str, str]]:
    """With offload "sequential": the components on the GPU during `stage`, the pipeline it runs in, loaded whole
    (`moranb.models.load`): the SDXL refiner with the base's VAE and second text encoder (which it shares), LTX-Video
    and the Wan models without their text encoder (which encodes alone, `ENCODE_ALONE`)."""
    if stage.field == "refiner":
        keys = [("refiner", "unet"), ("text_to_image", "text_encoder_2"), ("text_to_image", "vae")]
    elif len(stage.models) == 1 and stage.models[0] in ENCODE_ALONE:
        keys = list(stage.models)
    else:
        keys = [k for k in by_key if k[0] == stage.field and k not in ENCODE_ALONE]
    return [k for k in keys if k in by_key]


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
_FP32: dict[tuple[str, str], int] = {}


def _fp32_params(source: str, component: str) -> int:
    """Parameters the model's class keeps in float32 when loaded in float16 (`KEEP_FP32`)."""
    if (source, component) not in _FP32:
        cls = realsize.part(source, component).cls.split(":")[-1]
        names = KEEP_FP32.get(cls, ())
        total = 0
        if names:
            model = realsize.build(source, component)
            total = sum(p.numel() for name, p in model.named_parameters()
                        if any(part in names for part in name.split(".")))
        _FP32[(source, component)] = total
    return _FP32[(source, component)]


def _count(source: str, component: str) -> int:
    if (source, component) not in _COUNTS:
        _COUNTS[(source, component)] = realsize.count(source, component)
    return _COUNTS[(source, component)]
