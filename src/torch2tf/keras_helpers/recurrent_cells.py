"""torch's nn.LSTMCell, nn.GRUCell and nn.RNNCell, applied step by step in a Python loop of
forward(): each keeps torch's two trainable biases (copied verbatim into generated code)."""

import tensorflow as tf

from torch2tf.keras_helpers.recurrent import (  # for live use; copied too
    TorchRecurrentCell,
    torch_recurrent_init,
)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchCell(tf.keras.layers.Layer):
    """torch's nn.LSTMCell/GRUCell/RNNCell: call(input, hx) returns torch's h' or (h', c');
    Keras's cells take a list of states and return (output, states)."""

    kind = "RNN"

    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", initializer=None, **kwargs
    ):
        super().__init__(**kwargs)
        if nonlinearity not in ("tanh", "relu") or (self.kind != "RNN" and nonlinearity != "tanh"):
            raise ValueError(f"{self.kind}Cell: unknown nonlinearity {nonlinearity!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.nonlinearity = nonlinearity
        self.mode = self.kind
        if self.kind == "RNN":
            self.mode = "RNN_RELU" if nonlinearity == "relu" else "RNN_TANH"
        self.initializer = tf.keras.initializers.get(
            initializer or torch_recurrent_init(hidden_size)
        )
        self.cell = TorchRecurrentCell(
            self.mode, hidden_size, 0, bias, self.initializer, name="cell"
        )

    def build(self, input_shape):
        self.cell.build((None, self.input_size))

    def call(self, inputs, hx=None):
        batched = len(inputs.shape) == 2
        x = inputs if batched else inputs[None]
        if hx is None:
            zeros = tf.zeros([tf.shape(x)[0], self.hidden_size], x.dtype)
            hx = (zeros, zeros) if self.mode == "LSTM" else zeros
        elif not batched:
            hx = tf.nest.map_structure(lambda s: s[None], hx)
        states = list(hx) if self.mode == "LSTM" else [hx]
        _, states = self.cell(x, states)
        if self.mode != "LSTM":
            return states if batched else states[0]
        h, c = states
        return (h, c) if batched else (h[0], c[0])

    def get_config(self):
        config = {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "bias": self.bias,
            "nonlinearity": self.nonlinearity,
            "initializer": tf.keras.initializers.serialize(self.initializer),
        }
        return {**super().get_config(), **config}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchLSTMCell(TorchCell):
    """torch's nn.LSTMCell, gates (i, f, g, o), returning (h', c')."""

    kind = "LSTM"

    def __init__(self, input_size, hidden_size, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchGRUCell(TorchCell):
    """torch's nn.GRUCell, gates (r, z, n) with b_hn inside the reset product, returning h'."""

    kind = "GRU"

    def __init__(self, input_size, hidden_size, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchRNNCell(TorchCell):
    """torch's nn.RNNCell (tanh or relu), returning h'."""

    def __init__(self, input_size, hidden_size, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
