"""An MLP whose sizes come from another file's helper, then .flatten() on its tuple tree."""

from torch import nn

from tuplekit import tuplefy


class TreeMLP(nn.Module):
    def __init__(self, in_features, num_nodes, out_features):
        super().__init__()
        num_nodes = tuplefy(in_features, num_nodes).flatten()
        net = []
        for n_in, n_out in zip(num_nodes[:-1], num_nodes[1:]):
            net.append(nn.Linear(n_in, n_out))
            net.append(nn.ReLU())
        net.append(nn.Linear(num_nodes[-1], out_features))
        self.net = nn.Sequential(*net)

    def forward(self, x):
        return self.net(x)
