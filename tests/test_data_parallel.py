"""fastnn.nn.DataParallel / nn.parallel.DataParallel on one device: wraps, forwards, prefixes state_dict keys."""
import pytest

import fastnn
from fastnn import nn


def test_data_parallel_forwards_and_prefixes_keys():
    fastnn.manual_seed(0)
    inner = nn.Linear(3, 2)
    dp = nn.parallel.DataParallel(inner)
    x = fastnn.randn(4, 3)
    assert dp.module is inner and fastnn.equal(dp(x), inner(x))
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    assert [p is q for p, q in zip(dp.parameters(), inner.parameters())] == [True, True]
    with pytest.raises(NotImplementedError):
        nn.parallel.DataParallel(inner, device_ids=[0, 1])
