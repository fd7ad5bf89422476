"""forward() leaving the graph: NumPy round trips and Python-side values of tensors cannot be
traced by Keras. Each use is reported at its position."""

import torch
from torch import nn


class Thresholded(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        h = self.fc(x)
        cut = h.detach().numpy().mean()
        return torch.from_numpy(h.detach().numpy() > cut).float()

# output
# diag_forward_escapes.py:15:15: error: Tensor.numpy: Tensor.numpy() makes a NumPy array, which a traced TensorFlow graph cannot (hint: keep the value a tensor (or read it under an `if self.<flag>:` switch))
# diag_forward_escapes.py:16:33: error: Tensor.numpy: Tensor.numpy() makes a NumPy array, which a traced TensorFlow graph cannot (hint: keep the value a tensor (or read it under an `if self.<flag>:` switch))
