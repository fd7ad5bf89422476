"""Recurrent networks: nn.LSTM, nn.GRU and nn.RNN converted exactly (eval and train mode, per
layer), torch's return structure and layout kept, weights moved by name, trained like torch
(two trainable biases), and refusals with their position."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch
from digits_training import digits_rows, train_side_by_side
from layer_harness import HEADER, convert_checked, load_module, translated_layer

import torch2tf
from torch2tf.parity_training import weight_difference
from torch2tf.training import convert_optimizer
from torch2tf.translate import TranslationError, translate_source


def sequences(features: int, batch: int = 3, steps: int = 5, batch_first: bool = True):
    generator = torch.Generator().manual_seed(features * 100 + steps)
    shape = (batch, steps, features) if batch_first else (steps, batch, features)
    return torch.randn(shape, generator=generator)


def rnn_source(layer: str, forward: str, head: str | None = None) -> str:
    """A Net with ``self.rnn = layer`` (and ``self.head = head``), and ``forward``'s body."""
    body = "\n".join(f"        {line}" for line in forward.strip().splitlines())
    head_line = f"        self.head = {head}\n" if head else ""
    return (
        f"{HEADER}\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"        self.rnn = {layer}\n{head_line}\n"
        f"    def forward(self, x):\n{body}\n"
    )


# Layer variants: (constructor, input features, batch_first). Every output of the layer is
# returned, so the whole structure (output, h_n[, c_n]) is compared with torch's.
VARIANTS = [
    "nn.LSTM(4, 16, batch_first=True)",
    "nn.LSTM(4, 16)",
    "nn.LSTM(4, 16, num_layers=2, batch_first=True)",
    "nn.LSTM(4, 16, bidirectional=True)",
    "nn.LSTM(4, 16, num_layers=2, bidirectional=True, batch_first=True)",
    "nn.LSTM(4, 16, bias=False, batch_first=True)",
    "nn.LSTM(4, 16, 2, False, bidirectional=True)",
    "nn.LSTM(4, 16, num_layers=2, bidirectional=True, proj_size=5)",
    "nn.LSTM(4, 16, num_layers=3, dropout=0.3, batch_first=True)",
    "nn.GRU(4, 16, batch_first=True)",
    "nn.GRU(4, 16)",
    "nn.GRU(4, 16, num_layers=2, bidirectional=True)",
    "nn.GRU(4, 16, bias=False, batch_first=True)",
    "nn.GRU(4, 16, num_layers=2, bias=False, bidirectional=True)",
    "nn.RNN(4, 16, batch_first=True)",
    "nn.RNN(4, 16, nonlinearity='relu')",
    "nn.RNN(4, 16, 2, 'relu', bidirectional=True, batch_first=True)",
    "nn.RNN(4, 16, nonlinearity='relu', bias=False)",
]


def _batch_first(layer: str) -> bool:
    return "batch_first=True" in layer


@pytest.mark.parametrize("layer", VARIANTS)
def test_layer_variants_are_exact(tmp_path, layer):
    source = rnn_source(layer, "return self.rnn(x)")
    convert_checked(tmp_path, source, sequences(4, batch_first=_batch_first(layer)))


@pytest.mark.parametrize(
    "layer",
    [
        "nn.LSTM(4, 16, num_layers=2, bidirectional=True, batch_first=True)",
        "nn.LSTM(4, 16, bias=False, batch_first=True)",
        "nn.LSTM(4, 16, proj_size=5, batch_first=True)",
        "nn.GRU(4, 16, num_layers=2, batch_first=True)",
        "nn.GRU(4, 16, bias=False, bidirectional=True, batch_first=True)",
        "nn.RNN(4, 16, nonlinearity='relu', num_layers=2, batch_first=True)",
    ],
)
def test_initial_states_are_used(tmp_path, layer):
    # the states are made from the input, so they differ per sample and from zeros
    directions = 2 if "bidirectional=True" in layer else 1
    layers = 2 if "num_layers=2" in layer else 1
    out = 5 if "proj_size" in layer else 16
    states = f"x[:, :{layers * directions}].permute(1, 0, 2).repeat(1, 1, 4)"
    h0 = f"torch.tanh({states})[..., :{out}]"
    if "LSTM" in layer:
        forward = f"h0 = {h0}\nc0 = torch.sin({states})\nreturn self.rnn(x, (h0, c0))"
    else:
        forward = f"return self.rnn(x, {h0})"
    convert_checked(tmp_path, rnn_source(layer, forward), sequences(4, steps=6))


