#!/usr/bin/env python3
"""A strict parser of the Prometheus text exposition format 0.0.4, for the e2e
tests: reads the exposition on stdin, fails (exit 1, the line and the rule on
stderr) on anything promtool or Prometheus would reject or that is ambiguous
(a sample before its TYPE, a family split in two, a duplicate series, a bad
escape, a histogram whose buckets are not cumulative or lack +Inf = _count),
and prints the samples as JSON: [{"name", "labels": {...}, "value"}]."""
import json
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def fail(lineno, line, why):
    sys.stderr.write(f"line {lineno}: {why}\n  {line!r}\n")
    sys.exit(1)


def parse_value(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ValueError(s)
    return float(s)


def parse_labels(text, pos, lineno, line):
    """text[pos] == '{'; returns (labels, position after '}')."""
    labels = {}
    pos += 1
    while True:
        if text[pos] == "}":
            return labels, pos + 1
        m = re.match(LABEL, text[pos:])
        if not m:
            fail(lineno, line, "bad label name")
        name = m.group(0)
        if name.startswith("__"):
            fail(lineno, line, "reserved label name")
        pos += len(name)
        if text[pos:pos + 2] != '="':
            fail(lineno, line, "expected =\" after label name")
        pos += 2
        value = []
        while True:
            if pos >= len(text):
                fail(lineno, line, "unterminated label value")
            c = text[pos]
            if c == "\\":
                nxt = text[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    fail(lineno, line, "bad escape in label value")
                value.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                fail(lineno, line, "newline in label value")
            else:
                value.append(c)
                pos += 1
        if name in labels:
            fail(lineno, line, "duplicate label")
        labels[name] = "".join(value)
        if text[pos] == ",":
            pos += 1
        elif text[pos] != "}":
            fail(lineno, line, "expected , or } after label value")


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return name


def main():
    data = sys.stdin.read()
    if data and not data.endswith("\n"):
        fail(0, data[-40:], "the exposition must end with a newline")
    types, helps, done, samples, seen = {}, {}, set(), [], set()
    current = None
    for lineno, line in enumerate(data.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (" + NAME + r") (.*)", line)
            if not m:
                if re.match(r"# (HELP|TYPE)", line):
                    fail(lineno, line, "malformed HELP/TYPE")
                continue
            kind, name, rest = m.groups()
            if name in done:
                fail(lineno, line, "family seen before (families must be contiguous)")
            if current and current != name:
                done.add(current)
            current = name
            if kind == "TYPE":
                if rest not in TYPES:
                    fail(lineno, line, "unknown type")
                if name in types:
                    fail(lineno, line, "second TYPE")
                if any(family_of(s["name"], {name: rest}) == name for s in samples):
                    fail(lineno, line, "TYPE after samples")
                types[name] = rest
            else:
                if name in helps:
                    fail(lineno, line, "second HELP")
                if re.search(r"\\[^\\n]", rest):
                    fail(lineno, line, "bad escape in HELP")
                helps[name] = rest
            continue
        m = re.match(NAME, line)
        if not m:
            fail(lineno, line, "bad metric name")
        name = m.group(0)
        pos = len(name)
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = parse_labels(line, pos, lineno, line)
        rest = line[pos:]
        if not rest.startswith(" "):
            fail(lineno, line, "expected a space before the value")
        parts = rest[1:].split(" ")
        if len(parts) not in (1, 2) or "" in parts:
            fail(lineno, line, "expected value [timestamp]")
        try:
            value = parse_value(parts[0])
            if len(parts) == 2:
                int(parts[1])
        except ValueError:
            fail(lineno, line, "bad value or timestamp")
        fam = family_of(name, types)
        if fam in done:
            fail(lineno, line, "family seen before (families must be contiguous)")
        if current != fam:
            if current:
                done.add(current)
            current = fam
        t = types.get(fam, "untyped")
        if t == "counter" and (value < 0 or math.isnan(value)):
            fail(lineno, line, "negative counter")
        if t == "histogram" and name == fam:
            fail(lineno, line, "a histogram has only _bucket, _sum and _count samples")
        if t == "histogram" and name.endswith("_bucket") and "le" not in labels:
            fail(lineno, line, "bucket without le")
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            fail(lineno, line, "duplicate series")
        seen.add(key)
        samples.append({"name": name, "labels": labels, "value": value})

    # Histograms: per label set, buckets cumulative, +Inf present and equal to _count.
    for fam, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for s in samples:
            if s["name"] == fam + "_bucket":
                rest = tuple(sorted((k, v) for k, v in s["labels"].items() if k != "le"))
                groups.setdefault(rest, []).append((parse_value(s["labels"]["le"]), s["value"]))
        for rest, buckets in groups.items():
            buckets.sort()
            if buckets[-1][0] != math.inf:
                fail(0, fam, "histogram without a +Inf bucket")
            for (_, a), (_, b) in zip(buckets, buckets[1:]):
                if b < a:
                    fail(0, fam, "buckets are not cumulative")
            count = [s["value"] for s in samples
                     if s["name"] == fam + "_count" and tuple(sorted(s["labels"].items())) == rest]
            if count != [buckets[-1][1]]:
                fail(0, fam, "+Inf bucket differs from _count")
    json.dump(samples, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
