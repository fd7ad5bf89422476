from torch import nn


class Broken(nn.Module):
    def forward(self, x)
        return x

# output
# diag_syntax_error.py:5:25: error: syntax error: expected ':'
