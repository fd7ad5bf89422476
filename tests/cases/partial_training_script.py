# torch2tf: --allow-partial
"""A training script with one step torch2tf cannot translate: the model, loss, optimizer and
loop are translated, and the unsupported scheduler is a stub."""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def train(x, y, epochs: int = 5):
    model = Net()
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return model

# output
# PARTIAL TRANSLATION by torch2tf --allow-partial: 2 constructs could not be translated.
# Each is a call to torch2tf_untranslated(...), which raises NotImplementedError when it runs.
# torch2tf: --allow-partial
"""A training script with one step torch2tf cannot translate: the model, loss, optimizer and
loop are translated, and the unsupported scheduler is a stub."""

import math

import tensorflow as tf


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


class TorchMSELoss(tf.keras.losses.Loss):
    """torch's MSELoss: mean over all elements; Keras's 'sum' is a sum of per-row means."""

    def __init__(self, reduction="mean", name=None):
        super().__init__(name=name or "mse_loss", reduction=None)
        self.torch_reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        loss = tf.square(y_pred - tf.cast(y_true, y_pred.dtype))
        if self.torch_reduction == "none":
            return loss
        return (
            tf.reduce_sum(loss)
            if self.torch_reduction == "sum"
            else tf.reduce_mean(loss)
        )

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction}


class TorchSGD(tf.keras.optimizers.Optimizer):
    """torch's SGD: lr outside the momentum buffer, dampening, nesterov, coupled weight decay."""

    def __init__(
        self,
        learning_rate=0.001,
        momentum=0.0,
        dampening=0.0,
        weight_decay=0.0,
        nesterov=False,
        maximize=False,
        name="torch_sgd",
        **kwargs,
    ):
        if isinstance(learning_rate, int):
            learning_rate = float(learning_rate)
        floatx = tf.keras.backend.floatx()
        # a float learning rate becomes a float64 variable
        tf.keras.backend.set_floatx("float64")
        try:
            super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        finally:
            tf.keras.backend.set_floatx(floatx)
        self.momentum = momentum if callable(momentum) else float(momentum)
        self.dampening = float(dampening)
        self.torch_weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)
        self.maximize = bool(maximize)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.momentum_buffers = []
        self.steps = []
        if callable(self.momentum) or self.momentum != 0:
            for variable in var_list:
                self.momentum_buffers.append(
                    self.add_variable_from_reference(variable, "momentum_buffer")
                )
                self.steps.append(self.add_variable((), dtype="int64", name="step"))

    def _clip_gradients(self, grads):
        if not self.global_clipnorm:
            return super()._clip_gradients(grads)
        norms = [tf.norm(tf.convert_to_tensor(g)) for g in grads if g is not None]
        dtype = max((n.dtype for n in norms), key=lambda d: d.size)
        total = tf.norm(tf.stack([tf.cast(n, dtype) for n in norms]))
        coef = tf.minimum(
            tf.constant(self.global_clipnorm, dtype) / (total + 1e-6), 1.0
        )
        return [
            g if g is None else tf.convert_to_tensor(g) * tf.cast(coef, g.dtype)
            for g in grads
        ]

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        grad = tf.convert_to_tensor(gradient)
        if self.maximize:
            grad = -grad
        if self.torch_weight_decay != 0:
            grad = grad + variable * tf.constant(self.torch_weight_decay, dtype)
        if self.momentum_buffers:
            index = self._get_variable_index(variable)
            buf, step = self.momentum_buffers[index], self.steps[index]
            if callable(self.momentum):
                momentum = tf.cast(self.momentum(self.iterations), dtype)
            else:
                momentum = tf.constant(self.momentum, dtype)
            # torch's first buffer is the gradient itself, undamped
            first = tf.equal(step, 0)
            new_buf = tf.where(
                first, grad, buf * momentum + grad * (1 - self.dampening)
            )
            self.assign(buf, new_buf)
            self.assign_add(step, 1)
            grad = grad + new_buf * momentum if self.nesterov else new_buf
        self.assign_sub(variable, grad * lr)

    def get_config(self):
        config = super().get_config()
        momentum = self.momentum
        if callable(momentum):
            momentum = tf.keras.optimizers.schedules.serialize(momentum)
        config.update(
            momentum=momentum,
            dampening=self.dampening,
            weight_decay=self.torch_weight_decay,
            nesterov=self.nesterov,
            maximize=self.maximize,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("momentum"), dict):
            config["momentum"] = tf.keras.optimizers.schedules.deserialize(
                config["momentum"], custom_objects=custom_objects
            )
        return super().from_config(config, custom_objects=custom_objects)


def torch2tf_untranslated(code, problem):
    """Stands for PyTorch code torch2tf could not translate (written by --allow-partial)."""
    raise NotImplementedError(f"torch2tf could not translate {code}: {problem}")


@tf.keras.utils.register_keras_serializable(package="partial_training_script")
class Net(tf.keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = tf.keras.layers.Dense(
            16,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(8),
            name="fc1",
        )
        self.fc2 = tf.keras.layers.Dense(
            1,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(16),
            name="fc2",
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(8,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return {}

    def call(self, x, training=None):
        return self.fc2(tf.tanh(self.fc1(x)))


def train(x, y, epochs: int = 5):
    model = Net()
    loss_fn = TorchMSELoss()
    optimizer = TorchSGD(learning_rate=0.1, momentum=0.9)
    scheduler = torch2tf_untranslated(
        "torch.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1)",
        "torch.optim.lr_scheduler.CyclicLR is not translated",
    )
    for _ in range(epochs):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        torch2tf_untranslated(
            "scheduler.step()",
            "cannot tell what scheduler is, so .step() is not translated",
        )
    return model

# partial_training_script.py:23:17: error: torch.optim.lr_scheduler.CyclicLR is not translated (hint: see `torch2tf --list-rules` for what is translated)
# partial_training_script.py:29:9: error: cannot tell what scheduler is, so .step() is not translated (hint: build models, optimizers and schedulers in this file, in variables)
