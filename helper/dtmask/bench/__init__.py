"""Benchmarks: speed (the performance budget) and quality (the interactive-segmentation protocol)."""
