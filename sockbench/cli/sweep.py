"""`sockbench sweep`: the same run at a list or range of open-loop rates."""

from __future__ import annotations

from sockbench.cli.app import app
from sockbench.cli.examples import epilog
from sockbench.cli.params import declare


@app.command(epilog=epilog("sweep"))
@declare("sweep")
def sweep(values: dict[str, object], spelled: dict[str, str]) -> None:
    """Run the same load at each rate (--rate 1k:20k:1k): one row per rate and the
    latency–load curve; stops once --stop-after-fail rates in a row fail."""
    from sockbench.cli.at_rates import run_at_rates

    run_at_rates("sweep", values)
