#!/usr/bin/env bash
# The whole test suite: the Rust workspace, then the Python bindings (built with maturin into a
# virtual environment, tested with pytest against the command-line binary of the same build).
#   scripts/test.sh            SCORELAB_VENV (default /var/tmp/scorelab-venv) is reused if present
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=$(realpath -m "${CARGO_TARGET_DIR:-target}")

cargo test --release --workspace

VENV=${SCORELAB_VENV:-/var/tmp/scorelab-venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "maturin==1.16.0" "pytest==9.2.0" "numpy>=1.21"
# the same build folder as cargo's, so the module reuses the compiled workspace
CARGO_TARGET_DIR=$TARGET "$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps ./crates/python
SCORELAB_BIN=$TARGET/release/scorelab SCORELAB_REQUIRE_CLI=1 "$VENV/bin/python" -m pytest -q crates/python/tests
