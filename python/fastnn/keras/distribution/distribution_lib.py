"""Keras 3's distribution API (``keras.distribution``: DeviceMesh, TensorLayout, Distribution, DataParallel,
list_devices, get_device_count, initialize, distribution, set_distribution) over MPI ranks.

In Keras a "device" of the mesh is an accelerator that JAX drives from one program. Here each MPI rank is one
process driving one device, so the global device list is one entry per rank of fastnn.distributed's default
process group ("cpu:0" ... "cpu:<world-1>", or "gpu:<r>" when the ranks compute on GPUs), and a
``DataParallel`` distribution makes ``fit`` / ``evaluate`` / ``predict`` split each global batch over the
ranks (``data_parallel.py``). Without ``initialize()`` (or ``fastnn.distributed.init_process_group``) a
process sees only its own device, as a JAX process that never called ``jax.distributed.initialize``.
ModelParallel and LayoutMap (sharded weights) are not offered: fastnn keeps a whole model on every rank."""
from __future__ import annotations

import contextlib
import math
import os
import warnings

DEFAULT_BATCH_DIM_NAME = "batch"
_DEVICE_TYPES = ("cpu", "gpu")
_current = None  # the global distribution (Keras keeps it in global_state under "distribution")


def _dist():
    from ... import distributed

    return distributed


def num_processes() -> int:
    """The number of ranks of the default process group (1 before it is initialized)."""
    d = _dist()
    return d.get_world_size() if d.is_initialized() else 1


def process_id() -> int:
    """This process's rank in the default process group (0 before it is initialized)."""
    d = _dist()
    return d.get_rank() if d.is_initialized() else 0


def _default_device_type() -> str:
    from ..device_scope import default_device

    return "gpu" if default_device().type == "cuda" else "cpu"


def list_devices(device_type=None) -> list[str]:
    """The global devices: one "<type>:<rank>" per rank of the process group. ``device_type`` is "cpu" or
    "gpu" (default: "gpu" when the ranks compute on a real GPU, else "cpu")."""
    device_type = device_type.lower() if device_type else _default_device_type()
    if device_type not in _DEVICE_TYPES:
        raise ValueError(f"Invalid value for argument `device_type`. Expected one of {list(_DEVICE_TYPES)}. "
                         f"Received: device_type={device_type!r}")
    return [f"{device_type}:{r}" for r in range(num_processes())]


def get_device_count(device_type=None) -> int:
    return len(list_devices(device_type))


def initialize(job_addresses=None, num_processes=None, process_id=None) -> None:
    """Joins this process to the ranks MPI launched (``mpiexec -n N python script.py``): initializes
    fastnn.distributed's default process group if it is not yet. MPI's launcher already knows every
    process's address, so ``job_addresses`` is only checked against the world size (one address per process,
    comma-separated, as in Keras); ``num_processes`` and ``process_id`` (or Keras' environment variables
    KERAS_DISTRIBUTION_JOB_ADDRESSES / _NUM_PROCESSES / _PROCESS_ID) must match what MPI assigned."""
    if job_addresses is None and "KERAS_DISTRIBUTION_JOB_ADDRESSES" in os.environ:
        job_addresses = os.environ["KERAS_DISTRIBUTION_JOB_ADDRESSES"]
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in os.environ:
        process_id = int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"])
    d = _dist()
    if not d.is_initialized():
        d.init_process_group(backend="mpi")
    world, rank = d.get_world_size(), d.get_rank()
    if job_addresses and "," in job_addresses:
        jobs = job_addresses.split(",")
        if num_processes is not None and num_processes != len(jobs):
            raise ValueError(f"The provided job_addresses {jobs} has {len(jobs)} jobs, but num_processes is "
                             f"{num_processes}")
        if len(jobs) != world:
            raise ValueError(f"The provided job_addresses {jobs} has {len(jobs)} jobs, but MPI launched {world} "
                             "processes")
    if num_processes is not None and num_processes != world:
        raise ValueError(f"num_processes={num_processes} does not match the {world} processes MPI launched")
    if process_id is not None and process_id != rank:
        raise ValueError(f"process_id={process_id} does not match this process's MPI rank {rank}")


