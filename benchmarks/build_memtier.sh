#!/usr/bin/env bash
# Builds memtier_benchmark (Redis Ltd.'s load generator for redis and memcached) from its
# public source, for benchmarks/vs_memtier.py: Debian ships no memtier package.
#
#   benchmarks/build_memtier.sh [SOURCE]    # -> build/memtier/memtier_benchmark
#
# SOURCE is a memtier_benchmark source tree, or a git directory (a bare mirror or a
# clone's .git) whose HEAD is exported; without it, the script clones the public repository:
#
#   git clone https://github.com/RedisLabs/memtier_benchmark
#
# Build dependencies (Debian/Ubuntu, installed when run as root and missing; libtool for
# configure.ac's LT_INIT):
#   autoconf automake libtool libpcre3-dev libevent-dev pkg-config zlib1g-dev libssl-dev g++ make
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/build/memtier"
SRC="$OUT/src"
SOURCE="${1:-}"
DEPS=(autoconf automake libtool libpcre3-dev libevent-dev pkg-config zlib1g-dev libssl-dev g++ make)

missing=()
for pkg in "${DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "build_memtier: missing ${missing[*]}; install them with your package manager" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rm -rf "$SRC"
mkdir -p "$SRC"
if [ -z "$SOURCE" ]; then
    git clone --depth 1 https://github.com/RedisLabs/memtier_benchmark "$SRC"
elif [ -f "$SOURCE/configure.ac" ]; then
    cp -a "$SOURCE/." "$SRC"
else  # a git directory: export its HEAD
    git --git-dir="$SOURCE" archive HEAD | tar -x -C "$SRC"
    git --git-dir="$SOURCE" rev-parse HEAD > "$SRC/COMMIT"
fi
[ -f "$SRC/COMMIT" ] || git -C "$SRC" rev-parse HEAD > "$SRC/COMMIT" 2>/dev/null || echo unknown > "$SRC/COMMIT"

cd "$SRC"
# memtier's version.sh stamps `git rev-parse HEAD`: memtier's own commit, never that of a
# repository the build folder happens to sit in (this one).
export GIT_CEILING_DIRECTORIES="$OUT"
if [ -n "$SOURCE" ] && [ ! -f "$SOURCE/configure.ac" ]; then
    export GIT_DIR="$SOURCE"
fi
autoreconf -ivf >/dev/null 2>&1
./configure --quiet
make -j"$(nproc)" --quiet >/dev/null
cp memtier_benchmark "$OUT/memtier_benchmark"
cp COMMIT "$OUT/COMMIT"
echo "built $OUT/memtier_benchmark ($("$OUT/memtier_benchmark" --version | head -1), commit $(cat COMMIT))"
