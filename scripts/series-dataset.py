#!/usr/bin/env python3
"""Writes the labelled series-detection scenarios of tests/data/series/.

Each scenario is a JSON file: {"scenario", "events": [calendar event records
with their uri], "expected": [{"uris": [...], "rrule": "..."}]}. The events
carry the noise real organizers produce: numbered and dated names, skipped
weeks, moved dates, DST changes, cancellations, look-alikes by other DIDs.
Run it again after changing a scenario; the files are committed.
"""
import json
import pathlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "series"
EVENT = "community.lexicon.calendar.event"


def record(did, rkey, name, local, zone, status=None):
    start = local.replace(tzinfo=ZoneInfo(zone))
    rec = {
        "uri": f"at://{did}/{EVENT}/{rkey}",
        "$type": EVENT,
        "name": name,
        "createdAt": "2026-08-01T09:00:00Z",
        "startsAt": start.isoformat(),
        "endsAt": (start + timedelta(hours=2)).isoformat(),
        "mode": f"{EVENT}#inperson",
        "timezone": zone,
    }
    if status:
        rec["status"] = f"{EVENT}#{status}"
    return rec


def stamp(local):
    return local.strftime("%Y%m%dT%H%M%S")


def rule(zone, start, rrule, exdates=(), rdates=()):
    text = f"DTSTART;TZID={zone}:{stamp(start)}\nRRULE:{rrule}"
    if exdates:
        text += f"\nEXDATE;TZID={zone}:" + ",".join(stamp(d) for d in exdates)
    if rdates:
        text += f"\nRDATE;TZID={zone}:" + ",".join(stamp(d) for d in rdates)
    return text


def series(did, prefix, names, dates, zone):
    events = [record(did, f"{prefix}{n}", names[n % len(names)], d, zone) for n, d in enumerate(dates)]
    return events, [e["uri"] for e in events]


def weeks(start, count, every=1):
    return [start + timedelta(weeks=every * n) for n in range(count)]


scenarios = {}

# 1. Weekly, numbered and dated name variants, a holiday skipped, across the October DST change.
start = datetime(2026, 10, 6, 18, 0)
dates = [d for d in weeks(start, 8) if d != datetime(2026, 10, 27, 18, 0)]
names = ["Rust Meetup #{}".format(n) for n in range(12, 20)]
names[2] = "Rust meetup – October"
names[5] = "Rust Meetup (online)"
events, uris = series("did:plc:rustberlin", "rm", names, dates, "Europe/Berlin")
scenarios["weekly-name-variants-holiday-dst"] = (events, [{"uris": uris, "rrule": rule("Europe/Berlin", start, "FREQ=WEEKLY;BYDAY=TU", [datetime(2026, 10, 27, 18, 0)])}])