class DeviceMesh:
    """Keras' DeviceMesh: ``shape``, ``axis_names`` and the ``devices`` array (default: list_devices())."""

    def __init__(self, shape, axis_names, devices=None) -> None:
        if not shape or not axis_names:
            raise ValueError(f"Shape and axis_names cannot be empty. Received: shape={shape}, axis_names={axis_names}")
        if len(shape) != len(axis_names):
            raise ValueError(f"Shape and axis_names should have same size. Received: shape={shape}, "
                             f"axis_names={axis_names}")
        devices = list_devices() if devices is None else devices
        flat = _flatten(devices)
        if math.prod(shape) != len(flat):
            raise ValueError(f"Shape does not match the number of devices. Received: shape={shape}; devices.shape="
                             f"{_shape_of(devices)}")
        self._shape = tuple(shape)
        self._axis_names = list(axis_names)
        self._devices = _reshape(flat, self._shape)
        self._flat = flat

    @property
    def shape(self):
        return self._shape

    @property
    def axis_names(self):
        return self._axis_names

    @property
    def devices(self):
        """The devices as nested lists of ``shape`` (Keras gives a NumPy array of the same layout)."""
        return self._devices

    def __repr__(self) -> str:
        return f"<{type(self).__name__} shape={self.shape}, axis_names={self.axis_names}>"

    __str__ = __repr__


