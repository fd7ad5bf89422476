"""Packed sequences: nn.utils.rnn.pack_padded_sequence / pad_packed_sequence around nn.LSTM,
nn.GRU and nn.RNN become a mask over the padded batch: outputs (zero, or padding_value, after
each length; max(lengths) or total_length steps), lengths and final states equal torch's, in
eval and train mode, per layer."""

from __future__ import annotations

import pytest
import tensorflow as tf
import torch
from layer_harness import HEADER, convert_checked, load_module

from torch2tf.translate import TranslationError, translate_source

STEPS, BATCH, FEATURES = 7, 4, 3


def packed_source(layer: str, pack: str, pad: str, extra: str = "") -> str:
    """A Net whose forward packs ``x`` (with ``lengths``), runs ``self.rnn`` and pads back;
    it returns the padded output, the lengths and the final states."""
    return (
        f"{HEADER}from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n\n\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"        self.rnn = {layer}\n\n"
        "    def forward(self, x, lengths):\n"
        f"        packed = {pack}\n"
        f"        out, states = self.rnn(packed{extra})\n"
        f"        padded, out_lengths = {pad}\n"
        "        return padded, out_lengths, states\n"
    )


def batch(batch_first: bool, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(len(lengths) + sum(lengths))
    shape = (BATCH, STEPS, FEATURES) if batch_first else (STEPS, BATCH, FEATURES)
    return torch.randn(shape, generator=generator), torch.tensor(lengths)


UNSORTED = [5, 2, 6, 3]  # the longest shorter than the batch's 7 steps: the output is cut
SORTED = [7, 5, 3, 1]

# (layer, pack call, pad call, input batch-first, lengths)
CASES = {
    "lstm-bidirectional-2-layers-unsorted": (
        "nn.LSTM(3, 8, num_layers=2, bidirectional=True, batch_first=True)",
        "pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)",
        "pad_packed_sequence(out, batch_first=True)",
        True,
        UNSORTED,
    ),
    "gru-time-major-sorted-total-length": (
        "nn.GRU(3, 8, bidirectional=True)",
        "nn.utils.rnn.pack_padded_sequence(x, lengths)",
        "nn.utils.rnn.pad_packed_sequence(out, total_length=9)",
        False,
        SORTED,
    ),
    "rnn-relu-mixed-layouts-padding-value": (
        "nn.RNN(3, 8, nonlinearity='relu', num_layers=2, batch_first=True)",
        "torch.nn.utils.rnn.pack_padded_sequence(x, lengths, True, False)",
        "torch.nn.utils.rnn.pad_packed_sequence(out, padding_value=-1.0)",
        True,
        UNSORTED,
    ),
    "lstm-without-bias-fused-bidirectional": (
        "nn.LSTM(3, 8, bias=False, bidirectional=True)",
        "pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)",
        "pad_packed_sequence(out, batch_first=False)",
        False,
        UNSORTED,
    ),
    "gru-without-bias-fused-bidirectional": (
        "nn.GRU(3, 8, bias=False, bidirectional=True, batch_first=True)",
        "pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=True)",
        "pad_packed_sequence(out, batch_first=True)",
        True,
        SORTED,
    ),
    "lstm-projection-bidirectional": (
        "nn.LSTM(3, 8, proj_size=5, bidirectional=True, batch_first=True)",
        "pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)",
        "pad_packed_sequence(out, batch_first=True, total_length=7)",
        True,
        UNSORTED,
    ),
    "lstm-dropout-between-layers": (
        "nn.LSTM(3, 8, num_layers=3, dropout=0.3, batch_first=True)",
        "pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)",
        "pad_packed_sequence(out, batch_first=True)",
        True,
        UNSORTED,
    ),
    "rnn-tanh-lengths-as-a-list": (
        "nn.RNN(3, 8, bidirectional=True, batch_first=True)",
        "pack_padded_sequence(x, [6, 6, 2, 1], batch_first=True)",
        "pad_packed_sequence(out, batch_first=True)",
        True,
        [6, 6, 2, 1],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_packed_sequences_are_exact(tmp_path, case):
    layer, pack, pad, batch_first, lengths = CASES[case]
    conversion = convert_checked(
        tmp_path, packed_source(layer, pack, pad), batch(batch_first, lengths)
    )
    assert "torch_pack_padded_sequence(" in conversion.source
    torch_layers = [c for c in conversion.checks[0].layers if c.layer == "rnn"]
    assert torch_layers and torch_layers[0].passed  # the layer alone, fed the packed batch


@pytest.mark.parametrize(
    "layer", ["nn.LSTM(3, 8, num_layers=2, bidirectional=True)", "nn.GRU(3, 8)"]
)
def test_packed_sequences_with_initial_states(tmp_path, layer):
    """hx is in the batch's own order, also when torch sorts the batch inside."""
    lstm = "LSTM" in layer
    directions = 2 if "bidirectional" in layer else 1
    layers = 2 if "num_layers=2" in layer else 1
    states = "(h0, h0 * 0.5)" if lstm else "h0"
    source = packed_source(
        layer,
        "pack_padded_sequence(x, lengths, enforce_sorted=False)",
        "pad_packed_sequence(out)",
        extra=f", {states}",
    ).replace(
        "        packed =",
        f"        h0 = torch.tanh(torch.arange(8.0) - 4.0)"
        f" * torch.ones({layers * directions}, x.size(1), 8)\n"
        "        packed =",
    )
    convert_checked(tmp_path, source, batch(False, UNSORTED))


def test_unsorted_lengths_with_enforce_sorted_fail_as_in_torch(tmp_path):
    """torch refuses unsorted lengths when enforce_sorted is True (its default); so does the
    translation, instead of returning states in another order."""
    source = packed_source(
        "nn.GRU(3, 8, batch_first=True)",
        "pack_padded_sequence(x, lengths, batch_first=True)",
        "pad_packed_sequence(out, batch_first=True)",
    )
    x, lengths = batch(True, UNSORTED)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        load_module(tmp_path, source).Net()(x, lengths)
    namespace: dict = {}
    exec(compile(translate_source(source, "net.py"), "net.py", "exec"), namespace)
    model = namespace["Net"]()
    with pytest.raises(tf.errors.InvalidArgumentError, match="sorted in decreasing order"):
        model(tf.constant(x.numpy()), tf.constant(lengths.numpy()))
    padded, out_lengths, _ = model(tf.constant(x.numpy()), tf.constant(sorted(UNSORTED)[::-1]))
    assert padded.shape == (BATCH, max(UNSORTED), 8)
    assert out_lengths.numpy().tolist() == sorted(UNSORTED)[::-1]


def test_a_non_literal_batch_first_is_reported_with_its_position():
    source = packed_source(
        "nn.GRU(3, 8, batch_first=True)",
        "pack_padded_sequence(x, lengths, batch_first=self.rnn.batch_first)",
        "pad_packed_sequence(out, batch_first=True)",
    )
    with pytest.raises(TranslationError, match=r"net.py:\d+:\d+: .*batch_first"):
        translate_source(source, "net.py")


CLASSIFIER = f"""{HEADER}

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 8, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths, batch_first=True, enforce_sorted=False
        )
        out, (h, c) = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        return self.head(torch.cat((h[-2], h[-1]), 1)) + self.head(out).mean(1)
"""


def test_a_packed_classifier_trains_like_torch(tmp_path):
    """Gradients flow through the masked steps as through torch's packed ones: Adam steps on
    both sides keep the weights together."""
    from torch2tf.parity_training import weight_difference
    from torch2tf.training import convert_optimizer

    x, lengths = batch(True, UNSORTED)
    conversion = convert_checked(tmp_path, CLASSIFIER, (x, lengths))
    model, keras_model = conversion.torch_model, conversion.keras_model
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    parameters = conversion.parameter_map()
    keras_optimizer = convert_optimizer(optimizer, parameters=parameters)
    variables = [parameters[p] for p in model.parameters()]
    x_tf, lengths_tf = tf.constant(x.numpy()), tf.constant(lengths.numpy())
    for _ in range(4):
        optimizer.zero_grad()
        loss = (model(x, lengths) ** 2).mean()
        loss.backward()
        optimizer.step()
        with tf.GradientTape() as tape:
            keras_loss = tf.reduce_mean(keras_model(x_tf, lengths_tf, training=True) ** 2)
        keras_optimizer.apply(tape.gradient(keras_loss, variables), variables)
        assert abs(float(keras_loss) - loss.item()) <= 1e-5 + 1e-4 * abs(loss.item())
    assert weight_difference(model, keras_model) < 1e-4
