"""Data pipeline: decoding, sampling, transforms, datasets, flow and pose extraction."""
