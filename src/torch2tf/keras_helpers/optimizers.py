"""Torch-exact optimizers for tf.keras (see training.py for what these helpers share)."""

import tensorflow as tf

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
