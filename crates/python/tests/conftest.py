"""Shared helpers: the repository root, the command-line binary, a fixed random generator."""

import os
import pathlib
import shutil

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def cli_binary():
    """The scorelab binary: $SCORELAB_BIN, else a release build under $CARGO_TARGET_DIR or target/."""
    named = os.environ.get("SCORELAB_BIN")
    if named:
        return named
    for target in (os.environ.get("CARGO_TARGET_DIR"), ROOT / "target"):
        if target and (pathlib.Path(target) / "release" / "scorelab").exists():
            return str(pathlib.Path(target) / "release" / "scorelab")
    return shutil.which("scorelab")


@pytest.fixture
def cli():
    binary = cli_binary()
    if binary is None:
        if os.environ.get("SCORELAB_REQUIRE_CLI"):
            pytest.fail("SCORELAB_REQUIRE_CLI is set but no scorelab binary was found")
        pytest.skip("no scorelab binary (set SCORELAB_BIN) to compare against")
    return binary


@pytest.fixture
def rng():
    return np.random.default_rng(20261204)
