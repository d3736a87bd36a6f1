"""Model speed on this machine: time, throughput, memory and efficiency of the thesis's 3D architectures.

For every 3D architecture of Table 3.10, every single-stream BERT variant of Tables 4.3-4.6 and the late temporal
heads of Table 4.1 (ResNeXt101-3D, FRMB), at the clip sizes the thesis counted (batch 1), it measures:

* inference (`torch.inference_mode`, eval mode) and training (forward + backward, train mode) time per clip;
* clips/s, and the peak memory growth (CUDA: max_memory_allocated; CPU: resident-set size sampled during the passes,
  over the size before them; a lower bound, since the allocator may reuse memory it kept from earlier models);
* achieved multiply-adds per second (`actionlib.complexity.measure(...).multiply_adds`; a training step is counted
  as 3x the forward pass), and its percentage of this machine's dense fp32 matmul rate measured in the same run,
  the practical ceiling;
* the cost of late temporal modeling: each head's training step time over the TGAP baseline's (Table 4.1).

Every time is the median of `--repeats` passes after `--warmup` passes, with the min and max. Weights and clips
are channels-last by default, as training, `evaluate` and `predict` run them (`--memory-format default` for the
plain layout). `--fold-bn` also times inference with each BatchNorm folded into its convolution, as `evaluate` and
`predict` run it (`actionlib.models.fold`), alternating folded and plain passes so that both see the same machine.
Writes results/benchmarks/models.csv, models.md (machine description on top) and models.png. `make bench`
(bench_all.py) uses these functions for the whole suite; this script runs the model table alone:

    .venv/bin/python -m benchmarks.bench_models                      # 3 repeats; training up to 60 G mult-adds
    .venv/bin/python -m benchmarks.bench_models --quick              # 1 repeat, training only for Table 4.1 heads
    .venv/bin/python -m benchmarks.bench_models --only t4.1/avg,t4.1/bert_frmb --repeats 5 --fold-bn

`--profile` instead profiles one inference pass per operator (torch.profiler) and writes profile_<arch>.csv:

    .venv/bin/python -m benchmarks.bench_models --profile t3.10/i3d_64f,t3.10/slowfast50_64f
    .venv/bin/python -m benchmarks.bench_models --profile t3.10/i3d_64f --clip 16x32x32 --out /tmp/x  # smoke

On a shared machine use `--threads 1`: two torch threads stall badly when the other core is busy.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from actionlib import reference
from actionlib.complexity import clip_shape, measure
from actionlib.engine.train import to_channels_last
from actionlib.models import create
from actionlib.models.fold import fold_batchnorm
from actionlib.thesis import ROWS, Config, read_spec

from .common import PeakMemory, op_group, timed

REPO = Path(__file__).resolve().parents[1]

# Which spec rows are benchmarked, by group. Two-stream rows are left out: they are two single-stream models.
GROUPS = {
    "3D architectures (Table 3.10)": lambda row_id: row_id.startswith("t3.10/"),
    "BERT variants (Tables 4.3-4.6)": lambda row_id: (
        row_id.split("/")[0] in ("t4.3", "t4.4", "t4.5", "t4.6") and "both" not in row_id
    ),
    "late temporal heads (Table 4.1)": lambda row_id: (
        row_id in ("t4.1/avg", "t4.1/avg_frmb", "t4.1/concat_frmb", "t4.1/lstm_frmb", "t4.1/bert_frmb")
    ),
}
LATE_GROUP = "late temporal heads (Table 4.1)"
TGAP_ID = "t4.1/avg"  # the plain ResNeXt101-3D with temporal global average pooling
DEFAULT_SPEC = reference.COMPLEXITY
DEFAULT_OUT = REPO / "results" / "benchmarks" / "models"


@dataclass
class Bench:
    """One model configuration at one clip size; `ids` are all spec rows that share it."""

    config: Config
    clip: str
    ids: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def plan(spec_path: str | Path, only: list[str] | None = None) -> list[Bench]:
    """The configurations to run, in spec order, each once even when several rows share it."""
    benches: dict[tuple, Bench] = {}
    for row in read_spec(spec_path):
        row_id = row["id"]
        groups = [name for name, wanted in GROUPS.items() if wanted(row_id)]
        if not groups or (only and row_id not in only):
            continue
        (config,) = ROWS[row_id]
        # frames/size equal the clip's in the spec rows, so rows that differ only in spelling them out share a run.
        options = {k: v for k, v in config.options.items() if k not in ("frames", "size")}
        key = (config.model, config.modality, tuple(sorted(options.items())), row["clip"])
        bench = benches.setdefault(key, Bench(config, row["clip"]))
        bench.ids.append(row_id)
        bench.groups += [g for g in groups if g not in bench.groups]
    if only:
        unknown = sorted(set(only) - {i for b in benches.values() for i in b.ids})
        if unknown:
            raise ValueError(
                f"--only: no benchmarked spec rows {unknown}; see the t3.10/t4.1/t4.3-t4.6 ids in the spec"
            )
    return list(benches.values())


def machine() -> dict:
    """What the figures depend on: processor, cores, threads, torch."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": "cpu",
    }
    if torch.cuda.is_available():
        info["device"] = "cuda"
        info["gpu"] = torch.cuda.get_device_name()
    return info


