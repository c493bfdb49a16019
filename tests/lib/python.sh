# SPDX-License-Identifier: MIT
# Sourced by tests/run-all and the integration scripts: put the directory
# of the interpreter that `python3` runs first on PATH.
#
# Why: where python3 on PATH is a version manager's shim (pyenv's, on the
# machines this project is tested on), each start runs a shell script
# before the interpreter: ~0.4 s against ~0.03 s for the interpreter
# itself. The integration scripts start python3 a few hundred times (the
# control test alone ~110 times), which cost over a minute of the test
# command. Asking the interpreter once for its own path and calling it
# directly runs the same Python, with the same packages.
pk_python_direct() {
  local exe dir
  exe=$(python3 -S -c 'import sys; print(sys.executable)' 2>/dev/null) || return 0
  [ -n "$exe" ] && [ -x "$exe" ] || return 0
  dir=$(dirname "$exe")
  case ":$PATH:" in
    ":$dir:"*) return 0 ;; # already first
  esac
  PATH=$dir:$PATH
  export PATH
}
pk_python_direct
