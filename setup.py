"""Packaging beyond pyproject.toml: the stored benchmark results travel inside the wheel.

The chapters read `benchmarks/results/` (see tinylm/results.py). A non-editable install (Colab's
`pip install "tinylm @ git+URL"`) has no checkout beside it, so the results are packaged as
`tinylm.stored_results`, mapped from that folder; pyproject.toml cannot map a folder outside
the package into it, hence this file, which holds all the package data (a
`[tool.setuptools.package-data]` table in pyproject.toml would replace this one).
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["tinylm", "tinylm.*"]), "tinylm.stored_results"],
    package_dir={"tinylm.stored_results": "benchmarks/results"},
    package_data={"tinylm.stored_results": ["*/*.json", "*/*.jsonl", "*/*/*.json"],
                  "tinylm.web": ["assets/*.js", "assets/*.css", "assets/vendor/*"]},  # inlined
)