def test_flatten_parameters_and_attributes(tmp_path):
    """Real code calls flatten_parameters() (a cuDNN no-op here) and reads the layer's sizes."""
    forward = (
        "self.rnn.flatten_parameters()\nout, (h, c) = self.rnn(x)\n"
        "return torch.cat((h[-2], h[-1]), 1) * self.rnn.hidden_size + out[:, 0].sum()"
    )
    source = rnn_source("nn.LSTM(4, 16, bidirectional=True, batch_first=True)", forward)
    convert_checked(tmp_path, source, sequences(4))


def test_unbatched_sequence(tmp_path):
    source = rnn_source("nn.GRU(4, 16, num_layers=2, bidirectional=True)", "return self.rnn(x)")
    convert_checked(tmp_path, source, sequences(4)[0])


def test_embedding_lstm_classifier(tmp_path):
    source = f"""{HEADER}

class Classifier(nn.Module):
    def __init__(self, vocab_size=40, embed_dim=8, hidden_dim=16, num_classes=3):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_classes)

    def forward(self, tokens):
        embedded = self.embedding(tokens)
        out, (h, c) = self.lstm(embedded)
        return self.fc(h[-1]) + self.fc(out[:, -1]) + c.sum()
"""
    tokens = torch.randint(0, 40, (4, 9), generator=torch.Generator().manual_seed(0))
    conversion = convert_checked(tmp_path, source, tokens, class_name="Classifier")
    assert "out, (h, c) = self.lstm(embedded, training=training)" in conversion.source
    assert "self.lstm = TorchLSTM(embed_dim, hidden_dim, batch_first=True" in conversion.source
    mapped = {w["torch"]: w["keras"] for w in conversion.report["weights"]}
    assert mapped["lstm.bias_hh_l0"].endswith("lstm/l0/cell/bias_hh")
    assert mapped["lstm.weight_ih_l0"].endswith("lstm/l0/cell/kernel")


def test_bidirectional_two_layer_gru_last_states(tmp_path):
    source = f"""{HEADER}

class Encoder(nn.Module):
    def __init__(self, features=4, hidden=8):
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, 2)

    def forward(self, x):
        output, h_n = self.gru(x)
        last = torch.cat((h_n[-2], h_n[-1]), 1)
        return self.fc(last), output[-1]
"""
    conversion = convert_checked(
        tmp_path, source, sequences(4, steps=7, batch_first=False), class_name="Encoder"
    )
    mapped = [w["torch"] for w in conversion.report["weights"]]
    assert mapped[:4] == [
        "gru.weight_ih_l0",
        "gru.weight_hh_l0",
        "gru.bias_ih_l0",
        "gru.bias_hh_l0",
    ]
    assert "gru.bias_hh_l1_reverse" in mapped


def test_relu_rnn_classifier(tmp_path):
    source = rnn_source(
        "nn.RNN(4, 16, nonlinearity='relu', batch_first=True)",
        "out, h = self.rnn(x)\nreturn self.head(torch.relu(out[:, -1]) + h[0])",
        "nn.Linear(16, 3)",
    )
    convert_checked(tmp_path, source, sequences(4, steps=8))


def test_float64_is_exact_to_round_off(tmp_path):
    source = rnn_source("nn.LSTM(4, 16, num_layers=2, bidirectional=True)", "return self.rnn(x)")
    conversion = convert_checked(
        tmp_path, source, sequences(4, batch_first=False), dtype=torch.float64
    )
    assert conversion.max_abs_error < 1e-12


