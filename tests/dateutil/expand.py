"""The reference expansion for the recurrence cross-check: python-dateutil.

usage: python3 expand.py DTSTART TZ RRULE COUNT [EXDATE...]
prints one RFC 3339 instant with offset per line, like
`openmeet-sync recurrence expand --count COUNT`.
"""
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr, rruleset

dtstart, zone, rule, count, *exdates = sys.argv[1:]
tz = ZoneInfo(zone)
start = datetime.fromisoformat(dtstart).replace(tzinfo=tz)
occurrences = rruleset()
occurrences.rrule(rrulestr(rule, dtstart=start))
for exdate in exdates:
    occurrences.exdate(datetime.fromisoformat(exdate).replace(tzinfo=tz))
for n, at in enumerate(occurrences):
    if n == int(count):
        break
    print(at.isoformat())
