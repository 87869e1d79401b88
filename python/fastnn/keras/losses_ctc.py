"""keras.losses.ctc: Connectionist Temporal Classification on (batch, time, classes) logits with padded
integer labels (0 is the blank and the padding), through keras.ops.ctc_loss."""
from __future__ import annotations

import fastnn
from .loss_base import convert
from .ops.ctc import ctc_loss


def ctc(y_true, y_pred):
    y_pred = convert(y_pred)
    y_true = convert(y_true, like=y_pred)
    if y_true.ndim != 2:
        raise ValueError(f"Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` in "
                         f"integer format. Received: y_true.shape={tuple(y_true.shape)}")
    if y_pred.ndim != 3:
        raise ValueError(f"Logits `y_pred` are expected to be a tensor of shape `(batch_size, max_length, "
                         f"num_classes)`. Received: y_pred.shape={tuple(y_pred.shape)}")
    labels = y_true.long()
    label_length = (labels != 0).sum(-1)
    input_length = fastnn.full((y_pred.shape[0],), y_pred.shape[1], dtype=fastnn.int64, device=y_pred.device)
    return ctc_loss(labels, y_pred, label_length, input_length, mask_index=0)
