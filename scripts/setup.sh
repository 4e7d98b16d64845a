#!/usr/bin/env bash
# Install what gr-isac_ae needs on Debian 12/13: system packages (GNU Radio 3.10 and the
# scientific Python stack from Debian, so GNU Radio's bindings and numpy agree), then the
# venv with the pinned torch, and GNU Radio's tools wired to the venv (see venv_grc below).
# Idempotent: every step is skipped or rewritten in place when run again.
set -euo pipefail
VENV=${1:-.venv}

DEBIAN_PACKAGES=(
  gnuradio gnuradio-dev cmake g++ make pkg-config pybind11-dev libboost-test-dev
  python3-venv python3-pip python3-numpy python3-scipy python3-matplotlib python3-tqdm
  python3-pytest python3-pybind11 python3-setuptools xvfb gir1.2-gtk-3.0
  libiio0 libiio-utils python3-jsonschema python3-defusedxml
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

# GNU Radio Companion and grcc through the venv. A venv has no activation hooks, GRC reads its
# block paths from GRC_BLOCKS_PATH and ~/.gnuradio/config.conf (per user: outlives the venv,
# deactivate cannot undo it) and runs flowgraphs with its own sys.executable. So bin/activate
# prepends the venv's installed blocks to GRC_BLOCKS_PATH (deactivate restores the old value),
# and bin/gnuradio-companion and bin/grcc run Debian's tools under the venv's Python (the
# flowgraphs they run import isac_ae and torch) with those blocks, even without activation.
venv_grc() {
  local venv activate begin end tool
  venv=$(cd "$VENV" && pwd)
  activate="$venv/bin/activate"
  begin="# >>> gr-isac_ae: GRC_BLOCKS_PATH (written by scripts/setup.sh) >>>"
  end="# <<< gr-isac_ae <<<"
  grep -q '^deactivate () {$' "$activate" ||
    { echo "setup: $activate has no 'deactivate () {' line to extend" >&2; exit 1; }
  # Drop the blocks of an earlier run before writing them: one copy, always the current one.
  sed -i "\|^ *$begin\$|,\|^ *$end\$|d" "$activate"
  # Into deactivate, which the template also calls (nondestructive) at the start of every
  # activation: undo only what our activation did, as it does for PATH.
  {
    echo "    $begin"
    cat <<'RESTORE'
    if [ -n "${_ISAC_AE_GRC_ACTIVE:-}" ] ; then
        if [ -n "${_OLD_GRC_BLOCKS_PATH+set}" ] ; then
            GRC_BLOCKS_PATH="$_OLD_GRC_BLOCKS_PATH"
            export GRC_BLOCKS_PATH
            unset _OLD_GRC_BLOCKS_PATH
        else
            unset GRC_BLOCKS_PATH
        fi
        unset _ISAC_AE_GRC_ACTIVE
    fi
RESTORE
    echo "    $end"
  } | sed -i '/^deactivate () {$/r /dev/stdin' "$activate"
  {
    echo "$begin"
    cat <<'ACTIVATE'
if [ -n "${GRC_BLOCKS_PATH+set}" ] ; then
    _OLD_GRC_BLOCKS_PATH="$GRC_BLOCKS_PATH"
fi
_ISAC_AE_GRC_ACTIVE=1
GRC_BLOCKS_PATH="$VIRTUAL_ENV/share/gnuradio/grc/blocks${GRC_BLOCKS_PATH:+:$GRC_BLOCKS_PATH}"
export GRC_BLOCKS_PATH
ACTIVATE
    echo "$end"
  } >> "$activate"
  # Python, not sh, so that `python $(command -v gnuradio-companion)` keeps working. Debian's
  # tools by absolute path: with the venv active, `command -v` finds these wrappers.
  for tool in gnuradio-companion grcc; do
    [ -x "/usr/bin/$tool" ] || { echo "setup: /usr/bin/$tool is missing (Debian package gnuradio)" >&2; exit 1; }
    cat > "$venv/bin/$tool" <<WRAPPER
#!$venv/bin/python
# Written by gr-isac_ae's scripts/setup.sh: Debian's $tool under this venv's Python (the
# flowgraphs it runs import isac_ae), with the venv's blocks first on GRC_BLOCKS_PATH (GRC
# drops the duplicate when the venv is active).
import os
import runpy
import sys

os.environ["GRC_BLOCKS_PATH"] = os.pathsep.join(
    filter(None, ["$venv/share/gnuradio/grc/blocks", os.environ.get("GRC_BLOCKS_PATH")]))
sys.argv[0] = "/usr/bin/$tool"
runpy.run_path(sys.argv[0], run_name="__main__")
WRAPPER
    chmod +x "$venv/bin/$tool"
  done
}
echo "setup: GNU Radio Companion and grcc in $VENV"
venv_grc
