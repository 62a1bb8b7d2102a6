#!/usr/bin/env python3
"""Counts GoogleTest cases from Meson's test logs and prints the CI's closing line.

For each setup, Meson (1.0.1) writes <base>.json (one line per test executable, with its
result) and <base>.junit.xml. For a test with protocol 'gtest' the JUnit file holds the cases
that GoogleTest itself reported, in suites named '<project>.<test name>.<gtest suite>'. When a
binary wrote no XML (it crashed, or timed out) Meson records only the executable, so the
executable's own result is counted as one case. An executable that failed with no failing
case (a crash after the last case, a leak found at exit) adds one failure.

Prints failures, then "N passed, N failed, N skipped" alone as the last line. Exit status: 1
when anything failed or no test ran, else 0.
"""

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET

OK_RESULTS = {"OK", "EXPECTEDFAIL"}
SKIP_RESULTS = {"SKIP"}


def load_runs(json_path):
    runs = []
    with open(json_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def load_cases(junit_path):
    """Maps '<test name>' (as in the .json) to its GoogleTest cases: (case name, outcome)."""
    cases = {}
    if not os.path.isfile(junit_path):
        return cases
    for suite in ET.parse(junit_path).getroot().iter("testsuite"):
        name = suite.get("name", "")
        # '<project>.<test name>.<gtest suite>'; a plain 'project' suite has no gtest cases.
        parts = name.split(".", 1)
        if len(parts) != 2 or "." not in parts[1]:
            continue
        test_name, gtest_suite = parts[1].rsplit(".", 1)
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                outcome = "failed"
            elif case.find("skipped") is not None or case.get("status") == "notrun":
                outcome = "skipped"
            else:
                outcome = "passed"
            cases.setdefault(test_name, []).append(
                (f"{gtest_suite}.{case.get('name', '?')}", outcome))
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-status", type=int, default=0,
                        help="exit status of the test command itself")
    parser.add_argument("setups", nargs="+", metavar="LABEL=LOGBASE",
                        help="a label and a Meson log base (without .json / .junit.xml)")
    args = parser.parse_args()

    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures = []
    for setup in args.setups:
        label, base = setup.split("=", 1)
        json_path = base + ".json"
        if not os.path.isfile(json_path):
            print(f"{label}: no test results ({json_path} is missing)")
            continue
        cases_by_test = load_cases(base + ".junit.xml")
        for run in load_runs(json_path):
            test_name, result = run.get("name", "?"), run.get("result", "?")
            cases = cases_by_test.get(test_name, [])
            for case_name, outcome in cases:
                counts[outcome] += 1
                if outcome == "failed":
                    failures.append(f"{label}: {test_name}: {case_name}")
            failed_cases = sum(1 for _, outcome in cases if outcome == "failed")
            if result in OK_RESULTS or result in SKIP_RESULTS:
                if not cases:
                    counts["passed" if result in OK_RESULTS else "skipped"] += 1
            elif failed_cases == 0:
                counts["failed"] += 1
                failures.append(f"{label}: {test_name}: executable {result}"
                                f" (exit status {run.get('returncode')})")

    if args.test_status != 0 and counts["failed"] == 0:
        # The build or the test command failed before any case could report it.
        counts["failed"] += 1
        failures.append(f"the test command exited with status {args.test_status}")
    for failure in failures:
        print(f"FAILED {failure}")
    ran = counts["passed"] + counts["failed"]
    if ran == 0:
        print("no test ran")
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if counts["failed"] > 0 or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
