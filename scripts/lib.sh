# Shared by scripts/up and scripts/test: find Python 3.11+, create .venv once, install into it.
# Everything here is idempotent: a second run installs nothing new.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

apt_install() {
    # apt_install PACKAGE... : install Debian packages that are missing (root, Debian only).
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        echo "conveyor: please install ${missing[*]} (no apt-get here)" >&2
        return 1
    fi
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "conveyor: installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "conveyor: Python 3.11 or newer is required" >&2
    return 1
}

pip_quietly() {
    # pip, without the warnings a site-wide pip.conf can add about missing local indexes
    "$VENV/bin/python" -m pip -q "$@" 2>&1 | { grep -v "^WARNING: Location .* is ignored" || true; }
    return "${PIPESTATUS[0]}"
}

ensure_venv() {
    # ensure_venv EXTRAS : create .venv if missing and install Conveyor (editable) with EXTRAS.
    local extras="$1" python stamp
    if [ ! -x "$VENV/bin/python" ]; then
        python=$(find_python)
        if ! "$python" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            apt_install python3-venv
            "$python" -m venv "$VENV"
        fi
        pip_quietly install --upgrade pip
    fi
    # Reinstall only when pyproject.toml changed since the last install with these extras.
    stamp="$VENV/.installed-${extras:-base}"
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
        pip_quietly install -e "$ROOT${extras:+[$extras]}"
        touch "$stamp"
    fi
}
