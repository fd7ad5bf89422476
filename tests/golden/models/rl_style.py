"""An actor-critic feature extractor in the style of RL libraries (written for tests)."""

import math
from typing import Dict, List, Tuple, Type, Union

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


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


@tf.keras.utils.register_keras_serializable(package="rl_style")
class ActorCriticMlp(tf.keras.Model):
    """Separate policy and value MLPs on shared features, as RL libraries build them."""

    def __init__(
        self,
        feature_dim: int,
        net_arch: Union[List[int], Dict[str, List[int]]],
        activation_fn: Type[tf.keras.layers.Layer],
        device: Union[str, str] = "auto",
    ) -> None:
        super().__init__()
        self.init_arguments = {
            "feature_dim": feature_dim,
            "net_arch": net_arch,
            "activation_fn": activation_fn,
            "device": device,
        }
        policy_net: List[tf.keras.layers.Layer] = []
        value_net: List[tf.keras.layers.Layer] = []
        width_pi = feature_dim
        width_vf = feature_dim

        if isinstance(net_arch, dict):
            pi_layers_dims = net_arch.get("pi", [])
            vf_layers_dims = net_arch.get("vf", [])
        else:
            pi_layers_dims = vf_layers_dims = net_arch
        for width in pi_layers_dims:
            policy_net.append(
                tf.keras.layers.Dense(
                    width,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(width_pi),
                )
            )
            policy_net.append(activation_fn())
            width_pi = width
        for width in vf_layers_dims:
            value_net.append(
                tf.keras.layers.Dense(
                    width,
                    kernel_initializer=torch_default_kernel(),
                    bias_initializer=torch_default_bias(width_vf),
                )
            )
            value_net.append(activation_fn())
            width_vf = width

        self.latent_dim_pi = width_pi
        self.latent_dim_vf = width_vf

        self.policy_net = tf.keras.Sequential([*policy_net], name="policy_net")
        self.value_net = tf.keras.Sequential([*value_net], name="value_net")

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, features: tf.Tensor, training=None) -> Tuple[tf.Tensor, tf.Tensor]:
        """Both heads' latent features."""
        return self.forward_actor(features, training=training), self.forward_critic(
            features, training=training
        )

    def forward_actor(self, features: tf.Tensor, training=None) -> tf.Tensor:
        return self.policy_net(features, training=training)

    def forward_critic(self, features: tf.Tensor, training=None) -> tf.Tensor:
        return self.value_net(features, training=training)
