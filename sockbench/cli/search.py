"""`sockbench search`: the highest open-loop rate at which every --slo holds."""

from __future__ import annotations

from sockbench.cli.app import app
from sockbench.cli.examples import epilog
from sockbench.cli.params import declare


@app.command(epilog=epilog("search"))
@declare("search")
def search(values: dict[str, object], spelled: dict[str, str]) -> None:
    """Find the capacity at an SLO (--slo 'p99 < 5ms'): double the rate from --rate-min
    until an SLO fails, bisect to --precision, confirm with a repeat. Exit 0 when found,
    4 when even --rate-min fails, 1 when the target answered nothing usable."""
    from sockbench.cli.at_rates import run_at_rates

    run_at_rates("search", values)
