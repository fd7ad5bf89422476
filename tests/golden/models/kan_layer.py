"""A KAN-style layer: a SiLU base path plus learnable per-edge coefficients on fixed RBF bases."""

import math

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


@tf.keras.utils.register_keras_serializable(package="kan_layer")
class KANLinear(tf.keras.Model):
    def __init__(self, in_features, out_features, num_bases=5, scale_spline=1.0):
        super().__init__()
        self.init_arguments = {
            "in_features": in_features,
            "out_features": out_features,
            "num_bases": num_bases,
            "scale_spline": scale_spline,
        }
        self.in_features = in_features
        self.out_features = out_features
        self.num_bases = num_bases
        self.scale_spline = scale_spline
        self.base_weight = self.add_weight(
            name="base_weight",
            shape=(out_features, in_features),
            initializer=TorchLayout(
                tf.keras.initializers.VarianceScaling(
                    0.33333333333333326, "fan_in", "uniform"
                )
            ),
        )
        self.spline_weight = self.add_weight(
            name="spline_weight",
            shape=(out_features, in_features, num_bases),
            initializer=TorchLayout(
                tf.keras.initializers.VarianceScaling(
                    (self.scale_spline) ** 2, "fan_avg", "uniform"
                )
            ),
        )
        self.spline_scaler = self.add_weight(
            name="spline_scaler",
            shape=(out_features, in_features),
            initializer=tf.keras.initializers.RandomNormal(
                1.0, (1.0 / math.sqrt(in_features))
            ),
        )
        centers = tf.range(num_bases, dtype=tf.float32) * (2 / (num_bases - 1)) - 1
        self.centers = torch_variable(self, "centers", centers, trainable=False)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        base = tf.matmul(tf.nn.silu(x), self.base_weight, transpose_b=True)
        bases = tf.exp(-((tf.expand_dims(x, axis=-1) - self.centers) ** 2))
        weights = self.spline_weight * tf.expand_dims(self.spline_scaler, axis=-1)
        return base + tf.einsum("bik,oik->bo", bases, weights)


@tf.keras.utils.register_keras_serializable(package="kan_layer")
class KAN(tf.keras.Model):
    def __init__(self, widths, num_bases=5):
        super().__init__()
        self.init_arguments = {"widths": widths, "num_bases": num_bases}
        self.layers_ = [
            KANLinear(a, b, num_bases) for a, b in zip(widths[:-1], widths[1:])
        ]

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        for layer in self.layers_:
            x = layer(x)
        return x
