"""The thesis study on every profile: the rows of `recipes.RECIPES`, planned for a profile, run by one runner.

A profile scales a row; it never picks other code. Each stream of a row is *planned* from the profile's fields
(`Profile.backbone`, `Profile.synthetic`, sizes), and the plan says how it runs:

- on the dataset's files (`Plan.source` "files"; backbone "published" or "tiny"): the thesis's fine-tuning run,
  end to end from its public initialisation (`recipes.train_stream`), tested from its checkpoint
  (`recipes.stream_scores`); a tiny backbone runs the same protocol on a tiny network of the stream's kind.
- in memory on a generated synthetic set (`Plan.source` "memory"; backbone "small"): the same row with visible
  changes (`Plan.changes`): the network of the same kind made small (a narrow ResNet18, `Profile.width` channels;
  the CPU 3D ResNeXt of `experiments.small_3d`), pretrained once per seed on a disjoint synthetic pretraining set
  and frozen (the stand-in for ImageNet/Kinetics pretraining: `profiles.SyntheticSet`), the row's head, fusion
  and optimizer trained on the cached features of that backbone, fewer frames, smaller frames, the pose frames
  standing in for RGB (`Profile.modality`) except in tables that also have a pose stream. A row the profile
  cannot ask says why (`Plan.reason`).

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
    how: str  # "fine-tune" (the network trained end to end) or "head" (a head on a frozen backbone's features)
    model: str
    modality: str
    frames: int
    options: dict = dataclasses.field(default_factory=dict)  # head options ("head") or network settings
    changes: tuple[str, ...] = ()  # what differs from the thesis's stream, in words
    reason: str | None = None  # why the profile cannot run this stream (then the row does not run)
    teacher: str | None = None
    init: str | None = None  # the stream whose trained weights start this one (CPU "16f pre-trained" rows)
    source: str = "memory"  # "files": the dataset's videos (`recipes.train_stream`); "memory": a decoded synthetic set
    test_frames: int | None = None  # frames the stream is tested on where they differ from training ("files")


# Tables that compare networks (clip length, grouped convolutions, initialisation, architectures), not heads: on the
# CPU profiles each of their streams is the CPU network trained end to end with TGAP on the target's training split.
# The other tables' 3D rows, Tables 3.9 and C.1 (the two streams and their test protocols) included, are heads on
# the frozen pretrained network, the stand-in for the thesis's Kinetics-pretrained one.
NETWORK_TABLES = ("3.8", "3.10", "C.2")
PRETRAINED = "pretrained on a disjoint synthetic set (other videos of the same classes), frozen"
CPU_3D = {"resnext3d_101": "ResNeXt", "resnet3d_101": "ResNet"}
NOT_ON_CPU = {
    "depth": "from scratch on 336 videos a deeper narrow network is worse, not better (ResNet34 "
    "backbone 26 % test Top-1 against ResNet18's 53 %, measured at 20 epochs)",
    "architecture": "the CPU profiles have one small 3D network, and an architecture comparison "
    "needs the architectures (their sizes are counted in full in the complexity tables)",
    "resolution": "a network trained from scratch at 64x48 does not transfer to a larger frame in "
    "a few epochs (96x72, 5 epochs: 32.6 -> 20.1 %, measured); the thesis's row starts from Kinetics weights",
    "mars": "MARS distils into the backbone, which the CPU profiles freeze",
    "dataset": "the CPU profiles have one dataset (synthetic), which stands in for HMDB51",
    "breadth": "the default CPU run keeps three runs of the rows the thesis's claims compare and the tables that "
    "reuse their networks, within 30 minutes on 2 cores; `--profile cpu` runs this table too",
}


# How the CPU profiles choose the epoch they keep (the full profile keeps the authors' rule: the best test Top-1).
SELECTION = "best epoch chosen on training videos held out for validation, not on the test split"
FULL_SELECTION = "best epoch chosen on the test list, the authors' rule (HMDB51 has no validation split; Section 3.2.5)"


def is_2d(model: str) -> bool:
    return model.startswith("resnet") and model[len("resnet") :].isdigit()


def _cpu_modality(stream_modality: str, recipe: Recipe, cfg) -> str:
    """RGB streams run on `cfg.modality` (the rendered pose frames: from scratch, the cluttered RGB frames are not
    learned at this scale), except in tables that also have a pose stream, where RGB must stay RGB."""
    if stream_modality != "rgb":
        return stream_modality
    table_modalities = {STREAMS[k].modality for r in recipes.recipes_for(recipe.table) for k in r.streams}
    return "rgb" if "pose" in table_modalities else cfg.modality


def _init_stream(key: str, recipe: Recipe) -> str | None:
    """The stream of the same table with the same initialisation file and shorter clips: what a "16f pre-trained"
    row starts from (on CPU, that stream's trained network)."""
    stream = STREAMS[key]
    for other in dict.fromkeys(k for r in recipes.recipes_for(recipe.table) for k in r.streams):
        candidate = STREAMS[other]
        if (candidate.weights == stream.weights and candidate.model == stream.model
                and candidate.options.get("frames", 0) < stream.options.get("frames", 0)):  # fmt: skip
            return other
    return None


def _files_plan(key: str, recipe: Recipe, cfg) -> Plan:
    """The thesis's run of stream `key` on the dataset's files, end to end from its initialisation; with a tiny
    backbone (`recipes.STAND_INS`), the same run on the tiny network of the stream's kind."""
    stream, changes, test_frames = STREAMS[key], [], recipe.test_frames
    if cfg.backbone in recipes.STAND_INS:
        stream = recipes.stand_in_stream(stream, cfg.backbone)
        changes.append(f"the {cfg.backbone!r} stand-in network, not the thesis's")
        test_frames = recipes.STAND_INS[cfg.backbone]["2d"]["frames"] if test_frames else None
    return Plan(key, "fine-tune", stream.model, stream.modality, stream.options.get("frames", 16),
                dict(stream.options), (*changes, FULL_SELECTION), teacher=stream.teacher, source="files",
                test_frames=test_frames)  # fmt: skip


def plan(key: str, recipe: Recipe, cfg) -> Plan:
    """How `cfg` runs stream `key` of `recipe` (see the module docstring)."""
    from . import experiments as ex
    from .engine.optim import default_optimizer

    if cfg.backbone != "small":
        return _files_plan(key, recipe, cfg)
    stream = STREAMS[key]
    frames = stream.options.get("frames", 16)
    modality = _cpu_modality(stream.modality, recipe, cfg)

    def refused(why: str) -> Plan:
        return Plan(key, "head", stream.model, modality, frames, reason=f"{stream.model}: {NOT_ON_CPU[why]}")

    if cfg.tables is not None and recipe.table not in cfg.tables:
        return Plan(key, "head", stream.model, modality, frames, reason=NOT_ON_CPU["breadth"])
    if recipe.dataset != "hmdb51":
        return refused("dataset")
    if stream.train.get("distill") == "mars" or stream.weights == recipes.MARS:
        return refused("mars")
    teacher_reason = plan(stream.teacher, recipe, cfg).reason if stream.teacher else None
    if teacher_reason:
        return Plan(key, "head", stream.model, modality, frames, reason=f"its teacher {teacher_reason}")
    if is_2d(stream.model) and stream.model != "resnet18":
        return refused("depth")
    if not is_2d(stream.model) and stream.model not in CPU_3D:
        return refused("architecture")
    if stream.options.get("size", 0) > 112:
        return refused("resolution")
    changes = [] if modality == stream.modality else [f"{modality} frames for {stream.modality}"]
    changes.append(SELECTION)
    if is_2d(stream.model):
        model, width = "resnet18", cfg.width
        clip = 1 if frames == 1 else cfg.frames
        changes.append(f"narrow ResNet18 (width {width}) {PRETRAINED}")
        changes.append(f"{clip} segment{'s' if clip > 1 else ''}")
    else:
        net = ex.small_3d(cfg)
        model, width = stream.model, net["width"]
        clip = net["frames"] if frames >= 64 else max(1, net["frames"] // 2)
        name = f"CPU 3D {CPU_3D[model]} (width {width}, one block per stage)"
        if recipe.table in NETWORK_TABLES:
            init = _init_stream(key, recipe)
            epochs = max(1, net["epochs"] // 2) if init else net["epochs"]
            changes += [f"{name} trained end to end with TGAP on the synthetic training split, {epochs} epochs, "
                        f"AdamW {net['lr']:g}", f"{clip} frames"]  # fmt: skip
            changes.append(f"started from the CPU {init} network" if init else f"from scratch, not {stream.weights}")
            options = {**net, "model": model, "frames": clip, "epochs": epochs}
            return Plan(key, "fine-tune", model, modality, clip, options, tuple(changes), init=init)
        changes += [f"{name} {PRETRAINED}", f"{clip} frames"]
    if stream.weights:
        changes.append(f"not {stream.weights}")
    options = {k: v for k, v in stream.options.items() if k in HEAD_OPTIONS}
    dropped = sorted(set(stream.options) - set(HEAD_OPTIONS) - {"frames", "size"})
    if dropped:
        changes.append("without " + ", ".join(f"{k}={stream.options[k]}" for k in dropped))
    head = options.get("head", "avg" if is_2d(stream.model) else "tgap")
    if is_2d(stream.model) or head not in ex.MATCHED_HEADS:
        options = {**options, "head": head, **ex.narrow_head_options(head, width)}
    else:  # Section 4.2.3: the 3D heads are sized to BERT's parameter count on the same features (`net` above)
        shape = ex.feature_shape(net["model"], clip, **{k: net[k] for k in ("blocks", "width", "layer4_time_stride")})
        hidden = ex.matched_hidden(head, *shape)
        options = {**options, "head": head, "hidden": hidden}
        changes.append(f"hidden size {hidden}: as many parameters as the BERT head on these features (Section 4.2.3)")
    if frames == 1:
        options["frames"] = 1
    train = {k: v for k, v in stream.train.items() if k not in ("stride", "lr")}
    # the optimizer the full profile's engine gives this stream (SGD for the 3D TGAP baselines, AdamW for BERT and
    # the 2D models), at a learning rate for a head trained from its random initialisation
    optimizer = train.pop("optimizer", None) or default_optimizer(stream.model, stream.options.get("head"))
    options.update(optimizer=optimizer, lr=HEAD_LR.get(optimizer, HEAD_LR_DEFAULT), **train)
    return Plan(key, "head", "resnet18" if is_2d(model) else "resnext3d_101", modality, clip, options, tuple(changes),
                teacher=stream.teacher)  # fmt: skip


def plans(recipe: Recipe, cfg) -> list[Plan]:
    return [plan(k, recipe, cfg) for k in recipe.streams]


# ------------------------------------------------------------------------------------------------ CPU streams
class _CpuStreams:
    """The CPU profiles' networks and heads, made once per call of `run` (run folders cache them across calls)."""

    def __init__(self, cfg, runs_dir: Path, classes: tuple[str, tuple[str, ...]] | None = None):
        self.cfg, self.runs_dir, self.classes = cfg, runs_dir, classes  # classes: (name, class names) of a control
        self._data, self._networks = {}, {}

    def data(self, modality: str, split: int, pretraining: bool = False):
        from . import experiments as ex

        if (modality, split, pretraining) not in self._data:
            data = ex.cpu_data(self.cfg, modality, split, pretraining)
            if self.classes is not None and not pretraining:  # a control dataset: the heads see these classes only
                data = data.only(self.classes[1], self.classes[0])
            self._data[modality, split, pretraining] = data
        return self._data[modality, split, pretraining]

    def network(self, p: Plan, recipe: Recipe, split: int, seed: int) -> dict:
        """The `experiments.pretrain` run of a fine-tuned stream (on the split's training videos), or of a head
        stream's frozen backbone (on the pretraining set, whatever the split, as one Kinetics network serves the
        three HMDB51 splits): each seed trains its own (the spread between runs comes mostly from the backbone)."""
        from . import experiments as ex

        if p.how == "fine-tune":
            settings = dict(p.options)
        elif is_2d(p.model):
            settings = {"model": p.model}
        else:
            settings = ex.small_3d(self.cfg)
        if not is_2d(settings["model"]):
            settings["head"] = "tgap"
        init = self.network(plan(p.init, recipe, self.cfg), recipe, split, seed)["checkpoint"] if p.init else None
        source = (split, False) if p.how == "fine-tune" else (1, True)  # (split, pretraining set)
        key = (p.modality, *source, seed, init, *sorted(settings.items()))
        if key not in self._networks:
            data = self.data(p.modality, *source)
            self._networks[key] = ex.pretrain(self.cfg, data, **settings, seed=seed, init=init)
        return self._networks[key]

    def teacher(self, p: Plan, recipe: Recipe, split: int, seed: int) -> dict | None:
        if not p.teacher:
            return None
        t = plan(p.teacher, recipe, self.cfg)
        return {"backbone": self.network(t, recipe, split, seed), "data": self.data(t.modality, split),
                "row": {"row": t.key, **t.options}}  # fmt: skip

    def scores(self, p: Plan, recipe: Recipe, split: int, seed: int, protocol: str) -> dict:
        """Test scores of stream `p` under `protocol` (its network or head trained first unless cached)."""
        from . import experiments as ex

        network, data = self.network(p, recipe, split, seed), self.data(p.modality, split)
        if p.how == "fine-tune":  # the network's own TGAP classifier
            run_dir, row = Path(network["checkpoint"]).parent, {"row": p.key, "head": "tgap"}
            run = network
        else:
            row = {"row": p.key, **p.options}
            run = ex.run_heads([row], network, data, self.cfg, self.runs_dir / f"split{split}", seeds=[seed],
                               protocol=protocol, teacher=self.teacher(p, recipe, split, seed)).iloc[0]  # fmt: skip
            run_dir = run["run_dir"]
        if recipe.test_frames and row.get("frames") == 1:  # trained on one frame, tested on all (Section 3.3.1)
            row = {k: v for k, v in row.items() if k != "frames"}
        scores, labels = ex.head_scores(run_dir, network, row, data, protocol)
        return {"scores": scores, "labels": labels, "indices": np.arange(len(labels)), "class_names": data.class_names,
                "run": str(run_dir), "train_top1": run["train_top1"], "seconds": run["seconds"],
                "teacher_top1": run.get("teacher_top1", np.nan)}  # fmt: skip


def _files_scores(cfg, p: Plan, recipe: Recipe, split: int, seed: int, protocol: str, runs_dir: Path) -> dict:
    """Test scores of a stream run on the dataset's files (trained first unless its run has finished)."""
    checkpoint = recipes.train_stream(cfg, p.key, recipe.dataset, split, seed, runs_dir)
    scores = recipes.stream_scores(checkpoint, protocol, cfg, frames=p.test_frames)
    return {**scores, "run": str(checkpoint.parent)}


# ------------------------------------------------------------------------------------------------ the claims
# The comparisons the thesis draws its conclusions from, as (claim, table, row A, row B, protocol): each is tested
# as the paired difference A - B on the same test videos of the same runs (`claims`), whatever the thesis's
# direction (its values say which way it found). Their rows run `Profile.claim_repeats` times.
CLAIMS = (
    ("BERT against average pooling on ResNet18", "3.3", "ResNet18 BERT", "ResNet18 Average Pooling", None),
    ("BERT against the thesis's best 2D head (concatenation)", "3.3", "ResNet18 BERT", "ResNet18 Concatenation",
     None),
    ("BERT against TGAP (average pooling, SGD) on the 3D network", "4.1", "ResNeXt101 BERT pooling FRMB",
     "ResNeXt101 Average Pooling (baseline) SGD", None),
    ("BERT against the runner-up 3D head (concatenation + FC)", "4.1", "ResNeXt101 BERT pooling FRMB",
     "ResNeXt101 Concatenation + FC FRMB", None),
    ("BERT's classification token against mean pooling of its outputs", "4.2",
     "BERT 1 layer 8 heads classification token", "BERT 1 layer 8 heads pooled features", None),
    ("BERT against TGAP, RGB stream", "4.3", "ResNeXt101 RGB BERT (FRMB)", "ResNeXt101 RGB", None),
    ("BERT against TGAP, flow stream", "4.3", "ResNeXt101 Flow BERT (FRMB)", "ResNeXt101 Flow", None),
    ("BERT against TGAP, two streams", "4.3", "ResNeXt101 Two-stream BERT (FRMB)", "ResNeXt101 Two-stream", None),
    ("two streams against the better single stream (BERT, flow)", "4.3", "ResNeXt101 Two-stream BERT (FRMB)",
     "ResNeXt101 Flow BERT (FRMB)", None),
    ("distilled from flow against not distilled (BERT, FRMB)", "5.2",
     "RGB-ResNeXt101-BERT-FRMB <- Flow-ResNeXt101-BERT-FRMB", "RGB-ResNeXt101-BERT-FRMB no distillation", None),
    ("flow distilled from RGB against not distilled (BERT, FRMB; the other direction, not in the thesis)", "5.2",
     "Flow-ResNeXt101-BERT-FRMB <- RGB-ResNeXt101-BERT-FRMB (not in the thesis)",
     "Flow-ResNeXt101-BERT-FRMB no distillation (not in the thesis)", None),
    ("multi-clip ten-crop against single-clip centre-crop testing (two streams)", "C.1",
     "ResNeXt101 Two-stream 112x112 64f", "ResNeXt101 Two-stream 112x112 64f", ("multi-ten", "single-center")),
)  # fmt: skip


# A claim on rows the thesis does not have takes the thesis's values, and so its direction, from the thesis's claim
# named here: distillation into the other stream is expected to help as the thesis's flow-into-RGB one did. On the
# CPU profiles it is the setting with a teacher stronger than its student (`teacher_sentences` says which it was).
DIRECTION_OF = {CLAIMS[-2][0]: CLAIMS[-3][0]}


def is_compared(recipe: Recipe) -> bool:
    """Whether a claim compares this row (under this test protocol, for claims between protocols)."""
    for _, table, row_a, row_b, protocols in CLAIMS:
        for row, protocol in zip((row_a, row_b), protocols or (None, None), strict=True):
            if (table, row) == (recipe.table, recipe.row) and protocol in (None, recipe.protocol):
                return True
    return False


def runs_of(recipe: Recipe, cfg, seed: int = 0) -> list[tuple[int, int]]:
    """(split, seed) of every run of a row: the profile's splits (split 1 only where the thesis reports split 1)
    times its seeds; a row a claim compares gets more seeds until it has `cfg.claim_repeats` runs."""
    splits = recipes.splits_of(recipe, cfg)
    wanted = cfg.claim_repeats if is_compared(recipe) else 1
    seeds = max(cfg.repeats, -(-wanted // len(splits)))
    return [(split, seed + s) for split in splits for s in range(seeds)]


# ------------------------------------------------------------------------------------------------ the runner
def run(cfg, rows, runs_dir: str | Path, seed: int = 0,
        classes: tuple[str, tuple[str, ...]] | None = None) -> pd.DataFrame:  # fmt: skip
    """Train and test every row the profile can run, on its runs (`runs_of`): one line per row, split, seed and
    protocol with Top-1/Top-3 (%) and its Wilson interval, the test videos, which of them were right (`correct`:
    "+" right, "-" wrong, in test-video order, a string no CSV reader takes for a number; the intervals and paired
    claims are computed from it), the mean reversed-pair accuracy (synthetic data; NaN elsewhere) and the run
    folders. `classes` (name, class names): the CPU heads train and test on those classes only (a control dataset,
    `CONTROL_SETS`); their backbones stay the same."""
    from . import stats
    from .data.synthetic import reversed_pairs
    from .engine.evaluate import summarize
    from .engine.fusion import fuse_sets

    runs_dir = Path(runs_dir)
    cpu = _CpuStreams(cfg, runs_dir, classes)  # makes nothing until a stream in memory asks
    jobs = []
    for recipe in rows:
        planned = plans(recipe, cfg)
        if recipe.unsupported or any(p.reason for p in planned):
            continue
        jobs += [(recipe, planned, split, run_seed) for split, run_seed in runs_of(recipe, cfg, seed)]
    records, cache = [], {}
    for recipe, planned, split, run_seed in tqdm(jobs, desc="thesis rows"):
        protocol, sets = recipe.protocol, []
        for p in planned:
            job = (p.key, recipe.table, recipe.dataset, split, run_seed, protocol, recipe.test_frames)
            if job not in cache:
                if p.source == "files":
                    cache[job] = _files_scores(cfg, p, recipe, split, run_seed, protocol, runs_dir)
                else:
                    cache[job] = cpu.scores(p, recipe, split, run_seed, protocol)
            sets.append(cache[job])
        fused = fuse_sets(sets, "l2") if len(sets) > 1 else sets[0]
        names = list(fused["class_names"])
        report = summarize(fused["scores"], fused["labels"], len(names), names, reversed_pairs(names))
        pairs = report.get("pairwise_accuracy", {})
        correct = (_predictions(fused["scores"]) == np.asarray(fused["labels"])).astype(int)
        low, high = stats.wilson_interval(int(correct.sum()), len(correct))
        video_groups = _video_groups(np.asarray(fused["labels"]), names)
        groups = _group_accuracy(correct, video_groups)
        records.append({
            "table": recipe.table, "row": recipe.row, "dataset": recipe.dataset, "split": split, "seed": run_seed,
            "protocol": protocol, "top1": report["top1"], "top1_ci_low": low, "top1_ci_high": high, "n_runs": 1,
            "top3": report["top3"], "videos": report["videos"], "reversed_pairs": pairs.get("mean", np.nan),
            "modality": " + ".join(p.modality for p in planned),
            "train_top1": sets[0].get("train_top1", np.nan) if len(sets) == 1 else np.nan,
            "teacher_top1": sets[0].get("teacher_top1", np.nan) if len(sets) == 1 else np.nan,
            "streams": " + ".join(recipe.streams), "runs": ";".join(_where(s["run"], runs_dir) for s in sets),
            "correct": "".join("+" if c else "-" for c in correct), "video_groups": video_groups, **groups,
        })  # fmt: skip
    return pd.DataFrame.from_records(records)


# The synthetic classes' groups (`data.synthetic`): "appearance" (one frame tells the class), "reversed" (only frame
# order separates a class from its partner) and "speed" (only cadence and stride). A head that wins only on the
# reversed pairs has learned order, not a better summary of appearance; the full profile's datasets have no groups.
CLASS_GROUPS = ("appearance", "reversed", "speed")


def _letters(text: str) -> np.ndarray:
    """A per-video string of `run` (`correct`, `video_groups`) as an array of one byte per test video."""
    return np.frombuffer(text.encode(), dtype=np.uint8)


def _video_groups(labels: np.ndarray, names: list[str]) -> str:
    """The class group of each test video, one letter each ("a" appearance, "r" reversed, "s" speed), in the order
    of `correct`; "" where the classes have no groups."""
    from .data.synthetic import CLASS_NAMES, get_class

    if not set(names) <= set(CLASS_NAMES):
        return ""
    return "".join(get_class(names[label]).group[0] for label in labels)


def _group_accuracy(correct: np.ndarray, video_groups: str) -> dict:
    """Top-1 (%) on the test videos of each class group, as `top1_<group>` (NaN where the classes have none)."""
    out = {f"top1_{group}": np.nan for group in CLASS_GROUPS}
    for group in CLASS_GROUPS:
        mine = _letters(video_groups) == ord(group[0])
        if mine.any():
            out[f"top1_{group}"] = 100 * correct[mine].mean()
    return out


def _predictions(scores) -> np.ndarray:
    """Top-1 predictions of a (videos, classes) score array or tensor."""
    return np.asarray(scores).argmax(axis=1)


def _vector(correct: str) -> np.ndarray:
    """A `correct` string of `run` ("+" right, "-" wrong) as a 0/1 vector."""
    return (_letters(correct) == ord("+")).astype(int)


def _correct(runs: pd.DataFrame) -> dict:
    """{(split, seed): 0/1 vector} of a row's runs."""
    return {(r.split, r.seed): _vector(r.correct) for r in runs.itertuples()}


# The control of the claims (`claims`): each claim is tested again on the test videos of the appearance classes
# only, where one frame tells the class and frame order is not needed (no reversed or speed pairs). A head that
# still wins there is not winning by reading order alone.
CONTROL_CLASSES = "appearance"


def claims(runs: pd.DataFrame, tables, controls: pd.DataFrame | None = None) -> pd.DataFrame:
    """The claims of `tables` (`CLAIMS`) tested on `runs` by `stats.claims_table`: the thesis's values and
    difference, ours with its paired 95 % interval over runs and test videos, and a `verdict` (`agrees`,
    `disagrees` or `within noise` with the thesis's direction). A claim whose rows did not both run is left out.

    `classes` says which test videos a line is computed on: "all", or, where the data have class groups, a second
    line per claim on the `CONTROL_CLASSES` videos only; then the lines of `controls` (`control_claims`: the
    control datasets), each under its claim."""
    found = _claims(runs, tables)
    groups = runs["video_groups"].fillna("") if "video_groups" in runs else pd.Series([""])
    extra = [controls] if controls is not None and len(controls) else []
    if len(found) and groups.str.contains(CONTROL_CLASSES[0], regex=False).all():  # not the `test` profile's four
        extra.insert(0, _claims(runs, tables, CONTROL_CLASSES))
    if not len(found) or not extra:
        return found
    control = pd.concat(extra, ignore_index=True)
    lines = []
    for _, line in found.iterrows():  # each claim, then its control
        lines += [line, *(c for _, c in control[control["claim"] == line["claim"]].iterrows())]
    return pd.DataFrame(lines).reset_index(drop=True)[CLAIM_COLUMNS]


# Control datasets: the target dataset restricted to some class groups (`SyntheticSplit.only`: the dataset that
# `actionlib synth --classes` makes), with the heads of the headline claims trained and tested on them alone, on the
# same frozen backbones. "no reversed pairs" (appearance and speed classes): no two classes need frame order to be
# told apart, the HMDB51-like regime; "order only" (the reversed pairs): only frame order separates a class from its
# partner, the regime the thesis says it never tested (Section 6.3).
CONTROL_SETS = {"no reversed pairs": ("appearance", "speed"), "order only": ("reversed",)}
CONTROL_CLAIMS = (CLAIMS[0][0], CLAIMS[2][0])  # BERT against average pooling (2D) and TGAP (3D)


def control_claims(cfg, tables, seed: int = 0, runs_dir: str | Path | None = None) -> pd.DataFrame:
    """The `CONTROL_CLAIMS` of `tables` on each control dataset of `CONTROL_SETS` (a generated synthetic set; a set
    needs two classes), as `claims` lines whose `classes` is "control set: <name>"; empty where none applies. Runs
    are cached in `runs_dir` (default: the CPU heads' folder, `runs_dir_for`), so a second call only reads them."""
    from . import experiments as ex
    from .data.datasets import class_names
    from .data.synthetic import get_class

    chosen = [c for c in CLAIMS if c[0] in CONTROL_CLAIMS and c[1] in tables]
    if cfg.synthetic is None or not chosen:  # the dataset's files have no class groups
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    runs_dir, root = Path(runs_dir or runs_dir_for(cfg)).resolve(), ex.synthetic_root(cfg)
    rows = [r for r in recipes.recipes_for(tables) if any((r.table, r.row) in ((c[1], c[2]), (c[1], c[3]))
                                                          for c in chosen)]  # fmt: skip
    names = class_names(root, "synthetic")
    lines = []
    for name, groups in CONTROL_SETS.items():
        classes = tuple(c for c in names if get_class(c).group in groups)
        if len(classes) < 2:
            continue
        runs = run(cfg, rows, runs_dir, seed, classes=(name, classes))
        found = _claims(runs, tables)
        lines.append(found[found["claim"].isin(CONTROL_CLAIMS)].assign(classes=f"control set: {name}"))
    return pd.concat(lines, ignore_index=True) if lines else pd.DataFrame(columns=CLAIM_COLUMNS)


def _claims(runs: pd.DataFrame, tables, group: str | None = None) -> pd.DataFrame:
    from . import stats

    chosen, sides = [], []
    by_name = {c[0]: c for c in CLAIMS}
    for name, table, row_a, row_b, protocols in CLAIMS:
        if table not in tables or not len(runs):
            continue
        keys, values = _thesis_values(table, (row_a, row_b), protocols)
        if name in DIRECTION_OF:
            other = by_name[DIRECTION_OF[name]]
            _, values = _thesis_values(other[1], other[2:4], other[4])
        mine = runs.assign(key=runs["table"] + " | " + runs["row"] + " | " + runs["protocol"])
        if set(keys) <= set(mine["key"]):
            chosen.append((name, table, protocols, *keys, *values))
            sides.append(mine[mine["key"].isin(keys)])
    if not chosen:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    long = pd.concat(sides).drop_duplicates(["key", "split", "seed"])
    vectors = [_vector(text) for text in long["correct"]]
    if group is not None:  # the videos of one class group (the same positions in every run of a split)
        vectors = [v[_letters(g) == ord(group[0])] for v, g in zip(vectors, long["video_groups"], strict=True)]
    long = long.assign(run=long["split"].astype(str) + "/" + long["seed"].astype(str), correct=vectors)
    found = stats.claims_table([(n, a, b, ta, tb) for n, _, _, a, b, ta, tb in chosen], long, row_column="key",
                               run_column="run")  # fmt: skip
    found.insert(1, "table", [f"Table {t}" for _, t, *_ in chosen])
    found["row_a"] = found["row_a"].str.split(" | ", regex=False).str[1]
    found["row_b"] = found["row_b"].str.split(" | ", regex=False).str[1]
    found.insert(4, "protocols", [" vs ".join(p) if p else "" for _, _, p, *_ in chosen])
    found.insert(5, "classes", "all" if group is None else f"{group} only")
    return found[CLAIM_COLUMNS]


def _thesis_values(table: str, rows, protocols) -> tuple[list[str], list[float]]:
    """(run keys "table | row | protocol", thesis Top-1 or NaN) of a claim's two rows."""
    from . import reference

    thesis, keys, values = reference.accuracy(table), [], []
    for row, protocol in zip(rows, protocols or (None, None), strict=True):
        recipe = next(r for r in recipes.recipes_for([table]) if r.row == row and protocol in (None, r.protocol))
        match = recipes.thesis_line(recipe, thesis)
        values.append(match["top1"].iloc[0] if len(match) else np.nan)
        keys.append(f"{table} | {row} | {recipe.protocol}")
    return keys, values


CLAIM_COLUMNS = ["claim", "table", "row_a", "row_b", "protocols", "classes", "thesis_a", "thesis_b", "thesis_difference",
                 "difference", "ci_low", "ci_high", "n_runs", "n_videos", "mcnemar_p", "verdict"]  # fmt: skip


def _where(path, runs_dir: Path) -> str:
    """A run folder as the tables show it: relative to the repository or the runs folder, never a machine's path."""
    from . import paths

    path = Path(path)
    for base in (paths.repo_root(), runs_dir):
        try:
            return str(path.resolve().relative_to(Path(base).resolve()))
        except ValueError:
            continue
    return path.name


def _status(recipe: Recipe, planned: list[Plan], cfg) -> tuple[str, str]:
    """(status, what ran differently from the thesis) of a row under `cfg`."""
    reasons = [p.reason for p in planned if p.reason]
    if recipe.unsupported or reasons:
        where = "" if recipe.unsupported else f" under the {cfg.name} profile"
        return f"not run{where}: {recipe.unsupported or reasons[0]}", ""
    return "run", "; ".join(dict.fromkeys(c for p in planned for c in p.changes))


# The columns of every `summary` table, whatever the profile.
COLUMNS = ("table", "row", "ours", "dataset", "modality", "protocol", "n_runs", "videos", "top1", "top1_ci_low",
           "top1_ci_high", "top1_std", "top3", "reversed_pairs", "top1_appearance", "top1_reversed", "top1_speed",
           "train_top1", "thesis_dataset", "thesis_top1",
           "thesis_rank", "our_rank", "splits", "status", "ran_as", "note")  # fmt: skip


def summary(runs: pd.DataFrame, rows, cfg) -> pd.DataFrame:
    """One line per row (and protocol): mean Top-1 over its runs with the 95 % interval of a bootstrap over runs
    and test videos (`stats.accuracy_interval`), the spread over runs (blank for one run), Top-3, the reversed-pair
    accuracy and the Top-1 of each synthetic class group (`CLASS_GROUPS`), beside the thesis's Top-1 and both
    ranks; rows not run keep their reason in `status`.

    The columns are the same under every profile. There is no "ours - thesis" column: a synthetic number minus an
    HMDB51 one means nothing, and even on HMDB51 one difference without the thesis's spread says little; the ranks
    compare orderings and `claims` the thesis's comparisons.
    """
    from . import reference, stats

    thesis = pd.concat([reference.accuracy(t) for t in dict.fromkeys(r.table for r in rows)])
    out = []
    for recipe in rows:
        planned = plans(recipe, cfg)
        status, ran_as = _status(recipe, planned, cfg)
        match = recipes.thesis_line(recipe, thesis)
        base = {"table": recipe.table, "row": recipe.row, "ours": reference.is_ours(recipe.row),
                "dataset": cfg.dataset if cfg.synthetic is not None else recipe.dataset,
                "thesis_dataset": recipe.dataset, "thesis_top1": match["top1"].iloc[0] if len(match) else np.nan,
                "protocol": recipe.protocol, "status": status, "ran_as": ran_as,
                "note": recipes.POSE_NOTE if any(p.modality == "pose" for p in planned) else ""}  # fmt: skip
        mine = runs[(runs["table"] == recipe.table) & (runs["row"] == recipe.row) & (runs["dataset"] == recipe.dataset)
                    & (runs["protocol"] == recipe.protocol)] if len(runs) else runs  # fmt: skip
        if not len(mine):
            out.append(base)
            continue
        interval = stats.accuracy_interval(list(_correct(mine).values()))
        out.append({**base, "modality": mine["modality"].iloc[0], "n_runs": interval["n_runs"],
                    "videos": int(mine["videos"].iloc[0]), "top1": interval["top1"],
                    "top1_ci_low": interval["top1_ci_low"], "top1_ci_high": interval["top1_ci_high"],
                    "top1_std": interval["top1_std"], "top3": mine["top3"].mean(),
                    "reversed_pairs": mine["reversed_pairs"].mean(), "train_top1": mine["train_top1"].mean(),
                    **{f"top1_{g}": mine[f"top1_{g}"].mean() for g in CLASS_GROUPS if f"top1_{g}" in mine},
                    "splits": ",".join(map(str, sorted(set(mine["split"]))))})  # fmt: skip
    table = pd.DataFrame.from_records(out)
    for name, part in table.groupby("table", sort=False):
        reference.require_thesis_values(name, part["row"], part["thesis_top1"])
    for column in COLUMNS:
        if column not in table:
            table[column] = np.nan
    ranked = table["top1"].notna() & ~table["ours"]
    for name, rank_of in (("thesis_rank", "thesis_top1"), ("our_rank", "top1")):
        table[name] = table[ranked].groupby(["table", "protocol"])[rank_of].rank(ascending=False, method="min")
    for column in ("n_runs", "videos", "thesis_rank", "our_rank"):  # counts and ranks: integers, blank if missing
        table[column] = table[column].astype("Int64")
    table = table[list(COLUMNS)]
    table["table"] = "Table " + table["table"]  # a label, not a number ("3.9" would print as 3.90)
    return table


def runs_dir_for(cfg) -> Path:
    """Where a profile's runs live: runs/full for the published networks on the dataset's files (shared by every
    notebook and `actionlib recipes`), a tiny backbone's own folder per data root, or runs/heads for the heads on
    frozen backbones (their networks are in runs/backbones)."""
    from . import paths
    from .experiments import cache_key

    if cfg.synthetic is None:
        base = paths.runs_dir() / "full"
        if cfg.backbone == "published":
            return base
        return base.with_name(f"full_{cfg.backbone}") / cache_key(data_root=cfg.data_root)
    # one folder for every notebook: a head is cached under its settings and its backbone, so the BERT and TGAP
    # heads that Tables 4.1, 4.3, 4.7, 5.2 and C.3 share train once (about 2 minutes of the default run, measured)
    return paths.runs_dir() / "heads"


def run_tables(cfg, tables, seed: int = 0, runs_dir: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the rows of `tables` under `cfg`: (summary, every run). A tiny backbone's checkpoints in the public
    layout are written first (into the runs folder), so its runs read them as the published ones are read."""
    rows = recipes.recipes_for(tables)
    runs_dir = Path(runs_dir) if runs_dir is not None else runs_dir_for(cfg)
    if cfg.backbone in recipes.STAND_INS:
        weights = runs_dir / "stand_in_weights"
        recipes.write_stand_in_weights(weights, rows, cfg.backbone)
        cfg = dataclasses.replace(cfg, weights_dir=str(weights))
    runs = run(cfg, rows, runs_dir, seed)
    return summary(runs, rows, cfg), runs


# The file name of each thesis table's results: <notebook>_table<T>_<name>.{csv,md,png}.
TABLE_NAMES = {
    "3.2": "optimizers", "3.3": "pooling", "3.4": "fusion", "3.5": "depth", "3.6": "flow_pose", "3.7": "streams",
    "3.8": "clip_length", "3.9": "two_stream", "C.1": "protocols", "3.10": "architectures", "C.2": "protocols",
    "4.1": "pooling_3d", "4.2": "bert_variants", "4.3": "bert_3d", "4.4": "bert_i3d", "4.5": "bert_slowfast",
    "4.6": "bert_r2plus1d", "4.7": "state_of_the_art", "C.3": "splits_hmdb51", "C.4": "splits_ucf101",
    "5.1": "lambda", "5.2": "distillation",
}  # fmt: skip


def run_notebook(cfg, number: str, results: str | Path, tables=None,
                 seed: int = 0) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """A notebook's tables (default: all of `recipes.NOTEBOOK_TABLES[number]`) run under `cfg`, each written as
    `<NN>_table<T>_<name>` (CSV, Markdown, figure) with every run in `<NN>_runs` and the thesis's claims on these
    tables tested in `<NN>_claims`: the same files under every profile. Returns ({table: its summary}, every run,
    the claims: empty where no claim uses these tables)."""
    from .experiments import save_table

    tables = list(tables or recipes.NOTEBOOK_TABLES[number])
    summary_table, runs = run_tables(cfg, tables, seed)
    results = Path(results)
    by_table = {}
    for t in tables:
        by_table[t] = table = table_of(summary_table, t)
        name = f"{number}_table{t}_{TABLE_NAMES[t]}"
        save_table(table, results, name, profile=cfg)
        figure = results / "figures" / f"{name}.png"
        _close(plot_table(table, f"Table {t} ({cfg.dataset}, profile {cfg.name})", figure))
        table.attrs["figure"] = str(figure)  # `show` displays it under the table
    # "Table 3.2", a label: a bare "3.2" reads as a number and prints as 3.20
    save_table(runs.assign(table="Table " + runs["table"]) if len(runs) else runs, results, f"{number}_runs",
               profile=cfg)  # fmt: skip
    found = pd.DataFrame(columns=CLAIM_COLUMNS)
    if any(c[1] in tables for c in CLAIMS):
        found = claims(runs, tables, control_claims(cfg, tables, seed))
        save_table(found, results, f"{number}_claims", profile=cfg)
        if found["difference"].notna().any():
            title = f"The thesis's claims ({cfg.dataset}, profile {cfg.name})"
            _close(plot_claims(found, title, results / "figures" / f"{number}_claims.png"))
    return by_table, runs, found


@dataclass
class Notebook:
    """Everything a notebook shows, computed once by `notebook`: its profile, results folder, one summary per thesis
    table, every run and the claims tested on them."""

    number: str
    cfg: object  # the resolved `profiles.Profile`
    results: Path
    tables: dict[str, pd.DataFrame]
    runs: pd.DataFrame
    claims: pd.DataFrame

    def show(self, table: str) -> None:
        show(self.tables[table])

    def show_claims(self) -> None:
        show_claims(self.claims)


def notebook(number: str, profile: str = "smoke", *, seed: int = 0, tables: str | None = None,
             results_dir: str | None = None, splits=None, **overrides) -> Notebook:  # fmt: skip
    """Set a notebook up in one call from its parameters: the profile resolved with `overrides` (None keeps the
    profile's value; `splits` as a parameter gives it, "1,3"), `tables` (a comma-separated subset of the notebook's
    thesis tables; None: all) run and written by `run_notebook` into `paths.results_dir(results_dir, profile)`."""
    from . import paths, profiles

    cfg = profiles.resolve(profile, splits=profiles.parse_splits(splits), **overrides)
    chosen = None
    if tables is not None:
        chosen = profiles.parse_choices("tables", tables, recipes.NOTEBOOK_TABLES[number])
    results = paths.results_dir(results_dir, profile)
    by_table, runs, found = run_notebook(cfg, number, results, chosen, seed)
    return Notebook(number, cfg, results, by_table, runs, found)


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


SHOWN = ["row", "modality", "protocol", "thesis_top1", "top1", "top1_ci_low", "top1_ci_high", "top1_std", "n_runs",
         "thesis_rank", "our_rank", "top3", "reversed_pairs", "status", "ran_as"]  # fmt: skip


def show(table: pd.DataFrame, columns=SHOWN, figure: bool = True) -> None:
    """Display a summary as a reader wants it: what every row's run changed and why rows did not run, said once
    above the table; the informative columns with one decimal and blanks for what was not measured; its figure."""
    from IPython.display import Image, Markdown, display

    shown = table[[c for c in columns if c in table]].copy()
    notes = []
    if "ran_as" in shown:
        parts = [[p for p in str(r).split("; ") if p] if isinstance(r, str) else [] for r in shown["ran_as"]]
        ran = [p for p in parts if p]
        common = [p for p in ran[0] if all(p in other for other in ran)] if ran else []
        if common:
            notes.append("**Every row that ran:** " + "; ".join(common) + ".")
        shown["ran_as"] = ["; ".join(p for p in row if p not in common) for row in parts]
        if not shown["ran_as"].str.len().any():
            shown = shown.drop(columns="ran_as")
    if "status" in shown:
        reasons = shown.loc[shown["status"] != "run", ["row", "status"]]
        for reason, rows in reasons.groupby("status", sort=False)["row"]:
            notes.append(
                f"**{reason.split(': ', 1)[0].capitalize()}** ({', '.join(rows)}): {reason.split(': ', 1)[-1]}"
            )
        shown["status"] = shown["status"].str.split(":").str[0]
    if notes:
        display(Markdown("\n\n".join(notes)))
    display(shown.style.hide(axis="index").format(precision=1, na_rep=""))
    if figure and Path(table.attrs.get("figure", "")).is_file():
        display(Image(filename=table.attrs["figure"]))


CLAIM_SHOWN = ["claim", "classes", "thesis_difference", "difference", "ci_low", "ci_high", "n_runs", "n_videos",
               "verdict"]  # fmt: skip


def show_claims(found: pd.DataFrame) -> None:
    """The claims' table as a reader wants it: the thesis's difference A - B beside ours with its interval."""
    from IPython.display import Markdown, display

    if not len(found):
        display(Markdown("*No claim of these tables ran under this profile.*"))
        return
    shown = found[CLAIM_SHOWN].rename(columns={"thesis_difference": "thesis A - B", "difference": "ours A - B",
                                              "ci_low": "95 % from", "ci_high": "to", "n_runs": "runs"})  # fmt: skip
    display(shown.style.hide(axis="index").format(precision=1, na_rep=""))
    if found["difference"].notna().any():  # the figure run_notebook saved as NN_claims.png
        fig = plot_claims(found, "The thesis's claims: ours against the thesis's difference")
        display(fig)
        _close(fig)


def claim_sentences(found: pd.DataFrame) -> list[str]:
    """One sentence per claim, from the numbers: what the thesis found, what we found, and the verdict."""
    out = []
    for c in found.itertuples():
        side = c.row_a if c.thesis_difference > 0 else c.row_b
        thesis = "equal" if c.thesis_difference == 0 else f"{side} ahead by {abs(c.thesis_difference):.2f} points"
        if c.classes.startswith("control set: "):
            videos = f"{c.n_videos} test videos of the control set ({c.classes.split(': ', 1)[1]})"
        else:
            videos = f"{c.n_videos} test videos" + (
                "" if c.classes == "all" else f" of {c.classes.removesuffix(' only')} classes"
            )
        out.append(
            f"{c.claim}{'' if c.classes == 'all' else f' ({c.classes})'}: the thesis found {thesis}; here A - B = "
            f"{c.difference:+.1f} points (95 % interval {c.ci_low:+.1f} to {c.ci_high:+.1f}, {c.n_runs} run(s) of "
            f"{videos}): **{c.verdict}**."
        )
    return out


def readme_claims(tables_dir: str | Path) -> str:
    """The README's headline from the committed `NN_claims.csv` tables, in notebook order: one line per claim (all
    test videos, then its appearance-classes control), and one per claim tested on a control dataset. The README
    holds this text between `<!-- claims -->` markers and a test keeps the two equal: the headline is the table."""

    def cell(line) -> str:
        return f"{line.difference:+.1f} [{line.ci_low:+.1f}, {line.ci_high:+.1f}]"

    main = ["| claim (A against B) | table | thesis A - B | ours A - B [95 % interval] | verdict | "
            "appearance classes only | verdict |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    sets = ["| claim (A against B) | table | control dataset | ours A - B [95 % interval] | videos | verdict |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    for csv in sorted(Path(tables_dir).glob("[0-9][0-9]_claims.csv")):
        found = pd.read_csv(csv, keep_default_na=False, na_values=[""])
        for claim, lines in found.groupby("claim", sort=False):
            first = lines.iloc[0]
            table = first.table.removeprefix("Table ")
            control = lines[lines["classes"] == f"{CONTROL_CLASSES} only"]
            other = f"{cell(control.iloc[0])} | {control.iloc[0].verdict}" if len(control) else " | "
            main.append(f"| {claim} | {table} | {first.thesis_difference:+.2f} | {cell(first)} | {first.verdict} | "
                        f"{other} |")  # fmt: skip
            for line in lines[lines["classes"].str.startswith("control set: ")].itertuples():
                sets.append(f"| {claim} | {table} | {line.classes.removeprefix('control set: ')} | {cell(line)} | "
                            f"{line.n_videos} | {line.verdict} |")  # fmt: skip
    return "\n".join(main) + ("\n\n" + "\n".join(sets) if len(sets) > 2 else "") + "\n"


def teacher_sentences(runs: pd.DataFrame) -> list[str]:
    """One sentence per distillation claim: the teacher's own Top-1 beside the student's without distillation, on
    the same test videos and runs. Distillation can only pass on what the teacher knows: a teacher weaker than its
    student is not the setting the thesis tested."""
    if not len(runs) or "teacher_top1" not in runs:
        return []
    out = []
    for claim, table, row_a, row_b, _ in CLAIMS:
        mine = runs[runs["table"] == table]
        taught = mine[(mine["row"] == row_a) & mine["teacher_top1"].notna()]
        alone = mine[mine["row"] == row_b]
        if not len(taught) or not len(alone):
            continue
        teacher, student = taught["teacher_top1"].mean(), alone["top1"].mean()
        out.append(
            f"{claim}: the teacher reached {teacher:.1f} % Top-1 on these test videos, the student without "
            f"distillation {student:.1f} % (means of {len(taught)} and {len(alone)} runs): the teacher was "
            f"{'stronger' if teacher > student else 'weaker'} than its student here."
        )
    return out


def with_complexity(table: pd.DataFrame, results: str | Path | None = None) -> pd.DataFrame:
    """`table` (a summary) with the parameters and operations of each row's network(s), ours beside the thesis's
    (`results/tables/complexity.csv`, counted at full size whatever the profile)."""
    from .experiments import complexity_rows

    ids = {r.row: recipes.complexity_id(r) for r in recipes.RECIPES if f"Table {r.table}" in set(table["table"])}
    wanted = [i for i in dict.fromkeys(ids.values()) if i]
    counts = complexity_rows(wanted, results).set_index("id") if wanted else pd.DataFrame()
    out = table.copy()
    out["complexity_id"] = out["row"].map(ids)
    for column in ("params_m", "thesis_params_m", "ops_g", "thesis_ops_g"):
        out[column] = out["complexity_id"].map(counts[column]) if len(counts) else np.nan
    return out


def per_split(runs: pd.DataFrame, table: str) -> pd.DataFrame:
    """Top-1 of each row on each split beside the thesis's per-split values (Appendix C.3/C.4)."""
    from . import reference

    thesis = reference.accuracy(table)
    thesis = thesis[thesis["split"].astype(str) != "avg3"].assign(split=lambda d: d["split"].astype(int))
    thesis = thesis.rename(columns={"top1": "thesis_top1"})[["row", "split", "thesis_top1"]]
    mine = runs[runs["table"] == table] if len(runs) else runs
    ours = mine.groupby(["row", "split"], as_index=False)["top1"].mean() if len(mine) else pd.DataFrame(
        columns=["row", "split", "top1"])  # fmt: skip
    return thesis.merge(ours, on=["row", "split"], how="left")


def table_of(summary_table: pd.DataFrame, table: str) -> pd.DataFrame:
    """One thesis table's lines of a `summary` (e.g. "3.3")."""
    return summary_table[summary_table["table"] == f"Table {table}"].reset_index(drop=True)


def plot_table(table: pd.DataFrame, title: str, path: str | Path | None = None):
    """Our Top-1 (with its 95 % interval) beside the thesis's, one bar pair per row; where the data have class
    groups (synthetic), the reversed-pair accuracy and the Top-1 per class group beside it. Axes start at zero,
    legends sit outside the bars. Returns the figure (saved to `path` if given)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    shown = table.dropna(subset=["top1"])
    pairs = shown["reversed_pairs"].notna().any()
    groups = [g for g in CLASS_GROUPS if f"top1_{g}" in shown and shown[f"top1_{g}"].notna().any()]
    panels = 1 + bool(pairs) + bool(groups)
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(1, panels, figsize=(4 + 4 * panels, 0.45 * max(len(table), 3) + 2.2), squeeze=False,
                             sharey=True, gridspec_kw={"width_ratios": [1.4] + [1] * (panels - 1)})  # fmt: skip
    ax = axes[0, 0]
    y = np.arange(len(table))
    ax.barh(y - 0.2, table["thesis_top1"], height=0.4, color="tab:gray", label="thesis (HMDB51)")
    ours = table["top1"].to_numpy(dtype=float)
    errors = np.vstack(
        [ours - table["top1_ci_low"].to_numpy(dtype=float), table["top1_ci_high"].to_numpy(dtype=float) - ours]
    )
    ax.barh(y + 0.2, ours, height=0.4, xerr=np.nan_to_num(errors), color="tab:blue", label="ours (95 % interval)")
    labels = table["row"] if table["protocol"].nunique() <= 1 else table["row"] + " (" + table["protocol"] + ")"
    ax.set(yticks=y, yticklabels=labels, xlim=(0, 100), xlabel="Top-1 (%)")
    ax.invert_yaxis()
    below = {"loc": "upper left", "bbox_to_anchor": (0, -0.06 - 1.2 / (len(table) + 4)), "fontsize": 8,
             "frameon": False}  # under the x-axis label, off the bars  # fmt: skip
    ax.legend(ncol=2, **below)
    panel = 1
    if pairs:
        ax2 = axes[0, panel]
        ax2.barh(y, table["reversed_pairs"], color="tab:orange")
        ax2.axvline(50, color="black", ls="--", lw=1)
        ax2.set(xlim=(0, 100), xlabel="reversed-pair accuracy (%; 50 = blind to order)")
        panel += 1
    if groups:
        ax3 = axes[0, panel]
        height = 0.8 / len(groups)
        for i, (group, color) in enumerate(zip(groups, ("tab:green", "tab:purple", "tab:olive"), strict=False)):
            ax3.barh(y - 0.4 + height * (i + 0.5), table[f"top1_{group}"], height=height, color=color, label=group)
        ax3.set(xlim=(0, 100), xlabel="ours: Top-1 per class group (%)")
        ax3.legend(ncol=len(groups), **below)
    fig.suptitle(title)
    return _finish(fig, path)


def _finish(fig, path: str | Path | None):
    """Lay the figure out and save it to `path` if given (the legends below the axes included)."""
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def plot_claims(found: pd.DataFrame, title: str, path: str | Path | None = None):
    """The claims as a forest plot: our paired difference A - B with its 95 % interval, coloured by verdict, and the
    thesis's difference beside it (a white diamond), around a line at zero. Returns the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(13, 0.5 * max(len(found), 2) + 1.8))
    y = np.arange(len(found))
    colors = found["verdict"].map({"agrees": "tab:green", "disagrees": "tab:red"}).fillna("tab:gray")
    ours = found["difference"].to_numpy(dtype=float)
    errors = np.vstack([ours - found["ci_low"].to_numpy(dtype=float), found["ci_high"].to_numpy(dtype=float) - ours])
    for i, color in enumerate(colors):  # errorbar takes one colour per call
        ax.errorbar(ours[i], y[i], xerr=np.nan_to_num(errors[:, i : i + 1]), fmt="none", ecolor=color, elinewidth=2,
                    capsize=3)  # fmt: skip
    ax.scatter(ours, y, c=list(colors), zorder=3, label="ours, 95 % interval (green agrees, red disagrees, "
               "grey within noise)")  # fmt: skip
    ax.scatter(found["thesis_difference"], y, marker="D", facecolor="white", edgecolor="black", zorder=4,
               label="thesis (HMDB51)")  # fmt: skip
    ax.axvline(0, color="black", lw=1)
    labels = found["claim"] + " (" + found["table"].astype(str) + ")"
    if "classes" in found:  # a control line: the same claim on one class group's videos
        labels = labels.where(found["classes"] == "all", "    ... " + found["classes"].astype(str))
    ax.set(yticks=y, yticklabels=labels, xlabel="Top-1 difference A - B (points)", title=title)
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.1 - 0.6 / (len(found) + 3)), fontsize=8, frameon=False)
    return _finish(fig, path)


def ordering_note(table: pd.DataFrame, name: str) -> str:
    """One sentence on a table: our best row with its interval, the thesis's best, and which rows our interval
    cannot tell apart from our best (with one run on a small test set, most of them)."""
    ran = table[(table["status"] == "run") & ~table["ours"].astype(bool)].dropna(subset=["top1"])
    if not len(ran) and len(table):
        return f"{name}: no row ran under this profile: {str(table['status'].iloc[0]).split(': ', 1)[-1]}."
    if len(ran) < 2:
        return ""
    best = ran.loc[ran["top1"].idxmax()]
    thesis_best = ran.loc[ran["thesis_top1"].idxmax()]
    tied = ran[(ran["top1_ci_high"] >= best["top1_ci_low"]) & (ran["row"] != best["row"])]
    same = (
        "the same row"
        if best["row"] == thesis_best["row"]
        else f"{thesis_best['row']} ({thesis_best['thesis_top1']:.2f} %)"
    )
    return (
        f"{name}: best here {best['row']} ({best['top1']:.1f} %, 95 % interval {best['top1_ci_low']:.0f}-"
        f"{best['top1_ci_high']:.0f}, {int(best['n_runs'])} run(s)); the thesis's best of these rows: {same}. "
        f"{len(tied)} of the other {len(ran) - 1} rows have intervals that overlap it: "
        + ("the ordering is not established here." if len(tied) else "it is ahead of all of them here.")
    )  # fmt: skip
