#!/usr/bin/env bash
# Conformance: Periscope against public data nobody on the team wrote.
#
#   conformance/run.sh [TESTDATA_DIR]     (default ../shared/testdata)
#
# - LogHub: the log monitor reads each system's 2000-line log end to end; every record must be
#   read and every record's timestamp parsed (configs in conformance/loghub/).
# - Monitoring Plugins guidelines: every range in the guideline's examples is parsed and
#   evaluated as the guideline says (conformance/perfdata_ranges.py).
# - OpenMetrics: every parser conformance case of the OpenMetrics project is accepted or refused
#   by `check-metrics --format openmetrics` as its test.json says.
# - PromQL: Prometheus' own PromQL test scripts run through `promql-test`; no file may pass
#   fewer cases than conformance/promqltest-baseline.txt says (a regression).
# - promtool: Prometheus' rule unit-test files and rule files run through `test-rules` and
#   `check-rules`; each must get promtool's verdict (conformance/promtool-verdicts.txt).
# Nothing from the test data is copied into the project; it is read where it lies.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
testdata=$(cd "${1:-$here/../../shared/testdata}" 2>/dev/null && pwd) || {
  echo "FAIL: test data folder ${1:-../shared/testdata} is missing" >&2
  exit 1
}
bin=${PERISCOPE_BIN:-periscope}
bin=$(command -v "$bin" || realpath "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0

echo "== LogHub: every record read, every timestamp parsed"
for cfg in "$here"/loghub/*.toml; do
  system=$(basename "$cfg" .toml)
  log="$testdata/loghub/$system/${system}_2k.log"
  if [ ! -f "$log" ]; then
    echo "FAIL $system: $log is missing"; failures=$((failures + 1)); continue
  fi
  expected=$(awk 'END { print NR }' "$log")   # counts an unterminated last line too
  sed "s#LOGHUB_DIR#$testdata/loghub#g" "$cfg" > "$work/$system.toml"
  name=$(grep -m1 -o '^\[monitor\.[^].]*' "$cfg" | cut -d. -f2)
  set +e
  "$bin" monitor run "$name" --config "$work/$system.toml" --state-dir "$work/state-$system" --format json > "$work/$system.json" 2> "$work/$system.err"
  code=$?
  set -e
  if [ "$code" -gt 2 ]; then
    echo "FAIL $system: monitor run exited $code: $(head -c 400 "$work/$system.err")"; failures=$((failures + 1)); continue
  fi
  if python3 - "$work/$system.json" "$expected" "$system" <<'PY'
import json, sys
run = json.load(open(sys.argv[1])); expected = int(sys.argv[2]); system = sys.argv[3]
facts = {f["key"]: f["value"]["value"] for f in run["fragment"]["facts"]}
records, stamped = facts.get("records"), facts.get("records_with_timestamp")
ok = records == expected and stamped == expected
print(f"{'ok  ' if ok else 'FAIL'} {system}: {records}/{expected} records, {stamped}/{expected} timestamps, status {run['outcome']['status']}")
sys.exit(0 if ok else 1)
PY
  then passed=$((passed + 1)); else failures=$((failures + 1)); fi
done

echo "== Monitoring Plugins guidelines: perfdata and ranges"
if python3 "$here/perfdata_ranges.py" "$testdata/nagios-plugin-spec/developer-guidelines.sgml" "$bin"; then
  passed=$((passed + 1))
else
  failures=$((failures + 1))
fi

echo "== OpenMetrics: every parser conformance case accepted or refused as the suite says"
# Each case is fed on stdin to check-metrics; exit 0 means parsed, 1 means refused.
om_cases="$testdata/openmetrics/parsers"
if [ ! -d "$om_cases" ]; then
  echo "FAIL openmetrics: $om_cases is missing"; failures=$((failures + 1))
else
  om_total=0; om_agree=0; : > "$work/om.wrong"
  for case_dir in "$om_cases"/*/; do
    case=$(basename "$case_dir")
    om_total=$((om_total + 1))
    if grep -Eq '"shouldParse"[[:space:]]*:[[:space:]]*true' "$case_dir/test.json"; then expected=0; else expected=1; fi
    set +e
    "$bin" check-metrics --format openmetrics < "$case_dir/metrics" > /dev/null 2> "$work/om.err"
    code=$?
    set -e
    if [ "$code" -eq "$expected" ]; then
      om_agree=$((om_agree + 1))
    elif [ "$expected" -eq 0 ]; then
      echo "  $case: should parse, refused (exit $code): $(head -n 1 "$work/om.err")" >> "$work/om.wrong"
    else
      echo "  $case: should be refused, parsed (exit $code)" >> "$work/om.wrong"
    fi
  done
  if [ "$om_agree" -eq "$om_total" ] && [ "$om_total" -gt 0 ]; then
    echo "ok   openmetrics: $om_agree/$om_total cases agree"; passed=$((passed + 1))
  else
    echo "FAIL openmetrics: $om_agree/$om_total cases agree; these do not:"
    cat "$work/om.wrong"
    failures=$((failures + 1))
  fi
fi

echo "== PromQL: Prometheus' test scripts, passed cases per file against the baseline"
# promql-test prints a table row per file: "<file> <passed>/<run> <skipped> <rate>". The check
# fails when a file passes fewer cases than conformance/promqltest-baseline.txt allows, or when
# a file cannot be run at all. To raise the baseline after an improvement, copy the new passed
# counts into that file (its header says how); never lower it to make this check pass.
pq_dir="$testdata/prometheus/promqltest-testdata"
pq_baseline="$here/promqltest-baseline.txt"
if ! ls "$pq_dir"/*.test > /dev/null 2>&1; then
  echo "FAIL promql: no .test files in $pq_dir"; failures=$((failures + 1))
else
  set +e
  "$bin" promql-test "$pq_dir"/*.test > "$work/pq.out" 2> "$work/pq.err"
  code=$?
  set -e
  if [ "$code" -ne 0 ]; then
    echo "FAIL promql: promql-test exited $code: $(head -c 400 "$work/pq.err")"; failures=$((failures + 1))
  elif awk -v baseline="$pq_baseline" '
      BEGIN {
        while ((getline line < baseline) > 0) {
          if (line ~ /^[[:space:]]*(#|$)/) continue
          split(line, f, /[[:space:]]+/); floor[f[1]] = f[2]
        }
      }
      $1 ~ /\.test$/ && $2 ~ /^[0-9]+\/[0-9]+$/ {
        split($2, n, "/"); seen[$1] = 1
        printf "  %-28s %9s passed  %4d skipped  %6s\n", $1, $2, $3, $4
        if (!($1 in floor)) { printf "  %s is not in the baseline\n", $1; bad++ }
        else if (n[1] + 0 < floor[$1] + 0) { printf "  REGRESSION %s: %d passed, baseline %d\n", $1, n[1], floor[$1]; bad++ }
        else if (n[1] + 0 > floor[$1] + 0) raise++
      }
      $1 == "all" && $2 == "files" { total = $3 }
      END {
        for (name in floor) if (!(name in seen)) { printf "  %s is in the baseline but was not run\n", name; bad++ }
        if (total != "") printf "  all files: %s passed\n", total
        if (raise) printf "  %d files pass more than their baseline: raise conformance/promqltest-baseline.txt\n", raise
        exit bad > 0
      }' "$work/pq.out"
  then
    echo "ok   promql: no file below its baseline"; passed=$((passed + 1))
  else
    echo "FAIL promql: a file fell below conformance/promqltest-baseline.txt (see above)"; failures=$((failures + 1))
  fi
fi

echo "== promtool: rule unit tests and rule files get promtool's verdict"
# Each line of conformance/promtool-verdicts.txt names a file of promtool's test data and the
# verdict promtool gives it; test-rules (for unit-test files) and check-rules (for rule files)
# must exit 0 for "pass" and 1 for "fail". A unit-test or rule file in the folder without a
# verdict fails the check, so new upstream files get looked at.
pt_dir="$testdata/prometheus/promtool-testdata"
pt_verdicts="$here/promtool-verdicts.txt"
if [ ! -d "$pt_dir" ]; then
  echo "FAIL promtool: $pt_dir is missing"; failures=$((failures + 1))
else
  pt_total=0; pt_agree=0; : > "$work/pt.wrong"
  while read -r kind file verdict _; do
    case "$kind" in ''|'#'*) continue ;; esac
    pt_total=$((pt_total + 1))
    case "$kind" in
      test) command=test-rules ;;
      check) command=check-rules ;;
      *) echo "  $file: unknown kind $kind in $pt_verdicts" >> "$work/pt.wrong"; continue ;;
    esac
    set +e
    "$bin" "$command" "$pt_dir/$file" > "$work/pt.out" 2>&1
    code=$?
    set -e
    case "$code" in 0) got=pass ;; 1) got=fail ;; *) got="exit $code" ;; esac
    if [ "$got" = "$verdict" ]; then
      pt_agree=$((pt_agree + 1))
      echo "  ok   $command $file: $got"
    else
      echo "  $command $file: promtool says $verdict, periscope $got: $(head -c 600 "$work/pt.out")" >> "$work/pt.wrong"
    fi
  done < "$pt_verdicts"
  for f in "$pt_dir"/*.yml; do
    name=$(basename "$f")
    if grep -q '^tests:' "$f" || grep -q '^groups:' "$f"; then
      if ! grep -Eq "^(test|check)[[:space:]]+$name[[:space:]]" "$pt_verdicts"; then
        echo "  $name has no verdict in $pt_verdicts" >> "$work/pt.wrong"
      fi
    fi
  done
  if [ ! -s "$work/pt.wrong" ] && [ "$pt_total" -gt 0 ]; then
    echo "ok   promtool: $pt_agree/$pt_total verdicts agree"; passed=$((passed + 1))
  else
    echo "FAIL promtool: $pt_agree/$pt_total verdicts agree; these do not:"
    cat "$work/pt.wrong"
    failures=$((failures + 1))
  fi
fi

echo "conformance: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