def matmul_rate(device: torch.device, size: int = 2048, repeats: int = 10) -> dict:
    """Dense fp32 matrix multiply rate in G multiply-adds/s: the ceiling the models are compared with."""
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    rates = [size**3 / t / 1e9 for t in timed(lambda: a @ b, repeats, 2, device)]
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def _summary(prefix: str, times: list[float], macs: float, ceiling: float, memory_mb: float) -> dict:
    median = statistics.median(times)
    rate = macs / median
    return {
        f"{prefix}_s": median,
        f"{prefix}_min_s": min(times),
        f"{prefix}_max_s": max(times),
        f"{prefix}_clips_per_s": 1 / median,
        f"{prefix}_gmacs_per_s": rate,
        f"{prefix}_pct_matmul": 100 * rate / ceiling,
        f"{prefix}_mem_mb": memory_mb,
    }


def run_bench(
    bench: Bench,
    repeats: int,
    warmup: int,
    train: bool | None,
    train_max_gmacs: float,
    ceiling: float,
    device: torch.device,
    batch: int = 1,
    channels_last: bool = False,
    fold_bn: bool = False,
) -> dict:
    """Time one configuration. `train=None` decides by size: always for the late temporal heads, else when the
    forward pass is at most `train_max_gmacs` G multiply-adds. `fold_bn` also times inference with BatchNorm folded
    (`infer_folded_*`), each folded pass right after a plain one; `fold_speedup` is the median of the per-pair
    ratios plain / folded."""
    config = bench.config
    model = create(config.model, modality=config.modality, **config.options)
    shape = clip_shape(bench.clip, model.default_clip[0])
    gmacs = measure(model, shape).multiply_adds / 1e9
    record = {
        "id": bench.ids[0],
        "also": " ".join(bench.ids[1:]),
        "group": "; ".join(bench.groups),
        "model": config.model,
        "modality": config.modality,
        "options": " ".join(f"{k}={v}" for k, v in config.options.items()),
        "clip": bench.clip,
        "batch": batch,
        "memory_format": "channels_last" if channels_last else "default",
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "gmacs": gmacs,
        "note": "",
    }
    model = model.to(device).eval()
    clip = torch.randn(batch, *shape, device=device)
    if channels_last:  # as `engine.fit` trains: every 4D/5D weight and the 5D clip channels-last
        to_channels_last(model)
        clip = clip.contiguous(memory_format=torch.channels_last_3d)

    def infer(model=model):
        with torch.inference_mode():
            model(clip)

    if fold_bn:
        folded = fold_batchnorm(model)
        times, folded_times = [], []
        with PeakMemory(device) as memory:
            timed(lambda: (infer(), infer(folded)), 0, warmup, device)
            for _ in range(repeats):
                times += timed(infer, 1, 0, device)
                folded_times += timed(lambda: infer(folded), 1, 0, device)
        record.update(_summary("infer", times, gmacs * batch, ceiling, memory.mb))
        record.update(_summary("infer_folded", folded_times, gmacs * batch, ceiling, memory.mb))
        record["fold_speedup"] = statistics.median(p / f for p, f in zip(times, folded_times, strict=True))
        record["folded_batchnorms"] = folded.folded_batchnorms
        del folded
    else:
        with PeakMemory(device) as memory:
            times = timed(infer, repeats, warmup, device)
        record.update(_summary("infer", times, gmacs * batch, ceiling, memory.mb))

    if train is None:
        train = LATE_GROUP in bench.groups or gmacs <= train_max_gmacs
    if not train:
        record["note"] = f"training skipped: {gmacs:.0f} G multiply-adds > --train-max-gmacs {train_max_gmacs:g}"
        return record
    model.train()
    target = torch.zeros(batch, dtype=torch.long, device=device)

    def train_step():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(clip), target).backward()

    try:
        with PeakMemory(device) as memory:
            times = timed(train_step, repeats, warmup, device)
    except (RuntimeError, ValueError) as error:  # e.g. a BatchNorm over a single value at batch 1
        record["note"] = f"training failed: {error}"
        return record
    # Backward costs about twice the forward pass: a training step is ~3x the forward multiply-adds.
    record.update(_summary("train", times, 3 * gmacs * batch, ceiling, memory.mb))
    return record


