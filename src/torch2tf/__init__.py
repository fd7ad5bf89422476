"""torch2tf: convert PyTorch models into readable tf.keras source, weights and a parity report."""
