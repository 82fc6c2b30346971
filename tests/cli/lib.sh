# Shared helpers for the CLI tests: counting results and checking refusals of bad input.
# Source it, set `bin` to the program under test, and end with `finish`.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0
pass() { echo "ok: $1"; passes=$((passes + 1)); }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

# check WHAT COMMAND...: passes when COMMAND exits 0; its output is shown either way.
check() {
  local what=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    pass "$what ${out:+($out)}"
  else
    fail "$what: $out"
  fi
}

# expect_error WHAT NEEDLE ARGS...: `$bin ARGS` must exit 1 within 60 s with NEEDLE on stderr.
expect_error() {
  local what=$1 needle=$2
  shift 2
  local err rc
  err=$(timeout 60 "$bin" "$@" 2>&1 >/dev/null </dev/null)
  rc=$?
  if [[ $rc -eq 1 && "$err" == *"$needle"* ]]; then
    pass "$what"
  else
    fail "$what (rc=$rc, stderr: $err)"
  fi
}

finish() {
  echo "$passes passed, $failures failed"
  [[ $failures -eq 0 && $passes -gt 0 ]]
}
