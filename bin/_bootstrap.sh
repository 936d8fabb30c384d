# Sourced by bin/tradetalk and bin/test: create .venv and install TradeTalk on first run.
# Re-installs only when pyproject.toml changes. torch comes from PyTorch's CPU index if it can
# be reached, else from the default index (bin/_torch.sh says which); set TORCH_INDEX_URL to
# take it from another index.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
EXTRAS="${1:-}"
TORCH_VERSION="2.13.0"

stamp_of() { { cat "$ROOT/pyproject.toml"; echo "extras=$EXTRAS torch=$TORCH_VERSION"; } | sha256sum | cut -c1-16; }

if [ ! -x "$VENV/bin/python" ]; then
  echo "tradetalk: creating $VENV (first run)..." >&2
  "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.tradetalk-installed-$(stamp_of)"
if [ ! -f "$STAMP" ]; then
  echo "tradetalk: installing dependencies (first run takes a few minutes)..." >&2
  PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
  # CPU-only torch first: a bare "torch" requirement would pull a multi-GB CUDA build.
  source "$ROOT/bin/_torch.sh"
  install_torch "$TORCH_VERSION" "${PIP[@]}"
  "${PIP[@]}" install -e "$ROOT${EXTRAS:+[$EXTRAS]}" >&2
  rm -f "$VENV"/.tradetalk-installed-*
  touch "$STAMP"
fi
export HF_HUB_OFFLINE=1
