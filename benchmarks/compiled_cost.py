"""Whether compiling the pure hot modules with mypyc pays: pure against compiled, A B A B.

Two copies of sockbench from one commit (``git archive``, ``--rev``): one left pure, one
with the hot modules (``--modules``: the exchange, the matchers, the protocol parsers,
the recorder and its histogram, the connection lifecycle and the epoll pump with its
request issue) compiled in place by mypyc, and the C extensions of the compiled build
(the pump's system-call shim, ``--no-shim`` to leave it out) built by the copy's own
``sysio.build_shim``. Each
measurement runs in a fresh process whose ``PYTHONPATH`` picks the copy, the two
alternated in every round:

1. The per-request steps (``_protocol_steps.py``: build, kind, parse, and the whole
   issue-reply-record cycle without the socket calls), ns, pinned to ``--cpu``.
2. The generator's CPU per request of ``sockbench run --workers 1 --client-cpus 1``
   (the result's ``generator`` section over its window), all and user-space only,
   against servers pinned to CPU 0: a ``sockbench serve --server selectors`` echo,
   redis-server (PING with ``--send/--expect``; SET:GET 1:10 unpipelined and
   ``--pipeline 8``), memcached (SET:GET 1:10) and nginx (HTTP GET, 100 connections),
   as ``vs_memtier.py`` and ``vs_wrk.py`` run them.

CPU per request is far less disturbed by a busy machine than req/s, and the user-space
part is the only part compiling can change (the kernel's send/recv/epoll stay).

    .venv/bin/python benchmarks/compiled_cost.py            # ~12 minutes
    .venv/bin/python benchmarks/compiled_cost.py --quick    # ~5 minutes
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

from _common import (
    RESULTS,
    ROOT,
    fmt,
    free_port,
    log,
    machine_line,
    md_table,
    median,
    raise_fd_limit,
    run_bounded,
    running,
    sockbench_run,
    wait_for_quiet,
    wait_tcp,
)
from protocol_cost import _steps_once, _tree
from vs_memtier import server_argv
from vs_wrk import PATH, start_nginx

# The modules the compiled build compiles (pyproject.toml's [tool.sockbench] compiled, which
# setup.py reads too). Not core/protocols/contract.py: once compiled, its @runtime_checkable
# Protocol class fails at import (TypeError), and nothing in it runs per request.
HOT_MODULES: tuple[str, ...] = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["sockbench"]["compiled"]
)
# The copy's own shim, built in place by its own sysio.build_shim (from its own _sysio.c).
SHIM_SOURCE = Path("sockbench", "engine", "io", "_sysio.c")
_BUILD_SHIM = (
    "from pathlib import Path\nfrom sockbench.engine.io import sysio\nsysio.build_shim(Path())"
)
SERVER_CPU, GENERATOR_CPU = "0", "1"
QUIET_MAX_S = 2.0  # a shared machine: wait this long at most for a quiet moment
# workload -> (server, sockbench run options)
WORKLOADS: dict[str, tuple[str, list[str]]] = {
    "echo TCP 64 B, 50 clients (selectors server)": (
        "echo", ["--clients", "50", "--payload", "64"],
    ),
    "redis PING --send/--expect, 10 clients": (
        "redis", ["--clients", "10", "--send", "PING\\r\\n", "--expect", "+PONG\\r\\n"],
    ),
    "redis SET:GET 1:10, 10 clients": (
        "redis", ["--clients", "10", "--protocol", "redis", "--ratio", "1:10",
                  "--value-size", "32", "--key-pattern", "R", "--key-space", "100000"],
    ),
    "redis SET:GET 1:10 --pipeline 8, 10 clients": (
        "redis", ["--clients", "10", "--protocol", "redis", "--ratio", "1:10", "--pipeline",
                  "8", "--value-size", "32", "--key-pattern", "R", "--key-space", "100000"],
    ),
    "memcached SET:GET 1:10, 10 clients": (
        "memcache", ["--clients", "10", "--protocol", "memcache", "--ratio", "1:10",
                     "--value-size", "32", "--key-pattern", "R", "--key-space", "100000"],
    ),
    "HTTP GET from nginx, 100 connections": (
        "nginx", ["--clients", "100", "--protocol", "http", "--http-path", PATH],
    ),
}  # fmt: skip
TREES = ("pure", "mypyc")
GENERATOR_HEADERS = [
    "workload", "CPU µs/req pure", "mypyc", "ratio", "user µs/req pure", "mypyc", "ratio",
    "req/s pure", "req/s mypyc", "every run, CPU µs/req",
]  # fmt: skip


def compile_tree(tree: Path, modules: list[str], shim: bool) -> float:
    """Compile ``modules`` (dotted names) of the copy at ``tree`` in place with mypyc, and
    its system-call shim if ``shim``; seconds taken."""
    mypyc = shutil.which("mypyc", path=str(Path(sys.executable).parent)) or "mypyc"
    files = [str(Path(*name.split("."))) + ".py" for name in modules]
    t0 = time.monotonic()
    done = run_bounded([mypyc, *files], timeout_s=1200, cwd=tree)
    if done.returncode != 0:
        raise SystemExit(f"mypyc failed:\n{done.stdout.decode()[-3000:]}{done.stderr.decode()}")
    if shim:
        done = run_bounded([sys.executable, "-c", _BUILD_SHIM], timeout_s=300, cwd=tree)
        if done.returncode != 0:
            raise SystemExit(f"the shim's build failed:\n{done.stderr.decode()[-3000:]}")
    return time.monotonic() - t0


def loaded_from(tree: Path, module: str) -> str:
    """The file ``module`` is imported from with ``tree`` first on the path."""
    code = f"import {module} as m; print(m.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(tree)}, check=True,
        capture_output=True, text=True, timeout=60, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    return out.stdout.strip()


@contextlib.contextmanager
def servers(kinds: set[str], workdir: Path) -> Iterator[dict[str, int]]:
    """Each server the workloads need, pinned to SERVER_CPU: name -> port."""
    ports: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        for kind in sorted(kinds):
            port = free_port()
            if kind == "echo":
                bind = f"127.0.0.1:{port}"
                serve = ["serve", "--server", "selectors", "--proto", "tcp", "--bind", bind]
                argv = ["taskset", "-c", SERVER_CPU, sys.executable, "-m", "sockbench", *serve]
            elif kind == "nginx":
                (workdir / "nginx").mkdir()
                argv = start_nginx(workdir / "nginx", port)
            else:
                argv = server_argv(kind, port, str(workdir))
            stack.enter_context(running(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_tcp(port)
            ports[kind] = port
        yield ports


def generator_costs(
    args: argparse.Namespace, trees: dict[str, Path], ports: dict[str, int]
) -> dict[tuple[str, str], list[tuple[float, float, float]]]:
    """(CPU µs/request, user CPU µs/request, req/s) of every run, by (workload, tree)."""
    runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for rep in range(args.reps):
        for workload in args.workloads:
            server, options = WORKLOADS[workload]
            order = TREES if rep % 2 == 0 else TREES[::-1]  # A B, then B A
            for tree in order:
                wait_for_quiet(QUIET_MAX_S)
                result = sockbench_run(
                    [
                        "--target", f"tcp://127.0.0.1:{ports[server]}", *options,
                        "--workers", "1", "--client-cpus", GENERATOR_CPU,
                        "--duration", str(args.duration), "--warmup", "1", "--timeout", "5",
                    ],
                    timeout_s=args.duration + 120,
                    prefix=["env", f"PYTHONPATH={trees[tree]}"],
                )  # fmt: skip
                totals = result["totals"]
                rps = float(totals["throughput_rps"])
                gen = result["generator"]
                cpu = float(gen["cpu_percent_mean"]) / 100 / rps * 1e6
                user = float(gen["cpu_user_percent_mean"]) / 100 / rps * 1e6
                if sum(totals["errors"].values()):
                    log(f"  errors: {totals['errors']}")
                runs.setdefault((workload, tree), []).append((cpu, user, rps))
                log(f"rep {rep + 1} {workload} ({tree}): {cpu:.2f} µs CPU ({user:.2f} user)/req, "
                    f"{rps:,.0f} req/s")  # fmt: skip
    return runs


def generator_rows(
    runs: dict[tuple[str, str], list[tuple[float, float, float]]], workloads: list[str]
) -> list[list[str]]:
    rows = []
    for workload in workloads:
        pure, comp = runs[workload, "pure"], runs[workload, "mypyc"]
        cells = []
        for i in range(2):  # all CPU, user CPU
            a, b = median([r[i] for r in pure]), median([r[i] for r in comp])
            cells += [fmt(a, 2), fmt(b, 2), f"{b / a:.2f}"]
        rps_a, rps_b = median([r[2] for r in pure]), median([r[2] for r in comp])
        every = "; ".join(
            f"{name} " + ", ".join(fmt(r[0], 2) for r in runs[workload, name]) for name in TREES
        )
        rows.append([workload, *cells, fmt(rps_a), fmt(rps_b), every])
    return rows


def step_rows(args: argparse.Namespace, trees: dict[str, Path]) -> list[list[str]]:
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in TREES}
    for rnd in range(args.step_rounds):
        order = TREES if rnd % 2 == 0 else TREES[::-1]
        for name in order:
            wait_for_quiet(QUIET_MAX_S)
            samples[name].append(_steps_once(trees[name], int(GENERATOR_CPU), 7))
            log(f"steps round {rnd + 1} {name}: cycle get {samples[name][-1]['cycle get']:.0f} ns")
    rows = []
    for step in samples["pure"][0]:
        a = median([s[step] for s in samples["pure"]])
        b = median([s[step] for s in samples["mypyc"]])
        rows.append([step, fmt(a), fmt(b), f"{b / a:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rev", default="HEAD", help="the commit both copies come from")
    parser.add_argument("--modules", default=",".join(HOT_MODULES), help="modules to compile")
    parser.add_argument("--no-shim", action="store_true", help="mypyc alone, no C shim")
    parser.add_argument("--reps", type=int, default=4, help="runs per workload and copy")
    parser.add_argument("--step-rounds", type=int, default=6, help="rounds of step timing")
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per run")
    parser.add_argument("--workloads", default=",".join(str(i) for i in range(len(WORKLOADS))),
                        help="indices into the workloads (0 echo .. 5 HTTP)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="2 reps, 2 s windows, 2 rounds")
    parser.add_argument("--out", type=Path, default=RESULTS / "compiled_cost.md")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.duration, args.step_rounds = 2, 2.0, 2
    names = list(WORKLOADS)
    args.workloads = [names[int(i)] for i in args.workloads.split(",")]
    modules = args.modules.split(",")
    args.rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.rev],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    raise_fd_limit()
    log(f"measuring {machine_line()}")
    with tempfile.TemporaryDirectory(prefix="sockbench-mypyc-") as tmp:
        trees = {name: Path(tmp, name) for name in TREES}
        for tree in trees.values():
            tree.mkdir()
            _tree(args.rev, tree, ("sockbench", "pyproject.toml"))  # mypy's settings too
        shim = not args.no_shim and (trees["mypyc"] / SHIM_SOURCE).exists()
        build_s = compile_tree(trees["mypyc"], modules, shim)
        froms = {name: loaded_from(tree, modules[0]) for name, tree in trees.items()}
        assert froms["mypyc"].endswith(".so") and froms["pure"].endswith(".py"), froms
        log(f"compiled {len(modules)} modules in {build_s:.0f} s")
        steps = step_rows(args, trees)
        kinds = {WORKLOADS[w][0] for w in args.workloads}
        with servers(kinds, Path(tmp)) as ports:
            runs = generator_costs(args, trees, ports)
    load = ", ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
    text = "\n".join(
        [
            "# Compiled with mypyc, or pure Python: what the hot modules cost the generator",
            "",
            f"Machine: {machine_line()}; the copies measured are of `{args.rev}`. **A shared, "
            f"loaded machine** (load average at the end: {load}): read the ratios.",
            "",
            f"Compiled ({build_s:.0f} s with mypyc): "
            + ", ".join(f"`{m}`" for m in modules)
            + (
                "; C: the system-call shim (`sockbench/engine/io/_sysio.c`)"
                if shim
                else "; no C shim"
            )
            + ". Everything else (trio, the worker, the CLI) runs as Python in both copies.",
            "",
            f"## The steps of a request (`_protocol_steps.py`, pinned to CPU {GENERATOR_CPU}; "
            f"median over {args.step_rounds} rounds of the best of 7 × 50,000, the copies "
            "alternated in fresh processes)",
            "",
            md_table(["step (ns per request)", "pure", "mypyc", "mypyc/pure"], steps),
            "",
            f"## Generator CPU per request (`sockbench run --workers 1 --client-cpus "
            f"{GENERATOR_CPU}`, {args.duration:g} s after 1 s of warm-up; servers on CPU "
            f"{SERVER_CPU}; median of {args.reps}, the copies alternated A B, B A)",
            "",
            md_table(GENERATOR_HEADERS, generator_rows(runs, args.workloads)),
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text.rstrip() + "\n")
    print(text)
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
