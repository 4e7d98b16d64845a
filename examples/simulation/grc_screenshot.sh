#!/bin/sh
# Screenshot of GNU Radio Companion with an example flowgraph open, under a virtual X server.
# Needs xvfb (xvfb-run), imagemagick (import) and gir1.2-gtk-3.0 (GRC's GUI).
#   examples/simulation/grc_screenshot.sh [FLOWGRAPH.grc] [OUT.png]
# Defaults: examples/simulation/isac_ae_sim.grc -> docs/grc_screenshot.png. Run from the repository root.
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
GRC_FILE=$(realpath "${1:-$REPO/examples/simulation/isac_ae_sim.grc}")
OUT=$(realpath -m "${2:-$REPO/docs/grc_screenshot.png}")
PY=${PYTHON:-$REPO/.venv/bin/python}
WAIT=${WAIT:-20}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# A fresh GRC configuration (~/.gnuradio/grc.conf): a full-screen main window, no recent files.
mkdir -p "$TMP/.gnuradio"
cat > "$TMP/.gnuradio/grc.conf" <<CONF
[main]
main_window_width = 1920
main_window_height = 1080
console_window_position = 930
blocks_window_position = 1600
variable_editor_position = 400
CONF
export GRC_BLOCKS_PATH="$REPO/grc" HOME="$TMP" XDG_CONFIG_HOME="$TMP/config" XDG_CACHE_HOME="$TMP/cache" XDG_RUNTIME_DIR="$TMP"
xvfb-run -a -s "-screen 0 1920x1080x24" sh -c "
  \"$PY\" \"$(command -v gnuradio-companion)\" \"$GRC_FILE\" > \"$TMP/grc.log\" 2>&1 &
  pid=\$!
  sleep $WAIT
  import -window root \"$OUT\"
  kill \$pid
"
cat "$TMP/grc.log" >&2
echo "wrote $OUT"
