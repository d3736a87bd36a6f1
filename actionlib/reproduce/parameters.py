"""Checking the parameters of `actionlib reproduce` before any kernel starts.

Which notebooks to run (find_notebooks, `--only`), the `-p NAME=VALUE` values against each notebook's parameters
cell (papermill.inspect_notebook: name, type, `# allowed:` comments, the profile's fields), and, for a profile that
reads the dataset's files, the datasets, split files and checkpoints its rows need (_preflight).
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
from pathlib import Path

from .. import profiles, recipes
from ..paths import DATASET_DIRS

NOTEBOOK_GLOB = "[0-9][0-9]_*.py"
# Parameters holding paths: a relative value given on the command line is taken from the caller's cwd (the
# kernel's cwd is the notebooks folder).
_PATH_SUFFIXES = ("_root", "_dir", "_path", "_file")
# Split folders, as in actionlib/data/datasets.py (not imported: that would import torch before every run).
_SPLIT_DIRS = {
    "synthetic": "testTrainMulti_7030_splits",
    "hmdb51": "testTrainMulti_7030_splits",
    "ucf101": "ucfTrainTestlist",
}


class ParameterError(ValueError):
    """Parameters that the notebooks would not accept; raised before any kernel starts."""


class MissingInputsError(FileNotFoundError):
    """The full profile's data or checkpoints are missing; raised before any kernel starts."""


def parse_value(text: str):
    """A command-line value as a Python literal (1, 0.5, True, "x", [1, 2]); anything else is a string."""
    if text.lower() in ("true", "false", "none"):
        return {"true": True, "false": False, "none": None}[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_assignments(pairs: list[str]) -> dict:
    """["seed=1", "head=bert"] -> {"seed": 1, "head": "bert"}."""
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ParameterError(f"parameters are NAME=VALUE, got {pair!r}")
        params[name.strip()] = parse_value(value)
    return params


def find_notebooks(folder: str | os.PathLike, only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks `NN_*.py` in order; `only` selects by number ("05") or by name ("05_heads")."""
    found = sorted(Path(folder).glob(NOTEBOOK_GLOB))
    if not only:
        if not found:
            raise FileNotFoundError(f"no notebooks {NOTEBOOK_GLOB} in {folder}")
        return found
    wanted = [w.strip().removesuffix(".py") for w in only if w.strip()]
    unknown = [w for w in wanted if not any(p.stem == w or p.stem[:2] == w for p in found)]
    if unknown:
        raise ParameterError(
            f"--only {', '.join(unknown)}: no such notebook in {folder}; "
            f"available: {', '.join(p.stem for p in found) or '(none)'}"
        )
    return [p for p in found if p.stem in wanted or p.stem[:2] in wanted]


def _allowed(help_text: str):
    """The values of a `# allowed: a, b, c` comment (literals, or bare words as strings), or None."""
    match = re.match(r"\s*allowed\s*:\s*(.*)$", help_text or "", re.IGNORECASE)
    if not match:
        return None
    return [parse_value(item.strip()) for item in match.group(1).split(",") if item.strip()]


def _default(declared: dict):
    """The parameter's default as a Python value, or None when it is not a literal."""
    try:
        return ast.literal_eval(declared.get("default", "None"))
    except (ValueError, SyntaxError):
        return None


def _type_problem(value, default) -> str | None:
    """Why `value` cannot replace `default` (a None default accepts anything)."""
    if default is None or value is None:
        return None
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float))
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(default))
    return None if ok else f"expects {type(default).__name__} like its default {default!r}"


# An example value of each type an annotation or `# type:` comment may name, for _type_problem.
_TYPE_EXAMPLES = {"int": 0, "float": 0.0, "str": "", "bool": False, "list": [], "tuple": ()}
# `_root`/`_dir` parameters the notebook writes to rather than reads.
_OUTPUT_DIRS = ("results_dir", "runs_dir", "out_dir", "output_dir")
_PROFILE_FIELDS = {f.name for f in dataclasses.fields(profiles.Profile)} - {"name"}


def _declared_type(declared: dict) -> str | None:
    """The type named by the parameter's annotation or `# type:` comment (Optional[...] unwrapped), if known."""
    name = str(declared.get("inferred_type_name") or "None").strip()
    name = re.sub(r"^Optional\[(.*)\]$", r"\1", name).strip()
    return name if name in _TYPE_EXAMPLES else None


