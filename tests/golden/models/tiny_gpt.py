"""A small character-level GPT, in the style of the minimal GPT implementations."""

import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchTiedDense(tf.keras.layers.Layer):
    """A Linear whose weight is an Embedding's (torch weight tying): x @ embeddings.T, one
    shared variable, as in torch; a Dense cannot share it (its kernel is the transpose)."""

    def __init__(self, embedding, dense=None, **kwargs):
        super().__init__(**kwargs)
        if dense is not None:
            if dense.use_bias:
                raise ValueError(
                    "weight tying of a Linear with a bias is not translated"
                )
            dense.built = (
                True  # the replaced Dense never runs: it must not make a kernel
            )
            # ... and, still tracked by the model, it has no variables to save or load
            dense.save_own_variables = dense.load_own_variables = lambda store: None
        self.embedding = embedding

    def call(self, inputs):
        return tf.matmul(inputs, self.embedding.embeddings, transpose_b=True)


def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


def torch_normalized_axes(normalized_shape):
    """Keras axes for torch's normalized_shape (an int or trailing sizes)."""
    if isinstance(normalized_shape, (tuple, list)):  # torch.Size is a tuple
        return list(range(-len(normalized_shape), 0))
    return -1


def torch_variable(layer, name, value, trainable):
    """A variable holding a computed tensor: torch's nn.Parameter / register_buffer of one."""
    value = tf.convert_to_tensor(value)
    dtype = value.dtype
    # the model's float type, as torch's .double() moves every one
    if dtype.is_floating:
        dtype = layer.variable_dtype
    return layer.add_weight(
        name=name,
        shape=value.shape,
        dtype=dtype,
        trainable=trainable,
        initializer=lambda shape, dtype: tf.cast(value, dtype),
    )


