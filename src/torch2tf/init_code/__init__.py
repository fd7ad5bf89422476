"""Reading init code into initializer arguments (see :mod:`torch2tf.initializers`)."""
