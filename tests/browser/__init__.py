"""Helpers for the real-browser tests: JupyterLab and static servers, Chromium, artifacts."""
