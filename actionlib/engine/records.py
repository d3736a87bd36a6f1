"""What a run leaves behind in `runs/<name>/`, so a result can be traced to its code and data.

- `config.json` / `config.yaml`: the resolved configuration (every default filled in);
- `metrics.jsonl`: one JSON line per epoch (losses, top1/top3, lr, clips/s, skipped videos);
- `environment.json`: git commit and dirty flag, package versions, device, seed, dataset hash;
- `last.pt` / `best.pt`: checkpoints (see `checkpointing.py`);
- `tb/`: TensorBoard scalars when tensorboard is installed.
Only rank 0 writes.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

PACKAGES = ("torch", "torchvision", "numpy", "av", "pandas", "pillow", "tqdm", "pyyaml", "actionlib")


def git_state(path: str | Path | None = None) -> dict:
    """Commit and dirty flag of the repository holding this package (None outside a checkout)."""
    cwd = Path(path or Path(__file__).resolve().parent)

    def run(*args):
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
        return result.stdout.strip() if result.returncode == 0 else None

    try:
        commit = run("rev-parse", "HEAD")
        status = run("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def manifest_hash(dataset) -> str | None:
    """SHA-256 of the dataset's (video, label) list, so a run records exactly which data it saw."""
    records = getattr(dataset, "records", None)
    if records is not None:  # actionlib.data ClipDataset: root-independent (class, video, label) triples
        samples = [(r.class_name, r.name, r.label) for r in records]
    else:
        samples = getattr(dataset, "samples", None)
    if samples is None:
        return None
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(repr(_plain(sample)).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _plain(sample):
    """Samples may be tuples, dataclasses or dicts: reduce them to their (str) fields."""
    if hasattr(sample, "__dataclass_fields__"):
        return tuple(str(getattr(sample, f)) for f in sample.__dataclass_fields__)
    if isinstance(sample, dict):
        return tuple((k, str(v)) for k, v in sorted(sample.items()))
    if isinstance(sample, (tuple, list)):
        return tuple(str(v) for v in sample)
    return str(sample)


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


class RunRecorder:
    """Writes the run directory; every method is a no-op on ranks other than 0."""

    def __init__(self, out_dir: str | Path, enabled: bool = True, tensorboard: bool = True):
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        self.writer = None
        if not enabled:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(self.out_dir / "tb"))
            except ImportError:  # tensorboard is optional
                self.writer = None

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "metrics.jsonl"

    def write_config(self, config: dict) -> None:
        if not self.enabled:
            return
        config = _jsonable(config)
        (self.out_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        try:
            import yaml

            (self.out_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=True))
        except ImportError:
            pass

    def write_environment(self, device, seed: int, dataset_hash: str | None, extra: dict | None = None) -> None:
        if not self.enabled:
            return
        device = torch.device(device)
        env = {
            "git": git_state(),
            "packages": package_versions(),
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else (platform.processor() or platform.machine()),
            "cuda": torch.version.cuda,
            "torch_threads": torch.get_num_threads(),
            "seed": seed,
            "dataset_manifest_sha256": dataset_hash,
            "command": sys.argv,
            **(extra or {}),
        }
        (self.out_dir / "environment.json").write_text(json.dumps(_jsonable(env), indent=2) + "\n")

    def log_epoch(self, metrics: dict) -> None:
        """Append one line; a resumed run first truncates lines of epochs it is about to redo."""
        if not self.enabled:
            return
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(_jsonable(metrics), sort_keys=True) + "\n")
        if self.writer is not None:
            step = metrics.get("epoch", 0)
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and key != "epoch":
                    self.writer.add_scalar(key, value, step)
            self.writer.flush()

    def drop_epochs_from(self, epoch: int) -> None:
        """Keep metrics.jsonl consistent after a resume: remove lines for epochs >= `epoch`."""
        if not self.enabled or not self.metrics_path.exists():
            return
        lines = self.metrics_path.read_text().splitlines()
        kept = [line for line in lines if line.strip() and json.loads(line).get("epoch", -1) < epoch]
        self.metrics_path.write_text("".join(line + "\n" for line in kept))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
