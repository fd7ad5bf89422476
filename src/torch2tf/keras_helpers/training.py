"""Torch-exact losses, optimizers and learning-rate schedules for tf.keras.

Each top-level definition is self-contained (TensorFlow and ``math`` only), so the translator can
copy it verbatim into generated code. Everything computes in the dtype of the tensors it is given:
Keras casts losses to ``floatx`` and Python hyper-parameters through float32, which breaks float64
parity with torch, so hyper-parameters here become tensors of the variable's dtype directly and
schedules return float64.
"""

import math

import tensorflow as tf

# --------------------------------------------------------------------------------------------------
# Losses. The class axis is last (Keras layout) and `reduction` takes torch's values. Each loss
# computes in y_pred's dtype and skips Keras's casting and reduction (`__call__` is overridden).
# --------------------------------------------------------------------------------------------------


class TorchCrossEntropyLoss(tf.keras.losses.Loss):
    """torch's CrossEntropyLoss: weights (mean over their sum) with smoothing, ignore_index."""

    def __init__(
        self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, name=None
    ):
        super().__init__(name=name or "cross_entropy_loss", reduction=None)
        self.weight = None if weight is None else [float(w) for w in weight]
        self.ignore_index = int(ignore_index)
        self.torch_reduction = reduction
        self.label_smoothing = float(label_smoothing)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight; use the `weight` argument.")
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
            per_class = log_probs * target if weight is None else log_probs * target * weight
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
            smooth = tf.where(valid, -tf.reduce_sum(smooth, axis=-1), tf.zeros_like(picked))
        if self.torch_reduction == "none":
            return nll if ls == 0 else (1 - ls) * nll + smooth * (ls / classes)
        if self.torch_reduction == "sum":
            total = tf.reduce_sum(nll)
            return total if ls == 0 else (1 - ls) * total + tf.reduce_sum(smooth) * (ls / classes)
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


