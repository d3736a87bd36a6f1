"""SlowFast-R50 (being written)."""
