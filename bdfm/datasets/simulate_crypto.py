r"""A simulated crypto-like panel of daily returns (fat tails, volatility clustering, late listings).

No permissively licensed crypto price panel ships on PyPI (see ``bdfm/datasets/data/README.md``),
so bdfm bundles this simulator instead; the real panel used by ``examples/crypto_factors.py``
is read from disk, never bundled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_crypto_panel"]

_LISTING_SPAN = 0.6  # late listings fall in the first 60 % of the sample
_MARKET_SD = 2.5  # daily sd of the market factor, percent
_OTHER_SD = 1.2  # daily sd of the other factors, percent
_IDIO_SD = (1.5, 4.0)  # range of the idiosyncratic daily sd, percent


def _unit_t(rng: np.random.Generator, tail_df: float, size: tuple[int, int]) -> np.ndarray:
    """Student-t draws rescaled to unit variance."""
    return rng.standard_t(tail_df, size=size) / np.sqrt(tail_df / (tail_df - 2.0))


def _garch_scale(shocks: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    r"""Scale unit-variance shocks z_t column by column by a GARCH(1,1) volatility.

    Returns :math:`e_t = \sqrt{h_t} z_t` with :math:`h_t = (1-α-β) + α e_{t-1}^2 + β h_{t-1}`,
    :math:`h_0 = 1`: unconditional variance one, volatility clustering when α > 0.
    """
    out = np.empty_like(shocks)
    h = np.ones(shocks.shape[1])
    omega = 1.0 - alpha - beta
    for t in range(shocks.shape[0]):
        out[t] = np.sqrt(h) * shocks[t]
        h = omega + alpha * out[t] ** 2 + beta * h
    return out


def simulate_crypto_panel(
    n_assets: int = 12,
    n_days: int = 1500,
    n_factors: int = 2,
    *,
    start: str | pd.Timestamp = "2020-01-01",
    tail_df: float = 5.0,
    garch: tuple[float, float] | None = (0.10, 0.85),
    prices: bool = False,
    random_seed: int | None = None,
) -> pd.DataFrame:
    r"""Simulate daily log returns (or prices) of a crypto-like panel from a factor model.

    .. math::

        r_{it} = λ_i^\top f_t + s_i\, e_{it}, \qquad
        f_{kt} = σ_k\, e^{(f)}_{kt},

    in percent per day, where every shock :math:`e` is Student-t with ``tail_df`` degrees of
    freedom rescaled to unit variance and, unless ``garch=None``, multiplied by its own
    GARCH(1,1) volatility (unit unconditional variance; volatility clustering). Factor 1 is
    a "market" factor (σ = 2.5 %/day, loadings uniform on [0.7, 1.3]); the others have
    σ = 1.2 %/day and loadings N(0, 0.6²). Idiosyncratic sds :math:`s_i` are uniform on
    [1.5, 4] %/day. Markets trade every calendar day.

    Assets are listed one after another: the first ``max(2, n_assets // 4)`` trade from
    ``start``; each of the others gets its first return on a day drawn uniformly from the
    first 60 % of the sample, and is NaN before it (ragged start, no other gaps).

    Parameters
    ----------
    n_assets : int
        Number of assets (columns ``C01``, ``C02``, …, ordered by listing date); at least 2.
    n_days : int
        Number of calendar days (rows); at least 10.
    n_factors : int
        Number of common factors, 1 <= ``n_factors`` < ``n_assets``.
    start : str or pandas.Timestamp
        First date of the daily (7 days a week) index.
    tail_df : float
        Degrees of freedom of the Student-t shocks, > 2 (smaller = fatter tails; > 4 for a
        finite kurtosis).
    garch : (float, float) or None
        GARCH(1,1) coefficients (α, β), α, β >= 0 and α + β < 1, or None for constant volatility.
    prices : bool
        Return prices instead of returns: :math:`100 \exp(\sum_{s \le t} r_{is} / 100)`, the
        close after day t's return (the listing price of 100 before the first return is not a
        row). :func:`bdfm.datasets.log_returns` turns them back into returns.
    random_seed : int, optional
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same panel.

    Returns
    -------
    pandas.DataFrame
        ``n_days`` x ``n_assets`` with a daily DatetimeIndex named ``date``; NaN before each
        asset's first return.

    Raises
    ------
    ValueError
        If an argument is out of range (the message names it).

    Examples
    --------
    >>> from bdfm.datasets import simulate_crypto_panel
    >>> panel = simulate_crypto_panel(n_assets=5, n_days=100, random_seed=0)
    >>> panel.shape, panel.index.freqstr
    ((100, 5), 'D')
    """
    problems = []
    if n_assets < 2:
        problems.append(f"n_assets must be at least 2, got {n_assets}")
    if n_days < 10:
        problems.append(f"n_days must be at least 10, got {n_days}")
    if not 1 <= n_factors < max(n_assets, 2):
        problems.append(f"n_factors must be in [1, n_assets), got {n_factors}")
    if not tail_df > 2:
        problems.append(f"tail_df must be > 2 for a finite variance, got {tail_df}")
    if garch is not None and not (min(garch) >= 0 and sum(garch) < 1):
        problems.append(
            f"garch (alpha, beta) needs alpha, beta >= 0 and alpha + beta < 1, got {garch}"
        )
    if problems:
        raise ValueError("simulate_crypto_panel: " + "; ".join(problems))

    rng = np.random.default_rng(random_seed)
    loadings = np.column_stack(
        [rng.uniform(0.7, 1.3, n_assets)]
        + [rng.normal(0.0, 0.6, n_assets) for _ in range(n_factors - 1)]
    )
    factor_sd = np.r_[_MARKET_SD, np.full(n_factors - 1, _OTHER_SD)]
    idio_sd = rng.uniform(*_IDIO_SD, n_assets)
    shocks = _unit_t(rng, tail_df, (n_days, n_factors + n_assets))
    if garch is not None:
        shocks = _garch_scale(shocks, *garch)
    factors = shocks[:, :n_factors] * factor_sd
    returns = factors @ loadings.T + shocks[:, n_factors:] * idio_sd

    n_live = max(2, n_assets // 4)
    first = np.r_[
        np.zeros(n_live, dtype=int),
        np.sort(rng.integers(1, int(_LISTING_SPAN * n_days) + 1, n_assets - n_live)),
    ]
    returns[np.arange(n_days)[:, None] < first[None, :]] = np.nan
    values = 100.0 * np.exp(np.nancumsum(returns, axis=0) / 100.0) if prices else returns
    values[np.isnan(returns)] = np.nan
    width = len(str(n_assets))
    return pd.DataFrame(
        values,
        index=pd.date_range(start, periods=n_days, freq="D", name="date"),
        columns=pd.Index([f"C{i + 1:0{max(width, 2)}d}" for i in range(n_assets)], name="series"),
    )
