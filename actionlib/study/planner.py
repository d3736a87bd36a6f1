"""How a profile runs a thesis row: each stream planned from the profile's values (`Plan`), with what differs from
the thesis said in words (`Plan.changes`) or why it cannot run (`Plan.reason`); the CPU networks' sizes."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import paths, recipes
from ..engine.optim import default_optimizer
from ..models import create
from ..models.heads import build_head
from ..paths import cache_key
from ..recipes import STREAMS, Recipe, Stream, stream_keys

# Stream options the CPU networks keep as they are; the others are listed in `Plan.changes` when dropped.
HEAD_OPTIONS = ("head", "fusion", "layers", "heads", "cls", "normalize_input", "dropout")


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
    source: str = "memory"  # "files": the dataset's videos (`training.train_stream`); "memory": a decoded synthetic set
    test_frames: int | None = None  # frames the stream is tested on where they differ from training ("files")


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
    "breadth": "the default CPU run keeps five runs of the rows the thesis's claims compare, and the tables that "
    "reuse their networks, within its time on 2 cores; `--profile cpu` runs this table too",
    "rows": "the default CPU run keeps five runs of the rows the thesis's claims compare, and the rows made of "
    "their runs, within its time on 2 cores; `--profile cpu` runs this row too",
}


# How the CPU profiles choose the epoch they keep (the full profile keeps the authors' rule: the best test Top-1).
SELECTION = "best epoch chosen on training videos held out for validation, not on the test split"
FULL_SELECTION = "best epoch chosen on the test list, the authors' rule (HMDB51 has no validation split; Section 3.2.5)"


# A stand-in replaces every stream's network by a small one of the same kind (2D or 3D), initialised from
# checkpoints it writes in the public layout: the whole protocol (layouts, splits, checkpoint loading, training,
# resuming, test protocols, fusion, distillation, tables) then runs in seconds per row on a CPU. The `tiny`
# profile (`profiles.Profile.backbone`) uses it; its numbers are not the thesis's.
STAND_INS = {
    "tiny": {
        "2d": {"model": "resnet18", "options": {"width": 8, "size": 32}, "frames": 4},
        "3d": {"model": "resnext3d_101", "options": {"blocks": (1, 1, 1, 1), "width": 16, "size": 32}, "frames": 8},
    }
}
_KEPT_2D = ("head", "fusion", "layers", "heads", "cls")  # options a narrow ResNet18 accepts unchanged
_KEPT_3D = ("head", "layers", "heads", "cls")  # FRMB/FRAB need the 101-layer network; `fusion` is SlowFast's


def stand_in_stream(stream: Stream, stand_in: str) -> Stream:
    """`stream` on the stand-in network (see STAND_INS): same modality, head, optimizer and teacher."""
    if stand_in not in STAND_INS:
        raise ValueError(f"unknown stand_in {stand_in!r}; allowed: {', '.join(STAND_INS)} or None")
    two_d = is_2d(stream.model)
    spec = STAND_INS[stand_in]["2d" if two_d else "3d"]
    kept = {k: v for k, v in stream.options.items() if k in (_KEPT_2D if two_d else _KEPT_3D)}
    frames = 1 if stream.options.get("frames") == 1 else spec["frames"]
    train = {k: v for k, v in stream.train.items() if k != "stride"}
    return Stream(spec["model"], stream.modality, {**spec["options"], **kept, "frames": frames}, stream.weights,
                  train, stream.teacher)  # fmt: skip


def write_stand_in_weights(weights_dir: str | Path, rows, stand_in: str = "tiny") -> list[Path]:
    """Checkpoints in the public layout (a `state_dict` of backbone keys with a `module.` prefix, as Hara's and
    MARS's files) for the stand-in networks, under the file names the streams of `rows` read: the stand-in run goes through
    the loading code without the real downloads."""
    written = []
    for key in stream_keys(rows):
        stream = stand_in_stream(STREAMS[key], stand_in)
        path = Path(weights_dir) / stream.weights if stream.weights else None
        if path is None or path.is_file():
            continue
        options = {k: v for k, v in stream.options.items() if k in ("width", "blocks", "size", "frames")}
        backbone = create(stream.model, num_classes=400, **options).backbone.state_dict()
        state = {f"module.{k}": v for k, v in backbone.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": state}, path)
        written.append(path)
    return written


def profile_stream(cfg, key: str) -> Stream:
    """Stream `key` on the profile's backbone: as published, or on a tiny network of its kind (`STAND_INS`)."""
    return STREAMS[key] if cfg.backbone not in STAND_INS else stand_in_stream(STREAMS[key], cfg.backbone)


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
        if (
            candidate.weights == stream.weights
            and candidate.model == stream.model
            and candidate.options.get("frames", 0) < stream.options.get("frames", 0)
        ):
            return other
    return None


def _files_plan(key: str, recipe: Recipe, cfg) -> Plan:
    """The thesis's run of stream `key` on the dataset's files, end to end from its initialisation; with a tiny
    backbone (`STAND_INS`), the same run on the tiny network of the stream's kind."""
    stream, changes, test_frames = profile_stream(cfg, key), [], recipe.test_frames
    if cfg.backbone in STAND_INS:
        changes.append(f"the {cfg.backbone!r} stand-in network, not the thesis's")
        test_frames = STAND_INS[cfg.backbone]["2d"]["frames"] if test_frames else None
    return Plan(
        key,
        "fine-tune",
        stream.model,
        stream.modality,
        stream.options.get("frames", 16),
        dict(stream.options),
        (*changes, FULL_SELECTION),
        teacher=stream.teacher,
        source="files",
        test_frames=test_frames,
    )


def plan(key: str, recipe: Recipe, cfg) -> Plan:
    """How `cfg` runs stream `key` of `recipe` (see the module docstring)."""
    if cfg.backbone != "small":
        return _files_plan(key, recipe, cfg)
    stream = STREAMS[key]
    frames = stream.options.get("frames", 16)
    modality = _cpu_modality(stream.modality, recipe, cfg)

    def refused(why: str) -> Plan:
        return Plan(key, "head", stream.model, modality, frames, reason=f"{stream.model}: {NOT_ON_CPU[why]}")

    if cfg.tables is not None and recipe.table not in cfg.tables:
        return Plan(key, "head", stream.model, modality, frames, reason=NOT_ON_CPU["breadth"])
    if not cfg.breadth and not made_of_compared_runs(recipe, cfg.breadth):
        return Plan(key, "head", stream.model, modality, frames, reason=NOT_ON_CPU["rows"])
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
        net = small_3d(cfg)
        model, width = stream.model, net["width"]
        clip = net["frames"] if frames >= 64 else max(1, net["frames"] // 2)
        name = f"CPU 3D {CPU_3D[model]} (width {width}, one block per stage)"
        if recipes.TABLES[recipe.table].compares_networks:
            init = _init_stream(key, recipe)
            epochs = max(1, net["epochs"] // 2) if init else net["epochs"]
            changes += [
                f"{name} trained end to end with TGAP on the synthetic training split, {epochs} epochs, "
                f"AdamW {net['lr']:g}",
                f"{clip} frames",
            ]
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
    if is_2d(stream.model) or head not in MATCHED_HEADS:
        options = {**options, "head": head, **narrow_head_options(head, width)}
    else:  # Section 4.2.3: the 3D heads are sized to BERT's parameter count on the same features (`net` above)
        shape = feature_shape(net["model"], clip, **{k: net[k] for k in ("blocks", "width", "layer4_time_stride")})
        hidden = matched_hidden(head, *shape)
        options = {**options, "head": head, "hidden": hidden}
        changes.append(f"hidden size {hidden}: as many parameters as the BERT head on these features (Section 4.2.3)")
    if frames == 1:
        options["frames"] = 1
    train = {k: v for k, v in stream.train.items() if k not in ("stride", "lr")}
    # the optimizer the full profile's engine gives this stream (SGD for the 3D TGAP baselines, AdamW for BERT and
    # the 2D models), at a learning rate for a head trained from its random initialisation
    optimizer = train.pop("optimizer", None) or default_optimizer(stream.model, stream.options.get("head"))
    options.update(optimizer=optimizer, lr=HEAD_LR.get(optimizer, HEAD_LR_DEFAULT), **train)
    return Plan(
        key,
        "head",
        "resnet18" if is_2d(model) else "resnext3d_101",
        modality,
        clip,
        options,
        tuple(changes),
        teacher=stream.teacher,
    )


def plans(recipe: Recipe, cfg) -> list[Plan]:
    return [plan(k, recipe, cfg) for k in recipe.streams]


def is_compared(recipe: Recipe, breadth: bool = True) -> bool:
    """Whether a claim compares this row (under this test protocol, for claims between protocols); without
    `breadth`, a claim left to a profile with breadth (`Claim.breadth`) does not count."""
    for claim in recipes.TABLES[recipe.table].claims:
        if claim.breadth and not breadth:
            continue
        for row, protocol in zip((claim.row_a, claim.row_b), claim.protocols or (None, None), strict=True):
            if row == recipe.row and protocol in (None, recipe.protocol):
                return True
        if recipe.row in claim.row_b_choices:
            return True
    return False


@functools.cache
def _compared_runs(breadth: bool = True) -> frozenset:
    """(stream, dataset, protocol, test frames) of every stream of every row a claim compares (`is_compared`)."""
    return frozenset(
        (key, r.dataset, r.protocol, r.test_frames)
        for r in recipes.RECIPES
        if is_compared(r, breadth)
        for key in r.streams
    )


def made_of_compared_runs(recipe: Recipe, breadth: bool = True) -> bool:
    """Whether a row is compared by a claim, or every stream of it is tested as a compared row's stream is (the
    row then costs no training of its own: e.g. one stream of a compared two-stream row). `breadth`: the
    profile's (`Profile.breadth`), which decides whether the claims left to it count."""
    jobs = {(key, recipe.dataset, recipe.protocol, recipe.test_frames) for key in recipe.streams}
    return is_compared(recipe, breadth) or (bool(jobs) and jobs <= _compared_runs(breadth))


def runs_of(recipe: Recipe, cfg, seed: int = 0) -> list[tuple[int, int]]:
    """(split, seed) of every run of a row: the profile's splits (split 1 only where the thesis reports split 1)
    times its seeds; a row a claim compares, or made of such rows' runs, gets more seeds until it has
    `cfg.claim_repeats` runs (its table then shows every row on the runs they share, `report.summary`)."""
    splits = recipes.splits_of(recipe, cfg)
    wanted = cfg.claim_repeats if made_of_compared_runs(recipe, cfg.breadth) else 1
    seeds = max(cfg.repeats, -(-wanted // len(splits)))
    return [(split, seed + s) for split in splits for s in range(seeds)]


def small_3d(cfg) -> dict:
    """The CPU profile's 3D network, for `pretrain(cfg, data, **small_3d(cfg))`: ResNeXt blocks, one per stage,
    16 base channels, clips of `cfg.frames_3d` consecutive frames (32; 8 under `test`), layer4 keeping its temporal resolution so
    that 32 frames leave 4 positions after layer4, the 4 BERT tokens of the thesis's 64-frame network (with layer4
    halving time as published, 2), trained for 3/10 of the profile's epochs (6 under smoke: a 32-frame 3D clip
    costs about 4x a 2D run's 8 frames, and the default trains three seeds of it per stream within its 30
    minutes), learning rate 1e-3."""
    return {
        "model": "resnext3d_101",
        "blocks": (1, 1, 1, 1),
        "width": 16,
        "layer4_time_stride": 1,
        "frames": cfg.frames_3d,
        "epochs": max(1, cfg.epochs * 3 // 10),
        "lr": 1e-3,
    }


def narrow_head_options(head: str, width: int) -> dict:
    """Heads sized like the backbone: the thesis's hidden sizes (LSTM 512, ConvGRU 196, concatenation + FC 1550,
    non-local + concatenation + FC 1000) are for 64-channel networks; a narrow CPU backbone (`width` < 64) gets
    them scaled by width / 64."""
    hidden = {"lstm": 512, "convgru": 196, "concat_fc": 1550, "nl_concat_fc": 1000}.get(head)
    return {} if hidden is None or width == 64 else {"hidden": max(8, hidden * width // 64)}


# Heads with a size to choose, sized on the CPU 3D network as Section 4.2.3 sizes them on ResNeXt101: as many
# parameters as the one-layer BERT head on the same features. At 512 channels and 4 positions this gives about the
# thesis's sizes back: LSTM 434 (its 450), concatenation + FC 1540 (1550), non-local + concatenation + FC 1027 (1000).
MATCHED_HEADS = ("lstm", "concat_fc", "nl_concat_fc")


def head_parameters(head: str, channels: int, steps: int, **options) -> int:
    """Parameters of a late head (without the classifier) on `channels` x `steps` features."""
    return sum(p.numel() for p in build_head(head, channels, steps, **options).parameters())


@functools.cache
def matched_hidden(head: str, channels: int, steps: int) -> int:
    """The hidden size at which `head` (one of MATCHED_HEADS) has the parameter count nearest to one-layer BERT's
    on `channels` x `steps` features (the count grows with the size: doubled, then halved into the nearest)."""
    if head not in MATCHED_HEADS:
        raise ValueError(f"only {', '.join(MATCHED_HEADS)} have a size to match, got {head!r}")
    target = head_parameters("bert", channels, steps)
    low, high = 1, 2
    while head_parameters(head, channels, steps, hidden=high) < target:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if head_parameters(head, channels, steps, hidden=middle) < target else (low, middle)
    return min((low, high), key=lambda h: abs(head_parameters(head, channels, steps, hidden=h) - target))


@functools.cache
def feature_shape(model: str, frames: int, **options) -> tuple[int, int]:
    """(channels, temporal positions) of the features `model` built with `options` gives a head for `frames`."""
    built = create(model, num_classes=1, frames=frames, head="concat", **options)  # concat pools to (steps, 1, 1)
    return built.backbone.out_channels, built.head.pool.output_size[0]


def runs_dir_for(cfg) -> Path:
    """Where a profile's runs live: runs/full for the published networks on the dataset's files (shared by every
    notebook and `actionlib recipes`), a tiny backbone's own folder per data root, or runs/heads for the heads on
    frozen backbones (their networks are in runs/backbones)."""
    if cfg.synthetic is None:
        base = paths.runs_dir() / "full"
        if cfg.backbone == "published":
            return base
        return base.with_name(f"full_{cfg.backbone}") / cache_key(data_root=cfg.data_root)
    # one folder for every notebook: a head is cached under its settings and its backbone, so the BERT and TGAP
    # heads that Tables 4.1, 4.3, 4.7, 5.2 and C.3 share train once (about 2 minutes of the default run, measured)
    return paths.runs_dir() / "heads"
