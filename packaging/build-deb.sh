#!/usr/bin/env bash
# Builds the Debian package from the build tree (cmake/QuenchPackaging.cmake), installs it with
# apt, and starts both programs from their installed paths. Run by packaging/run-tests.sh after
# the tests; QUENCH_DEB_INSTALL=0 only builds the package.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${QUENCH_BUILD_DIR:-build}
# A headless build (-DQUENCH_GUI=OFF) has no window to package.
if ! grep -q '^QUENCH_GUI:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
  echo "deb: $BUILD_DIR is built without the window (QUENCH_GUI=OFF); no package"
  exit 0
fi
cmake --build "$BUILD_DIR" --target quench quench-cli
rm -f "$BUILD_DIR"/quench_*.deb
(cd "$BUILD_DIR" && cpack -G DEB >/dev/null)
deb=$(ls "$BUILD_DIR"/quench_*.deb)
echo "deb: built $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb -f "$deb" Depends
[ "${QUENCH_DEB_INSTALL:-1}" = 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  # Installing needs root; without rights the package is built and checked, not installed.
  if ! sudo -n true 2>/dev/null; then
    echo "deb: not root and no password-less sudo: built, not installed (QUENCH_DEB_INSTALL=0 says so quietly)"
    exit 0
  fi
  SUDO="sudo"
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --reinstall "$(realpath "$deb")" >/dev/null
# From the installed paths, with nothing of the build tree on the way.
(cd / && env -u LD_LIBRARY_PATH QT_QPA_PLATFORM=offscreen /usr/bin/quench --version)
(cd / && env -u LD_LIBRARY_PATH /usr/bin/quench-cli --help >/dev/null && echo "quench-cli --help: ok")
for f in /usr/share/applications/quench.desktop /usr/share/icons/hicolor/scalable/apps/quench.svg \
         /usr/share/metainfo/dev.quench.Quench.metainfo.xml; do
  dpkg -S "$f" >/dev/null || { echo "deb: $f is not installed by the package" >&2; exit 1; }
done
if command -v appstreamcli >/dev/null 2>&1; then appstreamcli validate --no-net /usr/share/metainfo/dev.quench.Quench.metainfo.xml >/dev/null; fi
echo "deb: installed; quench and quench-cli start from /usr/bin"