def torch_split(x, split_size, dim=0):
    """torch.split: an int is the size of each piece (the last may be smaller), not their count."""
    if not isinstance(split_size, int):
        return tf.split(x, list(split_size), axis=dim)
    total = x.shape[dim]
    if total is None:
        raise ValueError(f"torch.split by size needs a static size for dim {dim}")
    sizes = [split_size] * (total // split_size)
    if total % split_size:
        sizes.append(total % split_size)
    return tf.split(x, sizes, axis=dim)


def config_from_arguments(arguments):
    """get_config's arguments: a class or function (block=BasicBlock) by its Keras name."""
    config = {}
    for name, value in arguments.items():
        registered = None
        if hasattr(value, "__name__"):  # a class or a function: Keras saves neither
            registered = tf.keras.utils.get_registered_name(value)
        if registered and tf.keras.utils.get_registered_object(registered) is value:
            value = registered
        elif isinstance(value, type):
            raise TypeError(
                f"argument {name}={value.__qualname__} cannot be saved: a class is "
                "saved by the name tf.keras.utils.register_keras_serializable gives"
            )
        config[name] = value
    return config


def arguments_from_config(config):
    """from_config's arguments: Keras names to classes, serialized layers to layers."""
    deserialize = tf.keras.utils.deserialize_keras_object
    return {name: deserialize(value) for name, value in config.items()}


@tf.keras.utils.register_keras_serializable(package="tiny_gpt")
class CausalSelfAttention(tf.keras.Model):
    def __init__(self, n_embd, n_head, block_size, dropout):
        super().__init__()
        self.init_arguments = {
            "n_embd": n_embd,
            "n_head": n_head,
            "block_size": block_size,
            "dropout": dropout,
        }
        assert n_embd % n_head == 0
        # key, query, value projections for all heads, in a batch
        self.c_attn = tf.keras.layers.Dense(
            3 * n_embd,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(n_embd),
            name="c_attn",
        )
        self.c_proj = tf.keras.layers.Dense(
            n_embd,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(n_embd),
            name="c_proj",
        )
        self.attn_dropout = tf.keras.layers.Dropout(dropout, name="attn_dropout")
        self.resid_dropout = tf.keras.layers.Dropout(dropout, name="resid_dropout")
        self.n_head = n_head
        self.n_embd = n_embd
        # causal mask: each position attends to itself and the positions before it
        self.bias = torch_variable(
            self,
            "bias",
            tf.reshape(
                tf.linalg.band_part(tf.ones((block_size, block_size)), -1, 0),
                (1, 1, block_size, block_size),
            ),
            trainable=False,
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        B, T, C = tf.keras.ops.shape(x)
        q, k, v = torch_split(self.c_attn(x), self.n_embd, dim=2)
        # (B, nh, T, hs)
        k = tf.keras.ops.swapaxes(
            tf.reshape(k, (B, T, self.n_head, C // self.n_head)), 1, 2
        )
        q = tf.keras.ops.swapaxes(
            tf.reshape(q, (B, T, self.n_head, C // self.n_head)), 1, 2
        )
        v = tf.keras.ops.swapaxes(
            tf.reshape(v, (B, T, self.n_head, C // self.n_head)), 1, 2
        )
        att = (q @ tf.linalg.matrix_transpose(k)) * (
            1.0 / math.sqrt(tf.keras.ops.shape(k)[-1])
        )
        att = tf.where(
            self.bias[:, :, :T, :T] == 0, tf.cast(float("-inf"), att.dtype), att
        )
        att = tf.nn.softmax(att, axis=-1)
        att = self.attn_dropout(att, training=training)
        y = att @ v  # (B, nh, T, T) x (B, nh, T, hs) -> (B, nh, T, hs)
        y = tf.reshape(tf.keras.ops.swapaxes(y, 1, 2), (B, T, C))
        return self.resid_dropout(self.c_proj(y), training=training)


@tf.keras.utils.register_keras_serializable(package="tiny_gpt")
class MLP(tf.keras.Model):
    def __init__(self, n_embd, dropout):
        super().__init__()
        self.init_arguments = {"n_embd": n_embd, "dropout": dropout}
        self.c_fc = tf.keras.layers.Dense(
            4 * n_embd,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(n_embd),
            name="c_fc",
        )
        self.gelu = tf.keras.layers.Activation("gelu", name="gelu")
        self.c_proj = tf.keras.layers.Dense(
            n_embd,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(4 * n_embd),
            name="c_proj",
        )
        self.dropout = tf.keras.layers.Dropout(dropout, name="dropout")
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(n_embd,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))), training=training)


@tf.keras.utils.register_keras_serializable(package="tiny_gpt")
class Block(tf.keras.Model):
    def __init__(self, n_embd, n_head, block_size, dropout):
        super().__init__()
        self.init_arguments = {
            "n_embd": n_embd,
            "n_head": n_head,
            "block_size": block_size,
            "dropout": dropout,
        }
        self.ln_1 = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(n_embd), epsilon=1e-05, name="ln_1"
        )
        self.attn = CausalSelfAttention(n_embd, n_head, block_size, dropout)
        self.ln_2 = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(n_embd), epsilon=1e-05, name="ln_2"
        )
        self.mlp = MLP(n_embd, dropout)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = x + self.attn(self.ln_1(x), training=training)
        x = x + self.mlp(self.ln_2(x), training=training)
        return x


@tf.keras.utils.register_keras_serializable(package="tiny_gpt")
class GPT(tf.keras.Model):
    def __init__(
        self, vocab_size=65, block_size=16, n_layer=2, n_head=4, n_embd=32, dropout=0.1
    ):
        super().__init__()
        self.init_arguments = {
            "vocab_size": vocab_size,
            "block_size": block_size,
            "n_layer": n_layer,
            "n_head": n_head,
            "n_embd": n_embd,
            "dropout": dropout,
        }
        self.block_size = block_size
        self.tok_emb = tf.keras.layers.Embedding(
            vocab_size,
            n_embd,
            embeddings_initializer=tf.keras.initializers.RandomNormal(0.0, 1.0),
            name="tok_emb",
        )
        self.pos_emb = self.add_weight(
            name="pos_emb", shape=(1, block_size, n_embd), initializer="zeros"
        )
        self.drop = tf.keras.layers.Dropout(dropout, name="drop")
        self.blocks = [
            Block(n_embd, n_head, block_size, dropout) for _ in range(n_layer)
        ]
        self.ln_f = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(n_embd), epsilon=1e-05, name="ln_f"
        )
        self.head = tf.keras.layers.Dense(
            vocab_size,
            use_bias=False,
            kernel_initializer=torch_default_kernel(),
            name="head",
        )
        self.head = TorchTiedDense(self.tok_emb, self.head, name="head")

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, idx, training=None):
        b, t = tf.keras.ops.shape(idx)
        assert t <= self.block_size, "sequence longer than the block size"
        x = self.drop(self.tok_emb(idx) + self.pos_emb[:, :t, :], training=training)
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        return self.head(x)
