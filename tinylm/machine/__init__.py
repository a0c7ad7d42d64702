"""Where a run trains: device and number format, threads, memory, compiling, other trainings."""
