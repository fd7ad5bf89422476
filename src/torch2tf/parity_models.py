"""The small CNN the parity report trains beside its MLP. It is a class in a file of its own
because :func:`torch2tf.convert` translates a model's class from its source."""

import torch
from torch import nn


class DigitsCNN(nn.Module):
    """scikit-learn's digits as 1x8x8 images: two Conv2d-BatchNorm2d-ReLU-MaxPool2d stages,
    then a Linear on the flattened 16x2x2 maps.

    The convolutions have no bias, as usual before a BatchNorm: it would cancel the bias,
    whose gradient is then round-off, which Adam and its kin scale up to full steps that
    differ between any two implementations (the loss does not see them).
    """

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 2 * 2, classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)
        return self.fc(x)
