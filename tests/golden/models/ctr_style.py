"""Click-through-rate models in the style of recommender packages: init loops over one
attribute's named_parameters(), over a literal list of parameters, and over the slices of a
stacked parameter; torch.tensordot contractions."""

import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchLayout(tf.keras.initializers.Initializer):
    """A Keras initializer for a variable in torch's layout (out, in, *kernel): Keras reads fans
    (and orthogonal rows) from the last axes, torch from the first; drawn in Keras's, transposed."""

    def __init__(self, initializer):
        self.initializer = tf.keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        keras_shape = (*shape[2:], shape[1], shape[0])
        values = self.initializer(keras_shape, dtype=dtype)
        rank = len(shape)
        return tf.transpose(values, [rank - 1, rank - 2, *range(rank - 2)])

    def get_config(self):
        return {"initializer": tf.keras.initializers.serialize(self.initializer)}


@tf.keras.utils.register_keras_serializable(package="torch2tf")
class TorchSlices(tf.keras.initializers.Initializer):
    """Draws each slice w[i] of a stacked variable on its own, as a torch loop of inits over
    ``w[i]`` does: fans (and orthogonality) are those of one slice."""

    def __init__(self, initializer):
        self.initializer = tf.keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        return tf.stack(
            [self.initializer(shape[1:], dtype=dtype) for _ in range(shape[0])]
        )

    def get_config(self):
        return {"initializer": tf.keras.initializers.serialize(self.initializer)}


def torch_squeeze(x, dim):
    """torch's squeeze(dim) leaves a dim whose size is not 1 as it is; tf.squeeze raises."""
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    # A size unknown until run time is left to tf.squeeze, which checks it then.
    axes = [d for d in dims if x.shape[d] in (1, None)]
    return tf.squeeze(x, axes) if axes else x


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


@tf.keras.utils.register_keras_serializable(package="ctr_style")
class DeepTower(tf.keras.Model):
    """An MLP whose hidden weights are initialised through the container's named_parameters()."""

    def __init__(self, inputs_dim, hidden_units, init_std=0.05):
        super().__init__()
        self.init_arguments = {
            "inputs_dim": inputs_dim,
            "hidden_units": hidden_units,
            "init_std": init_std,
        }
        hidden_units = [inputs_dim] + list(hidden_units)
        self.linears = [
            tf.keras.layers.Dense(
                hidden_units[i + 1],
                kernel_initializer=tf.keras.initializers.RandomNormal(0, init_std),
                bias_initializer=torch_default_bias(hidden_units[i]),
            )
            for i in range(len(hidden_units) - 1)
        ]
        self.out = tf.keras.layers.Dense(
            1,
            kernel_initializer=tf.keras.initializers.Zeros(),
            bias_initializer=tf.keras.initializers.Zeros(),
            name="out",
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, inputs, training=None):
        x = inputs
        for i in range(len(self.linears)):
            x = tf.nn.relu(self.linears[i](x))
        return self.out(x)


@tf.keras.utils.register_keras_serializable(package="ctr_style")
class CrossLayers(tf.keras.Model):
    """Stacked cross kernels, each slice initialised on its own (fans of one slice)."""

    def __init__(self, in_features, layer_num=2):
        super().__init__()
        self.init_arguments = {"in_features": in_features, "layer_num": layer_num}
        self.layer_num = layer_num
        self.kernels = self.add_weight(
            name="kernels",
            shape=(self.layer_num, in_features, in_features),
            initializer=TorchSlices(
                TorchLayout(
                    tf.keras.initializers.VarianceScaling(
                        1.0, "fan_avg", "untruncated_normal"
                    )
                )
            ),
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(self.layer_num, in_features, 1),
            initializer=tf.keras.initializers.Zeros(),
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, inputs, training=None):
        x_0 = tf.expand_dims(inputs, axis=2)
        x_l = x_0
        for i in range(self.layer_num):
            xl_w = tf.matmul(self.kernels[i], x_l)
            x_l = x_0 * (xl_w + self.bias[i]) + x_l
        return torch_squeeze(x_l, 2)


@tf.keras.utils.register_keras_serializable(package="ctr_style")
class AttentionPooling(tf.keras.Model):
    """Attention over field embeddings with raw parameters initialised through lists."""

    def __init__(self, embedding_size, attention_factor=4):
        super().__init__()
        self.init_arguments = {
            "embedding_size": embedding_size,
            "attention_factor": attention_factor,
        }
        self.attention_W = self.add_weight(
            name="attention_W",
            shape=(embedding_size, attention_factor),
            initializer=TorchLayout(
                tf.keras.initializers.VarianceScaling(
                    1.0, "fan_avg", "untruncated_normal"
                )
            ),
        )
        self.attention_b = self.add_weight(
            name="attention_b",
            shape=(attention_factor,),
            initializer=tf.keras.initializers.Zeros(),
        )
        self.projection_h = self.add_weight(
            name="projection_h",
            shape=(attention_factor, 1),
            initializer=TorchLayout(
                tf.keras.initializers.VarianceScaling(
                    1.0, "fan_avg", "untruncated_normal"
                )
            ),
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, embeddings, training=None):
        hidden = tf.nn.relu(
            tf.tensordot(embeddings, self.attention_W, axes=([-1], [0]))
            + self.attention_b
        )
        scores = tf.nn.softmax(
            tf.tensordot(hidden, self.projection_h, axes=([-1], [0])), axis=1
        )
        return tf.reduce_sum(scores * embeddings, axis=1)
