"""The thesis's table rows as model configurations, and their comparison with our counts.

Every '# Parameters' / '# Operations' row of the thesis (`reference/complexity.csv`: its id and the clip it was
counted on) counts the networks of the thesis rows that report it: their streams in `recipes.STREAMS`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .complexity import Complexity, clip_shape, measure
from .recipes import RECIPES, STREAMS, complexity_id


@dataclass(frozen=True)
class Config:
    model: str
    options: dict = field(default_factory=dict)
    modality: str = "rgb"


def _configs_by_id() -> dict[str, list[Config]]:
    """id -> the configurations a complexity row counts (two for two-stream rows): the streams of the thesis rows
    counted as it (`recipes.complexity_id`), so that a network is written once, in `recipes.STREAMS`."""
    rows: dict[str, list[Config]] = {}
    for recipe in RECIPES:
        row_id = complexity_id(recipe)
        if row_id is not None and row_id not in rows:
            streams = [STREAMS[key] for key in recipe.streams]
            rows[row_id] = [Config(s.model, dict(s.options), s.modality) for s in streams]
    return rows


ROWS: dict[str, list[Config]] = _configs_by_id()

# Why a row cannot equal the thesis (notes, section 5). Shown only when the row differs.
KNOWN_DIFFERENCES = {
    "t3.3/nl_concat": "the authors' model has 12,646,003 parameters, 12.65 M rounded; the thesis prints 12.64 though it rounds elsewhere (47,625,715 -> 47.63)",
    "t3.8/rx101_64f": "thesis prints 38.56 = 4 x 9.64 (the rounded 16f figure); the authors' model counts 38.5703",
    "t4.1/avg": "thesis prints 38.56 = 4 x 9.64 (the rounded 16f figure); the authors' model counts 38.5703",
    "t4.3/rgb": "thesis prints 38.56 = 4 x 9.64 (the rounded 16f figure); the authors' model counts 38.5703",
    "t4.3/both": "sum includes the RGB stream's 38.57 (thesis used its 38.56, see t4.3/rgb)",
    "t3.5/r50": "thesis counts trainable parameters only here (conv1 + layer1 frozen: 225,344 fewer); we count all",
    "t3.5/r101": "thesis counts trainable parameters only here (conv1 + layer1 frozen: 225,344 fewer); we count all",
    "t4.6/r2plus1d34": "thesis's 63.67 M is the raw IG65M model with its 359-class head (63,676,142); with 51 classes the same network has 63.52 M, as Table 3.10 says",
    "t4.5/slowfast_bert_early": "thesis counts the authors' unused PySlowFast Kinetics head (Linear 2304x400, 922,000 parameters) that never runs; we do not build dead weights",
    "t4.5/slowfast_bert_late": "thesis counts the authors' unused PySlowFast Kinetics head (Linear 2304x400, 922,000 parameters) that never runs; we do not build dead weights",
}
TWO_STREAM_NOTE = "sum of the two streams' figures at the thesis's printed precision, as the thesis added them"

COLUMNS = ["id", "params_m", "ops_g", "thesis_params_m", "thesis_ops_g", "params_ratio", "ops_ratio", "note"]


def read_spec(path: str | Path) -> list[dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"complexity spec not found: {path}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    missing = {"id", "clip", "thesis_params_m", "thesis_ops_g"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{path} lacks the columns {sorted(missing)}")
    return rows


def _decimals(printed: str) -> int:
    return max(0, -Decimal(printed).as_tuple().exponent)


def _rounded(value: float, printed: str) -> float:
    return round(value, _decimals(printed))


def measure_config(config: Config, clip: str) -> Complexity:
    from .models import create

    model = create(config.model, modality=config.modality, **config.options)
    channels = model.default_clip[0]
    return measure(model, clip_shape(clip, channels))


def complexity_table(spec_path: str | Path, ids: list[str] | None = None, progress: bool = True) -> pd.DataFrame:
    """Count every spec row (configurations shared by several rows are counted once)."""
    spec = [r for r in read_spec(spec_path) if ids is None or r["id"] in ids]
    unknown = [r["id"] for r in spec if r["id"] not in ROWS]
    if unknown:
        raise ValueError(f"no configuration for spec rows {unknown}")
    cache: dict[tuple, Complexity] = {}
    jobs = [(c, r["clip"]) for r in spec for c in ROWS[r["id"]]]
    for config, clip in tqdm(jobs, desc="complexity", disable=not progress):
        key = (config.model, config.modality, tuple(sorted(config.options.items())), clip)
        if key not in cache:
            cache[key] = measure_config(config, clip)

    records = []
    for r in spec:
        tp, to = r["thesis_params_m"], r["thesis_ops_g"]
        counts = [cache[(c.model, c.modality, tuple(sorted(c.options.items())), r["clip"])] for c in ROWS[r["id"]]]
        if len(counts) == 1:
            params, ops = counts[0].params_m, counts[0].ops_g
        else:  # two-stream: the thesis added the streams' printed figures
            params = sum(_rounded(c.params_m, tp) for c in counts)
            ops = sum(_rounded(c.ops_g, to) for c in counts)
        match = _rounded(params, tp) == float(tp) and _rounded(ops, to) == float(to)
        note = "" if match else KNOWN_DIFFERENCES.get(r["id"], "unexplained difference")
        if len(counts) > 1:
            note = f"{TWO_STREAM_NOTE}; {note}" if note else TWO_STREAM_NOTE
        records.append(
            {
                "id": r["id"],
                "row": f"Table {r.get('table', '?')}: {r.get('row', '')} ({r.get('modality', '')})",
                "params_m": round(params, 4),
                "ops_g": round(ops, 4),
                "thesis_params_m": float(tp),
                "thesis_ops_g": float(to),
                "params_ratio": round(params / float(tp), 4),
                "ops_ratio": round(ops / float(to), 4),
                "note": note,
                "match": match,
            }
        )
    return pd.DataFrame.from_records(records)


def write_table(df: pd.DataFrame, out: str | Path) -> None:
    """Write the table as CSV (the spec's columns) and a Markdown twin beside it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df[COLUMNS].to_csv(out, index=False)
    shown = df[COLUMNS].copy()
    shown.insert(1, "row", df["row"])
    shown.insert(2, "equal", df["match"].map({True: "yes", False: "no"}))
    out.with_suffix(".md").write_text(shown.to_markdown(index=False) + "\n")
