"""Dimension and coordinate names used across bdfm (one place, never literals)."""

TIME = "time"
SERIES = "series"
SERIES_TO = "series_to"  # second series axis of a covariance matrix
FACTOR = "factor"
LAG = "lag"
FACTOR_FROM = "factor_from"
LOADING = "loading"  # the free (estimated) entries of the loading matrix
CHAIN = "chain"
DRAW = "draw"
STEP = "step"  # forecast / impulse-response horizon 1..h
SOURCE = "source"  # variance / risk sources: the factors, then IDIOSYNCRATIC
IDIOSYNCRATIC = "idiosyncratic"  # label of the idiosyncratic source
PORTFOLIO = "portfolio"
ALPHA = "alpha"  # VaR / ES confidence levels
MODEL = "model"  # model-comparison axis

__all__ = [
    "ALPHA",
    "CHAIN",
    "DRAW",
    "FACTOR",
    "FACTOR_FROM",
    "IDIOSYNCRATIC",
    "LAG",
    "LOADING",
    "MODEL",
    "PORTFOLIO",
    "SERIES",
    "SERIES_TO",
    "SOURCE",
    "STEP",
    "TIME",
    "factor_labels",
    "source_labels",
]


def factor_labels(k: int) -> list[str]:
    """Coordinate labels of the factors: ``f1 .. fk``."""
    return [f"f{j + 1}" for j in range(k)]


def source_labels(k: int) -> list[str]:
    """Coordinate labels of variance/risk sources: ``f1 .. fk`` then ``idiosyncratic``."""
    return [*factor_labels(k), IDIOSYNCRATIC]