class TorchNLLLoss(tf.keras.losses.Loss):
    """torch's NLLLoss on any scores (Keras's SCCE renormalises them), weights, ignore_index."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", name=None):
        super().__init__(name=name or "nll_loss", reduction=None)
        self.weight = None if weight is None else [float(w) for w in weight]
        self.ignore_index = int(ignore_index)
        self.torch_reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight; use the `weight` argument.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        scores = tf.convert_to_tensor(y_pred)
        labels = tf.cast(y_true, tf.int64)
        valid = tf.not_equal(labels, self.ignore_index)
        safe = tf.where(valid, labels, tf.zeros_like(labels))
        picked = tf.gather(scores, safe, axis=-1, batch_dims=labels.shape.rank)
        if self.weight is None:
            w = tf.ones_like(picked)
        else:
            w = tf.gather(tf.constant(self.weight, scores.dtype), safe)
        w = tf.where(valid, w, tf.zeros_like(w))
        nll = tf.where(valid, -picked * w, tf.zeros_like(picked))
        if self.torch_reduction == "none":
            return nll
        if self.torch_reduction == "sum":
            return tf.reduce_sum(nll)
        return tf.reduce_sum(nll) / tf.reduce_sum(w)

    def get_config(self):
        return {
            "name": self.name,
            "weight": self.weight,
            "ignore_index": self.ignore_index,
            "reduction": self.torch_reduction,
        }


class TorchBCELoss(tf.keras.losses.Loss):
    """torch's BCELoss: logs clamped at -100 (Keras clips p to 1e-7) and torch's backward."""

    def __init__(self, weight=None, reduction="mean", name=None):
        super().__init__(name=name or "bce_loss", reduction=None)
        self.weight = weight if weight is None else tf.convert_to_tensor(weight).numpy().tolist()
        self.torch_reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight; use the `weight` argument.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        probs = tf.convert_to_tensor(y_pred)
        target = tf.cast(y_true, probs.dtype)

        @tf.custom_gradient
        def bce(p, y):
            log_p = tf.maximum(tf.math.log(p), -100.0)
            log_1mp = tf.maximum(tf.math.log1p(-p), -100.0)
            loss = (y - 1) * log_1mp - y * log_p

            def grad(upstream):
                # torch: grad * (p - y) / max((1 - p) * p, EPSILON), EPSILON = 1e-12 as a C float
                epsilon = tf.cast(tf.constant(1e-12, tf.float32), p.dtype)
                dp = upstream * (p - y) / tf.maximum((1 - p) * p, epsilon)
                return dp, upstream * (log_1mp - log_p)

            return loss, grad

        loss = bce(probs, target)
        if self.weight is not None:
            loss = loss * tf.constant(self.weight, probs.dtype)
        if self.torch_reduction == "none":
            return loss
        if self.torch_reduction == "sum":
            return tf.reduce_sum(loss)
        return tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "weight": self.weight, "reduction": self.torch_reduction}


class TorchBCEWithLogitsLoss(tf.keras.losses.Loss):
    """torch's BCEWithLogitsLoss: pos_weight, element-wise weight, a true 'sum' (Keras averages)."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None, name=None):
        super().__init__(name=name or "bce_with_logits_loss", reduction=None)
        self.weight = weight if weight is None else tf.convert_to_tensor(weight).numpy().tolist()
        self.torch_reduction = reduction
        self.pos_weight = (
            pos_weight if pos_weight is None else tf.convert_to_tensor(pos_weight).numpy().tolist()
        )

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight; use the `weight` argument.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        logits = tf.convert_to_tensor(y_pred)
        target = tf.cast(y_true, logits.dtype)
        log_sigmoid = tf.math.log_sigmoid(logits)
        if self.pos_weight is not None:
            log_weight = (tf.constant(self.pos_weight, logits.dtype) - 1) * target + 1
            log_sigmoid = log_sigmoid * log_weight
        loss = (1 - target) * logits - log_sigmoid
        if self.weight is not None:
            loss = loss * tf.constant(self.weight, logits.dtype)
        if self.torch_reduction == "none":
            return loss
        if self.torch_reduction == "sum":
            return tf.reduce_sum(loss)
        return tf.reduce_mean(loss)

    def get_config(self):
        return {
            "name": self.name,
            "weight": self.weight,
            "reduction": self.torch_reduction,
            "pos_weight": self.pos_weight,
        }


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
        return tf.reduce_sum(loss) if self.torch_reduction == "sum" else tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction}


class TorchL1Loss(tf.keras.losses.Loss):
    """torch's L1Loss: mean over all elements; Keras's 'sum' is a sum of per-row means."""

    def __init__(self, reduction="mean", name=None):
        super().__init__(name=name or "l1_loss", reduction=None)
        self.torch_reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        loss = tf.abs(y_pred - tf.cast(y_true, y_pred.dtype))
        if self.torch_reduction == "none":
            return loss
        return tf.reduce_sum(loss) if self.torch_reduction == "sum" else tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction}


class TorchSmoothL1Loss(tf.keras.losses.Loss):
    """torch's SmoothL1Loss(beta) = Huber(delta=beta) / beta, and plain L1 when beta is 0."""

    def __init__(self, reduction="mean", beta=1.0, name=None):
        super().__init__(name=name or "smooth_l1_loss", reduction=None)
        self.torch_reduction = reduction
        self.beta = float(beta)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        diff = tf.abs(y_pred - tf.cast(y_true, y_pred.dtype))
        if self.beta == 0:
            loss = diff
        else:
            loss = tf.where(diff < self.beta, 0.5 * diff * diff / self.beta, diff - 0.5 * self.beta)
        if self.torch_reduction == "none":
            return loss
        return tf.reduce_sum(loss) if self.torch_reduction == "sum" else tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction, "beta": self.beta}


class TorchHuberLoss(tf.keras.losses.Loss):
    """torch's HuberLoss: Keras's Huber computed in the input dtype, with torch's reductions."""

    def __init__(self, reduction="mean", delta=1.0, name=None):
        super().__init__(name=name or "huber_loss", reduction=None)
        self.torch_reduction = reduction
        self.delta = float(delta)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        diff = tf.abs(y_pred - tf.cast(y_true, y_pred.dtype))
        delta = self.delta
        loss = tf.where(diff < delta, 0.5 * diff * diff, delta * (diff - 0.5 * delta))
        if self.torch_reduction == "none":
            return loss
        return tf.reduce_sum(loss) if self.torch_reduction == "sum" else tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction, "delta": self.delta}


