"""The examples in docs/fate.md run (so the page cannot drift from the code)."""

from __future__ import annotations

import re

from tests.conftest import PROJECT_ROOT


def test_fate_doc_examples_run() -> None:
    text = (PROJECT_ROOT / "docs" / "fate.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, "docs/fate.md", "exec"), {})
