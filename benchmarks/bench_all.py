"""`make bench`: the whole benchmark suite in one run, about 20 minutes on 2 CPU cores.

Writes results/benchmarks/:

* models.{csv,md,png}: every Table 3.10 architecture and Tables 4.1/4.3-4.6 BERT variant at the thesis's clip size,
  batch 1, channels-last (what the library runs); inference for all, training for the Table 3.10 architectures,
  and for those also inference with BatchNorm folded (as `evaluate` and `predict` run); the three architectures of
  the 75 % goal also in the default layout;
* heads.csv: late temporal heads against TGAP on ResNeXt101-3D (BERT-overhead goal);
* end_to_end.csv, predict.csv, data.csv: loader vs model, `actionlib predict` latency, data pipeline readers;
* torchvision.csv, activation_checkpointing.csv, breakdown.csv: the torchvision goal, the memory option, and where
  the passes of the three goal architectures spend their time;
* peers.{csv,md}: each thesis architecture against PyTorchVideo's, torchvision's and (with `--authors-repo`) the
  authors' builds of the same network, inference and training, as ours / peer clips/s (benchmarks/bench_peers.py);
* profile_i3d_64f.csv, profile_slowfast50_64f.csv: one inference pass of the two architectures below 75 % of the
  matmul rate, per operator (torch.profiler): share of the time, and the rate of each (bench_models.profile_ops);
* README.md: the machine and every goal, met or missed by how much (generated from this run's numbers).

Every time is the median of `--repeats` passes after a warm-up, with min and max. `--trials` instead runs the
torch.compile / bf16 autocast trials (minutes per model here) and writes trials.{csv,md}.

    .venv/bin/python -m benchmarks.bench_all            # what `make bench` runs
    .venv/bin/python -m benchmarks.bench_all --authors-repo ../LateTemporalModeling3DCNN   # with the authors' peers
    .venv/bin/python -m benchmarks.bench_all --trials   # opt-in: torch.compile and bf16 autocast
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from actionlib.complexity import clip_shape
from actionlib.models import create

from . import bench_data, bench_e2e, bench_models, bench_peers, bench_speed

REPO = Path(__file__).resolve().parents[1]

OUT = REPO / "results" / "benchmarks"
GOAL_IDS = ("t3.10/r2plus1d34_32f", "t3.10/i3d_64f", "t3.10/slowfast50_64f")
PROFILE_IDS = ("t3.10/i3d_64f", "t3.10/slowfast50_64f")  # the two below 75 % of the matmul rate
HEAD_IDS = ("t4.1/avg", "t4.1/avg_frmb", "t4.1/concat_frmb", "t4.1/lstm_frmb", "t4.1/bert_frmb")
TABLE_3_10 = "3D architectures (Table 3.10)"
PREDICT_MODEL = "t4.3/rgb_bert"  # the thesis's ResNeXt101-3D + BERT (FRMB), 64 frames, 51 classes
STALE = ["goal_archs_default", "goal_archs_channels_last"]  # earlier outputs this suite no longer writes


def kwargs_of(bench: bench_models.Bench) -> dict:
    """`create(**kwargs)` arguments of a planned spec row."""
    config = bench.config
    return {"name": config.model, "modality": config.modality, **config.options}


def log(message: str, start: float) -> None:
    print(f"[{time.perf_counter() - start:5.0f} s] {message}", flush=True)


def run_models(benches, args, ceiling: float, start: float) -> pd.DataFrame:
    records = []
    for bench in benches:
        if bench.ids[0] in HEAD_IDS and len(bench.ids) == 1:
            continue  # timed round-robin in heads.csv; t4.1/avg is also t4.3/rgb, kept below
        train = TABLE_3_10 in bench.groups and not args.no_train
        layouts = [True, False] if bench.ids[0] in GOAL_IDS else [True]
        for channels_last in layouts:
            fold_bn = TABLE_3_10 in bench.groups and channels_last  # as evaluate and predict run them
            record = bench_models.run_bench(
                bench,
                args.repeats,
                args.warmup,
                train,
                0.0,
                ceiling,
                torch.device("cpu"),
                channels_last=channels_last,
                fold_bn=fold_bn,
            )
            if not train and not record["note"]:
                record["note"] = "training timed for the Table 3.10 architectures only (same backbones)"
            if not channels_last:
                record["note"] = "default layout, for comparison"
            records.append(record)
            log(
                f"{record['id']} {record['memory_format']}: infer {record['infer_s']:.2f} s "
                f"({record['infer_pct_matmul']:.0f} % of matmul)"
                + (f", BN folded {record['infer_folded_s']:.2f} s" if "infer_folded_s" in record else "")
                + (f", train {record['train_s']:.2f} s" if "train_s" in record else ""),
                start,
            )
    return bench_models.to_frame(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default=str(bench_models.DEFAULT_SPEC), help="complexity_targets.csv")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per figure (after --warmup)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--head-rounds", type=int, default=7, help="round-robin rounds of the head comparison")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--no-train", action="store_true", help="skip the Table 3.10 training steps")
    parser.add_argument(
        "--authors-repo", type=Path, help="a checkout of artest08/LateTemporalModeling3DCNN: adds the authors' builds"
    )
    parser.add_argument(
        "--peer-layouts", default="channels_last", help="peers stage: channels_last, default, or both comma-separated"
    )
    parser.add_argument("--trials", action="store_true", help="only the torch.compile / bf16 trials (slow)")
    parser.add_argument("--trial-timeout", type=float, default=300, help="seconds per trial process")
    parser.add_argument("--bf16-timeout", type=float, default=90, help="seconds per bf16 trial process")
    parser.add_argument(
        "--readme-only", action="store_true", help="rewrite README.md from the tables of the last run (no timing)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    benches = {b.ids[0]: b for b in bench_models.plan(args.spec)}
    by_id = {i: b for b in benches.values() for i in b.ids}
    start = time.perf_counter()
    info = bench_models.machine()
    info["torchvision"] = __import__("torchvision").__version__

    if args.readme_only:
        return rewrite_readme(args)
    if args.trials:
        goal = {i: (kwargs_of(by_id[i]), clip_shape(by_id[i].clip, 3)) for i in GOAL_IDS}
        rows = bench_speed.trials(goal, args.repeats, args.warmup, args.threads, args.trial_timeout, args.bf16_timeout)
        trials = pd.DataFrame(rows)
        trials.to_csv(args.out / "trials.csv", index=False, float_format="%.4g")
        (args.out / "trials.md").write_text(trials_markdown(trials, info))
        log(f"wrote {args.out / 'trials.csv'}", start)
        return 0

    ceiling = bench_models.matmul_rate(torch.device("cpu"))
    log(f"matmul {ceiling['median']:.1f} G multiply-adds/s", start)
    description = bench_models.describe(info, ceiling, args.repeats, args.warmup)

    models = run_models(benches.values(), args, ceiling["median"], start)
    bench_models.write_outputs(models, description, args.out / "models")

    head_configs = {i: kwargs_of(by_id[i]) for i in HEAD_IDS}
    heads = pd.DataFrame(
        bench_speed.heads(
            head_configs,
            clip_shape(by_id[HEAD_IDS[0]].clip, 3),
            args.head_rounds,
            args.warmup,
            same_backbone="t4.1/avg_frmb",
        )
    )
    heads.to_csv(args.out / "heads.csv", index=False, float_format="%.4g")
    log("heads: " + ", ".join(f"{r.id} {r.vs_tgap:.3f}" for r in heads.itertuples()), start)

    goal_kwargs = {i: kwargs_of(by_id[i]) for i in GOAL_IDS}
    breakdown = []
    for row_id in GOAL_IDS:
        breakdown += bench_speed.breakdown(
            row_id, goal_kwargs[row_id], clip_shape(by_id[row_id].clip, 3), ceiling["median"]
        )
    breakdown = pd.DataFrame(breakdown)
    breakdown.to_csv(args.out / "breakdown.csv", index=False, float_format="%.4g")
    log("breakdown done", start)

    cases = [("R(2+1)D-34", (3, 4, 6, 3), 32), ("R(2+1)D-18", (2, 2, 2, 2), 16)]
    torchvision = pd.DataFrame(bench_speed.torchvision_comparison(cases, args.repeats, args.warmup))
    torchvision.to_csv(args.out / "torchvision.csv", index=False, float_format="%.4g")
    log(
        "torchvision: "
        + ", ".join(f"{r.architecture} {r.layout} {r.time_ratio:.3f}" for r in torchvision.itertuples()),
        start,
    )

    peers = run_peers(args, info, start)
    profiles = run_profiles({i: by_id[i] for i in PROFILE_IDS}, args.out, ceiling["median"], start)

    checkpointing = pd.DataFrame(
        bench_speed.activation_checkpointing(
            kwargs_of(by_id[HEAD_IDS[0]]), clip_shape(by_id[HEAD_IDS[0]].clip, 3), 1, args.repeats, args.warmup
        )
    )
    checkpointing.to_csv(args.out / "activation_checkpointing.csv", index=False, float_format="%.4g")
    log("activation checkpointing: " + ", ".join(f"{r.peak_mb:.0f} MB" for r in checkpointing.itertuples()), start)

    with tempfile.TemporaryDirectory(prefix="bench_all_") as tmp:
        root = bench_e2e.synthetic_dataset(Path(tmp) / "synthetic")
        cases = [
            ("ResNeXt101-3D (thesis)", {"name": "resnext3d_101", "frames": 16, "size": 112}, 4),
            ("narrow ResNeXt (CPU profile)", {"name": "resnext3d_101", "blocks": (1, 1, 1, 1), "width": 16,
                                              "frames": 32, "size": 112}, 8),
            ("ResNet18 TSN (2D)", {"name": "resnet18", "frames": 8, "size": 112}, 8),
        ]  # fmt: skip
        e2e = pd.DataFrame([bench_e2e.end_to_end(root, name, kw, batch, 6, args.threads) for name, kw, batch in cases])
        e2e.to_csv(args.out / "end_to_end.csv", index=False, float_format="%.4g")
        log("end to end: " + ", ".join(f"{r.model} {r.bottleneck}" for r in e2e.itertuples()), start)
        predict = pd.DataFrame(
            [
                bench_e2e.predict_latency(
                    Path(tmp) / "predict", PREDICT_MODEL, kwargs_of(by_id[PREDICT_MODEL]), args.repeats
                )
            ]
        )
        predict.to_csv(args.out / "predict.csv", index=False, float_format="%.4g")
        log(f"predict: {predict.latency_s[0]:.2f} s, {predict.peak_mb[0]:.0f} MB", start)

    bench_data.main(["--out", str(args.out / "data.csv"), "--workers", "0", str(args.threads), "--model-steps", "0"])
    data = pd.read_csv(args.out / "data.csv")
    log("data pipeline done", start)

    for stem in STALE:
        for suffix in (".csv", ".md", ".png"):
            (args.out / f"{stem}{suffix}").unlink(missing_ok=True)
    elapsed = time.perf_counter() - start
    readme = summary(
        info,
        ceiling,
        args,
        models,
        heads,
        e2e,
        predict,
        torchvision,
        checkpointing,
        breakdown,
        data,
        peers=peers,
        profiles=profiles,
    )
    (args.out / "README.md").write_text(readme + f"\nThis run took {elapsed / 60:.1f} min.\n")
    log(f"wrote {args.out}/README.md and the tables", start)
    return 0


def run_peers(args, info: dict, start: float, quick: bool = False) -> pd.DataFrame:
    """peers.{csv,md}: ours against other libraries' builds of the same networks (benchmarks/bench_peers.py)."""
    peers, skipped = bench_peers.run(
        args.authors_repo,
        args.repeats,
        args.warmup,
        tuple(args.peer_layouts.split(",")),
        quick=quick,
        train=not args.no_train,
        log=lambda message: log(message, start),
    )
    bench_peers.write(peers, skipped, args.out, info, args.repeats, args.warmup)
    return peers


