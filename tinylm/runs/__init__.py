"""A training run: prepared for the machine, then the loop; its folder and its result."""
