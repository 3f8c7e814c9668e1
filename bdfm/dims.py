"""Dimension and coordinate names used across bdfm (one place, never literals)."""

TIME = "time"
SERIES = "series"
FACTOR = "factor"
LAG = "lag"
FACTOR_FROM = "factor_from"

__all__ = ["FACTOR", "FACTOR_FROM", "LAG", "SERIES", "TIME"]
