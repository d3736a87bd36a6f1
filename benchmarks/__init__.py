"""The benchmark suite: run a script as `python -m benchmarks.<name>` from the repository root."""
