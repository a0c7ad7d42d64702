"""Helpers for the chapters where the student writes the code: they check the student's
version against tinylm's own, so a mistake is found at once and named.

The core never imports this package.
"""
