"""Torch-exact learning-rate schedules for tf.keras (see training.py for what these helpers
share)."""

import math

import tensorflow as tf

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
