"""The training library: data, models, optimizer, the loop, evaluation, sampling, checkpoints."""
