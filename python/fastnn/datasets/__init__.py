"""fastnn.datasets: real datasets available offline (never downloaded at run time)."""
from __future__ import annotations

from .digits import load_digits
from .text import stdlib_sentences
