"""Baseline systems for ChatGenBench, one per module, registered in :mod:`chatgenbench.adapters`."""