def run_profiles(benches: dict, out: Path, ceiling: float, start: float) -> dict[str, pd.DataFrame]:
    """profile_<arch>.csv for each {row id: planned bench}: one inference pass per operator, as evaluate runs it."""
    profiles = {}
    for row_id, bench in benches.items():
        rows = bench_models.profile_ops(row_id, create(**kwargs_of(bench)), clip_shape(bench.clip, 3), ceiling)
        profiles[row_id] = pd.DataFrame(rows)
        profiles[row_id].to_csv(out / bench_models.profile_name(row_id), index=False, float_format="%.4g")
        top = profiles[row_id].head(3)
        log(f"profile {row_id}: " + ", ".join(f"{r.op} {100 * r.share_of_pass:.0f} %" for r in top.itertuples()), start)
    return profiles


def rewrite_readme(args) -> int:
    """README.md again from the CSVs of the run that wrote them (after a change of wording, not of numbers)."""
    import re

    read = {
        name: pd.read_csv(args.out / f"{name}.csv", keep_default_na=False, na_values=[""])
        for name in ("models", "heads", "end_to_end", "predict", "torchvision", "activation_checkpointing")
    }
    read["models"]["note"] = read["models"]["note"].fillna("")
    breakdown, data = pd.read_csv(args.out / "breakdown.csv"), pd.read_csv(args.out / "data.csv")
    header = (args.out / "models.md").read_text().split("\n\n")[1]
    info = dict(line[2:].split(": ", 1) for line in header.splitlines() if not line.startswith(("- fp32", "- each")))
    found = re.search(r"matmul: ([\d.]+) G multiply-adds/s \(min ([\d.]+), max ([\d.]+)\)", header)
    ceiling = dict(zip(("median", "min", "max"), map(float, found.groups()), strict=True))
    took = re.search(r"This run took [\d.]+ min\.", (args.out / "README.md").read_text())
    peers = None
    if (args.out / "peers.csv").is_file():
        peers = pd.read_csv(args.out / "peers.csv", keep_default_na=False, na_values=[""])
    profiles = {
        row_id: pd.read_csv(args.out / bench_models.profile_name(row_id))
        for row_id in PROFILE_IDS
        if (args.out / bench_models.profile_name(row_id)).is_file()
    }
    text = summary(info, ceiling, args, *read.values(), breakdown, data, peers=peers, profiles=profiles)
    (args.out / "README.md").write_text(text + (f"\n{took.group(0)}\n" if took else ""))
    return 0


