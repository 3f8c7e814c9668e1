"""Real datasets bundled with bdfm (no downloads). See ``bdfm/datasets/data/README.md``."""

from bdfm.datasets.loaders import describe, list_datasets, load, log_returns

__all__ = ["describe", "list_datasets", "load", "log_returns"]
