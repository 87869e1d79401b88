"""The matmul family (addmm ... cdist) and einsum against torch: values and gradients over odd, size-1,
zero-size and non-contiguous inputs, float64 gradchecks, torch's errors."""
import numpy as np
import pytest
import torch

import fastnn
from op_helpers import assert_close, gradcheck_op, noncontiguous

RNG = np.random.default_rng(5)


def _pair(shape, dtype=np.float64, requires_grad=True):
    x = RNG.standard_normal(shape).astype(dtype)
    return (fastnn.tensor(x, requires_grad=requires_grad),
            torch.tensor(x, requires_grad=requires_grad))


def _compare(fn_f, fn_t, shapes, dtype=np.float64, kwargs_f=None, atol=1e-10, rtol=1e-8, grad=True):
    """Runs both libraries on the same random inputs; compares the output and each input's gradient."""
    pairs = [_pair(s, dtype, grad) for s in shapes]
    out_f = fn_f(*[p[0] for p in pairs])
    out_t = fn_t(*[p[1] for p in pairs])
    assert tuple(out_f.shape) == tuple(out_t.shape)
    assert_close(out_f, out_t.detach().numpy(), atol=atol, rtol=rtol)
    if grad and out_t.numel():
        w = RNG.standard_normal(tuple(out_t.shape))
        (out_f * fastnn.tensor(w.astype(dtype))).sum().backward()
        (out_t * torch.tensor(w.astype(dtype))).sum().backward()
        for (f, t) in pairs:
            assert_close(f.grad, t.grad.numpy(), atol=atol, rtol=rtol)
    return out_f


ADD_CASES = [
    ("addmm", (3, 5), (3, 4), (4, 5)), ("addmm", (5,), (3, 4), (4, 5)), ("addmm", (1, 1), (1, 1), (1, 1)),
    ("addmm", (0, 5), (0, 4), (4, 5)), ("addmm", (3, 5), (3, 0), (0, 5)),
    ("addmv", (3,), (3, 4), (4,)), ("addmv", (1,), (3, 4), (4,)), ("addmv", (3,), (3, 0), (0,)),
    ("addr", (3, 4), (3,), (4,)), ("addr", (4,), (3,), (4,)), ("addr", (1, 1), (1,), (1,)),
    ("baddbmm", (2, 3, 5), (2, 3, 4), (2, 4, 5)), ("baddbmm", (3, 5), (2, 3, 4), (2, 4, 5)),
    ("baddbmm", (0, 3, 5), (0, 3, 4), (0, 4, 5)),
    ("addbmm", (3, 5), (2, 3, 4), (2, 4, 5)), ("addbmm", (5,), (7, 3, 4), (7, 4, 5)),
    ("addbmm", (3, 5), (0, 3, 4), (0, 4, 5)),
]


@pytest.mark.parametrize("case", ADD_CASES, ids=lambda c: f"{c[0]}{c[1:]}")
@pytest.mark.parametrize("ba", [(1, 1), (0.5, -2.0), (0, 3)])
def test_add_products_match_torch(case, ba):
    name, *shapes = case
    beta, alpha = ba
    _compare(lambda *a: getattr(fastnn, name)(*a, beta=beta, alpha=alpha),
             lambda *a: getattr(torch, name)(*a, beta=beta, alpha=alpha), shapes)


def test_add_products_float32_methods_and_beta_zero_ignores_nan():
    _compare(lambda i, a, b: i.addmm(a, b, alpha=2), lambda i, a, b: i.addmm(a, b, alpha=2),
             [(3, 5), (3, 4), (4, 5)], np.float32, atol=1e-5, rtol=1e-5)
    inp = fastnn.full((2, 2), float("nan"))
    out = fastnn.addmm(inp, fastnn.ones(2, 3), fastnn.ones(3, 2), beta=0)
    assert_close(out, np.full((2, 2), 3.0, np.float32))
    for name in ("addmv", "addr", "baddbmm", "addbmm"):
        assert hasattr(fastnn.Tensor, name)


