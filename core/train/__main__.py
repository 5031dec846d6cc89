from core.errors import run_cli
from core.train.cli import main

run_cli("python -m core.train", main)
