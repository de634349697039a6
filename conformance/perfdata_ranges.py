#!/usr/bin/env python3
"""Monitoring Plugins guidelines conformance for `periscope check-perfdata`.

Usage: perfdata_ranges.py GUIDELINES.sgml PERISCOPE_BIN

Reads the guideline where it lies and checks Periscope against what it says:
  1. every range in the "Example ranges" table, at values around its bounds, against the
     table's own meaning (alert outside start..end inclusive; inside with "@"; "~" = -inf);
  2. every -w/-c pair in the "Command line examples" table, giving OK/WARNING/CRITICAL;
  3. the perfdata format notes: quoted labels with spaces and '' escapes, every UOM listed,
     "U" values, dropped trailing semicolons, and the multi-line output layout.
Nothing from the guideline is copied into the project: ranges and units are extracted at run time.
"""
import json
import re
import subprocess
import sys

sgml_path, binary = sys.argv[1], sys.argv[2]
sgml = open(sgml_path, encoding="utf-8").read()
failures = []
checks = 0


def check_perfdata(text):
    out = subprocess.run([binary, "check-perfdata"], input=text, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"check-perfdata exited {out.returncode}: {out.stderr}")
    return json.loads(out.stdout)


def alerts(range_text, v):
    """The guideline's range rule, written from its notes (our own oracle)."""
    inside = range_text.startswith("@")
    body = range_text[1:] if inside else range_text
    if ":" in body:
        start, end = body.split(":", 1)
    else:
        start, end = "0", body
    lo = float("-inf") if start == "~" else float(start or 0)
    hi = float("inf") if end == "" else float(end)
    within = lo <= v <= hi
    return within if inside else not within


def expect(what, got, want):
    global checks
    checks += 1
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


def table(table_id):
    m = re.search(rf'<table id="{table_id}">.*?</table>', sgml, re.S)
    if not m:
        raise SystemExit(f"table {table_id} not found in {sgml_path}")
    rows = re.findall(r"<row>(.*?)</row>", m.group(0), re.S)
    return [re.findall(r"<entry>(.*?)</entry>", r, re.S) for r in rows[1:]]


values = [-5, -0.5, 0, 0.5, 1, 5, 5.5, 6, 9.9, 10, 10.1, 15, 20, 20.1, 25, 1e9]

# 1. Example ranges: the range as warning threshold; WARNING exactly when it alerts.
ranges = [row[0].strip() for row in table("ExampleRanges")]
if len(ranges) < 5:
    failures.append(f"expected at least 5 example ranges, found {ranges}")
for r in ranges:
    text = "".join(f"'x{i}'={v};{r}\n" for i, v in enumerate(values))
    parsed = check_perfdata("RANGES OK | " + text.replace("\n", " "))
    expect(f"range {r}: problems", parsed["problems"], [])
    for v, status in zip(values, parsed["threshold_status"]):
        expect(f"range {r} at {v}", status, "WARNING" if alerts(r, v) else "OK")

# 2. Command line examples: -w/-c as given; CRITICAL beats WARNING.
for row in table("CommandLineExamples"):
    cmd = re.sub(r"<[^>]+>", "", row[0]).strip()
    w = re.search(r"-w(\S+)", cmd)
    c = re.search(r"-c(\S+)", cmd)
    warn, crit = (w.group(1) if w else ""), (c.group(1) if c else "")
    items = " ".join(f"'s{i}'={v};{warn};{crit}" for i, v in enumerate(values))
    parsed = check_perfdata("STUFF | " + items)
    expect(f"{cmd}: problems", parsed["problems"], [])
    for v, status in zip(values, parsed["threshold_status"]):
        want = "CRITICAL" if crit and alerts(crit, v) else "WARNING" if warn and alerts(warn, v) else "OK"
        expect(f"{cmd} at {v}", status, want)

# 3. Format notes.
uoms = re.findall(r"<para>(%|[a-zA-Z]+) - ", sgml)
also = re.findall(r"\(also ([^)]*)\)", sgml)
units = set(uoms) | {u.strip() for a in also for u in a.split(",")}
for u in ["s", "us", "ms", "%", "B", "KB", "MB", "TB", "c"]:
    expect(f"guideline lists unit {u}", u in units, True)
for u in sorted(units):
    parsed = check_perfdata(f"UNITS | 'v'=42{u};;;0;100")
    expect(f"unit {u}: problems", parsed["problems"], [])
    expect(f"unit {u}: unit kept", parsed["perfdata"][0]["unit"], u)
    expect(f"unit {u}: value", parsed["perfdata"][0]["value"], 42.0)

parsed = check_perfdata("Q | 'disk usage /var'=80%;90;95 'it''s'=1;;;; plain=3 und=U;1;2")
labels = [p["label"] for p in parsed["perfdata"]]
expect("quoted labels", labels, ["disk usage /var", "it's", "plain", "und"])
expect("U value", parsed["perfdata"][3]["value"], None)
expect("format problems", parsed["problems"], [])

multi = ("SERVICE STATUS: First line of output | first=1\n"
         "Any number of subsequent lines of output, but note that buffers\n"
         "may have a limited size | second=2;3;4\n"
         "third=3\n")
parsed = check_perfdata(multi)
expect("multi-line summary", parsed["summary"], "SERVICE STATUS: First line of output")
expect("multi-line perfdata", [p["label"] for p in parsed["perfdata"]], ["first", "second", "third"])
expect("multi-line long text", parsed["long_text"].splitlines()[0], "Any number of subsequent lines of output, but note that buffers")

for f in failures[:40]:
    print("FAIL", f)
print(f"{'ok  ' if not failures else 'FAIL'} Monitoring Plugins guidelines: {checks - len(failures)}/{checks} checks "
      f"({len(ranges)} example ranges, command line examples, {len(units)} units, format notes)")
sys.exit(1 if failures else 0)