MEASURES = ["s", "min_s", "max_s", "clips_per_s", "gmacs_per_s", "pct_matmul", "mem_mb"]


def to_frame(records: list[dict]) -> pd.DataFrame:
    """The records as a table with every column (blank where skipped), plus each late temporal head's step time
    over the TGAP baseline's, for training and inference."""
    df = pd.DataFrame.from_records(records)
    folded = [f"infer_folded_{m}" for m in MEASURES] + ["fold_speedup", "folded_batchnorms"]
    for column in [f"train_{m}" for m in MEASURES] + folded:
        if column not in df:
            df[column] = float("nan")
    for prefix in ("train", "infer"):
        column = f"{prefix}_vs_tgap"
        df[column] = float("nan")
        is_tgap = (df["id"] == TGAP_ID) | df["also"].str.split().map(lambda ids: TGAP_ID in ids)
        base = df.loc[is_tgap, f"{prefix}_s"]
        if base.empty or pd.isna(base.iloc[0]):
            continue
        late = df["group"].str.contains(LATE_GROUP, regex=False)
        df.loc[late, column] = df.loc[late, f"{prefix}_s"] / base.iloc[0]
    return df[[c for c in df if c != "note"] + ["note"]]


def describe(info: dict, ceiling: dict, repeats: int, warmup: int) -> str:
    lines = [f"- {k}: {v}" for k, v in info.items()]
    lines.append(
        f"- fp32 2048x2048 matmul: {ceiling['median']:.1f} G multiply-adds/s "
        f"(min {ceiling['min']:.1f}, max {ceiling['max']:.1f})"
    )
    lines.append(f"- each time: median of {repeats} passes after {warmup} warm-up, [min, max] beside it")
    return "\n".join(lines)


def _fmt_time(row: pd.Series, prefix: str) -> str:
    if pd.isna(row.get(f"{prefix}_s")):
        return "-"
    return f"{row[f'{prefix}_s']:.3f} [{row[f'{prefix}_min_s']:.3f}, {row[f'{prefix}_max_s']:.3f}]"


def _fmt(value, digits: int) -> str:
    return "-" if pd.isna(value) else f"{value:.{digits}f}"


