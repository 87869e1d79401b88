"""DDP's wrap-time collectives: the cross-rank parameter check and coalesced broadcasts."""
from __future__ import annotations

from ... import distributed as _dist
from ...creation import tensor, zeros
from ...dtypes import int64


def verify_param_shapes(group, params) -> None:
    """Every rank must hold as many parameters, of the same shapes, as rank 0, or every rank raises: the
    rank that differs with torch's message (_verify_param_shape_across_processes), the others naming it."""
    rank, world = _dist.get_rank(group), _dist.get_world_size(group)
    count = tensor([len(params)], dtype=int64)
    counts = [zeros(1, dtype=int64) for _ in range(world)]
    _dist.all_gather(counts, count, group=group)
    counts = [int(c.item()) for c in counts]
    for r, n in enumerate(counts):
        if n != len(params):
            raise RuntimeError(f"DDP expects same model across all ranks, but Rank {rank} has {len(params)} params, "
                               f"while rank {r} has inconsistent {n} params.")
    # Rank 0's shapes as one int64 array (ndim, sizes... per parameter); its length first, since another
    # rank's parameters may have other ranks than rank 0's.
    meta = [v for p in params for v in (p.dim(), *p.shape)]
    length = tensor([len(meta)], dtype=int64)
    _dist.broadcast(length, 0, group=group)
    ref = tensor(meta, dtype=int64) if rank == 0 else zeros(int(length.item()), dtype=int64)
    _dist.broadcast(ref, 0, group=group)
    ref, at, bad = ref.tolist(), 0, None
    for i, p in enumerate(params):
        nd = ref[at] if at < len(ref) else -1
        theirs = tuple(ref[at + 1:at + 1 + nd]) if nd >= 0 else None
        at += 1 + max(nd, 0)
        if theirs != tuple(p.shape):
            bad = (f"[{rank}]: params[{i}] in this process with sizes {list(p.shape)} appears not to match sizes "
                   "of the same param in process 0.")
            break
    flags = [zeros(1, dtype=int64) for _ in range(world)]
    _dist.all_gather(flags, tensor([1 if bad else 0], dtype=int64), group=group)
    if bad is not None:
        raise RuntimeError(bad)
    others = [r for r, f in enumerate(flags) if f.item()]
    if others:
        raise RuntimeError(f"DDP expects same model across all ranks, but the parameters of rank(s) {others} do not "
                           "match the sizes of the same params in process 0 (see the error on those ranks).")


def broadcast_coalesced(tensors, src: int, group, bucket_bytes: int) -> None:
    """Overwrites ``tensors`` with rank ``src``'s values: one broadcast per group of same-dtype, same-device
    tensors of at most ``bucket_bytes`` (torch's _broadcast_coalesced), flattened into one array (batch norm's
    float statistics and int64 counters make two broadcasts, not three per layer)."""
    groups: dict = {}  # (dtype, device) -> runs, each [tensors, bytes]
    for t in tensors:
        runs = groups.setdefault((t.dtype, str(t.device)), [])
        size = t.numel() * t.element_size()
        if runs and runs[-1][1] + size <= bucket_bytes:
            runs[-1][0].append(t)
            runs[-1][1] += size
        else:
            runs.append([[t], size])
    runs = [(key[0], run) for key, rs in groups.items() for run, _ in rs]
    for dtype, run in runs:
        if len(run) == 1 and run[0].is_contiguous():
            _dist.broadcast(run[0].detach(), src, group=group)  # the tensor's own storage, no copy
            continue
        n = sum(t.numel() for t in run)
        flat = zeros(n, dtype=dtype, device=run[0].device)
        at = 0
        for t in run:
            flat[at:at + t.numel()].copy_(t.reshape(-1))
            at += t.numel()
        _dist.broadcast(flat, src, group=group)
        at = 0
        for t in run:
            t.copy_(flat[at:at + t.numel()].view(t.shape))
            at += t.numel()
