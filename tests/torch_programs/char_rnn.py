# The pattern of the char-RNN name-classification tutorial and of LSTMCell sequence models: a hand-rolled
# loop over time with nn.LSTMCell, zeros initial states, LogSoftmax + NLLLoss, and the prediction read with
# topk(1) and .item().
import torch
import torch.nn as nn


class Sequence(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super(Sequence, self).__init__()
        self.lstm1 = nn.LSTMCell(n_in, n_hidden)
        self.linear = nn.Linear(n_hidden, n_out)
        self.softmax = nn.LogSoftmax(dim=1)
        self.n_hidden = n_hidden

    def forward(self, input):
        h_t = torch.zeros(input.size(0), self.n_hidden, dtype=torch.float)
        c_t = torch.zeros(input.size(0), self.n_hidden, dtype=torch.float)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t.squeeze(1), (h_t, c_t))
        return self.softmax(self.linear(h_t))


def category_from_output(output):
    top_n, top_i = output.topk(1)
    category_i = top_i[0].item()
    return category_i


def main():
    torch.manual_seed(1)
    n = 96
    labels = torch.randint(0, 3, (n,))
    seqs = torch.randn(n, 6, 5) * 0.5
    for c in range(3):  # the class shows as a constant offset on one feature
        seqs[labels == c, :, c] += 1.0
    model = Sequence(5, 16, 3)
    criterion = nn.NLLLoss()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
    for epoch in range(25):
        optimizer.zero_grad()
        loss = criterion(model(seqs), labels)
        loss.backward()
        optimizer.step()
    correct = sum(category_from_output(model(seqs[i:i + 1])) == labels[i].item() for i in range(n))
    return {"loss": loss.item(), "accuracy": correct / n}
