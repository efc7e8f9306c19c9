"""Examples in docstrings are run, so the documentation cannot drift from the code."""

from __future__ import annotations

import doctest

import chan_nb.codec


def test_codec_docstring_examples() -> None:
    result = doctest.testmod(chan_nb.codec)
    assert result.attempted >= 2
    assert result.failed == 0
