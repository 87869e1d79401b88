"""Where an op's array work happens: NumPy + our CPU kernels now, CuPy + our CUDA kernels later."""
from . import cpu  # noqa: F401
