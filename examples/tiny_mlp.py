"""A tiny MLP trained with Tensor ops and autograd alone (the README's example)."""
import numpy as np

import fastnn

fastnn.manual_seed(0)
rng = np.random.default_rng(0)
X = rng.standard_normal((512, 2)).astype(np.float32)
y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)  # XOR of the signs: not linearly separable
x, target = fastnn.tensor(X), fastnn.tensor(y)

w1 = (fastnn.randn(2, 32) * 0.5).requires_grad_()
b1 = fastnn.zeros(32, requires_grad=True)
w2 = (fastnn.randn(32, 2) * 0.5).requires_grad_()
b2 = fastnn.zeros(2, requires_grad=True)
params = [w1, b1, w2, b2]

for step in range(301):
    logits = (x @ w1 + b1).tanh() @ w2 + b2
    loss = -logits.log_softmax(dim=1)[fastnn.arange(512), target].mean()  # cross-entropy
    for p in params:
        p.grad = None
    loss.backward()
    with fastnn.no_grad():
        for p in params:
            p -= 0.5 * p.grad
    if step % 100 == 0:
        accuracy = (logits.argmax(dim=1) == target).float().mean().item()
        print(f"step {step:3d}  loss {loss.item():.3f}  accuracy {accuracy:.2f}")
