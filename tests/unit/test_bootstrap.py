"""The bootstrap's choice of torch: PyTorch's CPU index first (the CPU wheel everywhere), the
default index when that can't be reached, TORCH_INDEX_URL when set, and one line saying which.

The real bootstrap function (bin/_torch.sh, sourced by bin/_bootstrap.sh) runs in bash with a
stub ``pip`` on PATH that records its arguments and fails or succeeds on demand: pip itself is
not what is tested."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
VERSION = re.search(r'TORCH_VERSION="([\d.]+)"', (ROOT / "bin/_bootstrap.sh").read_text()).group(1)

STUB_PIP = """#!/usr/bin/env bash
echo "$*" | sed -E 's/ --report [^ ]+//' >> "$STUB_LOG"
prev=""; for a in "$@"; do [ "$prev" = --report ] && report="$a"; prev="$a"; done
if [ -n "${STUB_WHEEL_URL:-}" ] && [ -n "${report:-}" ]; then
  printf '{"install": [{"metadata": {"name": "torch", "version": "%s+cpu"},
    "download_info": {"url": "%s"}}]}' "$STUB_VERSION" "$STUB_WHEEL_URL" > "$report"
fi
case "$*" in
  *"--index-url $CPU"*) [ "$STUB_CPU_INDEX" = up ] ;;
  *--index-url*) true ;;
  *) [ "$STUB_DEFAULT_INDEX" = up ] ;;
esac
"""


def bootstrap_torch(tmp_path: Path, *, cpu: str, default: str = "up", **env: str):
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir(exist_ok=True)
    pip = bin_dir / "pip"
    pip.write_text(STUB_PIP)
    pip.chmod(0o755)
    log = tmp_path / "pip-calls.txt"
    log.write_text("")
    base = {k: v for k, v in os.environ.items() if k != "TORCH_INDEX_URL"}
    run = subprocess.run(
        [
            "bash",
            "-c",
            f'set -euo pipefail; source "{ROOT}/bin/_torch.sh"; install_torch "{VERSION}" pip',
        ],
        env={
            **base,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "STUB_LOG": str(log),
            "CPU": CPU_INDEX,
            "STUB_CPU_INDEX": cpu,
            "STUB_DEFAULT_INDEX": default,
            "STUB_VERSION": VERSION,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    return run, log.read_text().splitlines()


def test_the_cpu_index_is_tried_first_and_quickly(tmp_path: Path) -> None:
    run, calls = bootstrap_torch(tmp_path, cpu="up")
    assert run.returncode == 0, run.stderr
    assert calls == [f"install torch=={VERSION} --index-url {CPU_INDEX} --timeout 15 --retries 0"]
    assert "installed with PyTorch's CPU index" in run.stderr


def test_a_machine_that_reaches_only_the_default_index_still_installs(tmp_path: Path) -> None:
    run, calls = bootstrap_torch(tmp_path, cpu="down")
    assert run.returncode == 0, run.stderr
    assert calls == [
        f"install torch=={VERSION} --index-url {CPU_INDEX} --timeout 15 --retries 0",
        f"install torch=={VERSION}",
    ]
    assert "did not answer" in run.stderr
    assert "installed from the default package index" in run.stderr


def test_torch_index_url_is_the_only_index_tried(tmp_path: Path) -> None:
    mirror = "https://mirror.example/torch-cpu"
    run, calls = bootstrap_torch(tmp_path, cpu="up", TORCH_INDEX_URL=mirror)
    assert run.returncode == 0, run.stderr
    assert calls == [f"install torch=={VERSION} --index-url {mirror}"]
    assert mirror in run.stderr


def test_no_index_at_all_fails_the_bootstrap(tmp_path: Path) -> None:
    run, calls = bootstrap_torch(tmp_path, cpu="down", default="down")
    assert run.returncode != 0 and len(calls) == 2


def test_the_bootstrap_installs_torch_through_that_function() -> None:
    text = (ROOT / "bin/_bootstrap.sh").read_text()
    assert 'source "$ROOT/bin/_torch.sh"' in text
    assert 'install_torch "$TORCH_VERSION" "${PIP[@]}"' in text
    assert "torch==$TORCH_VERSION" not in text.replace("install_torch", "")  # no other install


def test_the_line_says_where_pip_took_the_wheel_from(tmp_path: Path) -> None:
    """pip's own configuration (find-links, say) may supply the wheel: pip's report says."""
    wheel = f"file:///opt/wheels/torch-{VERSION}+cpu-cp311-cp311-linux_x86_64.whl"
    run, _ = bootstrap_torch(tmp_path, cpu="up", STUB_WHEEL_URL=wheel)
    assert run.returncode == 0, run.stderr
    assert f"({VERSION}+cpu from {wheel})" in run.stderr
