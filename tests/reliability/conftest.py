"""Fixtures of the engine tests, shared here rather than copied: tiny in-memory runs and a tiny synthetic dataset
for the command line."""

from tests.engine.conftest import _one_thread, tiny_data  # noqa: F401 (fixtures)
from tests.engine.test_cli import synthetic  # noqa: F401 (fixture)
