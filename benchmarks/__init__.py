"""The benchmarks behind ``chan-nb bench`` (BENCHMARKS.md) — part of the source checkout only.

Not installed with the package: ``chan-nb bench`` finds this folder next to the
``chan_nb`` package of an editable install, or in the working directory, and says so
when it finds neither (a wheel install). :mod:`benchmarks.groups` lists what runs.
"""
