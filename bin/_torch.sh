# Sourced by bin/_bootstrap.sh (and by tests/unit/test_bootstrap.py with a stub pip):
#   install_torch VERSION PIP_COMMAND...
# CPU-only torch: a bare "torch" from the default index is, on Linux, the CUDA build of
# several GB. So PyTorch's CPU index is tried first, quickly (a machine that reaches only the
# default package index should not wait minutes for it); if it can't be reached, the default
# index is used. Either way one line says which. TORCH_INDEX_URL, when set, is the only index
# tried.
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"

install_torch() {
  local version="$1"
  shift
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    echo "tradetalk: installing torch $version from TORCH_INDEX_URL ($TORCH_INDEX_URL)" >&2
    "$@" install "torch==$version" --index-url "$TORCH_INDEX_URL" >&2
    return
  fi
  if "$@" install "torch==$version" --index-url "$TORCH_CPU_INDEX" --timeout 15 --retries 0 >&2; then
    echo "tradetalk: installed CPU-only torch $version from PyTorch's CPU index ($TORCH_CPU_INDEX)" >&2
    return
  fi
  echo "tradetalk: PyTorch's CPU index ($TORCH_CPU_INDEX) did not answer; installing torch" \
    "$version from the default package index instead (on Linux that can be the CUDA build," \
    "several GB; set TORCH_INDEX_URL to a CPU index to avoid it)" >&2
  "$@" install "torch==$version" >&2
  echo "tradetalk: installed torch $version from the default package index" >&2
}
