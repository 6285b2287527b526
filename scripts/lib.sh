# Shell functions for scripts/setup and scripts/check-wheel (source it; it runs nothing).

# quiet_pip PYTHON ARGS...: `PYTHON -m pip ARGS` without progress output. On success only
# pip's messages are passed on, less its notes about ignored index locations; on failure
# all of pip's output goes to stderr and the calling script exits with pip's status.
quiet_pip() {
  local python=$1 output status=0
  shift
  output=$("$python" -m pip --disable-pip-version-check -q "$@" 2>&1) || status=$?
  if [ "$status" -ne 0 ]; then
    printf '%s\n' "$output" >&2
    echo "error: 'pip $*' failed (exit status $status)" >&2
    exit "$status"
  fi
  printf '%s\n' "$output" | grep -v -e "is ignored" -e '^$' || true
}
