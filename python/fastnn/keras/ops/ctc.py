"""keras.ops.ctc_loss: CTC on (batch, time, classes) logits, through fastnn.nn.functional.ctc_loss (the
log-softmax is taken here, as Keras' backends do; ``mask_index`` is the blank)."""
from __future__ import annotations

import fastnn
import fastnn.nn.functional as F

from ._convert import to_tensor


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    output = to_tensor(output)
    if not output.is_floating_point() or output.dtype == fastnn.float16:
        output = output.to(fastnn.float32)  # Keras: result_type(output.dtype, "float32")
    target = to_tensor(target).long()
    log_probs = F.log_softmax(output.transpose(0, 1), dim=-1)
    return F.ctc_loss(log_probs, target, to_tensor(output_length).long(), to_tensor(target_length).long(),
                      blank=mask_index, reduction="none")
