"""The Dockerfile lints clean and stays honest about what the project is; code lints clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed (pip install -e .[dev])")
    return found


def test_dockerfile_passes_hadolint() -> None:
    run = subprocess.run(
        [_tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr


def test_dockerfile_is_honest() -> None:
    text = DOCKERFILE.read_text()
    # Every COPY source exists.
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
    # CPU torch, at the version the bootstrap installs.
    bootstrap = (ROOT / "bin" / "_bootstrap.sh").read_text()
    version = re.search(r'TORCH_VERSION="([\d.]+)"', bootstrap).group(1)
    assert f"torch=={version}" in text and "download.pytorch.org/whl/cpu" in text
    # Non-root, a volume for the data dir, offline model, the bot by default.
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M)
    data_dir = re.search(r"TRADETALK_DATA_DIR=(\S+)", text).group(1)
    assert f'VOLUME ["{data_dir}"]' in text
    assert "HF_HUB_OFFLINE=1" in text
    assert 'CMD ["tradetalk", "run"]' in text
    # Every top-level package the project installs is copied in.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in includes:
        package = pattern.rstrip("*")
        assert f"COPY {package} ./{package}" in text, f"{package} not copied into the image"


def test_ruff_is_clean() -> None:
    run = subprocess.run(
        [_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:]


def test_the_compose_example_runs_two_hosts_on_one_database() -> None:
    """compose.yaml (the README's example): PostgreSQL and two bots, one shard each, each
    with its own cache volume, both on that database, none of them with a secret written in."""
    import yaml

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    bots = [services["bot-a"], services["bot-b"]]
    urls = {bot["environment"]["TRADETALK_DATABASE_URL"] for bot in bots}
    assert len(urls) == 1 and "@postgres:5432/" in urls.pop()
    assert {bot["environment"]["TRADETALK_SHARD_IDS"] for bot in bots} == {"0", "1"}
    assert all(bot["environment"]["TRADETALK_SHARD_COUNT"] == "2" for bot in bots)
    assert len({tuple(bot["volumes"]) for bot in bots}) == 2  # a cache each
    assert services["postgres"]["image"].startswith("postgres:")
    for bot in bots:
        assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert bot["environment"]["TRADETALK_DISCORD_TOKEN"].startswith("${")
