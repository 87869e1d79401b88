"""fastnn.data: datasets and the DataLoader (torch.utils.data's names)."""
from __future__ import annotations

from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader, default_collate
