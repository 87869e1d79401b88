"""keras.distribution's names (Keras 3.15) for data parallelism over MPI ranks: see distribution_lib.py for the
API and data_parallel.py for what fit / evaluate / predict do under a DataParallel distribution."""
from __future__ import annotations

from .distribution_lib import (DataParallel, DeviceMesh, TensorLayout, distribution, get_device_count, initialize,
                               list_devices, set_distribution)

__all__ = ["DataParallel", "DeviceMesh", "TensorLayout", "distribution", "get_device_count", "initialize",
           "list_devices", "set_distribution"]
