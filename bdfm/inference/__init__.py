"""Inference: from a :class:`~bdfm.model.DynamicFactorModel` to posterior draws.

``pymc_model`` builds the PyMC model (priors, loadings, VAR) around the Kalman likelihood;
``transforms`` keeps the VAR stationary; ``identification`` and ``start`` fix rotation and
the starting point; ``mle`` and ``posterior_mode`` find point estimates (``optim`` is their
L-BFGS driver); ``samplers`` runs NUTS; ``diagnostics`` judges the chains; ``fitting``
assembles the draws, the factors and the log-likelihood into an InferenceData.
"""
