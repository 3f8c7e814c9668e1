from bdfm import dims


def test_dim_names_are_distinct_strings():
    names = [getattr(dims, n) for n in dims.__all__ if n.isupper() and n != "IDIOSYNCRATIC"]
    assert all(isinstance(n, str) for n in names)
    assert len(set(names)) == len(names)


def test_labels():
    assert dims.factor_labels(2) == ["f1", "f2"]
    assert dims.source_labels(2) == ["f1", "f2", dims.IDIOSYNCRATIC]