def _range(row, prefix: str, digits: int = 2) -> str:
    return f"{row[prefix]:.{digits}f} [{row[prefix + '_min']:.{digits}f}, {row[prefix + '_max']:.{digits}f}]"


def summary(
    info,
    ceiling,
    args,
    models,
    heads,
    e2e,
    predict,
    torchvision,
    checkpointing,
    breakdown,
    data,
    peers=None,
    profiles=None,
) -> str:
    """results/benchmarks/README.md: the machine, each goal met or missed (by how much, and why). `peers` and
    `profiles` are left out when a run's tables predate them."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (benchmarks/bench_all.py); every number below comes from the run that wrote this file.",
        "",
        "## Machine",
        "",
        bench_models.describe(info, ceiling, args.repeats, args.warmup),
        "",
        "## Goals",
        "",
        "| goal | measured | verdict |",
        "|---|---|---|",
    ]
    cl = models[models["memory_format"] == "channels_last"].set_index("id")
    default = models[models["memory_format"] == "default"].set_index("id")
    for row_id in GOAL_IDS:
        pct = cl.loc[row_id, "infer_pct_matmul"]
        was = default.loc[row_id, "infer_pct_matmul"]
        folded = cl.loc[row_id].get("infer_folded_pct_matmul", float("nan"))
        measured = f"{pct:.0f} % channels-last ({was:.0f} % default layout); {cl.loc[row_id, 'infer_s']:.2f} s/clip"
        if not pd.isna(folded):  # as evaluate and predict run it: channels-last, BatchNorm folded
            measured = (
                f"{folded:.0f} % channels-last with BatchNorm folded, as evaluate runs "
                f"({cl.loc[row_id, 'infer_folded_s']:.2f} s/clip); {pct:.0f} % not folded, {was:.0f} % default layout"
            )
            pct = folded
        verdict = "met" if pct >= 75 else f"missed by {75 - pct:.0f} points"
        lines.append(f"| {row_id} inference >= 75 % of matmul | {measured} | {verdict} |")
    bert = heads.set_index("id").loc["t4.1/bert_frmb"]
    worst_bert = max(bert["vs_tgap"], bert["vs_same_backbone"])
    lines.append(
        f"| BERT head adds <= 2 % to a ResNeXt101-3D training step | {bert['vs_tgap']:.3f}x the TGAP step "
        f"[{bert['vs_tgap_min']:.3f}, {bert['vs_tgap_max']:.3f}]; {bert['vs_same_backbone']:.3f}x "
        f"[{bert['vs_same_backbone_min']:.3f}, {bert['vs_same_backbone_max']:.3f}] the same FRMB backbone with "
        f"average pooling (median [min, max] of {int(bert['rounds'])} paired rounds) | "
        + ("met" if worst_bert <= 1.02 else f"missed by {100 * (worst_bert - 1.02):.1f} points")
        + " |"
    )
    slowest = torchvision.loc[torchvision["rate_ratio"].idxmin()]
    verdict = (
        "met"
        if slowest["rate_ratio"] >= 0.98
        else f"missed by {100 * (1 - slowest['rate_ratio']):.0f} % ({slowest['architecture']} {slowest['layout']})"
    )
    lines.append(
        "| no architecture slower than torchvision's | multiply-adds/s ours / torchvision: "
        + ", ".join(f"{r.architecture} {r.layout} {r.rate_ratio:.3f}" for r in torchvision.itertuples())
        + "; time per clip ours / torchvision: "
        + ", ".join(f"{r.time_ratio:.3f}" for r in torchvision.itertuples())
        + f" | {verdict}; ours computes 1-3 % more multiply-adds (IG65M layout), so time alone overstates the gap |"
    )
    if peers is not None and not peers.empty:
        measured, result = bench_peers.verdict(peers)
        lines.append(
            "| no architecture slower than any peer's build of it (ours / peer clips/s >= 1.0, "
            f"[peers.md](peers.md)) | {measured} | {result} |"
        )
    loader_bound = e2e[e2e["bottleneck"] == "loader"]
    lines.append(
        "| data pipeline never the bottleneck | "
        + ", ".join(
            f"{r.model}: loader {r.loader_clips_per_s:.1f} vs model {r.model_clips_per_s:.1f} clips/s"
            for r in e2e.itertuples()
        )  # fmt: skip
        + f" | {'met' if loader_bound.empty else 'missed for ' + ', '.join(loader_bound['model'])} |"
    )
    lines += ["", "## Memory layout (the three goal architectures, batch 1)", ""]
    layout = []
    for row_id in GOAL_IDS:
        for name, frame in (("channels-last", cl), ("default", default)):
            row = frame.loc[row_id]
            layout.append(
                {
                    "id": row_id,
                    "layout": name,
                    "inference s [min, max]": bench_models._fmt_time(row, "infer"),
                    "inf % matmul": f"{row['infer_pct_matmul']:.0f}",
                    "inf BN folded % matmul": bench_models._fmt(row.get("infer_folded_pct_matmul"), 0),
                    "training s [min, max]": bench_models._fmt_time(row, "train"),
                    "train % matmul": bench_models._fmt(row["train_pct_matmul"], 0),
                }
            )
    lines += [pd.DataFrame(layout).to_markdown(index=False), ""]
    lines += [
        "Inference (evaluate, predict) runs channels-last with each BatchNorm folded into the convolution before it "
        "(actionlib/models/fold.py; `evaluate_checkpoint(fold_bn=False)`, `actionlib predict --no-fold-bn` to keep "
        "them). Training a single clip can be slower channels-last than in the default layout on this CPU (compare "
        "the training columns); `actionlib train --no-channels-last` switches it off.",
    ]
    lines += ["", "## Where the inference time goes (the three 75 % goal architectures)", ""]
    lines += _breakdown_notes(breakdown, models, ceiling)
    if profiles:
        lines += ["", "## Per-operator profiles (I3D, SlowFast-50: inference as evaluate runs it)", ""]
        lines += _profile_notes(profiles)
    if peers is not None and not peers.empty:
        lines += ["", "## Other libraries' builds of the same networks (batch 1)", ""]
        lines += _peer_notes(peers)
    lines += ["", "## Late temporal heads vs TGAP (ResNeXt101-3D, training step, batch 1)", ""]
    table = pd.DataFrame(
        {
            "id": heads["id"],
            "head": heads["head"],
            "clip": heads["clip"],
            "step s [min, max]": heads.apply(_range, axis=1, prefix="train_s", digits=3),
            "vs TGAP [min, max]": heads.apply(_range, axis=1, prefix="vs_tgap", digits=3),
            "vs avg (frmb) [min, max]": heads.apply(_range, axis=1, prefix="vs_same_backbone", digits=3),
        }
    )
    lines += [table.to_markdown(index=False), ""]
    lines += [
        "Steps timed round-robin (one step of each head per round), each ratio taken within a round. FRMB replaces "
        "layer4's last block with a narrower one, so the FRMB rows are compared with TGAP (the thesis's baseline) "
        "and with average pooling on the same FRMB backbone (the head's own cost).",
        "",
        "## End to end: training with the real data pipeline (synthetic dataset)",
        "",
    ]
    table = pd.DataFrame(
        {
            "model": e2e["model"],
            "clip": e2e["clip"],
            "batch": e2e["batch"],
            "workers": e2e["workers"],
            "loader clips/s": e2e["loader_clips_per_s"].map("{:.1f}".format),
            "model step clips/s": e2e["model_clips_per_s"].map("{:.2f}".format),
            "together clips/s [min, max]": e2e.apply(_range, axis=1, prefix="end_to_end_batch_clips_per_s"),
            "together / model": e2e["end_to_end_vs_model"].map("{:.2f}".format),
            "bottleneck": e2e["bottleneck"],
        }
    )
    lines += [table.to_markdown(index=False), ""]
    lines += [
        f"{int(e2e['batches_timed'][0])} batches timed per rate after one warm-up batch; the loader runs "
        f"`actionlib train`'s pipeline (decode, random clip, multi-scale crop, flip) in {int(e2e['workers'][0])} "
        f"worker processes, the model step is forward + backward + SGD with {int(e2e['torch_threads'][0])} torch "
        "threads. 'together / model' near 1: the loader's work hides behind the model step even though both share "
        "the 2 cores.",
        "",
        "## `actionlib predict` on a 10-second 320x240 video",
        "",
    ]
    p = predict.iloc[0]
    lines += [
        f"Model {p['model']} (ResNeXt101-3D + BERT, 64 frames, 51 classes; checkpoint written by the benchmark), "
        f"protocol {p['protocol']}, CPU: latency {_range(p, 'latency_s')} s per command (median [min, max] of "
        f"{int(p['repeats'])}), of which {p['import_only_s']:.2f} s is starting Python and importing torch; peak "
        f"resident memory {p['peak_mb']:.0f} MB ({p['import_only_peak_mb']:.0f} MB after the imports alone). "
        "predict runs under `torch.inference_mode` with channels-last weights and clips, as evaluate does.",
        "",
        "## Comparison with torchvision's R(2+1)D (inference, batch 1)",
        "",
    ]
    table = pd.DataFrame(
        {
            "architecture": torchvision["architecture"],
            "clip": torchvision["clip"],
            "layout": torchvision["layout"],
            "ours s [min, max]": torchvision.apply(_range, axis=1, prefix="ours_s", digits=3),
            "torchvision s [min, max]": torchvision.apply(_range, axis=1, prefix="torchvision_s", digits=3),
            "G mult-adds ours / tv": torchvision.apply(
                lambda r: f"{r.ours_gmacs:.1f} / {r.torchvision_gmacs:.1f}", axis=1
            ),
            "time ours / tv": torchvision["time_ratio"].map("{:.3f}".format),
            "mult-adds/s ours / tv": torchvision["rate_ratio"].map("{:.3f}".format),
        }
    )
    lines += [table.to_markdown(index=False), ""]
    lines += [
        "torchvision's VideoResNet built with its Conv2Plus1D and R2Plus1dStem (`r2plus1d_18` at depth 18); ours keeps "
        "the IG65M layout, whose downsampling blocks' second (2+1)D convolution is wider (more multiply-adds).",
        "",
        "## Activation checkpointing (training step, CPU)",
        "",
    ]
    table = pd.DataFrame(
        {
            "model": checkpointing["model"],
            "clip": checkpointing["clip"],
            "batch": checkpointing["batch"],
            "activation checkpointing": checkpointing["activation_checkpointing"],
            "step s [min, max]": checkpointing.apply(_range, axis=1, prefix="train_s"),
            "peak memory growth MB": checkpointing["peak_mb"].map("{:.0f}".format),
        }
    )
    lines += [table.to_markdown(index=False), ""]
    off, on = checkpointing.iloc[0], checkpointing.iloc[1]
    lines += [
        f"`actionlib train --activation-checkpointing` (TrainConfig.activation_checkpointing) recomputes the backbone "
        f"units ({len(on['stages'].split())}: the blocks of {', '.join(sorted({u.split('.')[0] for u in on['stages'].split()}))}) "
        "in the backward pass: "
        f"{on['peak_mb'] / off['peak_mb']:.2f}x the memory for "
        f"{on['train_s'] / off['train_s']:.2f}x the step time here. Off by default; use it when 64-frame clips at "
        "batch 8 do not fit the GPU.",
        "",
        "## Data pipeline readers",
        "",
        data.to_markdown(index=False),
        "",
        "## Other speed options",
        "",
        "- torch.compile and bf16 autocast for CPU inference: see [trials.md](trials.md) (opt-in, "
        "`python -m benchmarks.bench_all --trials`; not run by `make bench` because compiling takes about a minute per "
        "model here). Compile is offered as `evaluate_checkpoint(..., compile=True)`; bf16 is not used.",
        "- AMP (fp16 autocast) is used for CUDA training and evaluation only.",
        "",
        "Full per-model table: [models.md](models.md) ([csv](models.csv), [figure](models.png)).",
    ]
    return "\n".join(lines) + "\n"


def _breakdown_notes(breakdown: pd.DataFrame, models: pd.DataFrame, ceiling) -> list[str]:
    lines = []
    cl = models[models["memory_format"] == "channels_last"].set_index("id")
    for row_id in GOAL_IDS:
        rows = breakdown[breakdown["id"] == row_id]
        convs = rows[rows["part"].str.startswith("conv ")].sort_values("share_of_pass", ascending=False)
        ops = rows[rows["part"].str.startswith("op ")]
        conv_rate = 100 * convs["gmacs"].sum() / convs["seconds"].sum() / ceiling["median"]
        lines.append(
            f"- {row_id} ({cl.loc[row_id, 'infer_pct_matmul']:.0f} % of matmul overall): convolutions take "
            f"{100 * convs['share_of_pass'].sum():.0f} % of the pass and run at {conv_rate:.0f} % of the matmul rate "
            "("
            + "; ".join(
                f"{r.part[5:]} {100 * r.share_of_pass:.0f} % of the time at {r.pct_matmul:.0f} %"
                for r in convs.head(3).itertuples()
            )
            + "); the largest other operators, as shares of the pass: "
            + ", ".join(f"{r.part[3:]} {100 * r.share_of_pass:.0f} %" for r in ops.head(3).itertuples())
            + "."
        )
    lines += [
        "",
        "Conv kinds are kernels TxHxW (stem: the first convolution); their times come from forward hooks around each "
        "convolution in one channels-last pass, the other operators' shares from torch.profiler (self time) in "
        "another; details in [breakdown.csv](breakdown.csv). Max pooling, residual additions, concatenations and "
        "layout copies do no multiply-adds and are bound by memory bandwidth; so are 1x1x1 and thin convolutions "
        "(few multiply-adds per byte). I3D's max pools (3x3x3 and 2x2x2 windows with 'same' padding over up to "
        "832 channels) are its largest non-convolution cost; SlowFast's Fast pathway is 8-64 channels wide and its "
        "lateral connections add and concatenate large maps. R(2+1)D is almost only wide 1x3x3 and 3x1x1 "
        "convolutions.",
    ]
    return lines


def _profile_notes(profiles: dict) -> list[str]:
    """The largest operators of each profiled pass, with the rate of each (multiply-adds or bytes)."""
    lines = []
    for row_id, rows in profiles.items():
        total = rows[rows["group"] == "total"].iloc[0]
        ops = rows[rows["group"] != "total"].head(6)
        parts = []
        for r in ops.itertuples():
            rate = ""
            if not pd.isna(r.pct_matmul):
                rate = f" at {r.pct_matmul:.0f} % of the matmul rate"
            elif not pd.isna(r.args_gb_per_s):
                rate = f" moving {r.args_gb_per_s:.1f} GB/s"
            parts.append(f"{r.op.replace('aten::', '')} {100 * r.share_of_pass:.0f} %{rate}")
        lines.append(
            f"- {row_id} ({total['pct_matmul']:.0f} % of matmul overall, {total['seconds']:.2f} s, clip "
            f"{total['clip']}): " + "; ".join(parts) + f". Details: [{bench_models.profile_name(row_id)}]"
            f"({bench_models.profile_name(row_id)})."
        )
    lines += [
        "",
        "Shares are self times from torch.profiler (one channels-last pass, BatchNorm folded), scaled to the "
        "unprofiled pass; a convolution's multiply-adds are credited to the kernel under it (mkldnn_convolution: "
        "oneDNN). Operators without multiply-adds show the megabytes of their tensor arguments per second: far "
        "below the matmul rate by nature, they hold a pass below 75 % in proportion to their share of it.",
    ]
    return lines


def _peer_notes(peers: pd.DataFrame) -> list[str]:
    timed = peers[peers["infer_ratio"].notna()] if "infer_ratio" in peers else peers.iloc[:0]
    if timed.empty:
        return ["No peer build was timed: see [peers.md](peers.md)."]
    table = pd.DataFrame(
        {
            "architecture": timed["architecture"],
            "clip": timed["clip"],
            "peer": timed["peer"],
            "layout": timed["layout"],
            "G mult-adds ours / peer": timed.apply(lambda r: f"{r.ours_gmacs:.1f} / {r.peer_gmacs:.1f}", axis=1),
            "inference ours / peer clips/s": timed.apply(bench_peers._cell, axis=1, prefix="infer_ratio"),
            "same, ours BN folded": timed.apply(bench_peers._cell, axis=1, prefix="infer_folded_ratio"),
            "training ours / peer clips/s": timed.apply(bench_peers._cell, axis=1, prefix="train_ratio"),
        }
    )
    return [
        table.to_markdown(index=False),
        "",
        "Ratios are ours clips/s over the peer's (>= 1: ours as fast or faster), median [min, max] of round-robin "
        "rounds in one process, same threads and layout. Peers, the networks they could not build and why: "
        "[peers.md](peers.md).",
    ]


def trials_markdown(trials: pd.DataFrame, info: dict) -> str:
    lines = ["# torch.compile and bf16 autocast, CPU inference (batch 1, channels-last)", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    trials = trials.assign(note=trials["note"].fillna(""))
    lines += ["", trials.to_markdown(index=False, floatfmt=".3f"), ""]
    compiled = trials[(trials["mode"] == "compile") & trials["infer_s"].notna()]
    lines += [
        "Each mode runs in a fresh process: `first_call_s` is the first call (for compile: tracing and compiling; "
        "torch.compile keeps compiled kernels in an on-disk cache, so a model compiled before on this machine "
        "compiles faster), then the median [min, max] of the timed passes after the warm-up.",
        "",
        "torch.compile (inductor, default mode): "
        + ", ".join(
            f"{r.id} {r.speedup_vs_eager:.2f}x faster after {r.first_call_s:.0f} s for the first call"
            for r in compiled.itertuples()
        )
        + ". It pays off only over many clips of one shape, so `evaluate_checkpoint(..., compile=True)` offers it "
        "and nothing turns it on by default (a single `predict` would spend longer compiling than it saves).",
        "",
        "bf16 autocast: this CPU has no AVX-512 BF16 or AMX, so bf16 convolutions are emulated; a pass did not "
        "finish within the time limit (eager fp32 takes seconds). Not used.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
