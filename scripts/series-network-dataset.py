#!/usr/bin/env python3
"""Writes the network-shaped series-detection scenarios of
tests/data/series-network/.

Records as Bluesky clients publish them: `startsAt`/`endsAt` in UTC (`Z`),
no `timezone` field, each occurrence a standalone record. The organizer
planned each series in local wall time in a zone the record does not
name; some records say where they happen (coordinates or an address),
virtual ones do not. Files named `holdout-*` are kept out of tuning: they
are scored separately, at the end (domain/tests/series_dataset.rs).

Each file: {"scenario", "events": [records with their uri], "expected":
[{"uris", "rrule"}]}, the rule in the zone the series was planned in.
Run it again after changing a scenario; the files are committed.
"""
import json
import pathlib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "series-network"
EVENT = "community.lexicon.calendar.event"


def utc(local, zone):
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def z(at):
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def record(did, rkey, name, local, zone, place=None, mode="inperson"):
    start = utc(local, zone)
    rec = {
        "uri": f"at://{did}/{EVENT}/{rkey}",
        "$type": EVENT,
        "name": name,
        "createdAt": z(start - timedelta(days=10)),
        "startsAt": z(start),
        "endsAt": z(start + timedelta(hours=2)),
        "mode": f"{EVENT}#{mode}",
    }
    if place:
        rec["locations"] = [place]
    return rec


def geo(lat, lng, name):
    return {"$type": "community.lexicon.location.geo", "latitude": lat, "longitude": lng, "name": name}


def address(country, locality, name):
    return {"$type": "community.lexicon.location.address", "country": country, "locality": locality, "name": name}


def stamp(local):
    return local.strftime("%Y%m%dT%H%M%S")


def rule(zone, start, rrule, exdates=(), rdates=()):
    text = f"DTSTART;TZID={zone}:{stamp(start)}\nRRULE:{rrule}"
    if exdates:
        text += f"\nEXDATE;TZID={zone}:" + ",".join(stamp(d) for d in exdates)
    if rdates:
        text += f"\nRDATE;TZID={zone}:" + ",".join(stamp(d) for d in rdates)
    return text


def weekly(start, count, every=1):
    return [start + timedelta(weeks=every * n) for n in range(count)]


