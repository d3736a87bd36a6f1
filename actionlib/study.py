"""The thesis study on every profile: the rows of `recipes.RECIPES`, planned for a profile, run by one runner.

A profile scales a row; it never picks other code. Each stream of a row is *planned* for the profile:

- `full`: the thesis's fine-tuning run, end to end from its public initialisation (`recipes.train_stream`), tested
  from its checkpoint (`recipes.stream_scores`).
- `smoke` and `test` (CPU, synthetic data): the same row with visible changes (`Plan.changes`): the network of the
  same kind made small (a narrow ResNet18, `Profile.width` channels; the CPU 3D ResNeXt of `experiments.small_3d`),
  pretrained once on the synthetic training split and frozen (the stand-in for ImageNet/Kinetics pretraining),
  the row's head, fusion and optimizer trained on the cached features of that backbone, fewer frames, smaller
  frames, the pose frames standing in for RGB (`Profile.modality`) except in tables that also have a pose stream.
  A row the profile cannot ask says why (`Plan.reason`).

Either way a stream is trained through `engine.fit`, tested under the row's protocol with the same `ClipDataset`,
`FrameSampler` and `ClipTransform` code (decoded frames come from memory on the CPU profiles), several streams
are fused (sum of L2-normalised logits, the authors' fusion) and `summary` writes one table per thesis table with
the same columns under every profile.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import recipes
from .recipes import STREAMS, Recipe

# Stream options the CPU networks keep as they are; the others are listed in `Plan.changes` when dropped.
HEAD_OPTIONS = ("head", "fusion", "layers", "heads", "cls", "normalize_input")
# Learning rates of heads trained from their random initialisation on frozen features (the thesis's 1e-4 for the
# adaptive optimizers is for fine-tuning a pretrained network; SGD keeps 1e-2).
HEAD_LR = {"sgd": 1e-2}
HEAD_LR_DEFAULT = 1e-3


@dataclass(frozen=True)
class Plan:
    """One stream of a row as a profile runs it."""

    key: str  # the stream of `recipes.STREAMS`
    how: str  # "fine-tune" (end to end) or "head" (a head on a frozen pretrained backbone's cached features)
    model: str
    modality: str
    frames: int
    options: dict = dataclasses.field(default_factory=dict)  # head row options ("head" runs) or model options
    changes: tuple[str, ...] = ()  # what differs from the thesis's stream, in words
    reason: str | None = None  # why the profile cannot run this stream (then nothing runs)
    teacher: str | None = None


def is_2d(model: str) -> bool:
    return model.startswith("resnet") and model[len("resnet") :].isdigit()


def _cpu_modality(stream_modality: str, recipe: Recipe, cfg) -> str:
    """RGB streams run on `cfg.modality` (the rendered pose frames: from scratch, the cluttered RGB frames are not
    learned at this scale), except in tables that also have a pose stream, where RGB must stay RGB."""
    if stream_modality != "rgb":
        return stream_modality
    table_modalities = {STREAMS[k].modality for r in recipes.recipes_for(recipe.table) for k in r.streams}
    return "rgb" if "pose" in table_modalities else cfg.modality


def plan(key: str, recipe: Recipe, cfg) -> Plan:
    """How `cfg` runs stream `key` of `recipe` (see the module docstring)."""
    from . import experiments as ex

    stream = STREAMS[key]
    frames = stream.options.get("frames", 16)
    if cfg.name == "full":
        return Plan(
            key, "fine-tune", stream.model, stream.modality, frames, dict(stream.options), teacher=stream.teacher
        )
    modality = _cpu_modality(stream.modality, recipe, cfg)
    changes = [] if modality == stream.modality else [f"{modality} frames for {stream.modality}"]
    options = {k: v for k, v in stream.options.items() if k in HEAD_OPTIONS}
    dropped = sorted(set(stream.options) - set(HEAD_OPTIONS) - {"frames", "size", "nonlocal_blocks"})
    if is_2d(stream.model):
        if stream.model != "resnet18":
            return Plan(key, "head", stream.model, modality, frames, reason=(
                f"{stream.model} not trained on CPU: from scratch on 336 videos a deeper narrow network is worse, "
                "not better (ResNet34 backbone 26 % test Top-1 against ResNet18's 53 %, measured at 20 epochs)"))  # fmt: skip
        model, width = "resnet18", cfg.width
        clip = 1 if frames == 1 else cfg.frames
        changes.append(f"narrow ResNet18 (width {width}), pretrained on the synthetic training split, frozen")
        changes.append(f"{clip} segment{'s' if clip > 1 else ''}")
    elif stream.model == "resnext3d_101":
        net = ex.small_3d(cfg)
        model, width, clip = net["model"], net["width"], net["frames"]
        changes.append(f"CPU 3D ResNeXt (width {width}, one block per stage), pretrained on the synthetic training "
                       "split, frozen")  # fmt: skip
        changes.append(f"{clip} frames")
    else:
        return Plan(key, "head", stream.model, modality, frames, reason=(
            f"{stream.model} not trained on CPU: the CPU profiles have one small 3D network, and an architecture "
            "comparison needs the architectures (their sizes are counted in full, see the complexity tables)"))  # fmt: skip
    if stream.weights:
        changes.append(f"no {stream.weights}")
    if dropped:
        changes.append("without " + ", ".join(f"{k}={stream.options[k]}" for k in dropped))
    head = options.get("head", "avg" if is_2d(stream.model) else "tgap")
    options = {**options, "head": head, **ex.narrow_head_options(head, width)}
    if frames == 1:
        options["frames"] = 1
    train = dict(stream.train)
    train.pop("stride", None)
    optimizer = train.pop("optimizer", "adamw")
    train.pop("lr", None)
    options.update(optimizer=optimizer, lr=HEAD_LR.get(optimizer, HEAD_LR_DEFAULT), **train)
    return Plan(key, "head", model, modality, clip, options, tuple(changes), teacher=stream.teacher)


def plans(recipe: Recipe, cfg) -> list[Plan]:
    return [plan(k, recipe, cfg) for k in recipe.streams]


# ------------------------------------------------------------------------------------------------ CPU streams
class _CpuStreams:
    """The CPU profiles' backbones and heads, made once per call of `run` (the run folders cache them across calls)."""

    def __init__(self, cfg, runs_dir: Path, seed: int):
        self.cfg, self.runs_dir, self.seed = cfg, runs_dir, seed
        self._data, self._backbones = {}, {}

    def data(self, modality: str, split: int):
        from . import experiments as ex

        if (modality, split) not in self._data:
            self._data[modality, split] = ex.cpu_data(self.cfg, modality=modality, split=split)
        return self._data[modality, split]

    def backbone(self, p: Plan, split: int) -> dict:
        from . import experiments as ex

        key = (p.model, p.modality, split)
        if key not in self._backbones:
            data = self.data(p.modality, split)
            if is_2d(p.model):
                self._backbones[key] = ex.pretrain(self.cfg, data, p.model, seed=self.seed)
            else:
                self._backbones[key] = ex.pretrain(self.cfg, data, **ex.small_3d(self.cfg), head="tgap", seed=self.seed)
        return self._backbones[key]

    def teacher(self, p: Plan, recipe: Recipe, split: int) -> dict | None:
        if not p.teacher:
            return None
        t = plan(p.teacher, recipe, self.cfg)
        return {"backbone": self.backbone(t, split), "data": self.data(t.modality, split),
                "row": {"row": t.key, **t.options}}  # fmt: skip

    def scores(self, p: Plan, recipe: Recipe, split: int, seed: int, protocol: str) -> dict:
        """Test scores of the head `p` (trained first if its run is not cached) under `protocol`."""
        from . import experiments as ex

        backbone, data = self.backbone(p, split), self.data(p.modality, split)
        row = {"row": p.key, **p.options}
        run = ex.run_heads([row], backbone, data, self.cfg, self.runs_dir / f"split{split}", seeds=[seed],
                           protocol=protocol, teacher=self.teacher(p, recipe, split)).iloc[0]  # fmt: skip
        scoring = row
        if recipe.test_frames and row.get("frames") == 1:  # trained on one frame, tested on all (Section 3.3.1)
            scoring = {k: v for k, v in row.items() if k != "frames"}
        scores, labels = ex.head_scores(run["run_dir"], backbone, scoring, data, protocol)
        return {"scores": scores, "labels": labels, "indices": np.arange(len(labels)), "class_names": data.class_names,
                "run": run["run_dir"], "train_top1": run["train_top1"], "seconds": run["seconds"],
                "parameters": run["parameters"]}  # fmt: skip


