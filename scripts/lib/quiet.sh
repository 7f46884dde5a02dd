# Sourced by scripts/bootstrap.sh and scripts/install-node24.sh: runs an installer (apt-get, pip, npm)
# with its output in a log file instead of on the terminal, so that `make demo` on a fresh machine
# prints one line per step. On failure it prints the log's last lines and the log's path.
# SLUICE_VERBOSE=1 lets every installer print as usual (and writes no log).
#
# The caller sets QUIET_PREFIX (the name its lines start with) and QUIET_LOG_DIR (where logs go).

QUIET_TAIL_LINES=${QUIET_TAIL_LINES:-30}

# quiet_run NAME COMMAND [ARG...]: runs COMMAND, its stdout and stderr in $QUIET_LOG_DIR/NAME.log
# (replaced on each run); returns COMMAND's exit status.
quiet_run() {
  local name=$1 status=0
  shift
  if [[ ${SLUICE_VERBOSE:-0} == 1 ]]; then
    "$@" || status=$?
    return "$status"
  fi
  local log="$QUIET_LOG_DIR/$name.log"
  mkdir -p "$QUIET_LOG_DIR"
  "$@" >"$log" 2>&1 </dev/null || status=$?
  if [[ $status -ne 0 ]]; then
    {
      printf '%s: `%s` exited with %d; the last %d lines of its output:\n' \
        "$QUIET_PREFIX" "$*" "$status" "$QUIET_TAIL_LINES"
      tail -n "$QUIET_TAIL_LINES" "$log" | sed 's/^/  | /'
      printf '%s: full output: %s (SLUICE_VERBOSE=1 shows it as it runs)\n' "$QUIET_PREFIX" "$log"
    } >&2
  fi
  return "$status"
}
