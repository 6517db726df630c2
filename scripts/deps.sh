#!/usr/bin/env bash
# Installs the Debian packages the recorder needs to build, run and test (or, with arguments,
# those packages), but only those that are missing, so that it is quick and quiet when
# everything is there.
set -euo pipefail

packages=(
  gcc libc6-dev pkg-config
  libavcodec-dev libavformat-dev libavdevice-dev libavfilter-dev libswscale-dev
  libswresample-dev libavutil-dev libyuv-dev
  ffmpeg
  xvfb xauth x11-utils x11-xserver-utils xdotool
  chromium curl
  mmdebstrap   # the package test's clean Debian 12 root (packaging/)
)
# Node.js and npm run the OpenAPI linter of the tests. Only when the commands are missing: a
# Node.js from elsewhere (NodeSource's nodejs carries its own npm) conflicts with Debian's npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

if [ $# -gt 0 ]; then
  packages=("$@")
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "deps: missing Debian packages (${missing[*]}) and not root; install them as root" >&2
    exit 1
  fi
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
