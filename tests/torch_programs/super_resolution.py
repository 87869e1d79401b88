# The pattern of pytorch/examples super_resolution: Conv2d + PixelShuffle (sub-pixel convolution),
# orthogonal init with calculate_gain, MSELoss and PSNR.
from math import log10

import torch
import torch.nn as nn
import torch.nn.init as init
import torch.optim as optim


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super(Net, self).__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 16, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(16, 16, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(16, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.pixel_shuffle(self.conv3(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv3.weight)


def main():
    torch.manual_seed(123)
    hr = torch.rand(32, 1, 4, 4).repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)  # blocky 16x16
    lr_img = torch.nn.functional.avg_pool2d(hr, 2)
    model = Net(upscale_factor=2)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    psnrs = []
    for epoch in range(40):
        optimizer.zero_grad()
        loss = criterion(model(lr_img), hr)
        loss.backward()
        optimizer.step()
        psnrs.append(10 * log10(1 / loss.item()))
    return {"first_psnr": psnrs[0], "last_psnr": psnrs[-1]}