def _full_scores(cfg, p: Plan, recipe: Recipe, split: int, seed: int, protocol: str, runs_dir: Path, stand_in):
    checkpoint = recipes.train_stream(cfg, p.key, recipe.dataset, split, seed, runs_dir, stand_in)
    scores = recipes.stream_scores(checkpoint, protocol, cfg, frames=recipes.test_frames(recipe, stand_in))
    return {**scores, "run": str(checkpoint.parent)}


# ------------------------------------------------------------------------------------------------ the runner
def run(cfg, rows, runs_dir: str | Path, seed: int = 0, stand_in: str | None = None, protocols=None) -> pd.DataFrame:
    """Train and test every row the profile can run, on the profile's splits and seeds (split 1 only where the
    thesis reports split 1): one line per row, split, seed and protocol with Top-1/Top-3 (%), the test videos,
    the mean reversed-pair accuracy (synthetic data; NaN elsewhere) and the run folders."""
    from .data.synthetic import reversed_pairs
    from .engine.evaluate import summarize
    from .engine.fusion import fuse_sets

    runs_dir = Path(runs_dir)
    cpu = _CpuStreams(cfg, runs_dir, seed) if cfg.name != "full" else None
    jobs = []
    for recipe in rows:
        planned = plans(recipe, cfg)
        if recipe.unsupported or any(p.reason for p in planned):
            continue
        jobs += [(recipe, planned, split, seed + s) for split in recipes.splits_of(recipe, cfg) for s in cfg.seeds]
    records, cache = [], {}
    for recipe, planned, split, run_seed in tqdm(jobs, desc="thesis rows"):
        for protocol in protocols or [recipe.protocol]:
            sets = []
            for p in planned:
                job = (p.key, recipe.table, recipe.dataset, split, run_seed, protocol, recipe.test_frames)
                if job not in cache:
                    if cpu is not None:
                        cache[job] = cpu.scores(p, recipe, split, run_seed, protocol)
                    else:
                        cache[job] = _full_scores(cfg, p, recipe, split, run_seed, protocol, runs_dir, stand_in)
                sets.append(cache[job])
            fused = fuse_sets(sets, "l2") if len(sets) > 1 else sets[0]
            names = list(fused["class_names"])
            report = summarize(fused["scores"], fused["labels"], len(names), names, reversed_pairs(names))
            pairs = report.get("pairwise_accuracy", {})
            records.append({
                "table": recipe.table, "row": recipe.row, "dataset": recipe.dataset, "split": split, "seed": run_seed,
                "protocol": protocol, "top1": report["top1"], "top3": report["top3"], "videos": report["videos"],
                "reversed_pairs": pairs.get("mean", np.nan), "modality": " + ".join(p.modality for p in planned),
                "train_top1": sets[0].get("train_top1", np.nan) if len(sets) == 1 else np.nan,
                "streams": " + ".join(recipe.streams), "runs": ";".join(str(s["run"]) for s in sets),
            })  # fmt: skip
    return pd.DataFrame.from_records(records)


