"""bo_transfer: a benchmark suite for warm-started Bayesian optimization."""

__version__ = "0.1.0"
