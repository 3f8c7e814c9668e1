"""bdfm.report.plots.dynamics: impulse responses and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from bdfm.params import companion_matrix
from bdfm.report import plots
from tests.conftest import SMALL_N_FACTORS as N_FACTORS
from tests.report.plots.conftest import bands, check_figure


def test_impulse_responses(fit):
    fig = fit.plot.impulse_responses(steps=10)
    check_figure(fig, N_FACTORS**2 + 1)
    for ax in fig.axes[:-1]:
        assert len(bands(ax)) == 2
        assert len(ax.get_lines()[0].get_xdata()) == 11
    assert fig.axes[0].get_lines()[0].get_ydata()[0] == pytest.approx(1.0)  # own shock at h=0
    assert "persistence" in fig.axes[-1].get_title()


def test_impulse_responses_numerics():
    rng = np.random.default_rng(3)
    a1, a2 = 0.4 * rng.normal(size=(2, 3, 3))
    irf = plots.impulse_responses(np.stack([a1, a2]), steps=4)
    expected = [np.eye(3), a1]
    for _ in range(3):
        expected.append(a1 @ expected[-1] + a2 @ expected[-2])
    np.testing.assert_allclose(irf, np.stack(expected))
    batch = plots.impulse_responses(np.stack([[a1, a2]] * 5).reshape(5, 2, 3, 3), steps=4)
    assert batch.shape == (5, 5, 3, 3)
    radius = plots.spectral_radius(np.stack([a1, a2])[None])
    comp = companion_matrix(np.stack([a1, a2]))
    assert radius.shape == (1,)
    assert radius[0] == pytest.approx(np.abs(np.linalg.eigvals(comp)).max())
