"""Packaging beyond pyproject.toml: the stored benchmark results travel inside the wheel.

The chapters read `benchmarks/results/` (see tinylm/lab/results.py). A non-editable install (Colab's
`pip install "tinylm @ git+URL"`) has no checkout beside it, so the results are packaged as
`tinylm.stored_results`, mapped from that folder; pyproject.toml cannot map a folder outside
the package into it, hence this file, which holds all the package data (a
`[tool.setuptools.package-data]` table in pyproject.toml would replace this one).
"""

import warnings

from setuptools import find_packages, setup

# What setuptools would print at length to every student's `pip install -e .`: the results'
# folders with identifier names (attention_speed, ...) look like packages to it, and the mapped
# folder makes it warn about editable installs in general; both are data, not code, here.
warnings.filterwarnings("ignore", message=r".*is absent from the `packages` configuration")
warnings.filterwarnings("ignore", message=r"Editable installation")

setup(
    packages=[*find_packages(include=["tinylm", "tinylm.*"]), "tinylm.stored_results"],
    package_dir={"tinylm.stored_results": "benchmarks/results"},
    package_data={"tinylm.stored_results": ["*/*.json", "*/*.jsonl", "*/*/*.json"],
                  "tinylm.web": ["assets/*.js", "assets/*.css", "assets/vendor/*"]},  # inlined
)
