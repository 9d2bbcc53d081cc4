"""The small 1-D CNN for MNIST-1D (Greydanus, 2020): 5,210 parameters.

Input: ``(N, 40)`` or ``(N, 1, 40)`` sequences. Conv1d 1->25 (kernel 5, stride 2, padding 1) gives 19
positions, two Conv1d 25->25 (kernel 3, stride 2, padding 1) give 10 and 5, each followed by ReLU; the
25 x 5 = 125 features feed a Linear 125->10::

    150 + 1,900 + 1,900 + 1,260 = 5,210
"""

import convgrad
from convgrad import nn

from ._utils import check_input, no_weights

__all__ = ["MNIST1DCNN", "mnist1d_cnn"]


class MNIST1DCNN(nn.Module):
    def __init__(self, num_classes=10, channels=25, input_length=40):
        super().__init__()
        self.input_length = input_length
        self.conv1 = nn.Conv1d(1, channels, kernel_size=5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1)
        self.relu = nn.ReLU()
        length = input_length
        for k in (5, 3, 3):
            length = (length + 2 - k) // 2 + 1
        self.linear = nn.Linear(channels * length, num_classes)

    def forward(self, x):
        if x.ndim == 2:
            x = x.unsqueeze(1)
        check_input(self, x, spatial_dims=1, fixed_size=self.input_length)
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.linear(convgrad.flatten(x, 1))


def mnist1d_cnn(*, weights=None, **kwargs):
    """The MNIST-1D convolutional baseline: 5,210 parameters for 40-sample inputs."""
    no_weights(weights, "mnist1d_cnn")
    return MNIST1DCNN(**kwargs)
