# Shared set-up of the experiment scripts: run from the repository root, build once, and read
# --quick (a reduced size that finishes in a minute or two). Source it; it sets BIN and QUICK.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        *) echo "unknown argument: $arg (expected --quick)" >&2; exit 2 ;;
    esac
done
# SCORELAB_BIN names an already built binary (the test suite sets it); otherwise build one.
if [ -n "${SCORELAB_BIN:-}" ]; then
    BIN=$SCORELAB_BIN
else
    cargo build --release --quiet
    BIN=${CARGO_TARGET_DIR:-target}/release/scorelab
fi
# pick VALUE_FULL or VALUE_QUICK
size() { if [ "$QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi; }
