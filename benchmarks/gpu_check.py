"""GPU check: what the thesis's full profile needs on this device, measured in one command.

A GPU run is rare and precious here, so this one script gathers everything the full profile's cost depends on:

* training steps (forward + backward + optimizer step, `cudnn.benchmark` on) of every thesis 3D architecture at
  the thesis's clip size, plus a 16-segment ResNet18/101 TSN step for the 2D tables, in fp32, AMP bf16 and AMP
  fp16 (GradScaler), each in the default layout and channels-last 3D: peak memory, clips/s and the speedup over
  fp32. The per-step batch is the full profile's (8, falling back to what fits), accumulated to the thesis's 128
  as `actionlib train` does; the optimizer is the one the thesis uses for that model;
* the data loader: clips/s of actionlib's video pipeline (ClipDataset + FrameSampler + ClipTransform, as
  `engine.inputs.build_dataset` builds them) on 64-frame 320x240 videos written here, with N workers, against
  the training step: does it keep up?
* a one-process NCCL DDP step (world size 1 on a free localhost port);
* what a full reproduction costs: GPU-hours per thesis table from the measured rates (gpu_hours.csv).

Every section records its errors in the table and the next one runs; the files are rewritten after every section,
so a killed run still leaves what it measured. Writes gpu.csv, gpu.md (device, driver, CUDA, cuDNN and torch
versions on top) and gpu_hours.csv to --out.

    python -m benchmarks.gpu_check --out results/benchmarks                 # CUDA; stays within --budget (7 min)
    python -m benchmarks.gpu_check --device cpu --quick --out /tmp/gpu      # the plumbing on tiny models, on CPU
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import itertools
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import nullcontext
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from actionlib import profiles, recipes, reference
from actionlib.engine.evaluate import PROTOCOLS
from actionlib.engine.inputs import clip_frames, make_sampler, make_transform
from actionlib.engine.optim import (
    LR_MULTIPLIERS,
    build_optimizer,
    default_lr,
    default_optimizer,
    is_2d_model,
    parameter_groups,
)
from actionlib.engine.train import EFFECTIVE_BATCH, EFFECTIVE_BATCH_BY_MODEL, collate, to_channels_last
from actionlib.models import create
from actionlib.models.heads import BertHead
from actionlib.thesis import ROWS

REPO = Path(__file__).resolve().parents[1]

# The architectures timed, as complexity ids (their configuration is `actionlib.thesis.ROWS[id]`, their clip the
# `clip` column of actionlib/reference/complexity.csv), with a short label.
ARCHS = {
    "t4.1/avg": "ResNeXt101-3D TGAP",
    "t4.1/bert_frmb": "ResNeXt101-3D BERT-FRMB",
    "t3.10/i3d_64f": "I3D",
    "t3.10/slowfast50_64f": "SlowFast-R50",
    "t3.10/r2plus1d34_32f": "R(2+1)D-34",
    "t4.6/r2plus1d34_bert": "R(2+1)D-34 BERT",
    "t3.3/avg": "ResNet18 TSN",
    "t3.5/r101": "ResNet101 TSN",
}
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

# Which measured architecture times a stream's model: (without, with a BERT head). The model families not timed
# here are scaled from the nearest timed one by the thesis's operation counts (marked "estimated").
PROXY = {
    "resnext3d_101": ("t4.1/avg", "t4.1/bert_frmb"),
    "i3d": ("t3.10/i3d_64f", "t3.10/i3d_64f"),
    "slowfast_r50": ("t3.10/slowfast50_64f", "t3.10/slowfast50_64f"),
    "r2plus1d_34": ("t3.10/r2plus1d34_32f", "t4.6/r2plus1d34_bert"),
    "resnet18": ("t3.3/avg", "t3.3/avg"),
    "resnet101": ("t3.5/r101", "t3.5/r101"),
    "resnet3d_101": ("t4.1/avg", "t4.1/avg"),
    "mfnet3d": ("t3.10/i3d_64f", "t3.10/i3d_64f"),
    "repflow_50": ("t3.10/slowfast50_64f", "t3.10/slowfast50_64f"),
    "i3d_r50": ("t3.10/slowfast50_64f", "t3.10/slowfast50_64f"),
    "tsm_r50": ("t3.5/r101", "t3.5/r101"),
    "resnet34": ("t3.3/avg", "t3.3/avg"),
    "resnet50": ("t3.5/r101", "t3.5/r101"),
}

# Videos in split 1, from the official split files: HMDB51's testTrainMulti_7030_splits mark 70 training and 30
# test videos in each of 51 classes; UCF101's trainlist01.txt / testlist01.txt hold 9537 / 3783 videos.
TRAIN_VIDEOS = {"hmdb51": 3570, "ucf101": 9537}
TEST_VIDEOS = {"hmdb51": 1530, "ucf101": 3783}
# Mean frames per video, only for the number of multi-clip test clips: UCF101 7.21 s at 25 fps (Soomro et al.
# 2012, Table 1); HMDB51 an assumption (about 3 s at 30 fps).
MEAN_FRAMES = {"hmdb51": 90, "ucf101": 180}

CSV_COLUMNS = [
    "section", "arch", "id", "model", "options", "clip", "precision", "channels_last", "batch", "accumulation",
    "workers", "first_step_s", "fb_s", "opt_s", "step_s", "clips_per_s", "speedup_vs_fp32", "peak_mem_gb",
    "train_clips_per_s", "keeps_up", "repeats", "status", "note",
]  # fmt: skip
INT_COLUMNS = ["batch", "accumulation", "workers", "repeats"]
HOURS_COLUMNS = ["table", "datasets", "streams", "runs", "gpu_hours", "gpu_hours_best", "gpu_hours_fp32", "estimated_runs", "note"]  # fmt: skip

QUICK = {"frames": 8, "size": 32, "batch": 2, "warmup": 1, "repeats": 1, "videos": 4, "video_frames": 16}
# Quick mode: narrow stand-in widths where the registry has them (study.planner.STAND_INS); R(2+1)D, which has no narrow
# variant and the slowest CPU step, on a smaller clip still. SlowFast needs a multiple of 8 frames.
QUICK_OPTIONS = {
    "resnext3d_101": {"blocks": (1, 1, 1, 1), "width": 16},
    "resnet18": {"width": 8},
    "resnet101": {"width": 8},
    "r2plus1d_34": {"frames": 4, "size": 16},
}

START = time.perf_counter()


def log(message: str) -> None:
    now = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{now} +{time.perf_counter() - START:6.1f}s] {message}", flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def is_oom(err: BaseException) -> bool:
    text = str(err).lower()
    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in text or "alloc_failed" in text


def short_error(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".replace("\n", " ").replace("|", "/")
    return text[:300]


# ------------------------------------------------------------------------------------------------- environment
def environment(device: torch.device, command: str) -> dict:
    """What the numbers depend on: device, driver, CUDA, cuDNN, NCCL, torch, CPUs."""
    info = {
        "device": cpu_name(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu_name(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": command,
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            device=torch.cuda.get_device_name(device),
            memory_gb=round(props.total_memory / 2**30, 1),
            capability=f"{props.major}.{props.minor}",
            driver=nvidia_driver(),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            nccl=nccl_version(),
            cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
            matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32,
        )
    else:
        info.update(torch_threads=torch.get_num_threads())
    return info


def nccl_version() -> str | None:
    try:
        import torch.cuda.nccl

        version = torch.cuda.nccl.version()
        return ".".join(map(str, version)) if isinstance(version, tuple) else str(version)
    except Exception:  # noqa: BLE001 - a build without NCCL: the DDP section says so
        return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nvidia_driver() -> str:
    """The NVIDIA driver version from nvidia-smi, else the CUDA driver API version torch sees."""
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        version = torch._C._cuda_getDriverVersion()
        return f"CUDA driver API {version // 1000}.{version % 1000 // 10} (nvidia-smi not found)"
    except Exception:  # noqa: BLE001 - a missing version must not stop the run
        return "unknown"


# ------------------------------------------------------------------------------------------------- the report
class Report:
    """Rows of every section; `save` rewrites gpu.csv, gpu.md and gpu_hours.csv (atomically) from all so far."""

    def __init__(self, out: Path, env: dict, settings: dict):
        self.out, self.env, self.settings = out, env, settings
        self.rows: list[dict] = []
        self.hours: list[dict] = []
        self.per_run: list[dict] = []
        self.notes: list[str] = []
        out.mkdir(parents=True, exist_ok=True)

    def add(self, **row) -> dict:
        self.rows.append(row)
        return row

    def error(self, section: str, err: BaseException) -> None:
        log(f"{section}: FAILED {short_error(err)}")
        traceback.print_exc()
        self.add(section=section, status="error", note=short_error(err))

    def frame(self, section: str | None = None) -> pd.DataFrame:
        rows = [r for r in self.rows if section is None or r.get("section") == section]
        df = pd.DataFrame(rows, columns=CSV_COLUMNS)
        return df.astype({c: "Int64" for c in INT_COLUMNS})

    def save(self) -> None:
        self._speedups()
        _write(self.out / "gpu.csv", self.frame().to_csv(index=False))
        _write(self.out / "gpu_hours.csv", pd.DataFrame(self.hours, columns=HOURS_COLUMNS).to_csv(index=False))
        if self.per_run:  # what `actionlib recipes` prints beside each run
            _write(self.out / "gpu_runs.csv", pd.DataFrame(self.per_run).to_csv(index=False))
        _write(self.out / "gpu.md", self.markdown())

    def _speedups(self) -> None:
        base = {
            r["id"]: r["clips_per_s"]
            for r in self.rows
            if r.get("section") == "train" and r.get("status") == "ok" and r["precision"] == "fp32"
            and not r["channels_last"]
        }  # fmt: skip
        for r in self.rows:
            if r.get("section") == "train" and r.get("status") == "ok" and r["id"] in base:
                r["speedup_vs_fp32"] = round(r["clips_per_s"] / base[r["id"]], 3)

    def markdown(self) -> str:
        env, s = self.env, self.settings
        lines = [f"# GPU check: {env['device']}", ""]
        if s["quick"]:
            lines += [
                "**Quick mode**: tiny widths, frames and batch; the numbers check the script, not the device.",
                "",
            ]
        facts = [
            ("device", env["device"]),
            ("memory", f"{env['memory_gb']} GiB" if "memory_gb" in env else None),
            ("compute capability", env.get("capability")),
            ("NVIDIA driver", env.get("driver")),
            ("CUDA (torch build)", env.get("cuda")),
            ("cuDNN", env.get("cudnn")),
            ("NCCL", env.get("nccl")),
            ("torch", env["torch"]),
            ("python", env["python"]),
            ("CPU", f"{env['cpu']}, {env['cpus']} cores available"),
            ("TF32", f"cuDNN {env['cudnn_allow_tf32']}, matmul {env['matmul_allow_tf32']} (torch defaults; fp32 "
                     "convolutions may run in TF32)" if "cudnn_allow_tf32" in env else None),
            ("date", env["date"]),
            ("command", f"`{env['command']}`"),
            ("settings", f"cudnn.benchmark True; warm-up {s['warmup']} + {s['repeats']} timed steps; per-step batch "
                         f"{s['batch']} (halved until it fits), accumulated to {EFFECTIVE_BATCH}"),
            ("run time", f"{time.perf_counter() - START:.0f} s"),
        ]  # fmt: skip
        lines += [f"- **{k}**: {v}" for k, v in facts if v is not None]
        lines += ["", "## Training step", ""]
        lines += [
            "Forward + backward of one per-step batch (`fb_s`) and the optimizer step (`opt_s`, once per "
            f"{EFFECTIVE_BATCH} clips); clips/s is the training rate with that accumulation: batch x accumulation / "
            "(accumulation x fb_s + opt_s). Peak memory: `torch.cuda.max_memory_allocated` (weights, gradients, "
            "optimizer state and activations). The engine's own setting (`actionlib train` on CUDA) is AMP fp16 "
            "with channels-last.",
            "",
        ]
        train = self.frame("train")
        if len(train):
            train = train.assign(
                clip=train["clip"] + " x" + train["batch"].astype(str) + "/" + train["accumulation"].astype(str)
            )
            lines += [_table(train, ["arch", "clip", "precision", "channels_last", "first_step_s", "fb_s", "opt_s",
                                     "clips_per_s", "speedup_vs_fp32", "peak_mem_gb", "status", "note"]), ""]  # fmt: skip
            lines += ["`clip` is TxHxW x batch/accumulation; `first_step_s` includes cuDNN's autotuning.", ""]
        infer = self.frame("infer")
        if len(infer):
            lines += ["## Inference (validation and testing)", ""]
            lines += [_table(infer, ["arch", "clip", "precision", "channels_last", "batch", "step_s", "clips_per_s",
                                     "status", "note"]), ""]  # fmt: skip
        loader = self.frame("loader")
        if len(loader):
            lines += ["## Data loader", ""]
            lines += [
                f"actionlib's training pipeline (random clip, multi-scale crop, flip, normalisation) on "
                f"{s['videos']} generated {s['video_frames']}-frame 320x240 MPEG-4 videos, batches of {s['batch']}, "
                "timed in steady state (after the workers' first round).",
                "",
                _table(loader, ["arch", "clip", "workers", "clips_per_s", "status", "note"]),
                "",
            ]
            verdict = self.frame("loader_vs_train")
            if len(verdict):
                lines += [_table(verdict, ["arch", "clip", "train_clips_per_s", "workers", "clips_per_s",
                                           "keeps_up", "note"]), ""]  # fmt: skip
        ddp = self.frame("ddp")
        if len(ddp):
            lines += ["## DDP", "", _table(ddp, ["arch", "clip", "precision", "batch", "step_s", "status", "note"]), ""]
        if self.hours:
            lines += ["## What a full reproduction costs", ""]
            lines += [
                f"GPU-hours on this device for every run each thesis table needs under `--profile full`: every "
                f"stream of `recipes.stream_keys(recipes_for(table))`, once per split its rows need (`splits_of`), "
                f"{s['epochs']} epochs of the split's training videos (HMDB51 {TRAIN_VIDEOS['hmdb51']}, UCF101 "
                f"{TRAIN_VIDEOS['ucf101']}: the official split-1 lists), a validation pass over the test list every "
                f"epoch (one centred clip per video, as `actionlib train` validates; HMDB51 {TEST_VIDEOS['hmdb51']}, "
                f"UCF101 {TEST_VIDEOS['ucf101']} videos), and the final test with the row's protocol (clips x "
                "crops; multi-clip counts from a mean video length: UCF101 180 frames, 7.21 s at 25 fps, Soomro et "
                "al. 2012; HMDB51 assumed 90). Distilled students also pay their teacher's forward pass. `gpu_hours` "
                "uses the engine's setting (AMP fp16, channels-last), `gpu_hours_best` the fastest measured variant "
                "of each architecture, `gpu_hours_fp32` fp32. Data loading is assumed to keep up (see above). "
                "Streams of model families not timed here are scaled from the nearest timed one by the thesis's "
                "operation counts (`estimated_runs`). The row `all` counts runs shared by several tables once.",
                "",
                _table(pd.DataFrame(self.hours, columns=HOURS_COLUMNS), HOURS_COLUMNS),
                "",
            ]
        if self.per_run:
            lines += ["GPU-hours of one run (HMDB51 split, engine setting) per stream, with its timing basis:", ""]
            per_run = pd.DataFrame(self.per_run)
            per_run = per_run[per_run["dataset"] == "hmdb51"]
            lines += [_table(per_run, ["stream", "model", "clip", "basis", "hours_per_run"]), ""]
        errors = self.frame()
        errors = errors[errors["status"] == "error"]
        if len(errors):
            lines += ["## Errors", "", _table(errors, ["section", "arch", "precision", "channels_last", "note"]), ""]
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _table(df: pd.DataFrame, columns: list[str]) -> str:
    def cell(value) -> str:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value).replace("|", "/")

    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    body = ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in df.to_dict("records")]
    return "\n".join([head, *body])


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------- architectures
@functools.cache
def spec_clips() -> dict[str, str]:
    return {row["id"]: row["clip"] for row in pd.read_csv(reference.COMPLEXITY).to_dict("records")}


def arch_options(arch_id: str, quick: bool) -> tuple[str, str, dict]:
    """(model, modality, options) of an architecture: the thesis row's configuration at its clip. Quick mode
    takes the stand-in widths and a tiny clip; like `study.planner.stand_in_stream` it keeps a BERT head but drops
    ResNeXt's FRMB reduction, which exists for the 101-layer network only."""
    (config,) = ROWS[arch_id]
    frames, height, _ = (int(v) for v in spec_clips()[arch_id].split("x"))
    options = {**config.options, "frames": frames, "size": height}
    if quick:
        options = {k: v for k, v in options.items() if k != "reduction" or config.model != "resnext3d_101"}
        options.update({"frames": QUICK["frames"], "size": QUICK["size"], **QUICK_OPTIONS.get(config.model, {})})
    return config.model, config.modality, options