# 2. Every two weeks on Thursday evening.
start = datetime(2026, 9, 3, 19, 0)
events, uris = series("did:plc:nycjs", "js", ["NYC JS Night", "NYC JS Night #{}".format(7)], weeks(start, 6, 2), "America/New_York")
scenarios["biweekly"] = (events, [{"uris": uris, "rrule": rule("America/New_York", start, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH")}])

# 3. Monthly on the last Friday.
dates = [datetime(2026, m, d, 20, 0) for m, d in [(7, 31), (8, 28), (9, 25), (10, 30), (11, 27)]]
events, uris = series("did:plc:pubquiz", "pq", ["Pub Quiz", "Pub quiz: summer special", "Pub Quiz"], dates, "Europe/London")
scenarios["monthly-last-friday"] = (events, [{"uris": uris, "rrule": rule("Europe/London", dates[0], "FREQ=MONTHLY;BYDAY=-1FR")}])

# 4. Monthly on the second Tuesday, one occurrence moved to the Wednesday.
dates = [datetime(2026, m, d, 18, 30) for m, d in [(6, 9), (7, 14), (8, 12), (9, 8), (10, 13)]]
moved = datetime(2026, 8, 12, 18, 30)
original = datetime(2026, 8, 11, 18, 30)
events, uris = series("did:plc:gophers", "go", ["Go Night"], dates, "Europe/Amsterdam")
scenarios["monthly-second-tuesday-moved"] = (events, [{"uris": uris, "rrule": rule("Europe/Amsterdam", dates[0], "FREQ=MONTHLY;BYDAY=2TU", [original], [moved])}])

# 5. Monthly on the 15th.
dates = [datetime(2026, m, 15, 12, 0) for m in range(5, 10)]
events, uris = series("did:plc:lunch", "lu", ["Founders lunch"], dates, "Asia/Tokyo")
scenarios["monthly-day-of-month"] = (events, [{"uris": uris, "rrule": rule("Asia/Tokyo", dates[0], "FREQ=MONTHLY;BYMONTHDAY=15")}])

# 6. Two series by one organizer on the same weekday.
a_start, b_start = datetime(2026, 9, 1, 18, 0), datetime(2026, 9, 1, 20, 0)
a_events, a_uris = series("did:plc:hub", "a", ["Rust Meetup"], weeks(a_start, 5), "Europe/Berlin")
b_events, b_uris = series("did:plc:hub", "b", ["Book Club"], weeks(b_start, 5, 2), "Europe/Berlin")
scenarios["two-series-same-weekday"] = (a_events + b_events, [
    {"uris": a_uris, "rrule": rule("Europe/Berlin", a_start, "FREQ=WEEKLY;BYDAY=TU")},
    {"uris": b_uris, "rrule": rule("Europe/Berlin", b_start, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU")},
])

# 7. Look-alikes by other DIDs: the same name, too few events each.
events = []
for n, did in enumerate(["did:plc:copy1", "did:plc:copy2", "did:plc:copy3"]):
    for k in range(2):
        events.append(record(did, f"c{k}", "Rust Meetup #{}".format(n + k), datetime(2026, 9, 1 + 7 * k, 18, 0), "Europe/Berlin"))
scenarios["look-alikes-other-dids"] = (events, [])

# 8. One-offs: unrelated events of one organizer.
events = [
    record("did:plc:venue", "o1", "Jazz Evening", datetime(2026, 9, 4, 20, 0), "Europe/Paris"),
    record("did:plc:venue", "o2", "Wine tasting", datetime(2026, 9, 12, 18, 0), "Europe/Paris"),
    record("did:plc:venue", "o3", "Poetry slam", datetime(2026, 9, 19, 21, 0), "Europe/Paris"),
    record("did:plc:venue", "o4", "Open mic", datetime(2026, 10, 2, 19, 0), "Europe/Paris"),
]
scenarios["one-offs"] = (events, [])

# 9. A cancelled occurrence (still imported) and one never published.
start = datetime(2026, 9, 7, 9, 0)
dates = weeks(start, 7)
skipped = dates[5]
kept = [d for d in dates if d != skipped]
events, uris = series("did:plc:yoga", "y", ["Morning yoga"], kept, "Australia/Sydney")
events[2]["status"] = f"{EVENT}#cancelled"
scenarios["cancelled-and-missing"] = (events, [{"uris": uris, "rrule": rule("Australia/Sydney", start, "FREQ=WEEKLY;BYDAY=MO", [skipped])}])

# 10. Across the March DST change, weekly on Wednesday.
start = datetime(2027, 3, 10, 18, 0)
events, uris = series("did:plc:dst", "d", ["Makers night", "Makers Night #{}".format(3)], weeks(start, 6), "Europe/Berlin")
scenarios["dst-spring"] = (events, [{"uris": uris, "rrule": rule("Europe/Berlin", start, "FREQ=WEEKLY;BYDAY=WE")}])

# 11. A series with a look-alike one-off at another time of day.
start = datetime(2026, 9, 2, 18, 0)
events, uris = series("did:plc:pyclub", "p", ["Python Meetup"], weeks(start, 5), "Europe/Madrid")
events.append(record("did:plc:pyclub", "late", "Python Meetup afterparty", datetime(2026, 9, 9, 23, 0), "Europe/Madrid"))
scenarios["series-with-late-look-alike"] = (events, [{"uris": uris, "rrule": rule("Europe/Madrid", start, "FREQ=WEEKLY;BYDAY=WE")}])

# 12. A weekly series with its venue and blurb, one week at another venue and
# one blurb rewritten, beside a look-alike by another DID: the supporting
# signals lower the confidence a little and split nothing.
start = datetime(2026, 9, 1, 19, 0)
events, uris = series("did:plc:gophers", "g", ["Go Night", "Go Night #{}".format(4)], weeks(start, 6), "Europe/Vienna")
cbase = {"$type": "community.lexicon.location.address", "country": "AT", "locality": "Wien", "street": "Museumsplatz 1", "name": "Metalab"}
elsewhere = {"$type": "community.lexicon.location.address", "country": "AT", "locality": "Wien", "street": "Praterstern 1", "name": "Sektor5"}
for n, event in enumerate(events):
    event["locations"] = [elsewhere if n == 3 else cbase]
    event["description"] = "Talks, pizza and Go, every Tuesday." if n != 4 else "Lightning talks only this week: bring a slide!"
other = record("did:plc:othergophers", "x0", "Go Night", datetime(2026, 9, 8, 19, 0), "Europe/Vienna")
other["locations"] = [elsewhere]
events.append(other)
scenarios["weekly-with-venue-and-blurb"] = (events, [{"uris": uris, "rrule": rule("Europe/Vienna", start, "FREQ=WEEKLY;BYDAY=TU")}])

OUT.mkdir(parents=True, exist_ok=True)
for name, (events, expected) in scenarios.items():
    (OUT / f"{name}.json").write_text(json.dumps({"scenario": name, "events": events, "expected": expected}, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {len(scenarios)} scenarios to {OUT}")
