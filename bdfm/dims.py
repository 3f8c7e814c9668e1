"""Dimension and coordinate names used across bdfm (one place, never literals)."""

TIME = "time"
SERIES = "series"
FACTOR = "factor"
LAG = "lag"
FACTOR_FROM = "factor_from"
LOADING = "loading"  # the free (estimated) entries of the loading matrix
CHAIN = "chain"
DRAW = "draw"

__all__ = ["CHAIN", "DRAW", "FACTOR", "FACTOR_FROM", "LAG", "LOADING", "SERIES", "TIME"]


def factor_labels(k: int) -> list[str]:
    """Coordinate labels of the factors: ``f1 .. fk``."""
    return [f"f{j + 1}" for j in range(k)]