def test_translations_read_like_torch():
    def translated(layer):
        return translated_layer(rnn_source(layer, "return self.rnn(x)"), "rnn")

    assert translated("nn.LSTM(4, 16, batch_first=True)") == "TorchLSTM(4, 16, batch_first=True)"
    assert translated("nn.GRU(4, 16, 2, True, False, 0.1, True)") == (
        "TorchGRU(4, 16, num_layers=2, dropout=0.1, bidirectional=True)"
    )
    assert translated("nn.RNN(4, 16, nonlinearity='relu', bias=False)") == (
        "TorchRNN(4, 16, nonlinearity='relu', bias=False)"
    )
    assert translated("nn.LSTM(4, 16, bias=use_bias)") == "TorchLSTM(4, 16, bias=use_bias)"


def test_fused_keras_layer_only_without_bias():
    """Without bias the fused Keras layers are exact; with bias, torch's two biases are kept."""
    from torch2tf.keras_helpers.recurrent import TorchGRU, TorchLSTM, TorchRNN

    fused = TorchGRU(4, 16, bias=False, bidirectional=True)
    assert [type(r).__name__ for r in fused.rnns] == ["GRU", "GRU"]
    assert [r.name for r in fused.rnns] == ["l0", "l0_reverse"]
    assert type(TorchRNN(4, 16, bias=False).rnns[0]).__name__ == "SimpleRNN"
    cells = TorchLSTM(4, 16, num_layers=2)
    assert [type(r.cell).__name__ for r in cells.rnns] == ["TorchRecurrentCell"] * 2


def _train_both(conversion, inputs, make_optimizer, steps=4):
    """``steps`` optimizer steps on the same loss in both frameworks; the largest difference of
    any parameter afterwards (in Keras's layout), relative to its size."""
    model, keras_model = conversion.torch_model, conversion.keras_model
    model.train()
    optimizer = make_optimizer(model.parameters())
    parameters = conversion.parameter_map()
    keras_optimizer = convert_optimizer(optimizer, parameters=parameters)
    variables = [parameters[p] for p in model.parameters()]
    x_tf = tf.constant(inputs.numpy())
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (model(inputs) ** 2).mean()
        loss.backward()
        optimizer.step()
        with tf.GradientTape() as tape:
            keras_loss = tf.reduce_mean(keras_model(x_tf, training=True) ** 2)
        keras_optimizer.apply(tape.gradient(keras_loss, variables), variables)
        assert abs(float(keras_loss) - loss.item()) <= 1e-5 + 1e-4 * abs(loss.item())
    return weight_difference(model, keras_model)


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda p: torch.optim.SGD(p, lr=0.5),
        lambda p: torch.optim.SGD(p, lr=0.2, momentum=0.9),
        lambda p: torch.optim.Adam(p, lr=0.05),
    ],
    ids=["sgd", "sgd-momentum", "adam"],
)
@pytest.mark.parametrize(
    "layer",
    [
        "nn.LSTM(4, 8, batch_first=True)",
        "nn.GRU(4, 8, num_layers=2, bidirectional=True)",
        "nn.RNN(4, 8)",
    ],
)
def test_training_tracks_torch(tmp_path, layer, optimizer):
    head = "nn.Linear(16, 3)" if "bidirectional" in layer else "nn.Linear(8, 3)"
    source = rnn_source(layer, "out, _ = self.rnn(x)\nreturn self.head(out[-1])", head)
    inputs = sequences(4, batch_first=_batch_first(layer))
    conversion = convert_checked(tmp_path, source, inputs)
    assert _train_both(conversion, inputs, optimizer) < 1e-4


