"""A gated feed-forward block initialised the transformer way: every matrix Xavier, every bias
zero, decided per parameter in a loop over named_parameters()."""

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
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


def torch_normalized_axes(normalized_shape):
    """Keras axes for torch's normalized_shape (an int or trailing sizes)."""
    if isinstance(normalized_shape, (tuple, list)):  # torch.Size is a tuple
        return list(range(-len(normalized_shape), 0))
    return -1


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


@tf.keras.utils.register_keras_serializable(package="param_loop_model")
class GatedFeedForward(tf.keras.Model):
    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.init_arguments = {"d": d, "hidden": hidden}
        self.up = tf.keras.layers.Dense(
            hidden,
            kernel_initializer=tf.keras.initializers.GlorotUniform(),
            bias_initializer=tf.keras.initializers.Zeros(),
            name="up",
        )
        self.norm = tf.keras.layers.LayerNormalization(
            axis=torch_normalized_axes(hidden),
            epsilon=1e-05,
            beta_initializer=tf.keras.initializers.Zeros(),
            name="norm",
        )
        self.down = tf.keras.layers.Dense(
            d,
            kernel_initializer=tf.keras.initializers.GlorotUniform(),
            bias_initializer=tf.keras.initializers.Zeros(),
            name="down",
        )
        self.gate = self.add_weight(
            name="gate",
            shape=(hidden, d),
            initializer=TorchLayout(tf.keras.initializers.GlorotUniform()),
        )
        self.scale = self.add_weight(name="scale", shape=(d,), initializer="ones")

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        h = self.norm(self.up(x)) * tf.sigmoid(x @ tf.transpose(self.gate))
        return self.scale * self.down(tf.nn.relu(h))