def test_add_products_gradcheck():
    gradcheck_op(lambda i, a, b: fastnn.addmm(i, a, b, beta=0.7, alpha=1.3), (3, 1), (3, 4), (4, 2))
    gradcheck_op(lambda i, a, b: fastnn.addmv(i, a, b, beta=2), (3,), (3, 4), (4,))
    gradcheck_op(lambda i, a, b: fastnn.addr(i, a, b), (3, 4), (3,), (4,))
    gradcheck_op(lambda i, a, b: fastnn.baddbmm(i, a, b, alpha=-1), (1, 3, 2), (2, 3, 4), (2, 4, 2))
    gradcheck_op(lambda i, a, b: fastnn.addbmm(i, a, b), (3, 2), (2, 3, 4), (2, 4, 2))


def test_add_products_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(3x2 and 3x2\)"):
        fastnn.addmm(fastnn.ones(3), fastnn.ones(3, 2), fastnn.ones(3, 2))
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        fastnn.addmm(fastnn.ones(4), fastnn.ones(3, 2), fastnn.ones(2, 2))
    with pytest.raises(RuntimeError, match="size mismatch"):
        fastnn.addmv(fastnn.ones(3), fastnn.ones(3, 2), fastnn.ones(3))
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        fastnn.baddbmm(fastnn.ones(3), fastnn.ones(3, 2), fastnn.ones(3, 2))


@pytest.mark.parametrize("n", [0, 1, 7])
def test_dot_vdot_mv_outer_inner(n):
    _compare(fastnn.dot, torch.dot, [(n,), (n,)])
    _compare(lambda a, b: a.vdot(b), lambda a, b: a.vdot(b), [(n,), (n,)])
    _compare(fastnn.mv, torch.mv, [(3, n), (n,)])
    _compare(lambda a, b: a.mv(b), lambda a, b: a.mv(b), [(n, 2), (2,)])
    _compare(fastnn.outer, torch.outer, [(n,), (3,)])
    _compare(fastnn.ger, torch.ger, [(2,), (n,)])
    _compare(fastnn.inner, torch.inner, [(2, 3, n), (4, n)])
    _compare(lambda a, b: a.inner(b), lambda a, b: a.inner(b), [(), (2, n)])


def test_dot_family_errors_and_gradcheck():
    with pytest.raises(RuntimeError, match="inconsistent tensor size, expected tensor \\[3\\] and src \\[4\\]"):
        fastnn.dot(fastnn.ones(3), fastnn.ones(4))
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 2D and 1D tensors"):
        fastnn.dot(fastnn.ones(3, 1), fastnn.ones(3))
    with pytest.raises(RuntimeError, match="expected both vectors to have same dtype, but found Float and Double"):
        fastnn.dot(fastnn.ones(3), fastnn.ones(3, dtype=fastnn.float64))
    with pytest.raises(RuntimeError, match="vector \\+ matrix @ vector expected, got 1, 1, 1"):
        fastnn.mv(fastnn.ones(3), fastnn.ones(3))
    gradcheck_op(fastnn.dot, (5,), (5,))
    gradcheck_op(fastnn.mv, (3, 4), (4,))
    gradcheck_op(fastnn.outer, (3,), (4,))
    gradcheck_op(fastnn.inner, (2, 3), (4, 3))


TD_CASES = [((3, 4, 5), (4, 5, 6), 2), ((3, 4), (4, 5), 1), ((2, 3), (4, 5), 0),
            ((3, 4, 5), (5, 3, 2), ([0, 2], [1, 0])), ((2, 0, 3), (0, 3, 4), 2), ((1, 1), (1, 1), ([1], [0]))]


@pytest.mark.parametrize("case", TD_CASES, ids=str)
def test_tensordot_matches_torch(case):
    sa, sb, dims = case
    _compare(lambda a, b: fastnn.tensordot(a, b, dims=dims), lambda a, b: torch.tensordot(a, b, dims=dims), [sa, sb])


def test_tensordot_gradcheck_and_errors():
    gradcheck_op(lambda a, b: fastnn.tensordot(a, b, dims=([0, 2], [1, 0])), (3, 2, 4), (4, 3, 2))
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        fastnn.tensordot(fastnn.ones(3, 4), fastnn.ones(5, 6), dims=1)


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (2, 2)), ((2, 1, 3), (3,)), ((0, 2), (3, 1)),
                                   ((1,), (1,))])