class TorchKLDivLoss(tf.keras.losses.Loss):
    """torch's KLDivLoss(log q, p): no clipping of q; 'mean' divides by every element."""

    def __init__(self, reduction="mean", log_target=False, name=None):
        super().__init__(name=name or "kl_div_loss", reduction=None)
        self.torch_reduction = reduction
        self.log_target = bool(log_target)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Torch losses take no sample_weight.")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        log_q = tf.convert_to_tensor(y_pred)
        target = tf.cast(y_true, log_q.dtype)
        if self.log_target:
            loss = tf.exp(target) * (target - log_q)
        else:
            loss = tf.math.xlogy(target, target) - target * log_q
        if self.torch_reduction == "none":
            return loss
        if self.torch_reduction == "sum":
            return tf.reduce_sum(loss)
        if self.torch_reduction == "batchmean" and log_q.shape.rank > 0:
            return tf.reduce_sum(loss) / tf.cast(tf.shape(log_q)[0], log_q.dtype)
        if self.torch_reduction == "batchmean":
            return tf.reduce_sum(loss)
        return tf.reduce_mean(loss)

    def get_config(self):
        return {"name": self.name, "reduction": self.torch_reduction, "log_target": self.log_target}


# --------------------------------------------------------------------------------------------------
# Optimizers. Each keeps a float learning rate in a float64 variable (Keras uses floatx), keeps
# hyper-parameters as Python floats turned into tensors of the variable's dtype, takes torch's
# coupled `weight_decay` (Keras's is decoupled), and clips `global_clipnorm` the torch way
# (clip_grad_norm_: g * min(1, max_norm / (norm + 1e-6))). `momentum` / `beta_1` may be a schedule
# (called with the iteration), which is how OneCycleLR's momentum cycling is reproduced.
# --------------------------------------------------------------------------------------------------


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
        coef = tf.minimum(tf.constant(self.global_clipnorm, dtype) / (total + 1e-6), 1.0)
        return [g if g is None else tf.convert_to_tensor(g) * tf.cast(coef, g.dtype) for g in grads]

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
            new_buf = tf.where(first, grad, buf * momentum + grad * (1 - self.dampening))
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
        self.exp_avgs, self.exp_avg_sqs, self.max_exp_avg_sqs, self.steps = [], [], [], []
        for variable in var_list:
            self.exp_avgs.append(self.add_variable_from_reference(variable, "exp_avg"))
            self.exp_avg_sqs.append(self.add_variable_from_reference(variable, "exp_avg_sq"))
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
        coef = tf.minimum(tf.constant(self.global_clipnorm, dtype) / (total + 1e-6), 1.0)
        return [g if g is None else tf.convert_to_tensor(g) * tf.cast(coef, g.dtype) for g in grads]

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
                self.assign(variable, variable * tf.cast(1 - lr * self.torch_weight_decay, dtype))
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


