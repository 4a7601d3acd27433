"""Ratio benchmarks: each figure is ours / a baseline measured in the same run."""
