import math

import tensorflow as tf


def torch_recurrent_init(hidden_size):
    """torch's RNN init, U(+-1/sqrt(hidden_size)) for every weight and bias."""
    bound = 1 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


def fresh_initializer(initializer):
    """A new instance: a Keras initializer without a seed repeats its values when reused."""
    return initializer.__class__.from_config(initializer.get_config())


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchSliceFill(tf.keras.initializers.Initializer):
    """An initializer, then ``value`` over ``[start:stop]`` of the 1-D variable: torch's in-place
    ``bias.data[h:2 * h].fill_(1)`` after an init (an LSTM's forget-gate bias)."""

    def __init__(self, initializer, start, stop, value):
        self.initializer = tf.keras.initializers.get(initializer)
        self.start, self.stop, self.value = start, stop, value

    def __call__(self, shape, dtype=None):
        values = fresh_initializer(self.initializer)(shape, dtype=dtype)
        start, stop, _ = slice(self.start, self.stop).indices(shape[0])
        index = tf.range(shape[0])
        inside = (index >= start) & (index < stop)
        return tf.where(inside, tf.cast(self.value, values.dtype), values)

    def get_config(self):
        initializer = tf.keras.initializers.serialize(self.initializer)
        return {
            "initializer": initializer,
            "start": self.start,
            "stop": self.stop,
            "value": self.value,
        }


class TorchPackedSequence(tuple):
    """torch's PackedSequence kept padded, as (data, lengths): data batch-first, cut to the
    longest length and zero after each sequence's end; lengths (B,) int64 in batch order."""

    _fields = ("data", "lengths")

    def __new__(cls, data, lengths):
        return super().__new__(cls, (data, lengths))

    # _make and _asdict make it a namedtuple to Keras's and TensorFlow's nested structures
    @classmethod
    def _make(cls, values):
        return cls(*values)

    def _asdict(self):
        return {"data": self[0], "lengths": self[1]}

    @property
    def data(self):
        return self[0]

    @property
    def lengths(self):
        return self[1]


def torch_swap_batch_axis(x):
    """(T, B, ...) <-> (B, T, ...), for torch's time-major layout."""
    return tf.transpose(x, tf.concat([[1, 0], tf.range(2, tf.rank(x))], 0))


def torch_pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """torch's pack_padded_sequence, as a TorchPackedSequence that TorchLSTM/GRU/RNN run with
    a mask (outputs in the batch's own order, as torch returns them)."""
    lengths = tf.cast(tf.convert_to_tensor(lengths), tf.int64)  # a list or a tensor
    data = input if batch_first else torch_swap_batch_axis(input)
    checks = [
        tf.debugging.assert_positive(lengths, message="Length of all samples has to be > 0"),
        tf.debugging.assert_less_equal(
            lengths, tf.cast(tf.shape(data)[1], tf.int64), message="lengths exceed the steps"
        ),
    ]
    if enforce_sorted:
        checks.append(
            tf.debugging.assert_non_negative(
                lengths[:-1] - lengths[1:],
                message="`lengths` array must be sorted in decreasing order when "
                "`enforce_sorted` is True",
            )
        )
    with tf.control_dependencies(checks):
        steps = tf.reduce_max(lengths)
    data = data[:, :steps]
    return TorchPackedSequence(torch_pad_after_lengths(data, lengths, 0.0), lengths)


def torch_pad_after_lengths(data, lengths, value):
    """``value`` at each sequence's steps from its length on (data batch-first)."""
    mask = tf.sequence_mask(lengths, tf.shape(data)[1])
    mask = tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([tf.rank(data) - 2], tf.int32)], 0))
    return tf.where(mask, data, tf.cast(value, data.dtype))


