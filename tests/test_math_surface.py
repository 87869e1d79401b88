"""The math op surface's names: every fastnn function and Tensor method added for it exists in torch under the
same name and is declared on the Tensor class (not patched in); torch.norm's signature (the one torch lets
inspect read) is the same."""
import inspect

import pytest
import torch

import fastnn

FUNCTIONS = """tan asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh expm1 exp2
log2 log10 reciprocal rsqrt square sinc deg2rad rad2deg erfc erfinv lgamma digamma logit i0 floor ceil round trunc
fix frac sgn signbit positive negative nan_to_num isinf isposinf isneginf isreal logical_and logical_or logical_xor
logical_not bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift remainder fmod
floor_divide div divide atan2 arctan2 hypot copysign logaddexp logaddexp2 xlogy fmax fmin lerp addcmul addcdiv
isclose allclose equal clamp_min clamp_max heaviside float_power true_divide cumsum cumprod cummax cummin
logcumsumexp nansum nanmean count_nonzero var_mean std_mean aminmax norm polygamma mvlgamma gcd lcm ldexp frexp
nextafter rsub angle real imag conj conj_physical resolve_conj resolve_neg trapezoid trapz cumulative_trapezoid dist
renorm""".split()

METHODS = """tan asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh expm1 exp2
log2 log10 reciprocal rsqrt square sinc deg2rad rad2deg erfc erfinv lgamma digamma logit i0 floor ceil round trunc
fix frac sgn signbit positive negative nan_to_num isinf isposinf isneginf isreal logical_and logical_or logical_xor
bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift remainder fmod floor_divide
div divide atan2 arctan2 hypot copysign logaddexp logaddexp2 xlogy fmax fmin lerp addcmul addcdiv isclose allclose
equal clamp_min clamp_max heaviside float_power cumsum cumprod cummax cummin logcumsumexp nansum nanmean
count_nonzero aminmax norm prod softmax log_softmax floor_ ceil_ trunc_ round_ nan_to_num_ clamp_min_ clamp_max_
lerp_ addcmul_ addcdiv_ __floordiv__ __rfloordiv__ __mod__ __rmod__ __ifloordiv__ __imod__ polygamma mvlgamma gcd
lcm ldexp frexp nextafter angle real imag conj conj_physical resolve_conj resolve_neg dist renorm""".split()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_exists_in_both(name):
    assert callable(getattr(fastnn, name))
    assert callable(getattr(torch, name))


@pytest.mark.parametrize("name", METHODS)
def test_method_declared_on_the_class_and_in_torch(name):
    assert name in fastnn.Tensor.__dict__
    assert hasattr(torch.Tensor, name)


def test_norm_signature_matches_torch():
    want = list(inspect.signature(torch.norm).parameters)
    got = list(inspect.signature(fastnn.norm).parameters)
    assert got == want
    assert list(inspect.signature(fastnn.Tensor.norm).parameters)[1:] == \
        list(inspect.signature(torch.Tensor.norm).parameters)[1:]


def test_inplace_floor_divide_and_mod():
    x = fastnn.tensor([7, -7])
    x //= 2
    assert x.tolist() == [3, -4]
    y = fastnn.tensor([7.5, -7.5])
    y %= 2
    assert y.tolist() == [1.5, 0.5]