def test_summed_bias_would_train_differently(tmp_path):
    """Why the cell keeps two biases: with one variable b_ih + b_hh, SGD moves the sum at twice
    torch's rate. Checked on torch itself, so this guards the premise of the design."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 8, batch_first=True)
    x = sequences(4)
    summed = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
    lstm(x)[0].square().mean().backward()
    grad = lstm.bias_ih_l0.grad
    assert torch.equal(grad, lstm.bias_hh_l0.grad)
    after = summed - 0.5 * grad - 0.5 * lstm.bias_hh_l0.grad  # torch's SGD on both
    one_variable = summed - 0.5 * grad  # SGD on a single summed bias
    assert (after - one_variable).abs().max() > 1e-3


def test_dropout_between_layers_in_training(tmp_path):
    source = rnn_source("nn.LSTM(4, 16, num_layers=2, dropout=0.5)", "return self.rnn(x)[0]")
    conversion = convert_checked(tmp_path, source, sequences(4, batch_first=False))
    lstm = conversion.keras_model.rnn
    x = tf.constant(sequences(4, batch=64, steps=6, batch_first=False).numpy())
    assert np.allclose(lstm(x, training=False)[0], lstm(x, training=False)[0])
    assert not np.allclose(lstm(x, training=True)[0], lstm(x, training=False)[0])
    # torch's masks are element-wise, drawn afresh at every step (Keras's dropout= argument
    # would keep one mask per sequence)
    mask = lstm.between(tf.ones((64, 6, 16)), training=True).numpy() == 0
    assert 0.4 < mask.mean() < 0.6
    constant_over_time = np.all(mask == mask[:, :1], axis=1) | np.all(~mask, axis=1)
    assert constant_over_time.mean() < 0.1
    single = rnn_source("nn.LSTM(4, 16, dropout=0.0)", "return self.rnn(x)[0]")
    assert "dropout" not in translated_layer(single, "rnn")


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("nn.LSTM(4, 16, dropout=1.0)", "needs 0 <= p < 1"),
        ("nn.RNN(4, 16, nonlinearity='sigmoid')", "nonlinearity='sigmoid'"),
        ("nn.LSTM(4, 16, proj_size=size)", "proj_size=size"),
        ("nn.GRU(4, 16, dtype=torch.float64)", "dtype="),
    ],
)
def test_refusals_name_the_position(layer, message):
    with pytest.raises(TranslationError) as error:
        translate_source(rnn_source(layer, "return self.rnn(x)"), "model.py")
    text = str(error.value)
    assert "model.py:8:20" in text and message in text, text


def decoder_source(cell: str, second: str) -> str:
    """A Decoder looping over time steps with two cells; an LSTM cell's state is (h, c)."""

    def hidden(attr: str, layer: str) -> str:
        return f"{attr}[0]" if "LSTMCell" in layer else attr

    h, g = hidden("h", cell), hidden("g", second)
    return f"""{HEADER}

class Decoder(nn.Module):
    def __init__(self, features=4, hidden=16):
        super().__init__()
        self.cell = {cell}
        self.second = {second}
        self.fc = nn.Linear(hidden, 3)

    def forward(self, x):
        h = self.cell(x[:, 0])
        g = self.second({h})
        outputs = [self.fc({g})]
        for t in range(1, x.size(1)):
            h = self.cell(x[:, t], h)
            g = self.second({h}, g)
            outputs.append(self.fc({g}))
        return torch.stack(outputs, dim=1)
"""


@pytest.mark.parametrize(
    ("cell", "second"),
    [
        ("nn.LSTMCell(features, hidden)", "nn.GRUCell(hidden, hidden)"),
        ("nn.GRUCell(features, hidden, bias=False)", "nn.LSTMCell(hidden, hidden, bias=False)"),
        ("nn.RNNCell(features, hidden, nonlinearity='relu')", "nn.RNNCell(hidden, hidden)"),
    ],
)
def test_cells_in_a_python_loop(tmp_path, cell, second):
    source = decoder_source(cell, second)
    conversion = convert_checked(tmp_path, source, sequences(4, steps=4), class_name="Decoder")
    assert "for t in range(1, tf.keras.ops.shape(x)[1]):" in conversion.source
    mapped = [w["torch"] for w in conversion.report["weights"]]
    assert mapped[:2] == ["cell.weight_ih", "cell.weight_hh"]


def test_cells_train_like_torch(tmp_path):
    source = decoder_source("nn.LSTMCell(features, hidden)", "nn.GRUCell(hidden, hidden)")
    inputs = sequences(4, steps=4)
    conversion = convert_checked(tmp_path, source, inputs, class_name="Decoder")
    assert _train_both(conversion, inputs, lambda p: torch.optim.Adam(p, lr=0.05)) < 1e-4


def test_unbatched_cell(tmp_path):
    source = rnn_source(
        "nn.LSTMCell(4, 16)", "h, c = self.rnn(x[0])\nreturn self.rnn(x[1], (h, c))"
    )
    convert_checked(tmp_path, source, sequences(4, steps=2)[0])