def markdown(df: pd.DataFrame, description: str) -> str:
    table = pd.DataFrame(
        {
            "id": df["id"],
            "model": df["model"] + " " + df["options"].fillna(""),
            "modality": df["modality"],
            "clip": df["clip"],
            "layout": df["memory_format"],
            "G mult-adds": df["gmacs"].map(lambda v: _fmt(v, 2)),
            "inference s [min, max]": df.apply(_fmt_time, axis=1, prefix="infer"),
            "inf clips/s": df["infer_clips_per_s"].map(lambda v: _fmt(v, 2)),
            "inf % matmul": df["infer_pct_matmul"].map(lambda v: _fmt(v, 0)),
            "inf MB": df["infer_mem_mb"].map(lambda v: _fmt(v, 0)),
            "BN folded s [min, max]": df.apply(_fmt_time, axis=1, prefix="infer_folded"),
            "folded % matmul": df.get("infer_folded_pct_matmul", pd.Series(float("nan"), df.index)).map(
                lambda v: _fmt(v, 0)
            ),
            "fold speedup": df.get("fold_speedup", pd.Series(float("nan"), df.index)).map(lambda v: _fmt(v, 3)),
            "training s [min, max]": df.apply(_fmt_time, axis=1, prefix="train"),
            "train % matmul": df["train_pct_matmul"].map(lambda v: _fmt(v, 0)),
            "train MB": df["train_mem_mb"].map(lambda v: _fmt(v, 0)),
        }
    )
    if table["fold speedup"].eq("-").all():
        table = table.drop(columns=["BN folded s [min, max]", "folded % matmul", "fold speedup"])
    parts = ["# Model speed (batch 1)", "", description, "", table.to_markdown(index=False), ""]
    if "fold speedup" in table:
        parts += [
            "'BN folded': inference with each BatchNorm folded into the convolution before it, as `evaluate` and "
            "`predict` run (actionlib/models/fold.py); 'fold speedup' is the median over pairs of passes (plain, "
            "then folded) of plain time / folded time.",
            "",
        ]
    late = df[df["group"].str.contains(LATE_GROUP, regex=False)]
    if not late.empty:
        heads = pd.DataFrame(
            {
                "id": late["id"],
                "head": late["options"].replace("", "avg (TGAP)"),
                "training s": late["train_s"].map(lambda v: _fmt(v, 3)),
                "training vs TGAP": late["train_vs_tgap"].map(lambda v: _fmt(v, 3)),
                "inference vs TGAP": late["infer_vs_tgap"].map(lambda v: _fmt(v, 3)),
            }
        )
        parts += ["## Cost of late temporal modeling (ResNeXt101-3D, 64x112x112)", "", heads.to_markdown(index=False)]
    notes = df[df["note"] != ""]
    if not notes.empty:
        parts += ["", "## Notes", ""] + [f"- {r.id}: {r.note}" for r in notes.itertuples()]
    return "\n".join(parts) + "\n"


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = df.assign(id=df["id"] + df["memory_format"].map(lambda f: "" if f == "channels_last" else " (default layout)"))
    height = 1.5 + 0.3 * len(df)
    fig, axes = plt.subplots(1, 2, figsize=(12, height), sharey=True)
    sns.barplot(data=df, y="id", x="infer_clips_per_s", ax=axes[0], color="tab:blue")
    axes[0].set(xlabel="inference clips/s (batch 1)", ylabel="")
    long = df.melt(id_vars="id", value_vars=["infer_pct_matmul", "train_pct_matmul"], var_name="pass")
    long["pass"] = long["pass"].map({"infer_pct_matmul": "inference", "train_pct_matmul": "training"})
    sns.barplot(data=long, y="id", x="value", hue="pass", ax=axes[1])
    axes[1].axvline(75, color="grey", linestyle="--", linewidth=1)  # the inference goal: 75 % of the matmul rate
    axes[1].set(xlabel="% of the fp32 matmul rate (dashed: the 75 % goal)", ylabel="")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(df: pd.DataFrame, description: str, out: str | Path) -> None:
    """`out` without suffix: writes out.csv, out.md and out.png."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out.with_suffix(".csv"), index=False, float_format="%.4g")
    out.with_suffix(".md").write_text(markdown(df, description))
    plot(df, out.with_suffix(".png"))


def _conv_macs(event) -> float:
    """Multiply-adds of one aten::convolution call, from its recorded shapes: batch x output positions x weight."""
    x, w = event.input_shapes[0], event.input_shapes[1]
    stride, padding, dilation = event.concrete_inputs[3:6]
    out = [
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(x[2:], w[2:], stride, padding, dilation, strict=True)
    ]
    return x[0] * math.prod(out) * math.prod(w)


def _matmul_macs(event) -> float:
    shapes = [s for s in event.input_shapes if s]
    if event.name == "aten::addmm":  # bias, (m, k), (k, n)
        (m, k), (_, n) = shapes[-2], shapes[-1]
        return m * k * n
    if event.name == "aten::mm":
        (m, k), (_, n) = shapes[0], shapes[1]
        return m * k * n
    (b, m, k), (_, _, n) = shapes[-2], shapes[-1]  # bmm, baddbmm
    return b * m * k * n


def _elements(shapes) -> int:
    """Elements of the tensors among recorded input shapes (a tensor list, as torch.cat takes, is a list of them)."""
    if shapes and all(isinstance(d, int) for d in shapes):
        return math.prod(shapes)
    return sum(_elements(s) for s in shapes if isinstance(s, list))


def _conv_kernel(event):
    """The convolution operator under aten::convolution with the most self time (e.g. aten::mkldnn_convolution):
    the kernel that did the multiply-adds, not a layout copy around it."""
    best, stack = event, list(event.cpu_children)
    while stack:
        child = stack.pop()
        if "conv" in child.name and child.self_cpu_time_total > best.self_cpu_time_total:
            best = child
        stack += child.cpu_children
    return best


MATMULS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm")
# Operators that do no multiply-adds and only move data: their rate is megabytes per second.
MEMORY_BOUND = ("pooling", "relu", "residual add", "concatenation", "layout copies", "padding", "batch norm")


def _op_group(op: str) -> str:
    if "conv" in op:
        return "convolution"
    if op in MATMULS or op in ("aten::linear", "aten::matmul"):
        return "linear/attention"
    return op_group(op)


def profile_ops(row_id: str, model: torch.nn.Module, shape: tuple, ceiling: float, fold_bn: bool = True) -> list[dict]:
    """Each operator's share of one channels-last inference pass (batch 1) and, where it computes multiply-adds
    (convolutions, matrix products), its rate as a % of the matmul rate; for the operators that only move data
    (max pooling, copies, additions, ReLU, concatenation, padding: the kernels, not the wrappers that call them), the
    megabytes of their tensor arguments and the rate they went through them, to compare with the machine's memory
    bandwidth.

    Self times come from torch.profiler (`key_averages`, by operator), scaled so that they add up to the median
    time of 3 unprofiled passes (the profiler's own overhead is spread over all operators alike). A convolution's
    multiply-adds are counted from its recorded shapes and credited to the kernel under it that took the time
    (e.g. aten::mkldnn_convolution). Argument megabytes assume 4-byte floats and leave out the outputs an
    operator allocates (an in-place or `out=` argument counts). At tiny clips and 1 thread PyTorch picks other
    convolution kernels than at the thesis's sizes (its native slow_conv3d instead of oneDNN for small maps)."""
    from torch.profiler import ProfilerActivity, profile

    model = model.eval()
    to_channels_last(model)
    if fold_bn:
        model = fold_batchnorm(model)
    clip = torch.randn(1, *shape).contiguous(memory_format=torch.channels_last_3d)

    def infer():
        with torch.inference_mode():
            model(clip)

    plain = statistics.median(timed(infer, 3, 1, torch.device("cpu")))
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof, torch.inference_mode():
        model(clip)
    macs, moved, wrappers = {}, {}, set()
    for event in prof.events():
        if event.name == "aten::convolution":
            kernel = _conv_kernel(event).name
            macs[kernel] = macs.get(kernel, 0.0) + _conv_macs(event)
        elif event.name in MATMULS:
            macs[event.name] = macs.get(event.name, 0.0) + _matmul_macs(event)
        if any(_op_group(c.name) == _op_group(event.name) for c in event.cpu_children):
            wrappers.add(event.name)  # e.g. aten::max_pool3d around aten::max_pool3d_with_indices
        moved[event.name] = moved.get(event.name, 0.0) + 4 * _elements(event.input_shapes)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    rows = []
    for event in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True):
        share = event.self_cpu_time_total / total
        seconds = share * plain
        gmacs = macs.get(event.key, 0.0) / 1e9
        kernel = _op_group(event.key) in MEMORY_BOUND and event.key not in wrappers
        mb = moved.get(event.key, 0.0) / 1e6 if kernel else 0.0
        rows.append(
            {
                "id": row_id,
                "op": event.key,
                "group": _op_group(event.key),
                "calls": event.count,
                "share_of_pass": share,
                "seconds": seconds,
                "gmacs": gmacs if gmacs else float("nan"),
                "gmacs_per_s": gmacs / seconds if gmacs else float("nan"),
                "pct_matmul": 100 * gmacs / seconds / ceiling if gmacs else float("nan"),
                "args_mb": mb if mb else float("nan"),
                "args_gb_per_s": mb / 1e3 / seconds if mb else float("nan"),
            }
        )
    all_macs = sum(macs.values()) / 1e9
    rows.append(
        {
            "id": row_id,
            "op": "whole pass (no profiler)",
            "group": "total",
            "calls": 1,
            "share_of_pass": 1.0,
            "seconds": plain,
            "gmacs": all_macs,
            "gmacs_per_s": all_macs / plain,
            "pct_matmul": 100 * all_macs / plain / ceiling,
        }
    )
    for row in rows:
        row.update(clip="x".join(map(str, shape[1:])), layout="channels_last", batchnorm_folded=fold_bn)
    return rows


