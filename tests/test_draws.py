import numpy as np
import xarray as xr

from bdfm.draws import stack_draws


def test_stack_draws_is_chain_major_whatever_the_dim_order():
    values = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # chain, draw, x
    var = xr.DataArray(values, dims=("chain", "draw", "x"))
    flipped = var.transpose("x", "draw", "chain")
    for v in (var, flipped):
        out = stack_draws(v)
        assert out.shape == (6, 4)
        # draw d of chain c is row 3c + d
        assert np.array_equal(out[4], values[1, 1])
        assert np.array_equal(out[2], values[0, 2])
