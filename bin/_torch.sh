# Sourced by bin/_bootstrap.sh (and by tests/unit/test_bootstrap.py with a stub pip):
#   install_torch VERSION PIP_COMMAND...
# CPU-only torch: a bare "torch" from the default index is, on Linux, the CUDA build of
# several GB. So PyTorch's CPU index is tried first, quickly (a machine that reaches only the
# default package index should not wait minutes for it); if that fails, the default index is
# used. Either way one line says which index was used and where pip took the wheel from (pip's
# own configuration, e.g. find-links, may supply it). TORCH_INDEX_URL, when set, is the only
# index tried.
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"

# Where pip took torch from, read from its --report (empty if pip wrote none).
_torch_origin() {
  python3 - "$1" <<'PY' 2>/dev/null || true
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(0)
for item in report.get("install", []):
    if item.get("metadata", {}).get("name", "").lower() == "torch":
        print(f' ({item["metadata"].get("version", "?")} from {item.get("download_info", {}).get("url", "?")})')
PY
}

install_torch() {
  local version="$1"
  shift
  local report
  report="$(mktemp)"
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$@" install "torch==$version" --index-url "$TORCH_INDEX_URL" --report "$report" >&2
    echo "tradetalk: torch $version installed with TORCH_INDEX_URL ($TORCH_INDEX_URL)$(_torch_origin "$report")" >&2
  elif "$@" install "torch==$version" --index-url "$TORCH_CPU_INDEX" --timeout 15 --retries 0 \
    --report "$report" >&2; then
    echo "tradetalk: CPU-only torch $version installed with PyTorch's CPU index ($TORCH_CPU_INDEX)$(_torch_origin "$report")" >&2
  else
    echo "tradetalk: PyTorch's CPU index ($TORCH_CPU_INDEX) did not answer; installing torch" \
      "$version from the default package index instead (on Linux that can be the CUDA build," \
      "several GB; set TORCH_INDEX_URL to a CPU index to avoid it)" >&2
    "$@" install "torch==$version" --report "$report" >&2
    echo "tradetalk: torch $version installed from the default package index$(_torch_origin "$report")" >&2
  fi
  rm -f "$report"
}
