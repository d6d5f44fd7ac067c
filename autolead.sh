#!/usr/bin/env bash
# Auto Lead launcher: `./autolead.sh run` starts the demo, `./autolead.sh test`
# runs the test suite. Both install what is missing first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
    echo "Auto Lead needs python3 (3.11): apt-get install python3 python3-venv" >&2
    exit 2
fi
exec python3 "$here/scripts/launcher.py" "$@"