def _takes_none(declared: dict) -> bool:
    """Whether the notebook's code is written for None: its default is None (or not a literal) or its type is
    Optional (papermill names an unannotated parameter's type "None")."""
    type_name = str(declared.get("inferred_type_name") or "None").strip()
    optional = type_name.startswith("Optional[") or "None" in re.split(r"[\[\],|\s]+", type_name)
    return _default(declared) is None or (type_name != "None" and optional)


def _str_typed(declared: dict) -> bool:
    default = _default(declared)
    return isinstance(default, str) or (default is None and _declared_type(declared) == "str")


def as_declared(declared: dict, params: dict) -> dict:
    """`params` with an int, or ints, given to a str parameter turned into the text the notebook parses: the
    command line reads `-p splits=1` as 1 and `-p splits=1,3` as (1, 3)."""

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    converted = dict(params)
    for name, value in params.items():
        if name not in declared or not _str_typed(declared[name]):
            continue
        if is_int(value):
            converted[name] = str(value)
        elif isinstance(value, (tuple, list)) and value and all(is_int(v) for v in value):
            converted[name] = ",".join(map(str, value))
    return converted


def _device_problem(device: str) -> str | None:
    """Why this machine cannot run on `device`, a cuda device whose spelling `profiles.resolve` accepted; the
    kernels run here. Imports torch: only called for a cuda device."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    available = ", ".join(["cpu", *(["cuda"] if count else []), *(f"cuda:{i}" for i in range(count))])
    index = device.partition(":")[2]
    if not count or (index and int(index) >= count):
        return f"{device!r}: this machine has no such device; available: {available}"
    return None


def _value_problem(name: str, value, declared: dict, profile) -> str | None:
    """Why the notebook would refuse `name=value`; a None default is checked by its type comment and by name."""
    if value is None and _takes_none(declared):
        return None  # keeps the notebook's (or the profile's) own value
    allowed = _allowed(declared.get("help", ""))
    if allowed is not None:
        return None if value in allowed else f"{value!r} is not allowed; allowed: {', '.join(map(repr, allowed))}"
    default, declared_type = _default(declared), _declared_type(declared)
    if value is None:
        return f"None: expects {type(default).__name__} like its default {default!r}; leave -p {name} out to keep it"
    if default is None and declared_type:
        if _type_problem(value, _TYPE_EXAMPLES[declared_type]):
            return f"{value!r}: expects {declared_type}"
    elif _type_problem(value, default):
        return f"{value!r}: {_type_problem(value, default)}"
    if name == "splits":
        try:
            profiles.parse_splits(value)
        except (ValueError, TypeError) as err:
            return f"{value!r}: {str(err).removeprefix('parameter splits: ')}"
    elif name in _PROFILE_FIELDS and (profile in profiles.PROFILES or name == "device"):
        # a device's spelling is the same for every profile: with none given, any one checks it
        base = profile if profile in profiles.PROFILES else next(iter(profiles.PROFILES))
        try:
            profiles.resolve(base, **{name: value})
        except (ValueError, TypeError) as err:
            return re.sub(rf"^profile '[^']*': invalid {re.escape(name)}=", "", str(err))
    if name == "device" and isinstance(value, str) and value.startswith("cuda"):
        return _device_problem(value)
    if name.endswith(("_root", "_dir")) and name not in _OUTPUT_DIRS:
        if not isinstance(value, str):
            return f"{value!r}: expects a folder name"
        if not Path(value).is_dir():
            return f"no such folder {value}"
    return None


def check_parameters(notebook: str, declared: dict, params: dict) -> list[str]:
    """Problems of passing `params` to a notebook whose parameters cell declares `declared` (inspect_notebook),
    one `<parameter>: <why>` each."""
    problems = []
    if "profile" not in declared:
        problems.append(f"profile: {notebook} has no `profile` parameter (see notebooks/_template.py)")
    profile = params.get("profile")
    for name, value in params.items():
        if name not in declared:
            problems.append(f"{name}: unknown parameter; its parameters are {', '.join(declared) or '(none)'}")
        elif name == "profile" and value not in profiles.PROFILES:
            problems.append(f"profile: {value!r} is not allowed; allowed: {', '.join(profiles.PROFILES)}")
        else:
            why = _value_problem(name, value, declared[name], profile)
            if why:
                problems.append(f"{name}: {why}")
    return problems


def _first_missing(paths: list[Path], shown: int = 5) -> str:
    names = ", ".join(p.name for p in paths[:shown])
    return names + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def missing_inputs(dataset: str, data_root, splits, weights_dir, weights) -> list[str]:
    """What of a dataset (class folders, split files) and of the checkpoints is missing, one line each."""
    missing = []
    if data_root is None:
        missing.append("data_root is not set (set $ACTIONLIB_DATA or pass -p data_root=DIR)")
    else:
        folder = Path(data_root) / DATASET_DIRS[dataset]
        classes = sorted(d.name for d in folder.iterdir() if d.is_dir()) if folder.is_dir() else []
        split_name = _SPLIT_DIRS[dataset]
        split_dir = next((d for d in (folder / split_name, folder.parent / split_name) if d.is_dir()), None)
        classes = [c for c in classes if c != split_name]
        if not classes:
            missing.append(f"{dataset}: dataset folder {folder} (one folder of videos per class)")
        if split_dir is None:
            missing.append(f"{dataset}: split folder {folder / split_name} (or {folder.parent / split_name})")
        else:
            for k in splits:
                if dataset == "ucf101":
                    files = [split_dir / n for n in ("classInd.txt", f"trainlist0{k}.txt", f"testlist0{k}.txt")]
                else:
                    files = [split_dir / f"{c}_test_split{k}.txt" for c in classes]
                    if not classes and not list(split_dir.glob(f"*_test_split{k}.txt")):
                        files = [split_dir / f"<class>_test_split{k}.txt"]
                absent = [f for f in files if not f.is_file()]
                if absent:
                    missing.append(f"{dataset}: split {k} files in {split_dir}: {_first_missing(absent)}")
    if weights:
        if weights_dir is None:
            missing.append("weights_dir is not set (set $ACTIONLIB_WEIGHTS or pass -p weights_dir=DIR)")
        else:
            absent = [Path(weights_dir) / w for w in weights if not (Path(weights_dir) / w).is_file()]
            if absent:
                missing.append(f"checkpoints in {weights_dir}: {', '.join(p.name for p in absent)}")
    return missing


def _preflight(notebooks: dict[str, tuple[dict, dict]], profile: str) -> list[str]:
    """Missing data/checkpoints of the full profile for {name: (declared, params)}, naming the notebooks."""
    by_problem: dict[str, list[str]] = {}
    for name, (declared, params) in notebooks.items():

        def value(key, fallback, declared=declared, params=params):
            if params.get(key) is not None:
                return params[key]
            if key in declared and _default(declared[key]) is not None:
                return _default(declared[key])
            return fallback

        try:
            cfg = profiles.resolve(
                profile,
                dataset=value("dataset", None),
                splits=profiles.parse_splits(value("splits", None)),
                data_root=value("data_root", None),
                weights_dir=value("weights_dir", None),
            )
        except ValueError as err:
            by_problem.setdefault(str(err), []).append(name)
            continue
        chosen = recipes.recipes_for(recipes.NOTEBOOK_TABLES.get(name[:2], ()))
        datasets, weights = recipes.needs(chosen)
        frames = recipes.modalities(chosen) - {"rgb"}
        if cfg.backbone != "published":  # the tiny networks' checkpoints are written by the study itself
            weights = ()
        for dataset in datasets or (cfg.dataset,):
            for line in missing_inputs(dataset, cfg.data_root, cfg.splits, cfg.weights_dir, weights):
                by_problem.setdefault(line, []).append(name)
            for modality in sorted(frames):
                folder = recipes.frame_root(cfg.data_root, dataset, modality) if cfg.data_root else None
                if folder is not None and not folder.is_dir():
                    line = f"{dataset}: {modality} frame folders {folder} (<class>/<video>/...; README, 'Full profile')"
                    by_problem.setdefault(line, []).append(name)
    return [f"{line} (needed by {', '.join(names)})" for line, names in by_problem.items()]