class TorchRMSprop(tf.keras.optimizers.Optimizer):
    """torch's RMSprop: eps outside the sqrt (Keras: inside), lr outside momentum, coupled decay."""

    def __init__(
        self,
        learning_rate=0.01,
        alpha=0.99,
        epsilon=1e-8,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
        maximize=False,
        name="torch_rmsprop",
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
        self.alpha = float(alpha)
        self.epsilon = float(epsilon)
        self.torch_weight_decay = float(weight_decay)
        self.momentum = momentum if callable(momentum) else float(momentum)
        self.centered = bool(centered)
        self.maximize = bool(maximize)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.square_avgs, self.grad_avgs, self.momentum_buffers = [], [], []
        for variable in var_list:
            self.square_avgs.append(self.add_variable_from_reference(variable, "square_avg"))
            if self.centered:
                self.grad_avgs.append(self.add_variable_from_reference(variable, "grad_avg"))
            if callable(self.momentum) or self.momentum > 0:
                self.momentum_buffers.append(
                    self.add_variable_from_reference(variable, "momentum_buffer")
                )

    def _clip_gradients(self, grads):
        if not self.global_clipnorm:
            return super()._clip_gradients(grads)
        norms = [tf.norm(tf.convert_to_tensor(g)) for g in grads if g is not None]
        dtype = max((n.dtype for n in norms), key=lambda d: d.size)
        total = tf.norm(tf.stack([tf.cast(n, dtype) for n in norms]))
        coef = tf.minimum(tf.constant(self.global_clipnorm, dtype) / (total + 1e-6), 1.0)
        return [g if g is None else tf.convert_to_tensor(g) * tf.cast(coef, g.dtype) for g in grads]

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        lr = tf.cast(learning_rate, dtype)
        alpha = self.alpha
        grad = tf.convert_to_tensor(gradient)
        if self.maximize:
            grad = -grad
        if self.torch_weight_decay != 0:
            grad = grad + variable * tf.constant(self.torch_weight_decay, dtype)
        square_avg = self.square_avgs[index] * alpha + tf.constant(1 - alpha, dtype) * grad * grad
        self.assign(self.square_avgs[index], square_avg)
        if self.centered:
            grad_avg = self.grad_avgs[index]
            grad_avg = grad_avg + tf.constant(1 - alpha, dtype) * (grad - grad_avg)
            self.assign(self.grad_avgs[index], grad_avg)
            avg = tf.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = tf.sqrt(square_avg)
        avg = avg + tf.constant(self.epsilon, dtype)
        if self.momentum_buffers:
            if callable(self.momentum):
                momentum = tf.cast(self.momentum(self.iterations), dtype)
            else:
                momentum = tf.constant(self.momentum, dtype)
            buf = self.momentum_buffers[index] * momentum + grad / avg
            self.assign(self.momentum_buffers[index], buf)
            self.assign_sub(variable, buf * lr)
        else:
            self.assign_sub(variable, lr * (grad / avg))

    def get_config(self):
        config = super().get_config()
        momentum = self.momentum
        if callable(momentum):
            momentum = tf.keras.optimizers.schedules.serialize(momentum)
        config.update(
            alpha=self.alpha,
            epsilon=self.epsilon,
            weight_decay=self.torch_weight_decay,
            momentum=momentum,
            centered=self.centered,
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


class TorchAdagrad(tf.keras.optimizers.Optimizer):
    """torch's Adagrad: eps outside the sqrt, lr_decay on a 1-based step, accumulator 0."""

    def __init__(
        self,
        learning_rate=0.01,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        epsilon=1e-10,
        maximize=False,
        name="torch_adagrad",
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
        self.lr_decay = float(lr_decay)
        self.torch_weight_decay = float(weight_decay)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)
        self.maximize = bool(maximize)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        value = self.initial_accumulator_value

        def initial_sum(shape, dtype=None):
            # Keras's Constant initializer would round the value through float32.
            return tf.fill(shape, tf.constant(value, dtype))

        self.state_sums, self.steps = [], []
        for variable in var_list:
            self.state_sums.append(
                self.add_variable_from_reference(variable, "sum", initializer=initial_sum)
            )
            self.steps.append(self.add_variable((), dtype="int64", name="step"))

    def _clip_gradients(self, grads):
        if not self.global_clipnorm:
            return super()._clip_gradients(grads)
        norms = [tf.norm(tf.convert_to_tensor(g)) for g in grads if g is not None]
        dtype = max((n.dtype for n in norms), key=lambda d: d.size)
        total = tf.norm(tf.stack([tf.cast(n, dtype) for n in norms]))
        coef = tf.minimum(tf.constant(self.global_clipnorm, dtype) / (total + 1e-6), 1.0)
        return [g if g is None else tf.convert_to_tensor(g) * tf.cast(coef, g.dtype) for g in grads]

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        self.assign_add(self.steps[index], 1)
        step = tf.cast(self.steps[index], tf.float64)
        grad = tf.convert_to_tensor(gradient)
        if self.maximize:
            grad = -grad
        if self.torch_weight_decay != 0:
            grad = grad + variable * tf.constant(self.torch_weight_decay, dtype)
        clr = tf.cast(tf.cast(learning_rate, tf.float64) / (1 + (step - 1) * self.lr_decay), dtype)
        state_sum = self.state_sums[index] + grad * grad
        self.assign(self.state_sums[index], state_sum)
        std = tf.sqrt(state_sum) + tf.constant(self.epsilon, dtype)
        self.assign_sub(variable, clr * (grad / std))

    def get_config(self):
        config = super().get_config()
        config.update(
            lr_decay=self.lr_decay,
            weight_decay=self.torch_weight_decay,
            initial_accumulator_value=self.initial_accumulator_value,
            epsilon=self.epsilon,
            maximize=self.maximize,
        )
        return config


class TorchParamGroups(tf.keras.optimizers.Optimizer):
    """torch's parameter groups: one inner optimizer per group; clip_grad_norm_ over them all."""

    def __init__(self, optimizers, variables, frozen_variables=(), global_clipnorm=None, name=None):
        # `variables`: one list per optimizer, of variables or of their positions (ints) in the
        # list the optimizer is built with (model.trainable_variables). `frozen_variables` (same
        # forms) are in no group: torch's optimizer does not update them.
        super().__init__(learning_rate=0.0, name=name or "torch_param_groups")
        if len(optimizers) != len(variables):
            raise ValueError(
                f"Expected one variable list per optimizer; received {len(optimizers)} "
                f"optimizers and {len(variables)} variable lists."
            )
        self.optimizers = list(optimizers)
        # Keras's own global_clipnorm differs from torch's
        self.clip_grad_norm = global_clipnorm
        # Keys and positions only: holding the variables would make Keras track them as our state.
        self._group_of = {}  # variable key -> group index (-1: frozen)
        self._group_at = {}  # position -> group index
        for index, group in list(enumerate(variables)) + [(-1, frozen_variables)]:
            for variable in group:
                if isinstance(variable, int):
                    self._group_at[variable] = index
                else:
                    self._group_of[self._var_key(variable)] = index

    @property
    def variables(self):
        return self._variables[:] + [v for opt in self.optimizers for v in opt.variables]

    @property
    def learning_rate(self):
        return self.optimizers[0].learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        raise TypeError("Set the learning rate on `optimizers[i]`: each group has its own.")

    def _split(self, grads, var_list):
        groups = [([], []) for _ in self.optimizers]
        for grad, variable in zip(grads, var_list, strict=True):
            index = self._group_of.get(self._var_key(variable))
            if index is None:
                raise ValueError(
                    f"Variable {variable.name} is in no parameter group; pass it in `variables` "
                    "or `frozen_variables`."
                )
            if index >= 0:
                groups[index][0].append(grad)
                groups[index][1].append(variable)
        return groups

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        for position, variable in enumerate(var_list):
            if position in self._group_at:
                self._group_of[self._var_key(variable)] = self._group_at[position]
        for optimizer, (_, group_vars) in zip(
            self.optimizers, self._split([None] * len(var_list), var_list), strict=True
        ):
            if group_vars:
                optimizer.build(group_vars)
        self._group_at = {
            position: self._group_of[self._var_key(variable)]
            for position, variable in enumerate(var_list)
        }

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        grads = list(grads)
        if self.clip_grad_norm:
            norms = [tf.norm(tf.convert_to_tensor(g)) for g in grads if g is not None]
            dtype = max((n.dtype for n in norms), key=lambda d: d.size)
            total = tf.norm(tf.stack([tf.cast(n, dtype) for n in norms]))
            coef = tf.minimum(tf.constant(self.clip_grad_norm, dtype) / (total + 1e-6), 1.0)
            grads = [
                g if g is None else tf.convert_to_tensor(g) * tf.cast(coef, g.dtype) for g in grads
            ]
        for optimizer, (group_grads, group_vars) in zip(
            self.optimizers, self._split(grads, trainable_variables), strict=True
        ):
            pairs = [(g, v) for g, v in zip(group_grads, group_vars, strict=True) if g is not None]
            if pairs:
                optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
            else:  # torch's scheduler still counts the step
                optimizer.iterations.assign_add(1)
        self.iterations.assign_add(1)

    def get_config(self):
        if self._group_of and not self.built:
            raise ValueError(
                "TorchParamGroups given variables is serialized by their positions, known once "
                "built: call `build(model.trainable_variables)` first."
            )
        groups = [[] for _ in range(len(self.optimizers) + 1)]  # the last: frozen
        for position, index in sorted(self._group_at.items()):
            groups[index].append(position)
        return {
            "name": self.name,
            "optimizers": [tf.keras.optimizers.serialize(o) for o in self.optimizers],
            "variables": groups[:-1],
            "frozen_variables": groups[-1],
            "global_clipnorm": self.clip_grad_norm,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizers"] = [
            tf.keras.optimizers.deserialize(o, custom_objects=custom_objects)
            for o in config["optimizers"]
        ]
        return cls(**config)


# --------------------------------------------------------------------------------------------------
# Learning-rate schedules: functions of the 0-based scheduler step in float64 (Keras's built-ins
# compute in float32). Wrap one in PerEpochSchedule when torch steps it once per epoch.
# --------------------------------------------------------------------------------------------------


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


class TorchMultiStepLR(tf.keras.optimizers.schedules.LearningRateSchedule):
    """torch's MultiStepLR: decays at the milestone itself (PiecewiseConstantDecay is one late)."""

    def __init__(self, learning_rate, milestones, gamma=0.1):
        self.learning_rate = float(learning_rate)
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)

    def __call__(self, step):
        step = tf.cast(step, tf.int64)
        passed = tf.reduce_sum(tf.cast(tf.constant(self.milestones, tf.int64) <= step, tf.float64))
        return self.learning_rate * tf.pow(tf.constant(self.gamma, tf.float64), passed)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "milestones": self.milestones,
            "gamma": self.gamma,
        }