def test_kron_matches_torch(sa, sb):
    _compare(fastnn.kron, torch.kron, [sa, sb])
    _compare(lambda a, b: a.kron(b), lambda a, b: a.kron(b), [sb, sa])


def test_kron_gradcheck():
    gradcheck_op(fastnn.kron, (2, 3), (3, 2))


@pytest.mark.parametrize("sa,sb,dim", [((4, 3), (4, 3), -1), ((3, 5), (3, 5), 0), ((2, 1, 3), (4, 3), -1),
                                       ((0, 3), (0, 3), 1)])
def test_cross_matches_torch(sa, sb, dim):
    if len(sa) == len(sb):
        _compare(lambda a, b: fastnn.cross(a, b, dim=dim), lambda a, b: torch.cross(a, b, dim=dim), [sa, sb])
    sb2 = (1,) * (len(sa) - len(sb)) + sb
    _compare(lambda a, b: fastnn.linalg.cross(a, b, dim=dim), lambda a, b: torch.linalg.cross(a, b, dim=dim),
             [sa, sb2])


def test_cross_default_dim_errors_gradcheck():
    a, b = fastnn.ones(2, 3), fastnn.ones(2, 3)
    with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated"):
        assert fastnn.cross(a, b).shape == (2, 3)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="no dimension of size 3 in input"):
        fastnn.cross(fastnn.ones(2, 4), fastnn.ones(2, 4))
    with pytest.raises(RuntimeError, match="linalg.cross: inputs dimension -1 must have length 3. Got 2 and 2"):
        fastnn.linalg.cross(fastnn.ones(3, 2), fastnn.ones(3, 2))
    gradcheck_op(lambda a, b: fastnn.linalg.cross(a, b), (2, 3), (1, 3))
    assert a.cross(b, dim=1).shape == (2, 3)


@pytest.mark.parametrize("shapes", [[(3, 4), (4, 5)], [(4,), (4, 5), (5, 2), (2,)], [(2, 30), (30, 3), (3, 40)],
                                    [(5,), (5, 3)], [(2, 3), (3,)], [(1, 1), (1, 1), (1, 1)], [(0, 2), (2, 3), (3, 4)]])
def test_multi_dot_and_chain_matmul(shapes):
    _compare(lambda *a: fastnn.linalg.multi_dot(a), lambda *a: torch.linalg.multi_dot(a), shapes)
    if all(len(s) == 2 for s in shapes):
        _compare(fastnn.chain_matmul, torch.chain_matmul, shapes)


def test_multi_dot_gradcheck_and_errors():
    gradcheck_op(lambda a, b, c: fastnn.linalg.multi_dot([a, b, c]), (3,), (3, 2), (2, 4))
    with pytest.raises(RuntimeError, match="expected at least 2 tensors"):
        fastnn.linalg.multi_dot([fastnn.ones(2, 2)])
    with pytest.raises(RuntimeError, match="tensor 1 must be 2D but got 1D"):
        fastnn.linalg.multi_dot([fastnn.ones(2, 2), fastnn.ones(2), fastnn.ones(2, 2)])


CDIST = [((5, 3), (4, 3)), ((2, 5, 3), (2, 4, 3)), ((2, 5, 3), (4, 3)), ((30, 4), (7, 4)), ((1, 1), (1, 1)),
         ((0, 3), (4, 3)), ((3, 0), (2, 0))]


@pytest.mark.parametrize("sa,sb", CDIST, ids=str)
@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, 3.0, float("inf"), 0.0])
def test_cdist_matches_torch(sa, sb, p):
    _compare(lambda a, b: fastnn.cdist(a, b, p=p), lambda a, b: torch.cdist(a, b, p=p), [sa, sb], atol=1e-9,
             rtol=1e-7)


