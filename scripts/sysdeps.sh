#!/usr/bin/env bash
# System packages that `make demo` / `make test` need, installed with apt-get when missing
# (CI runs as root on a fresh Debian machine). One apt-get call for everything missing.
#   strace                         the offline guard traces the native SDK's connect() calls
#   chromium chromium-driver       HTML report tests and monitor screenshots (never a download)
#   fonts-noto-cjk                 Korean reports render with real glyphs
#   cmake pkg-config libav*-dev    vpdq (Meta's vPDQ) is built from source against FFmpeg
#   nodejs npm                     the independent soft-binding conformance suite
# usage: scripts/sysdeps.sh build   (what installing the package needs: vpdq's build)
#        scripts/sysdeps.sh test    (that, plus what the tests use)
set -euo pipefail
packages=(cmake pkg-config libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
          libavdevice-dev)
if [[ ${1:-test} == test ]]; then
  packages+=(strace chromium chromium-driver fonts-noto-cjk nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node may come from elsewhere (nvm, a distribution's own build): accept what is on PATH.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"
((${#missing[@]})) || exit 0
if ! command -v apt-get >/dev/null || [[ $(id -u) != 0 ]]; then
  echo "make: these system packages are missing: ${missing[*]}" >&2
  echo "      install them (Debian/Ubuntu: sudo apt-get install -y ${missing[*]}) and run make again" >&2
  exit 1
fi
echo "make: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
