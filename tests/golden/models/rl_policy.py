"""A PPO-style Gaussian actor-critic with the usual orthogonal initialisation."""

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


@tf.keras.utils.register_keras_serializable(package="rl_policy")
class ActorCritic(tf.keras.Model):
    def __init__(self, obs_dim, act_dim, hidden_sizes=(64, 64)):
        super().__init__()
        self.init_arguments = {
            "obs_dim": obs_dim,
            "act_dim": act_dim,
            "hidden_sizes": hidden_sizes,
        }
        layers = []
        for size in hidden_sizes:
            layers.append(
                tf.keras.layers.Dense(
                    size,
                    kernel_initializer=tf.keras.initializers.Orthogonal(math.sqrt(2)),
                    bias_initializer=tf.keras.initializers.Zeros(),
                )
            )
            layers.append(tf.keras.layers.Activation("tanh"))
        self.trunk = tf.keras.Sequential([*layers], name="trunk")
        self.pi = tf.keras.layers.Dense(
            act_dim,
            kernel_initializer=tf.keras.initializers.Orthogonal(0.01),
            bias_initializer=tf.keras.initializers.Zeros(),
            name="pi",
        )
        self.v = tf.keras.layers.Dense(
            1,
            kernel_initializer=tf.keras.initializers.Orthogonal(1.0),
            bias_initializer=tf.keras.initializers.Zeros(),
            name="v",
        )
        self.log_std = self.add_weight(
            name="log_std", shape=(act_dim,), initializer="zeros"
        )

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, obs, training=None):
        h = self.trunk(obs, training=training)
        mean = self.pi(h)
        std = tf.broadcast_to(tf.exp(self.log_std), tf.shape(mean))
        return tf.concat([mean, std, self.v(h)], axis=-1)
