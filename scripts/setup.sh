#!/usr/bin/env bash
# Install what gr-isac_ae needs on Debian 12/13: system packages (GNU Radio 3.10 and the
# scientific Python stack from Debian, so GNU Radio's bindings and numpy agree), then the
# venv with the pinned torch. Idempotent: every step is skipped when already done.
set -euo pipefail
VENV=${1:-.venv}

DEBIAN_PACKAGES=(
  gnuradio gnuradio-dev cmake g++ make pkg-config pybind11-dev libboost-test-dev
  python3-venv python3-pip python3-numpy python3-scipy python3-matplotlib python3-tqdm
  python3-pytest python3-pybind11 python3-setuptools xvfb gir1.2-gtk-3.0
)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV (sees Debian's GNU Radio and numpy)"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
echo "setup: Python packages from requirements.txt"
"$VENV/bin/python" -m pip install -q -r requirements.txt
