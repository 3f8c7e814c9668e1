"""Choosing between specifications: ``compare`` (PSIS-LOO / LFO tables), ``lfo``
(leave-future-out), ``select`` (number of factors), ``refit`` (refit a fit's options on
other data) and ``parallel`` (``fit_many`` on any ``concurrent.futures`` executor).
"""
