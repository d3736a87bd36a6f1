"""What a run leaves behind in `runs/<name>/`, so a result can be traced to its code and data.

- `config.json` / `config.yaml`: the resolved configuration (every default filled in);
- `metrics.jsonl`: one JSON line per epoch (losses, top1/top3, lr, clips/s, skipped videos);
- `environment.json`: git commit and dirty flag, package versions, device, seed, dataset hash, the command that
  started the run and `invocations`: every command that ran it (the start, then each `--resume`), with its time;
- `last.pt` / `best.pt`: checkpoints (see `checkpointing.py`);
- `tb/`: TensorBoard scalars when tensorboard is installed;
- `run.lock`: present while a process writes the folder (its pid, host and start time), so two runs never
  write one folder at once.
Only rank 0 writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import torch

from ..locks import FolderLock

# What a run writes: a folder holding any of these holds a run (`--overwrite` removes them, and `tb/`).
RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl", "config.json", "config.yaml", "environment.json")
LOCK_NAME = "run.lock"

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


def processor_name() -> str:
    """The CPU's model name ("Intel(R) Xeon(R) ...", "AMD EPYC 7B13"): `platform.processor()` is only "x86_64"
    on Linux, and the same code trains at different speeds and to slightly different numbers on each."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_summary() -> str:
    """One line naming what a result was computed on: processor, torch threads, Python and torch versions."""
    return (f"{processor_name()}, {torch.get_num_threads()} threads, Python {platform.python_version()}, "
            f"torch {torch.__version__}")  # fmt: skip


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
        """The environment of this process; `command` stays the one that started the run, and this process's
        command is added to `invocations` (a resume must not erase how the run began)."""
        if not self.enabled:
            return
        device = torch.device(device)
        path = self.out_dir / "environment.json"
        try:
            before = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError):
            before = {}
        before = before if isinstance(before, dict) else {}
        invocations = before.get("invocations")
        if not isinstance(invocations, list):  # written before invocations were kept: its command was the first
            invocations = [{"command": before["command"], "time": None}] if "command" in before else []
        invocations.append({"command": sys.argv, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        env = {
            "git": git_state(),
            "packages": package_versions(),
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else processor_name(),
            "cuda": torch.version.cuda,
            "torch_threads": torch.get_num_threads(),
            "seed": seed,
            "dataset_manifest_sha256": dataset_hash,
            "command": invocations[0]["command"],
            "invocations": invocations,
            **(extra or {}),
        }
        write_atomically(path, json.dumps(_jsonable(env), indent=2) + "\n")

    def logged_epochs(self) -> set[int]:
        if not self.metrics_path.exists():
            return set()
        return {line.get("epoch", -1) for line in _read_lines(self.metrics_path)}

    def log_epoch(self, metrics: dict) -> None:
        """Add the epoch's line, replacing a line of the same epoch, so each epoch has exactly one."""
        if not self.enabled:
            return
        epoch = metrics.get("epoch")
        kept = [line for line in self._lines() if line.get("epoch") != epoch]
        self._write_lines([*kept, _jsonable(metrics)])
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
        lines = self._lines()
        kept = [line for line in lines if line.get("epoch", -1) < epoch]
        if len(kept) < len(lines):
            self._write_lines(kept)

    def _lines(self) -> list[dict]:
        return _read_lines(self.metrics_path) if self.metrics_path.exists() else []

    def _write_lines(self, lines: list[dict]) -> None:
        """Rewrite the whole (small) file and rename it into place: a kill never leaves half a line."""
        write_atomically(self.metrics_path, "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def write_atomically(path: Path, text: str) -> None:
    """Write a small text file through a temporary and a rename: a full disk or a kill never leaves half of it."""
    from .checkpointing import durable_replace, temporary_path

    tmp = temporary_path(path)
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        durable_replace(tmp, path)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from err
    finally:
        tmp.unlink(missing_ok=True)


def _read_lines(path: Path) -> list[dict]:
    """The file's JSON lines; a torn last line (a kill while an older version appended) is left out."""
    lines = []
    for text in path.read_text().splitlines():
        if text.strip():
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                continue
    return lines


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    return _read_lines(path)


class RunFolderError(RuntimeError):
    """The run folder cannot be written: another process holds it, or it holds a run not to be replaced."""


def holds_run(out_dir: str | Path) -> bool:
    out_dir = Path(out_dir)
    return any((out_dir / name).exists() for name in RUN_FILES)


def clear_run(out_dir: str | Path) -> None:
    """Remove what an earlier run wrote (for `--overwrite`); the caller holds the folder's lock."""
    out_dir = Path(out_dir)
    for name in RUN_FILES:
        (out_dir / name).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "tb", ignore_errors=True)


def remove_stale_temporaries(out_dir: str | Path) -> list[Path]:
    """Delete `.*.tmp` files a killed writer left; only safe while holding the folder's lock."""
    removed = []
    for path in Path(out_dir).glob(".*.tmp"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


class RunLock(FolderLock):
    """`run.lock` in a run folder (see `actionlib.locks.FolderLock`)."""

    WRITER = "run"

    def __init__(self, out_dir: str | Path):
        super().__init__(Path(out_dir) / LOCK_NAME, error=RunFolderError)
