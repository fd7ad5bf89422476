"""A tensor method's name called on a value that may not be a tensor: reported, never turned
into a TF op (a str's split and a list's index stay as they are)."""

from torch import nn
from widths import plan


class Tower(nn.Module):
    def __init__(self, spec: str = "16,32") -> None:
        super().__init__()
        first, second = (int(s) for s in spec.split(","))
        sizes = plan(first, second).flatten()
        self.fc = nn.Linear(sizes[0], sizes[-1])

    def forward(self, x):
        return self.fc(x).relu()

# output
# diag_not_a_tensor.py:12:17: error: cannot tell whether plan(...) returns a tensor, so .flatten() is neither translated as Tensor.flatten() nor kept as written (hint: apply the torch function to a tensor directly (or assign a torch result to it))
