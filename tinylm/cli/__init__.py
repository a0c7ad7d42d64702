"""The command line: `python -m tinylm ...`."""
