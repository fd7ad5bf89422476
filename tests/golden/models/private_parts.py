"""A model built from a private class (a leading underscore, as rtdl_num_embeddings' _Periodic):
Keras names its layer "_periodic", a name TensorFlow refuses as a root name scope."""

import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
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


@tf.keras.utils.register_keras_serializable(package="private_parts")
class _Periodic(tf.keras.Model):
    def __init__(self, n_features: int, k: int) -> None:
        super().__init__()
        # the name Keras gave it, less the "_" TensorFlow refuses in name scopes
        self.name = self.name.lstrip("_")
        self.init_arguments = {"n_features": n_features, "k": k}
        self.weight = self.add_weight(
            name="weight",
            shape=(n_features, k),
            initializer=tf.keras.initializers.RandomNormal(0.0, 1.0),
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        x = 2 * math.pi * self.weight * x[..., None]
        return tf.concat([tf.cos(x), tf.sin(x)], axis=-1)


@tf.keras.utils.register_keras_serializable(package="private_parts")
class PeriodicFeatures(tf.keras.Model):
    def __init__(self, n_features: int, k: int = 4) -> None:
        super().__init__()
        self.init_arguments = {"n_features": n_features, "k": k}
        self.periodic = _Periodic(n_features, k)

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        return self.periodic(x, training=training)
