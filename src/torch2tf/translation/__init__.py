"""The passes of ``translate_source`` (see :mod:`torch2tf.translate`, the public entry point)."""
