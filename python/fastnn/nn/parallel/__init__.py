"""torch.nn.parallel's names: DistributedDataParallel (over fastnn.distributed) and a one-device DataParallel."""
from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