def torch_pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """torch's pad_packed_sequence: (padded, lengths), padding_value after each length,
    max(lengths) steps or total_length."""
    data, lengths = sequence
    if total_length is not None:
        steps = tf.shape(data)[1]
        check = tf.debugging.assert_greater_equal(
            total_length, steps, message="total_length is less than the longest sequence"
        )
        with tf.control_dependencies([check]):
            pad = [[0, 0], [0, total_length - steps]]
        pad = tf.concat([pad, tf.zeros([tf.rank(data) - 2, 2], tf.int32)], 0)
        data = tf.pad(data, pad)
    if padding_value != 0:
        data = torch_pad_after_lengths(data, lengths, padding_value)
    return (data if batch_first else torch_swap_batch_axis(data)), lengths


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchRecurrentCell(tf.keras.layers.Layer):
    """One step of torch's LSTM/GRU/RNN with its two trainable biases (b_ih, b_hh) and torch's
    gate order; Keras's cells sum the biases into one, which trains differently."""

    gates = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}

    def __init__(
        self, mode, units, proj_size=0, use_bias=True, initializer=None, initializers=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.mode = mode
        self.units = units
        self.proj_size = proj_size
        self.use_bias = use_bias
        self.initializer = tf.keras.initializers.get(initializer or torch_recurrent_init(units))
        # the init code's, by variable name (kernel, recurrent_kernel, bias_ih, ...)
        self.initializers = {
            name: tf.keras.initializers.get(value) for name, value in (initializers or {}).items()
        }
        out = proj_size or units
        self.state_size = [out, units] if mode == "LSTM" else out
        self.output_size = out

    def build(self, input_shape):
        size = self.gates[self.mode] * self.units
        out = self.proj_size or self.units

        def weight(name, shape):
            initializer = fresh_initializer(self.initializers.get(name, self.initializer))
            return self.add_weight(name=name, shape=shape, initializer=initializer)

        # torch's parameter order: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr
        self.kernel = weight("kernel", (input_shape[-1], size))
        self.recurrent_kernel = weight("recurrent_kernel", (out, size))
        if self.use_bias:
            self.bias_ih = weight("bias_ih", (size,))
            self.bias_hh = weight("bias_hh", (size,))
        if self.proj_size:
            self.projection = weight("projection", (self.units, self.proj_size))

    def call(self, inputs, states):
        h = states[0]
        x_gates = tf.matmul(inputs, self.kernel)
        h_gates = tf.matmul(h, self.recurrent_kernel)
        if self.mode != "GRU":  # one sum: the biases add to every gate alike
            gates = x_gates + h_gates
            if self.use_bias:  # each bias still gets the whole gradient, as in torch
                gates += self.bias_ih + self.bias_hh
        elif self.use_bias:
            x_gates += self.bias_ih
            h_gates += self.bias_hh
        if self.mode == "GRU":  # torch's r, z, n; b_hn stays inside the reset product
            x_r, x_z, x_n = tf.split(x_gates, 3, axis=-1)
            h_r, h_z, h_n = tf.split(h_gates, 3, axis=-1)
            r = tf.sigmoid(x_r + h_r)
            z = tf.sigmoid(x_z + h_z)
            n = tf.tanh(x_n + r * h_n)
            h = (1 - z) * n + z * h
            return h, h
        if self.mode != "LSTM":
            activation = tf.nn.relu if self.mode == "RNN_RELU" else tf.tanh
            h = activation(gates)
            return h, h
        i, f, g, o = tf.split(gates, 4, axis=-1)  # torch's i, f, g, o
        c = tf.sigmoid(f) * states[1] + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        if self.proj_size:
            h = tf.matmul(h, self.projection)
        return h, [h, c]

    def get_config(self):
        config = {"mode": self.mode, "units": self.units, "proj_size": self.proj_size}
        initializer = tf.keras.initializers.serialize(self.initializer)
        initializers = {
            name: tf.keras.initializers.serialize(value)
            for name, value in self.initializers.items()
        }
        return {
            **super().get_config(),
            **config,
            "use_bias": self.use_bias,
            "initializer": initializer,
            "initializers": initializers,
        }


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchRecurrent(tf.keras.layers.Layer):
    """torch's nn.LSTM/GRU/RNN: call(input, hx) returns torch's (output, h_n) or
    (output, (h_n, c_n)) in torch's layout, h_n of shape (num_layers * directions, B, H)."""

    kind = "RNN"

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        nonlinearity="tanh",
        initializer=None,
        kernel_initializer=None,
        recurrent_initializer=None,
        bias_ih_initializer=None,
        bias_hh_initializer=None,
        projection_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if nonlinearity not in ("tanh", "relu") or (self.kind != "RNN" and nonlinearity != "tanh"):
            raise ValueError(f"{self.kind}: unknown nonlinearity {nonlinearity!r}")
        # init code's initializers (torch's weight_ih, weight_hh, bias_ih, bias_hh, weight_hr of
        # every layer and direction), each variable drawn afresh; the others torch's default
        given = {
            "kernel": kernel_initializer,
            "recurrent_kernel": recurrent_initializer,
            "bias_ih": bias_ih_initializer,
            "bias_hh": bias_hh_initializer,
            "projection": projection_initializer,
        }
        self.initializers = {
            name: tf.keras.initializers.get(value)
            for name, value in given.items()
            if value is not None
        }
        self.nonlinearity = nonlinearity
        self.mode = self.kind
        if self.kind == "RNN":
            self.mode = "RNN_RELU" if nonlinearity == "relu" else "RNN_TANH"
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.initializer = tf.keras.initializers.get(
            initializer or torch_recurrent_init(hidden_size)
        )
        # One Keras RNN per layer and direction, in torch's parameter order (l0, l0_reverse, l1..)
        self.directions = 2 if bidirectional else 1
        self.rnns = [
            self._rnn(f"l{k}{'_reverse' if d else ''}")
            for k in range(num_layers)
            for d in range(self.directions)
        ]
        # torch drops out each layer's output but the last's, element-wise (Keras's dropout=
        # would mask the input with one mask per sequence)
        self.between = tf.keras.layers.Dropout(dropout) if dropout and num_layers > 1 else None

    def _rnn(self, name):
        """The fused Keras layer where it is exact (no bias: only the two biases differ), else a
        Keras RNN over TorchRecurrentCell."""
        options = {"return_sequences": True, "return_state": True, "name": name}
        if not self.bias and not self.proj_size:
            init = {
                "kernel_initializer": fresh_initializer(
                    self.initializers.get("kernel", self.initializer)
                ),
                "recurrent_initializer": fresh_initializer(
                    self.initializers.get("recurrent_kernel", self.initializer)
                ),
            }
            if self.mode == "LSTM":
                return tf.keras.layers.LSTM(self.hidden_size, use_bias=False, **init, **options)
            if self.mode == "GRU":
                # Keras's gate blocks are (z, r, n): the weights are reordered to them
                return tf.keras.layers.GRU(self.hidden_size, use_bias=False, **init, **options)
            activation = "relu" if self.mode == "RNN_RELU" else "tanh"
            return tf.keras.layers.SimpleRNN(
                self.hidden_size, activation=activation, use_bias=False, **init, **options
            )
        cell = TorchRecurrentCell(
            self.mode,
            self.hidden_size,
            self.proj_size,
            self.bias,
            self.initializer,
            self.initializers,
            name="cell",
        )
        return tf.keras.layers.RNN(cell, **options)

    def build(self, input_shape):
        size = self.input_size
        for index, rnn in enumerate(self.rnns):
            if index and index % self.directions == 0:
                size = (self.proj_size or self.hidden_size) * self.directions
            rnn.build((None, None, size))

    def call(self, inputs, hx=None, training=None):
        packed = isinstance(inputs, TorchPackedSequence)
        x, mask, lengths = inputs, None, None
        if packed:  # batch-first; each sequence runs for its own length, as torch's packing
            x, lengths = inputs
            mask = tf.sequence_mask(lengths, tf.shape(x)[1])
        batched = len(x.shape) == 3
        if not batched:
            # torch takes one unbatched sequence (L, F), and states (layers, H)
            x = x[None]
            hx = None if hx is None else tf.nest.map_structure(lambda s: s[:, None], hx)
        elif not self.batch_first and not packed:
            x = tf.transpose(x, [1, 0, 2])
        is_lstm = self.mode == "LSTM"
        finals = []
        for layer in range(self.num_layers):
            if layer and self.between is not None:
                x = self.between(x, training=training)
            outputs = []
            for direction in range(self.directions):
                index = layer * self.directions + direction
                state = None
                if hx is not None:
                    state = [hx[0][index], hx[1][index]] if is_lstm else [hx[index]]
                sequence = x if direction == 0 else self._reverse(x, mask, lengths)
                output, *last = self.rnns[index](
                    sequence, mask=mask, initial_state=state, training=training
                )
                outputs.append(output if direction == 0 else self._reverse(output, mask, lengths))
                finals.append(last)
            x = outputs[0] if len(outputs) == 1 else tf.concat(outputs, -1)
        if packed:  # torch's padded output is zero after each length
            x = tf.where(mask[:, :, None], x, tf.zeros_like(x))
        h_n = tf.stack([last[0] for last in finals])
        c_n = tf.stack([last[1] for last in finals]) if is_lstm else None
        if not batched:
            x, h_n = x[0], h_n[:, 0]
            c_n = None if c_n is None else c_n[:, 0]
        elif packed:
            x = TorchPackedSequence(x, lengths)
        elif not self.batch_first:
            x = tf.transpose(x, [1, 0, 2])
        return (x, (h_n, c_n)) if is_lstm else (x, h_n)

    @staticmethod
    def _reverse(x, mask, lengths):
        """Time reversed, each sequence within its own length when packed."""
        if mask is None:
            return tf.reverse(x, [1])
        return tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)

    def flatten_parameters(self):
        # torch packs its weights into one cuDNN buffer; Keras's variables need nothing
        pass

    def get_config(self):
        config = {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bias": self.bias,
            "batch_first": self.batch_first,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
            "proj_size": self.proj_size,
            "nonlinearity": self.nonlinearity,
            "initializer": tf.keras.initializers.serialize(self.initializer),
        }
        names = {"kernel": "kernel", "recurrent_kernel": "recurrent", "projection": "projection"}
        for name, value in self.initializers.items():
            argument = f"{names.get(name, name)}_initializer"
            config[argument] = tf.keras.initializers.serialize(value)
        return {**super().get_config(), **config}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchLSTM(TorchRecurrent):
    """torch's nn.LSTM, gates (i, f, g, o), returning (output, (h_n, c_n))."""

    kind = "LSTM"

    def __init__(self, input_size, hidden_size, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchGRU(TorchRecurrent):
    """torch's nn.GRU, gates (r, z, n) with b_hn inside the reset product, returning
    (output, h_n)."""

    kind = "GRU"

    def __init__(self, input_size, hidden_size, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchRNN(TorchRecurrent):
    """torch's nn.RNN (tanh or relu), returning (output, h_n)."""

    def __init__(self, input_size, hidden_size, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
