"""torch.nn.DataParallel on one device: the wrapped module runs on its own device (fastnn has no multi-GPU
scatter/gather; several device_ids raise instead of silently using one)."""
from __future__ import annotations

from ..module import Module


class DataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if device_ids is not None and len(device_ids) > 1:
            raise NotImplementedError("DataParallel: fastnn runs one device per process; use "
                                      "DistributedDataParallel (one process per device) for several")
        self.module = module
        self.device_ids = list(device_ids) if device_ids else []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
