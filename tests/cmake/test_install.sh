#!/usr/bin/env bash
# `cmake --install` into a temporary prefix gives a runnable bin/neurep
# (--version with the project's version), the example configurations and job
# scripts under share/neurep/jobs (the installed scripts find the installed
# binary without NEUREP_BIN), and the Python analysis package under
# share/neurep/python, importable from any folder.
#   test_install.sh BUILD_DIR SOURCE_DIR CMAKE PROJECT_VERSION
set -uo pipefail
build=$1 src=$2 cmake=$3 version=$4
tmp=$(mktemp -d /tmp/neurep-install-XXXXXX)
prefix=$tmp/prefix
failures=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
finish() {
  echo "$failures failed"
  ((failures)) || rm -rf "$tmp"
  exit $((failures ? 1 : 0))
}

"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1
rc=$?
check "cmake --install (status $rc; log $tmp/install.log)" test $rc -eq 0
((rc)) && finish
bin=$prefix/bin/neurep
check "bin/neurep installed and executable" test -x "$bin"
out=$(cd "$tmp" && "$bin" --version 2>&1)
rc=$?
check "bin/neurep --version exits 0 (status $rc)" test $rc -eq 0
check "--version prints 'neurep $version (git REV)': '$out'" \
  bash -c "[[ \$1 =~ ^neurep\ ${version//./\\.}\ \(git\ [^\ ]+\)\$ ]]" _ "$out"

share=$prefix/share/neurep
for f in "$src"/jobs/configs/*.toml; do
  name=jobs/configs/$(basename "$f")
  check "$name installed, same content" cmp -s "$f" "$share/$name"
done
for s in jobs/local/run.sh jobs/local/campaign.sh jobs/slurm/run.sbatch jobs/slurm/array.sbatch \
         jobs/slurm/make_manifest.sh jobs/slurm/neurep_job.sh; do
  check "$s installed, executable" test -x "$share/$s"
done
check "installed quickstart.toml is valid for the installed binary" \
  bash -c "'$bin' check '$share/jobs/configs/quickstart.toml' >/dev/null"

# The installed workstation script finds bin/neurep beside share/neurep, with
# no checkout and no NEUREP_BIN.
(cd "$tmp" && env -u NEUREP_BIN PATH=/usr/bin:/bin "$share/jobs/local/run.sh" -n 1 \
   "$share/jobs/configs/quickstart.toml" out.h5 -q --set sweep.n_train=[64] --set sweep.seeds=1 \
   --set data.n_test=64) >"$tmp/run.log" 2>&1
rc=$?
check "installed jobs/local/run.sh runs the installed binary (status $rc; log $tmp/run.log)" test $rc -eq 0
check "its results file is complete" bash -c "'$bin' info '$tmp/out.h5' | grep -q 'status complete'"

# The Slurm scripts' shared body, with NEUREP_HOME=PREFIX/share/neurep as the
# README says and no NEUREP_BIN, takes the installed binary.
got=$(cd "$tmp" && env -u NEUREP_BIN PATH=/usr/bin:/bin NEUREP_HOME="$share" bash -c \
  'source "$NEUREP_HOME/jobs/slurm/neurep_job.sh" && neurep_job_setup >/dev/null && echo "$NEUREP_BIN"' 2>&1)
check "jobs/slurm/neurep_job.sh with NEUREP_HOME=share/neurep takes bin/neurep ('$got')" \
  test "$(readlink -f "$got" 2>/dev/null)" = "$(readlink -f "$bin")"

# The analysis package: whichever package analysis/ holds (neurep_analysis, or
# the older analysis/ folder itself).
py=$share/python
if [[ -d $py/neurep_analysis ]]; then pkg=neurep_analysis; else pkg=analysis; fi
check "python package $pkg installed under share/neurep/python" test -f "$py/$pkg/__init__.py"
(cd "$tmp" && PYTHONPATH=$py /usr/bin/python3 -m "$pkg" --help) >"$tmp/py.log" 2>&1
rc=$?
check "PYTHONPATH=share/neurep/python python3 -m $pkg --help from another folder (status $rc; log $tmp/py.log)" \
  test $rc -eq 0
(cd "$tmp" && PYTHONPATH=$py /usr/bin/python3 -c "import $pkg, sys; sys.exit(0 if '$py' in $pkg.__file__ else 1)") \
  >>"$tmp/py.log" 2>&1
check "the installed copy is the one imported" test $? -eq 0
finish
