"""Keras layers on fastnn modules."""
from __future__ import annotations

from .base import Input, InputLayer, KerasTensor, Layer
from .core import Activation, Dense, Dropout, Flatten, Reshape
