"""A result's build in the report: the compiled one is said, pure (the default) is not."""

from __future__ import annotations

import pytest

from sockbench.report.resource_fields import environment_fields

ENV = {"sockbench": "0.1.0", "trio": "0.35.0", "hdrhistogram": "0.10.8"}


@pytest.mark.parametrize(
    ("build", "said"),
    [
        (
            "compiled",
            "sockbench 0.1.0, trio 0.35.0, hdrhistogram 0.10.8 (sockbench compiled with mypyc)",
        ),
        ("pure", "sockbench 0.1.0, trio 0.35.0, hdrhistogram 0.10.8"),
        (None, "sockbench 0.1.0, trio 0.35.0, hdrhistogram 0.10.8"),  # a result from before
    ],
)
def test_the_versions_line_names_a_compiled_build(build: str | None, said: str) -> None:
    env = {**ENV, "sockbench_build": build} if build else ENV
    assert dict(environment_fields({"environment": env}))["versions"] == said
