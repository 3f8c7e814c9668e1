"""Quantities computed from a fit: forecasts, covariances and risk, VaR backtests.

Every function takes a fit (duck-typed: ``.idata``, ``.model``) and never imports
:mod:`bdfm.results`; ``FitResult``'s convenience methods are attached in :mod:`bdfm.api`.
"""
