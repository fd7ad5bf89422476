"""A PPO-style Gaussian actor-critic with the usual orthogonal initialisation."""

import math

import tensorflow as tf


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
        return dict(self.init_arguments)

    def call(self, obs, training=None):
        h = self.trunk(obs, training=training)
        mean = self.pi(h)
        std = tf.broadcast_to(tf.exp(self.log_std), tf.shape(mean))
        return tf.concat([mean, std, self.v(h)], axis=-1)