class TorchExponentialLR(tf.keras.optimizers.schedules.LearningRateSchedule):
    """torch's ExponentialLR in float64 (ExponentialDecay(decay_steps=1) computes in float32)."""

    def __init__(self, learning_rate, gamma):
        self.learning_rate = float(learning_rate)
        self.gamma = float(gamma)

    def __call__(self, step):
        step = tf.cast(step, tf.float64)
        return self.learning_rate * tf.pow(tf.constant(self.gamma, tf.float64), step)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "gamma": self.gamma}


class TorchCosineAnnealingLR(tf.keras.optimizers.schedules.LearningRateSchedule):
    """torch's CosineAnnealingLR: periodic past T_max (Keras's CosineDecay stays at the minimum)."""

    def __init__(self, learning_rate, T_max, eta_min=0.0):
        self.learning_rate = float(learning_rate)
        self.T_max = int(T_max)
        self.eta_min = float(eta_min)

    def __call__(self, step):
        step = tf.cast(step, tf.float64)
        cosine = 1 + tf.cos(math.pi * step / self.T_max)
        return self.eta_min + (self.learning_rate - self.eta_min) * cosine / 2

    def get_config(self):
        return {"learning_rate": self.learning_rate, "T_max": self.T_max, "eta_min": self.eta_min}