def build(arch_id: str, quick: bool, device: torch.device):
    model_name, modality, options = arch_options(arch_id, quick)
    with torch.device(device):
        model = create(model_name, modality=modality, **options)
    return model.to(device)


def clip_text(model) -> str:
    return "x".join(str(v) for v in model.default_clip[1:])


def set_layout(model, channels_last: bool) -> None:
    if channels_last:
        to_channels_last(model)
    else:
        for p in model.parameters():
            if p.dim() in (4, 5):
                p.data = p.data.contiguous()


def make_optimizer(model):
    """The thesis's optimizer and learning rate for this model (`TrainConfig`'s defaults: AdamW for BERT heads and
    2D models, else SGD): their state is part of the memory and the step time."""
    head = "bert" if isinstance(getattr(model, "head", None), BertHead) else None
    name = default_optimizer(model.name, head)
    lr = default_lr(model.name, head, name)
    return build_optimizer(name, parameter_groups(model, lr, LR_MULTIPLIERS.get(model.name)), lr)


def autocast_for(device: torch.device, precision: str):
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def batches_to_try(batch: int) -> list[int]:
    out = []
    while batch >= 1:
        out.append(batch)
        batch //= 2
    return out


def time_training(model, device, precision, channels_last, batch, warmup, repeats, cap_s) -> dict:
    """Forward + backward and optimizer-step seconds of one per-step batch (medians), peak memory."""
    free_memory(device)  # the previous variant's optimizer state must not count in this one's peak
    set_layout(model, channels_last)
    model.train()
    optimizer = make_optimizer(model)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    accumulation = max(1, EFFECTIVE_BATCH_BY_MODEL.get(model.name, EFFECTIVE_BATCH) // batch)
    clip = torch.randn(batch, *model.default_clip, device=device)
    if channels_last:
        clip = clip.contiguous(memory_format=torch.channels_last_3d)
    labels = torch.randint(0, model.num_classes, (batch,), device=device)
    autocast = autocast_for(device, precision)

    def forward_backward():
        with autocast:
            loss = F.cross_entropy(model(clip).float(), labels) / accumulation
        (scaler.scale(loss) if scaler else loss).backward()

    def optimizer_step():
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    fb, opt, first = [], [], None
    try:
        i = 0
        while i < warmup + repeats:
            sync(device)
            t0 = time.perf_counter()
            forward_backward()
            sync(device)
            t1 = time.perf_counter()
            optimizer_step()
            sync(device)
            t2 = time.perf_counter()
            if first is None:
                first = t2 - t0
            if i >= warmup:
                fb.append(t1 - t0)
                opt.append(t2 - t1)
            elif i == warmup - 1 and (t2 - t0) * repeats > cap_s:  # a slow model: fewer timed steps
                repeats = max(2, int(cap_s / (t2 - t0)))
            i += 1
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    finally:
        optimizer.zero_grad(set_to_none=True)  # the gradients of a failed (out of memory) step
    fb_s, opt_s = statistics.median(fb), statistics.median(opt)
    return {
        "batch": batch,
        "accumulation": accumulation,
        "first_step_s": round(first, 4),
        "fb_s": round(fb_s, 5),
        "opt_s": round(opt_s, 5),
        "step_s": round(fb_s + opt_s, 5),
        "clips_per_s": round(batch * accumulation / (accumulation * fb_s + opt_s), 3),
        "peak_mem_gb": round(peak, 2),
        "repeats": len(fb),
    }


def time_inference(model, device, precision, channels_last, batch, warmup, repeats) -> dict:
    set_layout(model, channels_last)
    model.eval()
    clip = torch.randn(batch, *model.default_clip, device=device)
    if channels_last:
        clip = clip.contiguous(memory_format=torch.channels_last_3d)
    times = []
    with torch.inference_mode(), autocast_for(device, precision):
        for i in range(warmup + repeats):
            sync(device)
            start = time.perf_counter()
            model(clip)
            sync(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    model.train()
    step = statistics.median(times)
    return {"batch": batch, "step_s": round(step, 5), "clips_per_s": round(batch / step, 3), "repeats": len(times)}


def engine_variant(device: torch.device) -> tuple[str, bool]:
    """What `actionlib train` runs: AMP fp16 + channels-last on CUDA, fp32 channels-last on CPU."""
    return ("fp16", True) if device.type == "cuda" else ("fp32", True)


def train_section(report: Report, device, args, deadline: float) -> None:
    """Two passes, so that a run cut short by the budget still has every architecture's fp32 baseline and the
    engine's setting: first those two variants (and the inference rate) of each architecture, then the rest."""
    engine = engine_variant(device)
    first = [("fp32", False), engine]
    rest = [("bf16", True), ("fp32", True), ("fp16", True), ("bf16", False), ("fp16", False)]  # likeliest first
    passes = [first, [v for v in rest if v not in first]]
    batch_for: dict[str, int] = {}
    for number, wanted in enumerate(passes, 1):
        for arch_id in args.archs:
            label, model = ARCHS[arch_id], None
            for precision, channels_last in wanted:
                row = report.add(section="train", arch=label, id=arch_id, precision=precision,
                                 channels_last=channels_last)  # fmt: skip
                try:
                    model_name, _, options = arch_options(arch_id, args.quick)
                    row.update(model=model_name, options=" ".join(f"{k}={v}" for k, v in options.items()))
                    if precision == "fp16" and device.type != "cuda":
                        row.update(status="skipped", note="AMP fp16 with GradScaler is a CUDA path: not run on CPU")
                        continue
                    if precision == "bf16" and device.type != "cuda" and arch_id != args.archs[0]:
                        row.update(status="skipped", note="bf16 autocast is slow on CPU: run for the first only")
                        continue
                    if time.perf_counter() > deadline:
                        row.update(status="skipped", note="time budget spent")
                        continue
                    if model is None:
                        model = build(arch_id, args.quick, device)
                    row["clip"] = clip_text(model)
                    log(f"train pass {number}: {label} {row['clip']} {precision} channels_last={channels_last}")
                    measure_variant(row, model, device, args, batch_for, arch_id)
                    if (precision, channels_last) == engine and row.get("status") == "ok":
                        infer_row(report, label, arch_id, model, device, args, row)
                except Exception as err:  # noqa: BLE001 - one variant's failure must not lose the others
                    row.update(status="error", note=short_error(err))
                    log(f"  failed: {short_error(err)}")
                    traceback.print_exc()
                report.save()
            del model
            free_memory(device)


def measure_variant(row, model, device, args, batch_for, arch_id) -> None:
    """Time the variant at the largest batch that fits (starting from the architecture's batch so far)."""
    for batch in batches_to_try(batch_for.get(arch_id, args.batch)):
        out_of_memory = False
        try:
            row.update(time_training(model, device, row["precision"], row["channels_last"], batch, args.warmup,
                                     args.repeats, args.cap))  # fmt: skip
        except Exception as err:  # noqa: BLE001
            if not is_oom(err):
                row.update(status="error", note=short_error(err))
                log(f"  failed: {short_error(err)}")
                return
            out_of_memory = True  # freed below, once the exception (and the activations it holds) is gone
        if out_of_memory:
            log(f"  batch {batch}: out of memory")
            model.zero_grad(set_to_none=True)
            free_memory(device)
            continue
        row["status"] = "ok"
        if batch < args.batch:
            row["note"] = f"batch {args.batch} did not fit"
        batch_for[arch_id] = batch
        peak = f", peak {row['peak_mem_gb']} GB" if device.type == "cuda" else ""
        log(f"  {row['clips_per_s']:.2f} clips/s, step {row['step_s']:.3f} s{peak}")
        return
    row.update(status="error", note="out of memory even at batch 1")


def infer_row(report, label, arch_id, model, device, args, train_row) -> None:
    row = report.add(section="infer", arch=label, id=arch_id, model=train_row["model"], clip=train_row["clip"],
                     precision=train_row["precision"], channels_last=train_row["channels_last"])  # fmt: skip
    try:
        row.update(time_inference(model, device, row["precision"], row["channels_last"], train_row["batch"],
                                  args.warmup, args.repeats))  # fmt: skip
        row["status"] = "ok"
        log(f"  inference {row['clips_per_s']:.2f} clips/s")
    except Exception as err:  # noqa: BLE001
        row.update(status="error", note=short_error(err))
    finally:
        free_memory(device)


# ------------------------------------------------------------------------------------------------- data loader
def loader_section(report: Report, device, args, deadline: float) -> None:
    """The training pipeline of each architecture's clip geometry, with N workers, against its training rate."""
    from torch.utils.data import DataLoader, RandomSampler

    from actionlib.data.datasets import ClipDataset, VideoRecord
    from actionlib.engine.repro import SeededDataset, seed_worker

    from .bench_data import write_test_video

    geometries: dict[tuple, list[str]] = {}
    pieces = {}
    for arch_id in args.archs:
        model_name, modality, options = arch_options(arch_id, args.quick)
        with torch.device("meta"):
            model = create(model_name, modality=modality, **options)
        sampler, transform = make_sampler(model, "train"), make_transform(model, "train")
        key = (clip_frames(model), sampler.segments, transform.size, transform.resize)
        geometries.setdefault(key, []).append(arch_id)
        pieces.setdefault(key, (sampler, transform, clip_text(model)))
    workers = sorted({report.env["cpus"] if w == "all" else int(w) for w in args.workers}, reverse=True)
    with tempfile.TemporaryDirectory(prefix="gpu_check_videos_") as tmp:
        log(f"loader: writing {args.videos} videos of {args.video_frames} frames (320x240)")
        records = []
        for i in range(args.videos):
            path = Path(tmp) / f"video_{i:03d}.avi"
            write_test_video(path, args.video_frames / 25, 25, 320, 240, 12, seed=i)
            records.append(VideoRecord(path.name, "check", 0, path))
        rates: dict[tuple, dict[int, float]] = {}
        # the most workers first, for every geometry: the verdict needs those, should the budget run out
        for n, (key, arch_ids) in itertools.product(workers, geometries.items()):
            sampler, transform, clip = pieces[key]
            label = ", ".join(ARCHS[a] for a in arch_ids)
            resize = "x".join(map(str, transform.resize)) if transform.resize else "native"
            clip = f"{'TSN ' if key[1] else ''}{clip} from {resize}"
            dataset = SeededDataset(ClipDataset(records, sampler, transform), 0)
            row = report.add(section="loader", arch=label, clip=clip, workers=n, batch=args.batch)
            if time.perf_counter() > deadline:
                row.update(status="skipped", note="time budget spent")
                continue
            try:
                skip, timed = max(1, n), max(3, 2 * n)
                loader = DataLoader(
                    dataset,
                    batch_size=args.batch,
                    sampler=RandomSampler(
                        range(len(dataset)), replacement=True, num_samples=args.batch * (skip + timed)
                    ),
                    num_workers=n,
                    collate_fn=collate,
                    pin_memory=device.type == "cuda",
                    worker_init_fn=seed_worker,
                    prefetch_factor=2 if n else None,
                )
                clips, start = 0, None
                for i, batch in enumerate(loader):
                    if i == skip - 1:
                        start = time.perf_counter()
                    elif i >= skip:
                        clips += len(batch["label"])
                rate = clips / (time.perf_counter() - start)
                row.update(status="ok", clips_per_s=round(rate, 2), repeats=timed)
                rates.setdefault(key, {})[n] = rate
                log(f"loader {label} ({clip}), {n} workers: {rate:.1f} clips/s")
            except Exception as err:  # noqa: BLE001
                row.update(status="error", note=short_error(err))
                log(f"loader {label}, {n} workers: failed {short_error(err)}")
            report.save()
    engine = engine_variant(device)
    for key, arch_ids in geometries.items():
        for arch_id in arch_ids:
            train = _train_row(report, arch_id, *engine)
            measured = rates.get(key, {})
            row = report.add(section="loader_vs_train", arch=ARCHS[arch_id], id=arch_id, clip=pieces[key][2],
                             precision=engine[0], channels_last=engine[1])  # fmt: skip
            if train is None or not measured:
                row.update(status="skipped", note="no training rate or no loader rate")
                continue
            most = max(measured)
            enough = [n for n in sorted(measured) if measured[n] >= train["clips_per_s"]]
            row.update(
                status="ok",
                train_clips_per_s=train["clips_per_s"],
                workers=most,
                clips_per_s=round(measured[most], 2),
                keeps_up="yes" if enough else "no",
                note=f"{enough[0]} workers suffice" if enough else
                f"the loader gives {measured[most] / train['clips_per_s']:.0%} of the training rate",
            )  # fmt: skip
    report.notes.append(
        "Data loader: with several GPUs in one machine each training process shares the CPUs; divide the worker "
        "count by the number of GPUs to read the table for one of them."
    )


def _train_row(report: Report, arch_id: str, precision: str, channels_last: bool) -> dict | None:
    """The architecture's successful training row in that precision and layout, if any."""
    wanted = {"section": "train", "id": arch_id, "precision": precision, "channels_last": channels_last, "status": "ok"}
    return next((r for r in report.rows if all(r.get(k) == v for k, v in wanted.items())), None)


# ------------------------------------------------------------------------------------------------------- DDP
def ddp_section(report: Report, device, args) -> None:
    """One process, world size 1: does NCCL start here, and what does DDP's gradient bucketing cost a step?"""
    import torch.distributed as dist

    arch_id = args.archs[0]
    precision, channels_last = engine_variant(device)
    train = _train_row(report, arch_id, precision, channels_last)
    row = report.add(section="ddp", arch=ARCHS[arch_id], id=arch_id, precision=precision, channels_last=channels_last)
    if device.type == "cuda":
        if not dist.is_available() or not dist.is_nccl_available():
            row.update(status="skipped", note="NCCL is not available in this torch build")
            return
        backend = "nccl"
    else:
        backend = "gloo"  # no NCCL on CPU: gloo checks the same code path
    batch = train["batch"] if train else args.batch
    model = None
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log(f"ddp: init_process_group({backend!r}, world_size=1, port {port})")
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1,
                                timeout=datetime.timedelta(seconds=60))  # fmt: skip
        model = build(arch_id, args.quick, device)
        set_layout(model, channels_last)
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index or 0] if device.type == "cuda" else None
        )
        optimizer = make_optimizer(model)
        scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
        clip = torch.randn(batch, *model.default_clip, device=device)
        if channels_last:
            clip = clip.contiguous(memory_format=torch.channels_last_3d)
        labels = torch.randint(0, model.num_classes, (batch,), device=device)
        times = []
        for i in range(1 + max(1, args.repeats)):  # one warm-up step
            sync(device)
            start = time.perf_counter()
            with autocast_for(device, precision):
                loss = F.cross_entropy(net(clip).float(), labels)
            (scaler.scale(loss) if scaler else loss).backward()
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            sync(device)
            if i:
                times.append(time.perf_counter() - start)
        step = statistics.median(times)
        note = f"backend {backend}; worked"
        if train:
            note += f"; {step / train['step_s']:.2f}x the plain step ({train['step_s']:.3f} s)"
        row.update(
            status="ok", clip=clip_text(model), batch=batch, step_s=round(step, 4), repeats=len(times), note=note
        )
        log(f"ddp: ok, {step:.3f} s per step")
    except Exception as err:  # noqa: BLE001
        row.update(status="error", note=f"backend {backend}: {short_error(err)}")
        log(f"ddp: failed {short_error(err)}")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        del model
        free_memory(device)


