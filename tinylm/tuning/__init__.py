"""Tuning to this machine: the device and batch choice, the speed probe, the size rule."""
