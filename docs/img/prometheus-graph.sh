#!/usr/bin/env bash
# Makes docs/img/prometheus-graph.png (docs/metrics.md): a private Prometheus scrapes a
# 30-second sockbench run's --metrics-port every second, then headless Chromium renders
# Prometheus's own graph page of it. Everything binds 127.0.0.1; every process it starts
# is stopped on exit. Needs prometheus and chromium (.ci/system-deps installs both).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metrics=$(free_port)
web=$(free_port)
cat > "$work/prometheus.yml" <<YML
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: sockbench
    static_configs: [{targets: ['127.0.0.1:$metrics']}]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$web" --log.level=warn &
pids+=($!)
until curl -sf "http://127.0.0.1:$web/-/ready" >/dev/null; do sleep 0.2; done
# Prometheus starts scraping a new target a few seconds after it starts.
until curl -sf "http://127.0.0.1:$web/api/v1/targets" | grep -q '"health":"down"'; do sleep 0.2; done
(cd "$root" && "$python" -m sockbench run --clients 50 --duration 30s --warmup 2s \
    --metrics-port "$metrics" --out '' -q)
q() { "$python" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
page="http://127.0.0.1:$web/graph?g0.expr=$(q 'sockbench_rate')&g0.tab=0&g0.range_input=40s"
page+="&g1.expr=$(q 'sockbench_latency_seconds{quantile=~"0.5|0.99|1"}')&g1.tab=0&g1.range_input=40s"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$work/profile" --window-size=1280,1450 --virtual-time-budget=15000 \
    --screenshot="$here/prometheus-graph.png" "$page" 2>/dev/null
echo "wrote $here/prometheus-graph.png"
