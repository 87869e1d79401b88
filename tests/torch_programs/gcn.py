# The pattern of Kipf & Welling's pygcn: GraphConvolution with a FloatTensor parameter initialised through
# .data.uniform_, a sparse normalised adjacency multiplied with torch.spmm, dropout(training=self.training),
# log_softmax + nll_loss, accuracy via max(1)[1].type_as(labels).eq(labels).double().
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.nn.parameter import Parameter
from torch.nn.modules.module import Module


class GraphConvolution(Module):
    def __init__(self, in_features, out_features, bias=True):
        super(GraphConvolution, self).__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(torch.FloatTensor(in_features, out_features))
        if bias:
            self.bias = Parameter(torch.FloatTensor(out_features))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1. / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)
        if self.bias is not None:
            self.bias.data.uniform_(-stdv, stdv)

    def forward(self, input, adj):
        support = torch.mm(input, self.weight)
        output = torch.spmm(adj, support)
        if self.bias is not None:
            return output + self.bias
        return output


class GCN(nn.Module):
    def __init__(self, nfeat, nhid, nclass, dropout):
        super(GCN, self).__init__()
        self.gc1 = GraphConvolution(nfeat, nhid)
        self.gc2 = GraphConvolution(nhid, nclass)
        self.dropout = dropout

    def forward(self, x, adj):
        x = F.relu(self.gc1(x, adj))
        x = F.dropout(x, self.dropout, training=self.training)
        x = self.gc2(x, adj)
        return F.log_softmax(x, dim=1)


def accuracy(output, labels):
    preds = output.max(1)[1].type_as(labels)
    correct = preds.eq(labels).double()
    correct = correct.sum()
    return correct / len(labels)


def sparse_mx_to_torch_sparse_tensor(rows, cols, vals, n):
    indices = torch.from_numpy(np.vstack((rows, cols)).astype(np.int64))
    values = torch.from_numpy(vals.astype(np.float32))
    shape = torch.Size((n, n))
    return torch.sparse_coo_tensor(indices, values, shape)


def main():
    torch.manual_seed(42)
    rng = np.random.default_rng(0)
    n, nclass = 90, 3
    labels_np = np.repeat(np.arange(nclass), n // nclass)
    rows, cols = [], []
    for i in range(n):  # mostly intra-class edges, plus self loops
        for j in rng.choice(n, 6, replace=False):
            if labels_np[i] == labels_np[j] or rng.random() < 0.1:
                rows += [i, j]
                cols += [j, i]
        rows.append(i)
        cols.append(i)
    rows, cols = np.array(rows), np.array(cols)
    deg = np.bincount(rows, minlength=n).astype(np.float64)
    vals = 1.0 / deg[rows]  # row-normalised adjacency
    adj = sparse_mx_to_torch_sparse_tensor(rows, cols, vals, n)
    features = torch.FloatTensor(rng.normal(0, 1, (n, 10)) + np.eye(nclass)[labels_np] @ rng.normal(0, 1, (3, 10)))
    labels = torch.LongTensor(labels_np)
    idx_train = torch.LongTensor(np.arange(0, n, 3))
    idx_test = torch.LongTensor(np.arange(1, n, 3))
    model = GCN(nfeat=features.shape[1], nhid=16, nclass=nclass, dropout=0.5)
    optimizer = optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for epoch in range(60):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        acc_train = accuracy(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()
    model.eval()
    output = model(features, adj)
    return {"train_acc": acc_train.item(), "test_acc": accuracy(output[idx_test], labels[idx_test]).item()}
