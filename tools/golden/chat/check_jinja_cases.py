#!/usr/bin/env python3
"""Checks the Jinja interpreter's unit-test expectations against jinja2 itself.

    PAGODA_DUMP_JINJA_CASES=/tmp/cases.jsonl build/tests/engine/chat/jinja_template_test
    python3 tools/golden/chat/check_jinja_cases.py /tmp/cases.jsonl

Each line holds a template, its context and what our interpreter rendered (no "output": it failed).
Prints every case where jinja2, configured as transformers configures it, disagrees.
"""
import json
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from make_golden import make_environment  # noqa: E402


# Deliberate deviations: 64-bit integers (jinja2 has Python's unbounded ints).
KNOWN_DEVIATIONS = {"{{ 9223372036854775807 + 1 }}"}


def main():
    env = make_environment()
    disagreements = 0
    total = 0
    for line in open(sys.argv[1], encoding="utf-8"):
        case = json.loads(line)
        total += 1
        try:
            want = env.from_string(case["source"]).render(**case["context"])
            err = None
        except Exception as e:  # noqa: BLE001
            want, err = None, f"{type(e).__name__}: {e}"
        got = case.get("output")
        if case["source"] in KNOWN_DEVIATIONS:
            continue
        if (err is None) != (got is not None) or (err is None and want != got):
            disagreements += 1
            print(f"DIFF {case['source']!r}\n  jinja2: {want!r} {err or ''}\n  ours:   {got!r}")
    print(f"{total} cases, {disagreements} disagreements")


if __name__ == "__main__":
    main()
