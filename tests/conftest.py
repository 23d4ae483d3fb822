"""Shared fixtures: the seed files and the external evaluation data."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Tables kept on disk between runs (cleaner.tablecache) go to a directory of
# this test session, not the user's cache: every session builds them once,
# and the user's cache is left as it was.
if "CLEANER_CACHE_DIR" not in os.environ:
    os.environ["CLEANER_CACHE_DIR"] = tempfile.mkdtemp(prefix="cleaner-test-tables-")
    atexit.register(shutil.rmtree, os.environ["CLEANER_CACHE_DIR"], ignore_errors=True)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SEEDS_DIR = FIXTURES / "seeds"
SEED_NAMES = sorted(p.name for p in SEEDS_DIR.glob("*.txt"))
# The external evaluation data lives beside the checkout (../shared/external),
# as it does on every developer machine and in CI.
EXTERNAL = ROOT.parent / "shared" / "external"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS_DIR


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    return {name: (SEEDS_DIR / name).read_text(encoding="utf-8") for name in SEED_NAMES}


@pytest.fixture(scope="session")
def external() -> Path:
    if not EXTERNAL.is_dir():
        pytest.skip(f"external evaluation data not found at {EXTERNAL}")
    return EXTERNAL
