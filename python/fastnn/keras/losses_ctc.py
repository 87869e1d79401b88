"""keras.losses.ctc: Connectionist Temporal Classification on (batch, time, classes) logits with padded
integer labels (0 is the blank and the padding), through fastnn.nn.functional.ctc_loss."""
from __future__ import annotations

import fastnn
from .. import ops
from ..nn import functional as F
from .loss_base import convert


def ctc(y_true, y_pred):
    y_pred = convert(y_pred)
    y_true = convert(y_true, like=y_pred)
    if y_true.ndim != 2:
        raise ValueError(f"Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` in "
                         f"integer format. Received: y_true.shape={tuple(y_true.shape)}")
    if y_pred.ndim != 3:
        raise ValueError(f"Logits `y_pred` are expected to be a tensor of shape `(batch_size, max_length, "
                         f"num_classes)`. Received: y_pred.shape={tuple(y_pred.shape)}")
    if not y_pred.is_floating_point() or y_pred.dtype == fastnn.float16:
        y_pred = y_pred.to(fastnn.float32)  # Keras promotes the logits to at least float32
    labels = y_true.long()
    batch, steps = y_pred.shape[0], y_pred.shape[1]
    label_length = (labels != 0).sum(-1)
    input_length = fastnn.full((batch,), steps, dtype=fastnn.int64, device=y_pred.device)
    log_probs = ops.log_softmax(y_pred.transpose(0, 1), -1)
    return F.ctc_loss(log_probs, labels, input_length, label_length, blank=0, reduction="none")
