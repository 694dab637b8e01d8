"""Only the optional C part of tocsin; everything else is in pyproject.toml.

The alert fingerprint (sorted labels, FNV-1a 64) is compiled when a C compiler is at hand
(``optional=True``: without one the build goes on and tocsin computes it in Python)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("tocsin.alerts._fnv", ["src/tocsin/alerts/_fnv.c"], optional=True),
    ]
)