class TorchLinearLR(tf.keras.optimizers.schedules.LearningRateSchedule):
    """torch's LinearLR (a factor of the lr) in float64; PolynomialDecay matches only in float32."""

    def __init__(self, learning_rate, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        self.learning_rate = float(learning_rate)
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = int(total_iters)

    def __call__(self, step):
        step = tf.minimum(tf.cast(step, tf.float64), float(self.total_iters))
        change = (self.end_factor - self.start_factor) * step / self.total_iters
        return self.learning_rate * (self.start_factor + change)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "start_factor": self.start_factor,
            "end_factor": self.end_factor,
            "total_iters": self.total_iters,
        }


class TorchOneCycleLR(tf.keras.optimizers.schedules.LearningRateSchedule):
    """torch's OneCycleLR lr (curve='lr') or momentum/beta1 (curve='momentum'): not in Keras."""

    def __init__(
        self,
        max_lr,
        total_steps,
        pct_start=0.3,
        anneal_strategy="cos",
        div_factor=25.0,
        final_div_factor=1e4,
        three_phase=False,
        base_momentum=0.85,
        max_momentum=0.95,
        curve="lr",
    ):
        if anneal_strategy not in ("cos", "linear") or curve not in ("lr", "momentum"):
            raise ValueError(
                "Expected anneal_strategy 'cos' or 'linear' and curve 'lr' or 'momentum'; "
                f"received anneal_strategy={anneal_strategy!r}, curve={curve!r}."
            )
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.anneal_strategy = anneal_strategy
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)
        self.three_phase = bool(three_phase)
        self.base_momentum = float(base_momentum)
        self.max_momentum = float(max_momentum)
        self.curve = curve

    def __call__(self, step):
        initial_lr = self.max_lr / self.div_factor
        min_lr = initial_lr / self.final_div_factor
        low_m, high_m = self.base_momentum, self.max_momentum
        total, pct = self.total_steps, self.pct_start
        # (end_step, start_lr, end_lr, start_momentum, end_momentum)
        if self.three_phase:
            phases = [
                (float(pct * total) - 1, initial_lr, self.max_lr, high_m, low_m),
                (float(2 * pct * total) - 2, self.max_lr, initial_lr, low_m, high_m),
                (total - 1, initial_lr, min_lr, high_m, high_m),
            ]
        else:
            phases = [
                (float(pct * total) - 1, initial_lr, self.max_lr, high_m, low_m),
                (total - 1, self.max_lr, min_lr, low_m, high_m),
            ]
        step = tf.cast(step, tf.float64)
        tf.debugging.assert_less_equal(
            step,
            tf.constant(total, tf.float64),
            "torch's OneCycleLR raises when stepped past total_steps",
        )
        result = None
        start_step = 0.0
        for end_step, start_lr, end_lr, start_m, end_m in phases:
            start, end = (start_lr, end_lr) if self.curve == "lr" else (start_m, end_m)
            fraction = (step - start_step) / (end_step - start_step)
            if self.anneal_strategy == "cos":
                value = end + (start - end) / 2.0 * (tf.cos(math.pi * fraction) + 1)
            else:
                value = (end - start) * fraction + start
            if result is None:
                result = value
            else:  # phase i applies once the earlier phases have ended
                result = tf.where(step > start_step, value, result)
            start_step = end_step
        return result

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "anneal_strategy": self.anneal_strategy,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "three_phase": self.three_phase,
            "base_momentum": self.base_momentum,
            "max_momentum": self.max_momentum,
            "curve": self.curve,
        }