# --------------------------------------------------------------------------------------------------- the cost
def cost_section(report: Report, device) -> None:
    """GPU-hours of each thesis table's runs (and of all of them, shared runs once) from the measured rates."""
    cfg = profiles.resolve("full")
    spec = pd.read_csv(reference.COMPLEXITY).set_index("id")
    single = {}  # stream key -> complexity id of a row that trains it alone
    for recipe in recipes.RECIPES:
        if len(recipe.streams) == 1 and recipe.streams[0] not in single:
            cid = recipes.complexity_id(recipe)
            if cid in spec.index:
                single[recipe.streams[0]] = cid
    engine = engine_variant(device)

    def rate(arch_id: str, which: str) -> tuple[float, float] | None:
        """(training, inference) seconds per clip of a measured architecture in the engine's setting (else its
        fastest measured one), its fastest variant or fp32."""
        rows = [r for r in report.rows if r.get("section") == "train" and r.get("id") == arch_id
                and r.get("status") == "ok"]  # fmt: skip
        if which == "engine":
            rows = [r for r in rows if (r["precision"], r["channels_last"]) == engine] or rows
        elif which == "fp32":
            rows = [r for r in rows if r["precision"] == "fp32"]
        if not rows:
            return None
        chosen = max(rows, key=lambda r: r["clips_per_s"])
        train_s = 1 / chosen["clips_per_s"]
        # inference was timed in the engine's setting; other variants scale it like their training rate
        infer = [r for r in report.rows if r.get("section") == "infer" and r.get("id") == arch_id
                 and r.get("status") == "ok"]  # fmt: skip
        engine_train = _train_row(report, arch_id, *engine)
        if infer and engine_train:
            infer_s = engine_train["clips_per_s"] / chosen["clips_per_s"] / infer[0]["clips_per_s"]
        else:
            infer_s = train_s / 3  # a forward pass: about a third of a training step (estimate)
        return train_s, infer_s

    def gmacs(arch_or_row: str) -> float:
        row = spec.loc[arch_or_row]
        frames = int(row["clip"].split("x")[0])
        (config,) = ROWS[arch_or_row]
        return float(row["thesis_ops_g"]) * (frames if is_2d_model(config.model) else 1)

    def stream_cost(key: str):
        """(scale, proxy id, basis, clip) of a stream: its seconds per clip are the proxy's x scale."""
        stream = recipes.STREAMS[key]
        plain, bert = PROXY[stream.model]
        proxy = bert if stream.options.get("head") == "bert" else plain
        (proxy_config,) = ROWS[proxy]
        proxy_frames, proxy_size, _ = (int(v) for v in spec.loc[proxy, "clip"].split("x"))
        frames, size = stream.options.get("frames", proxy_frames), stream.options.get("size", proxy_size)
        cid = single.get(key)
        if cid is not None and ROWS[cid][0].model == stream.model:
            ops = gmacs(cid)
        else:
            ops = gmacs(proxy) * frames / proxy_frames * (size / proxy_size) ** 2
        scale = ops / gmacs(proxy)
        if proxy_config.model != stream.model:
            basis = f"estimated: {ARCHS[proxy]} x {scale:.2f} (thesis operations)"
        elif abs(scale - 1) < 0.01:
            basis = f"measured: {ARCHS[proxy]}"
        else:
            basis = f"{ARCHS[proxy]} x {scale:.2f} (thesis operations)"
        return scale, proxy, basis, f"{frames}x{size}x{size}"

    def run_hours(key: str, dataset: str, protocol: str, which: str) -> float | None:
        stream = recipes.STREAMS[key]
        scale, proxy, _, _ = stream_cost(key)
        rates = rate(proxy, which)
        if rates is None:
            return None
        train_s, infer_s = (v * scale for v in rates)
        sampling, cropping = PROTOCOLS[protocol]
        window = stream.options.get("frames", 16) * stream.train.get("stride", 1)
        per_video = 1 if sampling == "single" or is_2d_model(stream.model) else max(1, MEAN_FRAMES[dataset] // window)
        seconds = cfg.epochs * (TRAIN_VIDEOS[dataset] * train_s + TEST_VIDEOS[dataset] * infer_s)
        seconds += TEST_VIDEOS[dataset] * per_video * (10 if cropping == "ten" else 1) * infer_s
        if stream.teacher:  # the teacher's forward pass on every training clip
            t_scale, t_proxy, _, _ = stream_cost(stream.teacher)
            t_rates = rate(t_proxy, which)
            if t_rates is not None:
                seconds += cfg.epochs * TRAIN_VIDEOS[dataset] * t_rates[1] * t_scale
        return seconds / 3600

    def table_row(name: str, table_recipes) -> dict:
        runs: dict[tuple, str] = {}  # (stream, dataset, split) -> test protocol
        for recipe in table_recipes:
            if recipe.unsupported:
                continue
            for key in recipes.stream_keys([recipe]):
                for split in recipes.splits_of(recipe, cfg):
                    runs.setdefault((key, recipe.dataset, split), recipe.protocol)
        totals, missing = {}, set()
        for which in ("engine", "best", "fp32"):
            hours = [run_hours(k, d, p, which) for (k, d, _), p in runs.items()]
            missing |= {k for ((k, _, _), _), h in zip(runs.items(), hours, strict=True) if h is None}
            totals[which] = round(sum(h for h in hours if h is not None), 1)
        streams = list(dict.fromkeys(k for k, _, _ in runs))
        estimated = sum(1 for k, _, _ in runs if stream_cost(k)[2].startswith("estimated"))
        note = f"no rate measured for {', '.join(sorted(missing))}" if missing else ""
        return {
            "table": name,
            "datasets": " ".join(dict.fromkeys(d for _, d, _ in runs)),
            "streams": len(streams),
            "runs": len(runs),
            "gpu_hours": totals["engine"],
            "gpu_hours_best": totals["best"],
            "gpu_hours_fp32": totals["fp32"],
            "estimated_runs": estimated,
            "note": note,
        }

    tables = list(dict.fromkeys(r.table for r in recipes.RECIPES))
    report.hours = [table_row(t, recipes.recipes_for(t)) for t in tables]
    report.hours.append(table_row("all", recipes.RECIPES))
    report.per_run = []
    device_name = report.env.get("device", str(device))
    for key, dataset in [(k, d) for k in recipes.stream_keys(recipes.RECIPES) for d in TRAIN_VIDEOS]:
        _, _, basis, clip = stream_cost(key)
        hours = run_hours(key, dataset, "multi-ten", "engine")
        report.per_run.append({
            "stream": key,
            "dataset": dataset,
            "device": device_name,
            "model": recipes.STREAMS[key].model + (f" ({recipes.STREAMS[key].modality})"
                                                   if recipes.STREAMS[key].modality != "rgb" else ""),
            "clip": clip,
            "basis": basis,
            "hours_per_run": round(hours, 2) if hours is not None else None,
        })  # fmt: skip
    total = report.hours[-1]
    log(f"cost: all tables {total['runs']} runs, {total['gpu_hours']} GPU-hours (engine setting)")


# ------------------------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "results" / "benchmarks", help="folder for gpu.csv/.md")
    parser.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny models, clips and batches: checks the plumbing")
    parser.add_argument("--batch", type=int, default=None, help="per-step batch (default: the full profile's, 8)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (default 2; quick 1)")
    parser.add_argument("--repeats", type=int, default=None, help="timed steps (default 5; quick 1)")
    parser.add_argument("--cap", type=float, default=8.0, help="seconds of timed steps per variant, at most")
    parser.add_argument("--workers", default=None, help="DataLoader workers to try (default 4,8,all; quick 0,2)")
    parser.add_argument("--videos", type=int, default=None, help="generated videos (default 24; quick 4)")
    parser.add_argument("--only", default=None, help="comma-separated complexity ids of the architectures to time")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's; quick 1)")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds the whole run may take (default 420)")
    args = parser.parse_args(argv)
    full = {"batch": profiles.resolve("full").batch_size, "warmup": 2, "repeats": 5, "videos": 24, "video_frames": 64}
    defaults = QUICK if args.quick else full
    for key in ("batch", "warmup", "repeats", "videos"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    args.video_frames = defaults["video_frames"]
    if args.batch < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--batch and --repeats must be at least 1, --warmup at least 0")
    args.workers = (args.workers or ("0,2" if args.quick else "4,8,all")).split(",")
    args.archs = [a for a in ARCHS if args.only is None or a in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(ARCHS) if args.only else set()
    if unknown:
        parser.error(f"--only: unknown ids {sorted(unknown)}; choose from {', '.join(ARCHS)}")
    return args


def main(argv=None) -> int:
    global START
    START = time.perf_counter()  # the budget counts from here (also when main runs inside a test session)
    args = parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with --device cpu (and --quick for the plumbing check)", file=sys.stderr)
        return 2
    if device.type == "cuda":
        if device.index is None:  # set_device and the memory statistics want an index
            device = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(device)
    torch.backends.cudnn.benchmark = True
    threads = args.threads or (1 if args.quick else None)
    if threads:  # on a shared CPU one thread is steadier: two stall when the other core is busy
        torch.set_num_threads(threads)
    argv = sys.argv[1:] if argv is None else list(argv)
    env = environment(device, " ".join(["python -m benchmarks.gpu_check", *argv]))
    log(f"GPU check on {env['device']} ({device}); torch {env['torch']}; out {args.out}")
    settings = {
        "quick": args.quick,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "batch": args.batch,
        "videos": args.videos,
        "video_frames": args.video_frames,
        "epochs": profiles.resolve("full").epochs,
    }
    report = Report(args.out, env, settings)
    report.save()
    sections = [
        ("train", lambda: train_section(report, device, args, START + 0.62 * args.budget)),
        ("cost", lambda: cost_section(report, device)),
        ("loader", lambda: loader_section(report, device, args, START + 0.9 * args.budget)),
        ("ddp", lambda: ddp_section(report, device, args)),
    ]
    for name, section in sections:
        try:
            section()
        except Exception as err:  # noqa: BLE001 - the next section still runs
            report.error(name, err)
        report.save()
    log(f"wrote {args.out / 'gpu.csv'}, {args.out / 'gpu.md'}, {args.out / 'gpu_hours.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
