from bdfm import dims


def test_dim_names_are_distinct_strings():
    names = [dims.TIME, dims.SERIES, dims.FACTOR, dims.LAG, dims.FACTOR_FROM]
    assert all(isinstance(n, str) for n in names)
    assert len(set(names)) == len(names)