def _status(recipe: Recipe, planned: list[Plan], cfg, stand_in) -> tuple[str, str]:
    """(status, what ran differently from the thesis) of a row under `cfg`."""
    reasons = [p.reason for p in planned if p.reason]
    if recipe.unsupported or reasons:
        return f"not run: {recipe.unsupported or reasons[0]}", ""
    changes = list(dict.fromkeys(c for p in planned for c in p.changes))
    if stand_in is not None:
        changes.insert(0, f"the {stand_in!r} stand-in network, not the thesis's")
    return "run", "; ".join(changes)


# The columns of every `summary` table, whatever the profile.
COLUMNS = ("table", "row", "ours", "dataset", "modality", "protocol", "runs", "videos", "top1", "top1_low", "top1_high",
           "top1_std", "top3", "reversed_pairs", "train_top1", "thesis_dataset", "thesis_top1", "difference",
           "thesis_rank", "our_rank", "splits", "status", "ran_as", "note")  # fmt: skip


def summary(runs: pd.DataFrame, rows, cfg, stand_in: str | None = None) -> pd.DataFrame:
    """One line per row (and protocol): Top-1 with its 95 % interval over the test videos, Top-3, the
    reversed-pair accuracy, beside the thesis's Top-1 and rank; rows not run keep their reason in `status`.

    The columns are the same under every profile. `difference` (ours - thesis) is filled only where the data are
    the thesis's (a synthetic number minus an HMDB51 one means nothing); the ranks compare orderings. `top1_std` is
    the spread over runs (splits x seeds), blank for one run.
    """
    from . import reference, stats

    keys = ["table", "row", "protocol"]
    thesis = pd.concat([reference.accuracy(t) for t in dict.fromkeys(r.table for r in rows)])
    out = []
    for recipe in rows:
        planned = plans(recipe, cfg)
        status, ran_as = _status(recipe, planned, cfg, stand_in)
        match = thesis[(thesis["table"] == recipe.table) & (thesis["row"] == recipe.row)
                       & (thesis["dataset"] == recipe.dataset)]  # fmt: skip
        base = {"table": recipe.table, "row": recipe.row, "ours": reference.is_ours(recipe.row),
                "dataset": cfg.dataset if cfg.name != "full" else recipe.dataset,
                "thesis_dataset": recipe.dataset, "thesis_top1": match["top1"].iloc[0] if len(match) else np.nan,
                "status": status, "ran_as": ran_as,
                "note": recipes.POSE_NOTE if any(p.modality == "pose" for p in planned) else ""}  # fmt: skip
        mine = runs[(runs["table"] == recipe.table) & (runs["row"] == recipe.row)] if len(runs) else runs
        if not len(mine):
            out.append({**base, "protocol": recipe.protocol})
            continue
        for protocol, part in mine.groupby("protocol", sort=False):
            n_runs, videos = len(part), int(part["videos"].sum())
            correct = int(round((part["top1"] * part["videos"] / 100).sum()))
            low, high = stats.wilson_interval(correct, videos)
            out.append({**base, "protocol": protocol, "modality": part["modality"].iloc[0], "runs": n_runs,
                        "videos": int(part["videos"].iloc[0]), "top1": part["top1"].mean(), "top1_low": low,
                        "top1_high": high, "top1_std": part["top1"].std(ddof=0) if n_runs > 1 else np.nan,
                        "top3": part["top3"].mean(), "reversed_pairs": part["reversed_pairs"].mean(),
                        "train_top1": part["train_top1"].mean(),
                        "splits": ",".join(map(str, sorted(set(part["split"]))))})  # fmt: skip
    table = pd.DataFrame.from_records(out)
    for name, part in table.groupby("table", sort=False):
        reference.require_thesis_values(name, part["row"], part["thesis_top1"])
    for column in ("modality", "runs", "videos", "top1", "top1_low", "top1_high", "top1_std", "top3",
                   "reversed_pairs", "train_top1", "splits"):  # fmt: skip
        if column not in table:
            table[column] = np.nan
    same_data = table["dataset"] == table["thesis_dataset"]
    table["difference"] = (table["top1"] - table["thesis_top1"]).where(same_data)
    ranked = table["top1"].notna() & ~table["ours"]
    for name, rank_of in (("thesis_rank", "thesis_top1"), ("our_rank", "top1")):
        table[name] = table[ranked].groupby(["table", "protocol"])[rank_of].rank(ascending=False, method="min")
    columns = list(COLUMNS)  # fmt: skip
    table = table[columns]
    table["table"] = "Table " + table["table"]  # a label, not a number ("3.9" would print as 3.90)
    return table.drop(columns=[c for c in keys if c not in columns])