def profile_name(row_id: str) -> str:
    """profile_<arch>.csv: the spec row id without its table, e.g. t3.10/i3d_64f -> profile_i3d_64f.csv."""
    return f"profile_{row_id.split('/')[-1]}.csv"


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default=str(DEFAULT_SPEC), help="complexity_targets.csv (clip sizes)")
    parser.add_argument("--only", help="comma-separated spec row ids, e.g. t4.1/avg,t4.3/rgb_bert")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--train-max-gmacs",
        type=float,
        default=60.0,
        help="time training steps only for models up to this many G multiply-adds per clip (the late temporal "
        "heads are always trained)",
    )
    parser.add_argument("--quick", action="store_true", help="1 repeat, training only for the late temporal heads")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--memory-format",
        choices=["channels_last", "default"],
        default="channels_last",
        help="layout of weights and clips: channels-last is what training, evaluate and predict use",
    )
    parser.add_argument(
        "--fold-bn", action="store_true", help="also time inference with BatchNorm folded (as evaluate/predict run)"
    )
    parser.add_argument(
        "--profile",
        metavar="IDS",
        help="comma-separated spec row ids: profile one inference pass per operator instead and write "
        "profile_<arch>.csv into the --out folder",
    )
    parser.add_argument("--clip", help="TxHxW instead of the spec's clip size (small smoke runs)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output path without suffix (--profile: a folder)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.train_max_gmacs = 1, 0.0
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)

    only = args.profile or args.only
    try:
        benches = plan(args.spec, only.split(",") if only else None)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    if args.clip:
        frames, size = (int(v) for v in args.clip.split("x")[:2])
        for bench in benches:
            bench.clip = args.clip
            bench.config = Config(
                bench.config.model, {**bench.config.options, "frames": frames, "size": size}, bench.config.modality
            )
    if args.profile:
        out = Path(args.out) if args.out != str(DEFAULT_OUT) else DEFAULT_OUT.parent
        out.mkdir(parents=True, exist_ok=True)
        ceiling = matmul_rate(device)
        for bench in benches:
            config = bench.config
            model = create(config.model, modality=config.modality, **config.options)
            rows = pd.DataFrame(
                profile_ops(bench.ids[0], model, clip_shape(bench.clip, model.default_clip[0]), ceiling["median"])
            )
            rows.to_csv(out / profile_name(bench.ids[0]), index=False, float_format="%.4g")
            print(
                f"wrote {out / profile_name(bench.ids[0])}: "
                + ", ".join(f"{r.op} {100 * r.share_of_pass:.0f} %" for r in rows.head(4).itertuples()),
                flush=True,
            )
        return pd.DataFrame()
    info = machine()
    ceiling = matmul_rate(device)
    description = describe(info, ceiling, args.repeats, args.warmup)
    print(description, flush=True)
    records, start = [], time.perf_counter()
    for i, bench in enumerate(benches, 1):
        record = run_bench(
            bench,
            args.repeats,
            args.warmup,
            None,
            args.train_max_gmacs,
            ceiling["median"],
            device=device,
            channels_last=args.memory_format == "channels_last",
            fold_bn=args.fold_bn,
        )
        records.append(record)
        train = f"train {record['train_s']:.2f} s" if "train_s" in record else record["note"]
        print(
            f"[{i}/{len(benches)} {time.perf_counter() - start:.0f} s] {record['id']}: "
            f"infer {record['infer_s']:.2f} s ({record['infer_pct_matmul']:.0f} % of matmul), {train}",
            flush=True,
        )
    df = to_frame(records)
    write_outputs(df, description, args.out)
    print(f"wrote {Path(args.out).with_suffix('.csv')}, .md, .png in {time.perf_counter() - start:.0f} s")
    return df


if __name__ == "__main__":
    main()