def test_cdist_modes_float32_zero_distance_and_gradcheck():
    for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        _compare(lambda a, b: fastnn.cdist(a, b, compute_mode=mode), lambda a, b: torch.cdist(a, b, compute_mode=mode),
                 [(6, 3), (5, 3)], np.float32, atol=1e-4, rtol=1e-4)
    x = fastnn.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=fastnn.float64, requires_grad=True)
    d = fastnn.cdist(x, x.detach())
    d.sum().backward()
    xt = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    torch.cdist(xt, xt.detach()).sum().backward()
    assert_close(x.grad, xt.grad.numpy())
    xs = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 3.0]])  # zero differences in single coordinates, p < 1
    _compare(lambda a, b: fastnn.cdist(a, b, p=0.5), lambda a, b: torch.cdist(a, b, p=0.5), [(0, 2), (0, 2)])
    xa, xb = fastnn.tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    fastnn.cdist(xa, xa.detach()[:2], p=0.5).sum().backward()
    torch.cdist(xb, xb.detach()[:2], p=0.5).sum().backward()
    assert_close(xa.grad, xb.grad.numpy())
    for p in (2.0, 1.0, 1.5, float("inf")):
        gradcheck_op(lambda a, b: fastnn.cdist(a, b, p=p), (4, 3), (2, 3))
    gradcheck_op(lambda a, b: fastnn.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), (2, 4, 3), (3, 3))
    with pytest.raises(RuntimeError, match="X1 and X2 must have the same number of columns"):
        fastnn.cdist(fastnn.ones(2, 3), fastnn.ones(2, 4))


EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]), ("ii->i", [(4, 4)]), ("ii", [(3, 3)]),
    ("ij->", [(3, 4)]), ("ij->ji", [(3, 4)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]), ("...ii->...i", [(2, 3, 3)]),
    ("i...->...", [(3, 2, 4)]), ("iij->j", [(3, 3, 2)]), ("ijk,ikl,il->j", [(2, 3, 4), (2, 4, 5), (2, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ij,ij->ij", [(3, 1), (1, 4)]), ("a,b,c->", [(2,), (3,), (4,)]),
    ("ij,kj->ik", [(0, 3), (2, 3)]), ("ij,jk->ik", [(2, 0), (0, 3)]), ("...,...->...", [(2, 3), (3,)]),
    ("Ab,bC->AC", [(2, 3), (3, 4)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("iji->j", [(2, 3, 2)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum_matches_torch(eq, shapes):
    _compare(lambda *a: fastnn.einsum(eq, *a), lambda *a: torch.einsum(eq, *a), shapes)


def test_einsum_forms_noncontiguous_float32_gradcheck():
    a, b = _pair((3, 4)), _pair((4, 5))
    assert_close(fastnn.einsum(a[0], [0, 1], b[0], [1, 2], [0, 2]),
                 torch.einsum(a[1], [0, 1], b[1], [1, 2], [0, 2]).detach().numpy())
    assert_close(fastnn.einsum("ij,jk->ik", [a[0], b[0]]), torch.einsum("ij,jk->ik", [a[1], b[1]]).detach().numpy())
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    y = fastnn.einsum("ij,j->i", noncontiguous(x), fastnn.ones(3))
    assert y.dtype is fastnn.float32
    assert_close(y, x.sum(1), atol=1e-5, rtol=1e-5)
    gradcheck_op(lambda a, b: fastnn.einsum("...ij,...jk->...ik", a, b), (2, 1, 3, 2), (2, 2, 3))
    gradcheck_op(lambda a: fastnn.einsum("iij->ij", a), (3, 3, 2))
    gradcheck_op(lambda a, b: fastnn.einsum("ij,ik->jk", a, b), (1, 3), (4, 2))
    gradcheck_op(lambda a, b, c: fastnn.einsum("ab,bc,ca->", a, b, c), (2, 3), (3, 4), (4, 2))


def test_einsum_errors():
    with pytest.raises(RuntimeError, match="subscript j has size 4 for operand 1 which does not broadcast with "
                                           "previously seen size 3"):
        fastnn.einsum("ij,jk->ik", fastnn.zeros(2, 3), fastnn.zeros(4, 5))
    with pytest.raises(RuntimeError, match="fewer operands were provided than specified in the equation"):
        fastnn.einsum("ij,jk", fastnn.zeros(2, 3))
    with pytest.raises(RuntimeError, match="does not match the number of dimensions"):
        fastnn.einsum("ijk", fastnn.zeros(2, 3))
    with pytest.raises(RuntimeError, match="subscript i is repeated for operand 0 but the sizes don't match, 4 != 3"):
        fastnn.einsum("ii->i", fastnn.zeros(3, 4))
    with pytest.raises(RuntimeError, match="output subscript z does not appear"):
        fastnn.einsum("ij->z", fastnn.zeros(2, 3))
