"""Train a small MLP on scikit-learn's digits (bundled data, no download) with PyTorch.

`torch2tf translate examples/train_digits.py` turns the whole script, training loop included,
into TensorFlow: the optimizer, loss and scheduler become torch-exact Keras helpers and the
loop a tf.GradientTape loop. tests/test_loops.py runs both scripts' `train` from the same
initial weights on the same batches and compares their losses.
"""

import math

import tensorflow as tf
from sklearn.datasets import load_digits


# torch2tf helpers: exact Keras versions of torch behaviour Keras lacks.
def torch_default_kernel():
    """torch's default Linear weight init, U(+-1/sqrt(fan_in)); Keras's is glorot_uniform."""
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def torch_default_bias(fan_in):
    """torch's default Linear bias init, U(+-1/sqrt(fan_in)); Keras's is zeros."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return tf.keras.initializers.RandomUniform(-bound, bound)


class TorchCrossEntropyLoss(tf.keras.losses.Loss):
    """torch's CrossEntropyLoss: weights (mean over their sum) with smoothing, ignore_index."""

    def __init__(
        self,
        weight=None,
        ignore_index=-100,
        reduction="mean",
        label_smoothing=0.0,
        name=None,
    ):
        super().__init__(name=name or "cross_entropy_loss", reduction=None)
        self.weight = None if weight is None else [float(w) for w in weight]
        self.ignore_index = int(ignore_index)
        self.torch_reduction = reduction
        self.label_smoothing = float(label_smoothing)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "Torch losses take no sample_weight; use the `weight` argument."
            )
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        logits = tf.convert_to_tensor(y_pred)
        y_true = tf.convert_to_tensor(y_true)
        dtype = logits.dtype
        classes = logits.shape[-1]
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        ls = self.label_smoothing
        weight = None if self.weight is None else tf.constant(self.weight, dtype)
        if y_true.shape.rank == logits.shape.rank:  # class probabilities
            target = tf.cast(y_true, dtype)
            if ls > 0:
                target = target * (1 - ls) + ls / classes
            per_class = (
                log_probs * target if weight is None else log_probs * target * weight
            )
            if self.torch_reduction == "none":
                return -tf.reduce_sum(per_class, axis=-1)
            total = -tf.reduce_sum(per_class)
            if self.torch_reduction == "sum":
                return total
            return total / tf.cast(tf.size(logits) // classes, dtype)
        labels = tf.cast(y_true, tf.int64)
        valid = tf.not_equal(labels, self.ignore_index)
        safe = tf.where(valid, labels, tf.zeros_like(labels))
        picked = tf.gather(log_probs, safe, axis=-1, batch_dims=labels.shape.rank)
        w = tf.ones_like(picked) if weight is None else tf.gather(weight, safe)
        w = tf.where(valid, w, tf.zeros_like(w))
        nll = tf.where(valid, -picked * w, tf.zeros_like(picked))
        if ls > 0:
            smooth = log_probs if weight is None else log_probs * weight
            smooth = tf.where(
                valid, -tf.reduce_sum(smooth, axis=-1), tf.zeros_like(picked)
            )
        if self.torch_reduction == "none":
            return nll if ls == 0 else (1 - ls) * nll + smooth * (ls / classes)
        if self.torch_reduction == "sum":
            total = tf.reduce_sum(nll)
            return (
                total
                if ls == 0
                else (1 - ls) * total + tf.reduce_sum(smooth) * (ls / classes)
            )
        denominator = tf.reduce_sum(w)
        mean = tf.reduce_sum(nll) / denominator
        if ls == 0:
            return mean
        return (1 - ls) * mean + tf.reduce_sum(smooth) / denominator * (ls / classes)

    def get_config(self):
        return {
            "name": self.name,
            "weight": self.weight,
            "ignore_index": self.ignore_index,
            "reduction": self.torch_reduction,
            "label_smoothing": self.label_smoothing,
        }


class TorchAdam(tf.keras.optimizers.Optimizer):
    """torch's Adam/AdamW: eps after bias correction (Keras: eps-hat), coupled/decoupled decay."""

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        maximize=False,
        decoupled_weight_decay=False,
        name="torch_adam",
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
        self.beta_1 = beta_1 if callable(beta_1) else float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.torch_weight_decay = float(weight_decay)
        self.amsgrad = bool(amsgrad)
        self.maximize = bool(maximize)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.exp_avgs, self.exp_avg_sqs, self.max_exp_avg_sqs, self.steps = (
            [],
            [],
            [],
            [],
        )
        for variable in var_list:
            self.exp_avgs.append(self.add_variable_from_reference(variable, "exp_avg"))
            self.exp_avg_sqs.append(
                self.add_variable_from_reference(variable, "exp_avg_sq")
            )
            if self.amsgrad:
                self.max_exp_avg_sqs.append(
                    self.add_variable_from_reference(variable, "max_exp_avg_sq")
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
        index = self._get_variable_index(variable)
        exp_avg, exp_avg_sq = self.exp_avgs[index], self.exp_avg_sqs[index]
        self.assign_add(self.steps[index], 1)
        step = tf.cast(self.steps[index], tf.float64)
        lr = tf.cast(learning_rate, tf.float64)
        if callable(self.beta_1):
            beta_1 = tf.cast(self.beta_1(self.iterations), tf.float64)
        else:
            beta_1 = tf.constant(self.beta_1, tf.float64)
        beta_2 = self.beta_2
        grad = tf.convert_to_tensor(gradient)
        if self.maximize:
            grad = -grad
        if self.torch_weight_decay != 0:
            if self.decoupled_weight_decay:
                self.assign(
                    variable,
                    variable * tf.cast(1 - lr * self.torch_weight_decay, dtype),
                )
            else:
                grad = grad + variable * tf.constant(self.torch_weight_decay, dtype)
        # torch: exp_avg.lerp_(grad, 1 - beta1), which is m + (1 - beta1) * (g - m) for beta1 > 0.5
        m = exp_avg + tf.cast(1 - beta_1, dtype) * (grad - exp_avg)
        v = exp_avg_sq * beta_2 + tf.constant(1 - beta_2, dtype) * grad * grad
        self.assign(exp_avg, m)
        self.assign(exp_avg_sq, v)
        if self.amsgrad:
            v = tf.maximum(self.max_exp_avg_sqs[index], v)
            self.assign(self.max_exp_avg_sqs[index], v)
        step_size = tf.cast(lr / (1 - beta_1**step), dtype)
        bias_correction2_sqrt = tf.cast(tf.sqrt(1 - beta_2**step), dtype)
        denom = tf.sqrt(v) / bias_correction2_sqrt + tf.constant(self.epsilon, dtype)
        self.assign_sub(variable, step_size * (m / denom))

    def get_config(self):
        config = super().get_config()
        beta_1 = self.beta_1
        if callable(beta_1):
            beta_1 = tf.keras.optimizers.schedules.serialize(beta_1)
        config.update(
            beta_1=beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            weight_decay=self.torch_weight_decay,
            amsgrad=self.amsgrad,
            maximize=self.maximize,
            decoupled_weight_decay=self.decoupled_weight_decay,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("beta_1"), dict):
            config["beta_1"] = tf.keras.optimizers.schedules.deserialize(
                config["beta_1"], custom_objects=custom_objects
            )
        return super().from_config(config, custom_objects=custom_objects)


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


class PerEpochSchedule(tf.keras.optimizers.schedules.LearningRateSchedule):
    """Torch schedulers usually step once per epoch; Keras evaluates schedules once per batch."""

    def __init__(self, schedule, steps_per_epoch):
        self.schedule = schedule
        self.steps_per_epoch = int(steps_per_epoch)

    def __call__(self, step):
        return self.schedule(tf.cast(step, tf.int64) // self.steps_per_epoch)

    def get_config(self):
        return {
            "schedule": tf.keras.optimizers.schedules.serialize(self.schedule),
            "steps_per_epoch": self.steps_per_epoch,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        schedule = tf.keras.optimizers.schedules.deserialize(
            config["schedule"], custom_objects=custom_objects
        )
        return cls(schedule, config["steps_per_epoch"])


class TorchStepLR(tf.keras.optimizers.schedules.LearningRateSchedule):
    """torch's StepLR in float64 (ExponentialDecay(staircase=True) matches only in float32)."""

    def __init__(self, learning_rate, step_size, gamma=0.1):
        self.learning_rate = float(learning_rate)
        self.step_size = int(step_size)
        self.gamma = float(gamma)

    def __call__(self, step):
        decays = tf.cast(tf.cast(step, tf.int64) // self.step_size, tf.float64)
        return self.learning_rate * tf.pow(tf.constant(self.gamma, tf.float64), decays)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "step_size": self.step_size,
            "gamma": self.gamma,
        }


@tf.keras.utils.register_keras_serializable(package="train_digits")
class DigitsMLP(tf.keras.Model):
    def __init__(self, hidden=64):
        super().__init__()
        self.init_arguments = {"hidden": hidden}
        self.fc1 = tf.keras.layers.Dense(
            hidden,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(64),
            name="fc1",
        )
        self.act1 = tf.keras.layers.ReLU(name="act1")
        self.fc2 = tf.keras.layers.Dense(
            hidden,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(hidden),
            name="fc2",
        )
        self.act2 = tf.keras.layers.Activation("tanh", name="act2")
        self.out = tf.keras.layers.Dense(
            10,
            kernel_initializer=torch_default_kernel(),
            bias_initializer=torch_default_bias(hidden),
            name="out",
        )
        # Create the weights now, as torch does at construction.
        self(tf.keras.Input(shape=(64,)))

    def get_config(self):
        """The constructor's arguments: load_model rebuilds the model from them."""
        return config_from_arguments(self.init_arguments)

    @classmethod
    def from_config(cls, config):
        """The model get_config describes (its classes and layers rebuilt)."""
        return cls(**arguments_from_config(config))

    def call(self, x, training=None):
        x = self.act1(self.fc1(x))
        x = self.act2(self.fc2(x))
        return self.out(x)


def evaluate(model, criterion, X, y):
    """Loss and accuracy on a whole split, without gradients."""
    logits = model(X, training=False)
    loss = criterion(y, logits).numpy().item()
    accuracy = (
        tf.reduce_mean(tf.cast(tf.argmax(logits, axis=1) == y, tf.float32))
        .numpy()
        .item()
    )
    return loss, accuracy


def train(model, X_train, y_train, X_test, y_test, epochs=10, shuffle=True):
    """Train with Adam, a per-epoch StepLR and gradient clipping; return per-epoch metrics."""
    train_set = tf.data.Dataset.from_tensor_slices((X_train, y_train))
    # Reshuffled each epoch like torch's DataLoader, but not in torch's order.
    train_loader = (train_set.shuffle(len(train_set)) if shuffle else train_set).batch(
        64
    )
    criterion = TorchCrossEntropyLoss(label_smoothing=0.05)
    # global_clipnorm: torch.nn.utils.clip_grad_norm_ before each step (torch's formula).
    optimizer = TorchAdam(learning_rate=3e-3, weight_decay=1e-4, global_clipnorm=1.0)
    # StepLR, stepped once per epoch: it moves every len(train_loader) optimizer steps.
    scheduler = PerEpochSchedule(
        TorchStepLR(float(optimizer.learning_rate), 4, gamma=0.5), len(train_loader)
    )
    optimizer.learning_rate = scheduler
    history = []
    for epoch in range(epochs):
        total = 0.0
        for xb, yb in train_loader:
            with tf.GradientTape() as tape:
                loss = criterion(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            total += loss.numpy().item() * len(xb)
        test_loss, accuracy = evaluate(model, criterion, X_test, y_test)
        train_loss = total / len(train_set)
        history.append((train_loss, test_loss, accuracy))
        print(
            f"epoch {epoch + 1}: train {train_loss:.4f}, test {test_loss:.4f}, acc {accuracy:.3f}"
        )
    return history


def load_data(dtype=tf.float32):
    """Digits scaled to [0, 1]: 1500 images to train on, the other 297 to test."""
    X, y = load_digits(return_X_y=True)
    X = tf.constant(X / 16.0, dtype=dtype)
    y = tf.constant(y, dtype=tf.int64)
    return X[:1500], y[:1500], X[1500:], y[1500:]


if __name__ == "__main__":
    tf.random.set_seed(0)
    X_train, y_train, X_test, y_test = load_data()
    model = DigitsMLP()
    train(model, X_train, y_train, X_test, y_test)
