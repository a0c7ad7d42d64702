"""Notebook panels: train a model and sample from it with sliders and buttons, no code to read.

A chapter shows one line, `nb.training_panel()` or `nb.sampling_panel(...)`; everything a
student touches lives here, where it is tested (tests/test_widgets.py drives the Python side,
tests/test_browser.py clicks through JupyterLab in Chromium).
"""

from tinylm.notebook.panels.sampling import SamplingPanel, sampling_panel
from tinylm.notebook.panels.training import TrainingPanel, training_panel

__all__ = ["SamplingPanel", "TrainingPanel", "sampling_panel", "training_panel"]