def nth_weekday(year, month, weekday, n):
    """The n-th (1-based; -1 the last) weekday (0 = Monday) of a month."""
    if n > 0:
        first = datetime(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = datetime(year + month // 12, month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def series(did, prefix, names, locals_, zone, place=None, mode="inperson"):
    return [
        record(did, f"{prefix}{n}", names[n % len(names)], local, zone, place, mode)
        for n, local in enumerate(locals_)
    ]


def scenario(name, events, expected):
    return {"scenario": name, "events": events, "expected": expected}


def uris(events):
    return [e["uri"] for e in events]


def build():
    out = []

    # New York, weekly Tuesday 18:30 across the March change; no location.
    zone = "America/New_York"
    dates = weekly(datetime(2026, 2, 10, 18, 30), 8)
    ev = series("did:plc:nyrust", "ny", ["Rust NYC", "Rust NYC #41", "Rust NYC: async"], dates, zone, mode="virtual")
    out.append(scenario("ny-weekly-across-dst", ev, [{"uris": uris(ev), "rrule": rule(zone, dates[0], "FREQ=WEEKLY;BYDAY=TU")}]))

    # Los Angeles, Monday 18:00: Tuesday in UTC; across the November change.
    zone = "America/Los_Angeles"
    dates = weekly(datetime(2026, 10, 12, 18, 0), 7)
    place = geo("34.0522", "-118.2437", "Downtown LA makerspace")
    ev = series("did:plc:lamakers", "la", ["Makers Monday", "Makers Monday #12"], dates, zone, place)
    out.append(scenario("la-monday-is-tuesday-in-utc", ev, [{"uris": uris(ev), "rrule": rule(zone, dates[0], "FREQ=WEEKLY;BYDAY=MO")}]))

    # Sydney, fortnightly Wednesday 19:00 across the April change (southern hemisphere).
    zone = "Australia/Sydney"
    dates = weekly(datetime(2026, 2, 18, 19, 0), 7, every=2)
    place = geo("-33.8688", "151.2093", "Sydney Startup Hub")
    ev = series("did:plc:sydjs", "syd", ["SydJS", "SydJS — April edition", "SydJS"], dates, zone, place)
    out.append(scenario("sydney-fortnightly-southern-dst", ev, [{"uris": uris(ev), "rrule": rule(zone, dates[0], "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE")}]))

    # Berlin, two series of one organizer on Thursdays at 18:00 and 20:30 (address only).
    zone = "Europe/Berlin"
    place = address("DE", "Berlin", "c-base")
    early = weekly(datetime(2026, 10, 1, 18, 0), 6)
    late = weekly(datetime(2026, 10, 1, 20, 30), 6)
    a = series("did:plc:cbase", "early", ["Hardware hacking"], early, zone, place)
    b = series("did:plc:cbase", "late", ["Open stage"], late, zone, place)
    out.append(scenario("two-series-one-weekday-two-times", a + b, [
        {"uris": uris(a), "rrule": rule(zone, early[0], "FREQ=WEEKLY;BYDAY=TH")},
        {"uris": uris(b), "rrule": rule(zone, late[0], "FREQ=WEEKLY;BYDAY=TH")},
    ]))

    # The same name from different DIDs, each a series of its own (London, coordinates).
    zone = "Europe/London"
    place = geo("51.5072", "-0.1276", "Somewhere in London")
    one = weekly(datetime(2026, 3, 4, 19, 0), 6)
    two = weekly(datetime(2026, 3, 6, 12, 0), 6)
    a = series("did:plc:londona", "a", ["Book club"], one, zone, place)
    b = series("did:plc:londonb", "b", ["Book club"], two, zone, place)
    out.append(scenario("same-name-other-dids", a + b, [
        {"uris": uris(a), "rrule": rule(zone, one[0], "FREQ=WEEKLY;BYDAY=WE")},
        {"uris": uris(b), "rrule": rule(zone, two[0], "FREQ=WEEKLY;BYDAY=FR")},
    ]))

    # Chicago, monthly on the second Thursday 19:00, virtual, across the March change.
    zone = "America/Chicago"
    dates = [nth_weekday(2026, m, 3, 2).replace(hour=19) for m in range(1, 7)]
    ev = series("did:plc:chibooks", "chi", ["Online book club", "Online book club: Dune"], dates, zone, mode="virtual")
    out.append(scenario("virtual-monthly-second-thursday", ev, [{"uris": uris(ev), "rrule": rule(zone, dates[0], "FREQ=MONTHLY;BYDAY=2TH")}]))

    # Names that change every time; Berlin, address, across the October change.
    zone = "Europe/Berlin"
    dates = weekly(datetime(2026, 10, 6, 19, 0), 7)
    names = ["Rust Meetup #17", "Rust Meetup: Embedded Rust", "Rust Meetup #19", "Rust Meetup - async",
             "Rust meetup #21", "Rust Meetup (last one of the year)", "Rust Meetup #23"]
    ev = [record("did:plc:rustber", f"r{n}", names[n], d, zone, address("DE", "Berlin", "Mozilla")) for n, d in enumerate(dates)]
    out.append(scenario("holdout-names-change-every-time", ev, [{"uris": uris(ev), "rrule": rule(zone, dates[0], "FREQ=WEEKLY;BYDAY=TU")}]))

    # Holidays skipped and one date moved; Denver, coordinates, across the November change.
    zone = "America/Denver"
    planned = weekly(datetime(2026, 10, 14, 18, 0), 10)
    skipped = [planned[6]]
    moved_from, moved_to = planned[3], planned[3] + timedelta(days=1)
    dates = [d for d in planned if d not in skipped and d != moved_from] + [moved_to]
    dates.sort()
    place = geo("39.7392", "-104.9903", "Denver library")
    ev = series("did:plc:denverpy", "den", ["Denver Python", "Denver Python #88"], dates, zone, place)
    out.append(scenario("holdout-skipped-and-moved", ev, [{
        "uris": uris(ev),
        "rrule": rule(zone, dates[0], "FREQ=WEEKLY;BYDAY=WE", exdates=[moved_from, skipped[0]], rdates=[moved_to]),
    }]))

    # Noise: one-offs at scattered times, no series.
    zone = "America/New_York"
    noise = [
        record("did:plc:noise", "n0", "Launch party", datetime(2026, 3, 2, 20, 0), zone),
        record("did:plc:noise", "n1", "Hackathon", datetime(2026, 3, 14, 9, 0), zone),
        record("did:plc:noise", "n2", "Demo day", datetime(2026, 4, 22, 15, 0), zone),
        record("did:plc:noise", "n3", "Holiday social", datetime(2026, 12, 18, 19, 0), zone),
    ]
    out.append(scenario("holdout-noise", noise, []))

    # Auckland, weekly Saturday 10:00, virtual, across the April change.
    zone = "Pacific/Auckland"
    dates = weekly(datetime(2026, 3, 14, 10, 0), 6)
    ev = series("did:plc:aklrun", "akl", ["parkrun social"], dates, zone, mode="virtual")
    out.append(scenario("holdout-auckland-weekly-saturday", ev, [{"uris": uris(ev), "rrule": rule(zone, dates[0], "FREQ=WEEKLY;BYDAY=SA")}]))

    # Phoenix keeps no DST: constant UTC times, with coordinates.
    zone = "America/Phoenix"
    dates = weekly(datetime(2026, 2, 26, 17, 30), 6)
    place = geo("33.4484", "-112.0740", "Phoenix coworking")
    ev = series("did:plc:phxdev", "phx", ["PHX devs"], dates, zone, place)
    out.append(scenario("phoenix-no-dst", ev, [{"uris": uris(ev), "rrule": rule(zone, dates[0], "FREQ=WEEKLY;BYDAY=TH")}]))

    # Bad evidence beside good: a zone-less record whose coordinate is not one.
    zone = "Europe/London"
    dates = weekly(datetime(2026, 3, 18, 18, 0), 5)
    ev = series("did:plc:badgeo", "bg", ["Data drinks"], dates, zone, geo("north", "west", "The pub"))
    out.append(scenario("holdout-bad-coordinates", ev, [{"uris": uris(ev), "rrule": rule(zone, dates[0], "FREQ=WEEKLY;BYDAY=WE")}]))

    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for doc in build():
        (OUT / f"{doc['scenario']}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
