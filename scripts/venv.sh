# shellcheck shell=bash
# Sourced by demo.sh and test.sh: make ./.venv with the pinned requirements and this package.
#   source scripts/venv.sh requirements.txt [requirements-dev.txt ...]
# Reinstalls only when the requirement files change.
VENV="${VENV:-$PWD/.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV with $($PYTHON --version)" >&2
    "$PYTHON" -m venv "$VENV"
fi
stamp="$(cat "$@" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$stamp" ]; then
    echo "Installing $* into $VENV" >&2
    requirement_args=()
    for requirements in "$@"; do requirement_args+=(-r "$requirements"); done
    "$VENV/bin/python" -m pip install --quiet --quiet --disable-pip-version-check "${requirement_args[@]}"
    "$VENV/bin/python" -m pip install --quiet --quiet --disable-pip-version-check --no-deps -e .
    echo "$stamp" > "$VENV/.installed"
fi
export PATH="$VENV/bin:$PATH"
