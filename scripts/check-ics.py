#!/usr/bin/env python3
"""Checks a calendar feed (RFC 5545) with an independent parser, PyPI's `icalendar`.

Usage: scripts/check-ics.py FILE

Fails (exit 1, reasons on stderr) unless FILE is UTF-8 with CRLF line ends, every physical
line is at most 75 octets, the parser reads it without errors, the VCALENDAR has VERSION:2.0,
PRODID, CALSCALE:GREGORIAN and METHOD:PUBLISH, and every VEVENT has a UID, DTSTAMP, DTSTART
and DTEND in UTC (DTEND after DTSTART), STATUS CONFIRMED or CANCELLED and an integer SEQUENCE.
On success prints the events as the parser read them (unescaped), one JSON array on stdout,
so that a caller can compare them with what it expects.

Installs `icalendar` with pip when it cannot be imported.
"""

import datetime
import json
import subprocess
import sys


def load_icalendar():
    try:
        import icalendar  # noqa: F401
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "icalendar"],
            check=True,
            stdout=sys.stderr,
        )
    import icalendar

    return icalendar


def check_lines(raw, problems):
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        problems.append(f"not UTF-8: {e}")
        return
    if not raw.endswith(b"\r\n"):
        problems.append("the last line does not end with CRLF")
    body = raw[:-2] if raw.endswith(b"\r\n") else raw
    for number, line in enumerate(body.split(b"\r\n"), start=1):
        if b"\n" in line or b"\r" in line:
            problems.append(f"line {number}: a bare CR or LF")
        if len(line) > 75:
            problems.append(f"line {number}: {len(line)} octets (more than 75)")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"line {number}: folded inside a UTF-8 sequence")


def utc_instant(event, name, problems):
    prop = event.get(name)
    if prop is None:
        problems.append(f"{event.get('UID')}: no {name}")
        return None
    value = prop.dt
    if not isinstance(value, datetime.datetime) or value.utcoffset() != datetime.timedelta(0):
        problems.append(f"{event.get('UID')}: {name} {value!r} is not a UTC date-time")
        return None
    if not prop.to_ical().endswith(b"Z"):
        problems.append(f"{event.get('UID')}: {name} is not written with Z")
    return value


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    icalendar = load_icalendar()
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    problems = []
    check_lines(raw, problems)
    calendar = icalendar.Calendar.from_ical(raw)
    for component in calendar.walk():
        for error in getattr(component, "errors", []):
            problems.append(f"{component.name}: parse error {error}")
    for name, expected in [("VERSION", "2.0"), ("CALSCALE", "GREGORIAN"), ("METHOD", "PUBLISH")]:
        if str(calendar.get(name)) != expected:
            problems.append(f"VCALENDAR: {name} is {calendar.get(name)!r}, not {expected}")
    if not calendar.get("PRODID"):
        problems.append("VCALENDAR: no PRODID")
    events = []
    uids = set()
    for event in calendar.walk("VEVENT"):
        uid = event.get("UID")
        if not uid:
            problems.append("a VEVENT without UID")
            continue
        uid = str(uid)
        if uid in uids:
            problems.append(f"{uid}: UID twice")
        uids.add(uid)
        stamp = utc_instant(event, "DTSTAMP", problems)
        start = utc_instant(event, "DTSTART", problems)
        end = utc_instant(event, "DTEND", problems)
        if start and end and not end > start:
            problems.append(f"{uid}: DTEND is not after DTSTART")
        status = str(event.get("STATUS", ""))
        if status not in ("CONFIRMED", "CANCELLED"):
            problems.append(f"{uid}: STATUS {status!r}")
        sequence = event.get("SEQUENCE")
        if not isinstance(sequence, int) or sequence < 0:
            problems.append(f"{uid}: SEQUENCE {sequence!r} is not a non-negative integer")
        events.append(
            {
                "uid": uid,
                "status": status,
                "sequence": sequence,
                "summary": str(event.get("SUMMARY", "")),
                "location": str(event.get("LOCATION", "")),
                "description": str(event["DESCRIPTION"]) if "DESCRIPTION" in event else None,
                "dtstamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else None,
                "dtstart": start.strftime("%Y-%m-%dT%H:%M:%SZ") if start else None,
                "dtend": end.strftime("%Y-%m-%dT%H:%M:%SZ") if end else None,
            }
        )
    if problems:
        for problem in problems:
            print(f"check-ics: {problem}", file=sys.stderr)
        return 1
    json.dump(events, sys.stdout, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
