"""``python -m bench``: the speed and scale benchmark (see bench/run.py)."""

from bench.run import main

main()