class TensorLayout:
    """Keras' TensorLayout: one mesh axis name (or None) per tensor dimension."""

    def __init__(self, axes, device_mesh=None) -> None:
        self._axes = tuple(axes)
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def axes(self):
        return self._axes

    @property
    def device_mesh(self):
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh) -> None:
        if self._device_mesh is not None:
            raise ValueError(f"Cannot override device mesh value. Existing value is {self._device_mesh}")
        self._device_mesh = device_mesh
        self._validate_axes()

    def _validate_axes(self) -> None:
        if self._device_mesh:
            valid = set(self._device_mesh.axis_names)
            names = set(self._axes) - {None}
            if names - valid:
                raise ValueError(f"Invalid axis names for Layout. Valid axis names: {valid}, Got {names}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} axes={self.axes}, device_mesh={self.device_mesh}>"

    __str__ = __repr__


class Distribution:
    """Keras' base class: a mesh, the batch dimension's axis name, and ``auto_shard_dataset``."""

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True) -> None:
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self._auto_shard_dataset = auto_shard_dataset
        self._num_processes = num_processes()
        self._process_id = process_id()
        self._is_multi_process = self._num_processes > 1
        launched = _launched_world()
        if launched > 1 and not _dist().is_initialized():
            warnings.warn(f"{type(self).__name__} made in one of {launched} launched processes before the process "
                          "group was initialized: this process sees only its own device and trains alone. Call "
                          "keras.distribution.initialize() first.", stacklevel=3)

    @property
    def num_processes(self) -> int:
        return self._num_processes

    @property
    def num_model_replicas(self) -> int:
        raise NotImplementedError()

    @property
    def data_shard_id(self) -> int:
        replicas = self.num_model_replicas
        if replicas >= self.num_processes:
            return self._process_id
        return self._process_id // (self.num_processes // replicas)

    def get_data_layout(self, data_shape):
        raise NotImplementedError()

    def get_variable_layout(self, variable):
        raise NotImplementedError()

    def get_tensor_layout(self, path):
        raise NotImplementedError()

    @contextlib.contextmanager
    def scope(self):
        """Makes this distribution the current one inside the ``with`` block."""
        original = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(original)

    @property
    def device_mesh(self):
        return self._device_mesh

    @property
    def batch_dim_name(self):
        return self._batch_dim_name

    @property
    def auto_shard_dataset(self) -> bool:
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, value) -> None:
        self._auto_shard_dataset = value

    def distribute_dataset(self, dataset):
        """Keras' hook for sharding a tf.data pipeline per process. fastnn's loop shards each global batch
        itself (see data_parallel.py), so a dataset is returned as it is when nothing is to be sharded, and a
        multi-process distribution refuses it, as Keras refuses every non-tf.data dataset."""
        if not self._is_multi_process or not self.auto_shard_dataset:
            return dataset
        raise ValueError(f"The dataset type {type(dataset)} is not supported for auto-sharding in multi-process "
                         "setting.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} device_mesh={self.device_mesh}>"

    __str__ = __repr__


class DataParallel(Distribution):
    """Data parallelism over the ranks: weights replicated on every rank, each global batch split along its
    first dimension. Give ``device_mesh`` (1-D; the first axis is used when it has more) or ``devices`` (one
    per rank, as list_devices() names them), or neither for all ranks of the process group."""

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True) -> None:
        if device_mesh:
            if not isinstance(device_mesh, DeviceMesh):
                raise ValueError(f"Expect `mesh` to be an instance of `DeviceMesh`. Received: mesh={device_mesh} "
                                 f"(of type {type(device_mesh)})")
            super().__init__(device_mesh, device_mesh.axis_names[0], auto_shard_dataset)
            if len(device_mesh.shape) != 1:
                warnings.warn(f"Expect the input mesh to be 1D, but received mesh.devices.ndim="
                              f"{len(device_mesh.shape)}. The first axis will be used for data-parallel sharding.",
                              stacklevel=2)
        else:
            devices = list_devices() if not devices else devices
            mesh = DeviceMesh(shape=_shape_of(devices), axis_names=[DEFAULT_BATCH_DIM_NAME], devices=devices)
            super().__init__(mesh, DEFAULT_BATCH_DIM_NAME, auto_shard_dataset)
        n = len(self.device_mesh._flat)
        if n != self.num_processes:
            # one process drives one device here: a mesh over a subset (or a superset) of the ranks would
            # leave ranks out of the collectives every rank must join
            raise ValueError(f"DataParallel over {n} devices, but {self.num_processes} processes run: fastnn runs "
                             "one device per MPI rank, so the mesh must hold one device per rank "
                             f"({list_devices()})")

    @property
    def num_model_replicas(self) -> int:
        return len(self.device_mesh._flat)

    def get_data_layout(self, data_shape):
        spec = [None] * len(data_shape)
        spec[0] = self.batch_dim_name
        return TensorLayout(spec, self.device_mesh)

    def get_variable_layout(self, variable):
        if getattr(variable, "_layout", None) is not None:
            return variable._layout
        return TensorLayout([None] * len(variable.shape), self.device_mesh)

    def get_tensor_layout(self, path):
        return None


def distribution():
    """The current global distribution (None by default)."""
    return _current


def set_distribution(value) -> None:
    """Sets the global distribution (a Distribution, or None for none)."""
    global _current
    _current = value


def _launched_world() -> int:
    """The world size the launcher announced (MPICH's PMI_SIZE, Open MPI's, torchrun's), 1 when none did."""
    for key in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "WORLD_SIZE"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    return 1


def _flatten(devices) -> list:
    if isinstance(devices, (list, tuple)):
        return [d for item in devices for d in _flatten(item)]
    if hasattr(devices, "tolist") and not isinstance(devices, str):  # a NumPy array of names, as Keras takes
        return _flatten(devices.tolist())
    return [str(devices)]


def _shape_of(devices) -> tuple:
    if hasattr(devices, "shape") and not isinstance(devices, (list, tuple)):
        return tuple(devices.shape)
    if isinstance(devices, (list, tuple)):
        return (len(devices),) + (_shape_of(devices[0]) if devices and isinstance(devices[0], (list, tuple))
                                  else ())
    return ()


def _reshape(flat: list, shape: tuple):
    if len(shape) <= 1:
        return list(flat)
    step = len(flat) // shape[0]
    return [_reshape(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]