class TorchSequentialLR(tf.keras.optimizers.schedules.LearningRateSchedule):
    """torch's SequentialLR: schedule i restarts at its own step 0 at milestone i-1."""

    def __init__(self, schedules, milestones):
        if len(milestones) != len(schedules) - 1:
            raise ValueError(
                f"Expected len(milestones) == len(schedules) - 1; received {len(milestones)} "
                f"milestones and {len(schedules)} schedules."
            )
        self.schedules = list(schedules)
        self.milestones = [int(m) for m in milestones]

    def __call__(self, step):
        step = tf.cast(step, tf.int64)
        index = tf.reduce_sum(tf.cast(tf.constant(self.milestones, tf.int64) <= step, tf.int32))
        starts = [0] + self.milestones

        def branch(schedule, start):
            return lambda: tf.cast(schedule(step - start), tf.float64)

        return tf.switch_case(
            index, [branch(s, start) for s, start in zip(self.schedules, starts, strict=True)]
        )

    def get_config(self):
        return {
            "schedules": [tf.keras.optimizers.schedules.serialize(s) for s in self.schedules],
            "milestones": self.milestones,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        schedules = [
            tf.keras.optimizers.schedules.deserialize(s, custom_objects=custom_objects)
            for s in config["schedules"]
        ]
        return cls(schedules, config["milestones"])