def test_saved_and_loaded_model_keeps_its_outputs(tmp_path):
    source = rnn_source("nn.GRU(4, 16, num_layers=2, batch_first=True)", "return self.rnn(x)")
    conversion = convert_checked(tmp_path, source, sequences(4))
    x = tf.constant(sequences(4).numpy())
    path = tmp_path / "model.keras"
    conversion.keras_model.save(path)
    loaded = tf.keras.models.load_model(path)
    for want, got in zip(
        tf.nest.flatten(conversion.keras_model(x)), tf.nest.flatten(loaded(x)), strict=True
    ):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_public_api_reports_recurrent_layers(tmp_path):
    source = rnn_source("nn.LSTM(4, 16, batch_first=True)", "return self.rnn(x)[1][0]")
    module = load_module(tmp_path, source)
    torch.manual_seed(0)
    conversion = torch2tf.convert(module.Net(), inputs=(sequences(4),))
    assert conversion.passed, conversion.table()
    rows = {(c.mode, layer.layer): layer for c in conversion.checks for layer in c.layers}
    assert rows["train", "rnn"].keras_type == "TorchLSTM"


DIGITS_CLASSIFIER = f"""{HEADER}

class Digits(nn.Module):
    def __init__(self, hidden=24):
        super().__init__()
        self.rnn = nn.LAYER(8, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, rows):
        out, _ = self.rnn(rows)
        return self.fc(out[:, -1])
"""


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize(
    "optimizer",
    [lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), lambda p: torch.optim.Adam(p, lr=0.01)],
    ids=["sgd", "adam"],
)
def test_digits_classifier_trains_like_torch(tmp_path, kind, optimizer):
    """scikit-learn's digits read as 8 rows of 8 pixels, 60 steps in float64: the loss and the
    weights track torch's to round-off."""
    images, labels = digits_rows()
    source = DIGITS_CLASSIFIER.replace("LAYER", kind)
    sample = torch.from_numpy(images[:8])
    conversion = convert_checked(tmp_path, source, sample, "Digits", dtype=torch.float64)
    model, keras_model = conversion.torch_model, conversion.keras_model
    torch_losses, tf_losses = train_side_by_side(
        model, conversion, optimizer(model.parameters()), images, labels, steps=60, batch=24
    )
    assert np.abs(tf_losses - torch_losses).max() / np.abs(torch_losses).min() < 1e-6
    assert weight_difference(model, keras_model) < 1e-6
    assert torch_losses[-1] < 2.0  # it learnt something: the comparison is not of two idle models


@pytest.mark.parametrize("bias", [True, False])
def test_default_init_is_torchs(bias):
    """Every weight and bias U(+-1/sqrt(hidden_size)), as torch draws them (Keras's LSTM would
    start from glorot/orthogonal kernels and a unit forget bias)."""
    from torch2tf.keras_helpers.recurrent import TorchLSTM
    from torch2tf.keras_helpers.recurrent_cells import TorchGRUCell

    for layer in (TorchLSTM(6, 64, num_layers=2, bias=bias), TorchGRUCell(6, 64, bias=bias)):
        layer(tf.zeros((2, 3, 6)) if isinstance(layer, TorchLSTM) else tf.zeros((2, 6)))
        torch_layer = (torch.nn.LSTM if isinstance(layer, TorchLSTM) else torch.nn.GRUCell)(
            6, 64, bias=bias, **({"num_layers": 2} if isinstance(layer, TorchLSTM) else {})
        )
        shapes = [tuple(reversed(p.shape)) for p in torch_layer.parameters()]
        assert [tuple(w.shape) for w in layer.weights] == shapes
        firsts = [float(w.numpy().flat[0]) for w in layer.weights]
        assert len(set(firsts)) == len(firsts)  # each variable drawn on its own
        for weight in layer.weights:
            values = weight.numpy()
            assert np.abs(values).max() <= 1 / 8
            assert abs(values.std() - 1 / 8 / np.sqrt(3)) < 0.1 / 8 / np.sqrt(3)
