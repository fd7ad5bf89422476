"""Init loops over an RNN's named_parameters() -> the TorchLSTM/GRU/RNN helpers' initializers:
orthogonal recurrent weights, Xavier input weights, zero biases with the forget-gate slice set
to 1, each drawn from torch's distribution, afresh for every layer, direction and variable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from layer_harness import HEADER, convert_checked, load_module

from torch2tf.translate import TranslationError, translate_source

FORGET_GATE = """
    def init_weights(self):
        h = self.lstm.hidden_size
        for name, p in self.lstm.named_parameters():
            if "weight_hh" in name:
                nn.init.orthogonal_(p)
            elif "weight_ih" in name:
                nn.init.xavier_uniform_(p)
            elif "bias" in name:
                nn.init.zeros_(p)
                p.data[h:2 * h].fill_(1)
"""

# the classic idiom: the size read from the parameter itself
QUARTERS = """
    def init_weights(self):
        for name, p in self.lstm.named_parameters():
            if name.startswith("weight"):
                nn.init.orthogonal_(p, gain=2.0)
            else:
                p.data.fill_(0.0)
                n = p.size(0)
                p.data[n // 4:n // 2].fill_(1.0)
"""


def lstm_source(init: str, layer: str = "nn.LSTM(4, hidden, num_layers=2, batch_first=True)"):
    return (
        f"{HEADER}\n\nclass Net(nn.Module):\n    def __init__(self, hidden=16):\n"
        f"        super().__init__()\n        self.lstm = {layer}\n"
        "        self.fc = nn.Linear(hidden * 2 if self.lstm.bidirectional else hidden, 3)\n"
        "        self.init_weights()\n"
        f"{init}\n"
        "    def forward(self, x):\n        out, (h, c) = self.lstm(x)\n"
        "        return self.fc(out[:, -1])\n"
    )


def keras_net(source: str, hidden: int = 16):
    namespace: dict = {}
    exec(compile(translate_source(source, "net.py"), "net.py", "exec"), namespace)
    model = namespace["Net"](hidden)
    model(np.zeros((2, 5, 4), np.float32))
    # keyed lstm/l0/cell/kernel whatever unique names Keras gave the model in this process
    return {"lstm/" + "/".join(v.path.split("/")[-3:]): v.numpy() for v in model.lstm.weights}


def test_the_forget_gate_idiom_becomes_initializers():
    code = "".join(translate_source(lstm_source(FORGET_GATE), "net.py").split())
    assert "kernel_initializer=tf.keras.initializers.GlorotUniform()," in code
    assert "recurrent_initializer=tf.keras.initializers.Orthogonal(1)," in code
    assert (
        code.count("_initializer=TorchSliceFill(tf.keras.initializers.Zeros(),hidden,2*hidden,1)")
        == 2
    )
    assert "init_weights" not in code


@pytest.mark.parametrize("init", [FORGET_GATE, QUARTERS], ids=["hidden-size", "quarters"])
def test_initial_weights_follow_torch(tmp_path, init):
    """Biases exactly torch's; recurrent kernels orthogonal in torch's (4H, H) layout (W^T W =
    gain^2 I: Keras's (H, 4H) kernel is its transpose); input kernels within Xavier's bound."""
    hidden = 16
    source = lstm_source(init)
    torch.manual_seed(0)
    torch_net = load_module(tmp_path, source).Net(hidden)
    weights = keras_net(source, hidden)
    gain = 2.0 if init is QUARTERS else 1.0
    for k in range(2):
        recurrent = weights[f"lstm/l{k}/cell/recurrent_kernel"]
        torch_hh = getattr(torch_net.lstm, f"weight_hh_l{k}").detach().numpy()
        assert recurrent.shape == torch_hh.T.shape == (hidden, 4 * hidden)
        for w in (recurrent.T, torch_hh):  # torch's layout: orthonormal columns (times gain)
            np.testing.assert_allclose(w.T @ w, gain**2 * np.eye(hidden), atol=1e-5)
        for bias in ("bias_ih", "bias_hh"):
            expected = getattr(torch_net.lstm, f"{bias}_l{k}").detach().numpy()
            np.testing.assert_array_equal(weights[f"lstm/l{k}/cell/{bias}"], expected)
        if init is FORGET_GATE:
            kernel = weights[f"lstm/l{k}/cell/kernel"]
            fan_in = 4 if k == 0 else hidden
            bound = np.sqrt(6 / (fan_in + 4 * hidden))
            assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.8 * bound
    # each variable drawn afresh (unseeded Keras initializers repeat values when reused)
    assert not np.allclose(
        weights["lstm/l0/cell/recurrent_kernel"], weights["lstm/l1/cell/recurrent_kernel"]
    )


def test_uniform_biases_are_drawn_afresh_for_each_variable():
    init = """
    def init_weights(self):
        for name, p in self.lstm.named_parameters():
            if "bias" in name:
                nn.init.uniform_(p, -0.1, 0.1)
                p.data[self.lstm.hidden_size:2 * self.lstm.hidden_size].fill_(1.0)
"""
    layer = "nn.LSTM(4, hidden, bidirectional=True, batch_first=True)"
    weights = keras_net(lstm_source(init, layer))
    biases = [w for path, w in weights.items() if "bias" in path]
    assert len(biases) == 4
    for bias in biases:
        np.testing.assert_array_equal(bias[16:32], 1.0)
        rest = np.concatenate([bias[:16], bias[32:]])
        assert np.all(np.abs(rest) <= 0.1) and rest.std() > 0.03
    assert len({b.tobytes() for b in biases}) == 4


def test_a_gru_parameters_loop_by_rank(tmp_path):
    """for p in self.gru.parameters(): decided by rank; converts with the weights moved."""
    source = f"""{HEADER}

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8, bidirectional=True, batch_first=True)
        for p in self.gru.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
            else:
                nn.init.constant_(p, 0.1)

    def forward(self, x):
        return self.gru(x)[0]
"""
    code = "".join(translate_source(source, "net.py").split())
    normal = 'tf.keras.initializers.VarianceScaling(1.0,"fan_avg","untruncated_normal"),'
    assert f"kernel_initializer={normal}" in code and f"recurrent_initializer={normal}" in code
    assert "bias_hh_initializer=tf.keras.initializers.Constant(0.1)," in code
    convert_checked(tmp_path, source, torch.randn(2, 5, 4))


@pytest.mark.parametrize(
    "body, message",
    [
        (
            'if "l0" in name:\n                nn.init.orthogonal_(p)',
            "differs between the layers or directions",
        ),
        ("p.data[0:4].fill_(1.0)", "only slices of 1-D tensors"),
        (
            'if "bias" in name:\n                p.data[0:4].fill_(1.0)',
            "before the whole of it is initialised",
        ),
    ],
    ids=["per-layer", "slice-of-a-weight", "slice-first"],
)
def test_what_is_not_translated_is_reported_at_its_position(body, message):
    init = (
        "\n    def init_weights(self):\n"
        "        for name, p in self.lstm.named_parameters():\n"
        f"            {body}\n"
    )
    with pytest.raises(TranslationError, match=rf"net.py:\d+:\d+: error: .*{message}"):
        translate_source(lstm_source(init), "net.py")


def test_initializers_survive_the_layer_config():
    """.keras files rebuild the layer from get_config: its initializers come back."""
    import tensorflow as tf

    from torch2tf.keras_helpers.recurrent import TorchLSTM, TorchSliceFill

    layer = TorchLSTM(
        4,
        8,
        recurrent_initializer=tf.keras.initializers.Orthogonal(1),
        bias_hh_initializer=TorchSliceFill(tf.keras.initializers.Zeros(), 8, 16, 1),
    )
    rebuilt = TorchLSTM.from_config(layer.get_config())
    rebuilt.build((None, None, 4))
    bias = rebuilt.rnns[0].cell.bias_hh.numpy()
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    kernel = rebuilt.rnns[0].cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(kernel @ kernel.T, np.eye(8), atol=1e-5)