def runs_dir_for(cfg, notebook: str, stand_in: str | None = None) -> Path:
    """Where a notebook's runs live: runs/full (shared by every notebook and `actionlib recipes`), a stand-in's
    own folder per data root, or runs/notebooks/<NN> for the CPU profiles."""
    from . import paths
    from .experiments import cache_key

    if cfg.name == "full":
        base = paths.runs_dir() / "full"
        return base if stand_in is None else base.with_name(f"full_{stand_in}") / cache_key(data_root=cfg.data_root)
    return paths.repo_root() / "runs" / "notebooks" / notebook


def run_tables(cfg, tables, notebook: str, seed: int = 0, stand_in: str | None = None, protocols=None,
               runs_dir: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Run the rows of `tables` under `cfg`: (summary, every run). Under `full` with `stand_in`, the stand-in's
    own public-layout checkpoints are written first and the profile is shrunk to a short CPU run."""
    rows = recipes.recipes_for(tables)
    runs_dir = Path(runs_dir) if runs_dir is not None else runs_dir_for(cfg, notebook, stand_in)
    if cfg.name == "full" and stand_in is not None:
        weights = runs_dir / "stand_in_weights"
        recipes.write_stand_in_weights(weights, rows, stand_in)
        cfg = dataclasses.replace(cfg, weights_dir=str(weights), **recipes.STAND_INS[stand_in]["profile"])
    runs = run(cfg, rows, runs_dir, seed, stand_in, protocols)
    return summary(runs, rows, cfg, stand_in), runs


def table_of(summary_table: pd.DataFrame, table: str) -> pd.DataFrame:
    """One thesis table's lines of a `summary` (e.g. "3.3")."""
    return summary_table[summary_table["table"] == f"Table {table}"].reset_index(drop=True)


def plot_table(table: pd.DataFrame, title: str, path: str | Path | None = None):
    """Our Top-1 (with its 95 % interval) beside the thesis's, one bar pair per row; the reversed-pair accuracy
    where the data have reversed pairs. Returns the figure (saved to `path` if given)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    shown = table.dropna(subset=["top1"])
    pairs = shown["reversed_pairs"].notna().any()
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(1, 2 if pairs else 1, figsize=(12 if pairs else 8, 0.45 * max(len(table), 3) + 1.6),
                             squeeze=False, sharey=True)  # fmt: skip
    ax = axes[0, 0]
    y = np.arange(len(table))
    ax.barh(y - 0.2, table["thesis_top1"], height=0.4, color="tab:gray", label="thesis (HMDB51)")
    ours = table["top1"].to_numpy(dtype=float)
    errors = np.vstack(
        [ours - table["top1_low"].to_numpy(dtype=float), table["top1_high"].to_numpy(dtype=float) - ours]
    )
    ax.barh(y + 0.2, ours, height=0.4, xerr=np.nan_to_num(errors), color="tab:blue", label="ours (95 % interval)")
    ax.set(yticks=y, yticklabels=table["row"], xlim=(0, 100), xlabel="Top-1 (%)", title=title)
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    if pairs:
        ax2 = axes[0, 1]
        ax2.barh(y, table["reversed_pairs"], color="tab:orange")
        ax2.axvline(50, color="black", ls="--", lw=1)
        ax2.set(xlim=(0, 100), xlabel="reversed-pair accuracy (%; 50 = blind to time order)")
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


def ordering_note(table: pd.DataFrame, name: str) -> str:
    """One sentence on a table: our best row with its interval, the thesis's best, and which rows our interval
    cannot tell apart from our best (with one run on a small test set, most of them)."""
    ran = table[(table["status"] == "run") & ~table["ours"].astype(bool)].dropna(subset=["top1"])
    if len(ran) < 2:
        return ""
    best = ran.loc[ran["top1"].idxmax()]
    thesis_best = ran.loc[ran["thesis_top1"].idxmax()]
    tied = ran[(ran["top1_high"] >= best["top1_low"]) & (ran["row"] != best["row"])]
    same = (
        "the same row"
        if best["row"] == thesis_best["row"]
        else f"{thesis_best['row']} ({thesis_best['thesis_top1']:.2f} %)"
    )
    return (
        f"{name}: best here {best['row']} ({best['top1']:.1f} %, 95 % interval {best['top1_low']:.0f}-"
        f"{best['top1_high']:.0f}, {int(best['runs'])} run(s)); the thesis's best of these rows: {same}. "
        f"{len(tied)} of the other {len(ran) - 1} rows have intervals that overlap it: "
        + ("the ordering is not established here." if len(tied) else "it is ahead of all of them here.")
    )  # fmt: skip


def reproduce_tables(cfg, notebook: str, results: str | Path, runs_dir: str | Path | None = None, seed: int = 0,
                     stand_in: str | None = None, protocols=None) -> pd.DataFrame:  # fmt: skip
    """A notebook's rows in two tables, `<NN>_full_runs` (every split and seed) and `<NN>_full_tables` (the summary
    beside the thesis), with a figure; returns the summary. The notebooks that run their CPU study separately
    write these under `full`."""
    from .experiments import save_table

    table, runs = run_tables(cfg, recipes.NOTEBOOK_TABLES[notebook], notebook, seed, stand_in, protocols, runs_dir)
    runs_table = runs.assign(table="Table " + runs["table"]) if len(runs) else runs
    save_table(runs_table, results, f"{notebook}_full_runs", profile=cfg)
    save_table(table, results, f"{notebook}_full_tables", profile=cfg)
    plot_summary(table, Path(results) / "figures" / f"{notebook}_full_tables.png")
    return table


def plot_summary(table: pd.DataFrame, path: str | Path) -> None:
    """Our Top-1 beside the thesis's, one panel per table."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    shown = table.dropna(subset=["top1"])
    long = shown.melt(id_vars=["table", "row", "dataset", "protocol"], value_vars=["top1", "thesis_top1"],
                      var_name="source", value_name="Top-1 (%)").replace({"top1": "ours", "thesis_top1": "thesis"})  # fmt: skip
    tables = list(dict.fromkeys(long["table"])) or ["-"]
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(len(tables), 1, figsize=(10, 0.35 * max(len(long), 8) + 1.5), squeeze=False)
    for ax, name in zip(axes[:, 0], tables, strict=True):
        part = long[long["table"] == name]
        part = part.assign(label=part["row"] + " (" + part["dataset"] + ", " + part["protocol"] + ")")
        if len(part):
            sns.barplot(data=part, y="label", x="Top-1 (%)", hue="source", ax=ax)
        ax.set(title=name, ylabel="")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
