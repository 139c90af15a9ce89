//! The hand-written table of countries' and regions' zones
//! (`series_detection::regions`) checked against the IANA database's
//! `zone1970.tab` of the machine (Debian's `tzdata`): every zone listed
//! for a country is one that file lists for it. Says "skipped" where the
//! file is absent.

use std::collections::BTreeSet;

use domain::series_detection::regions::{COUNTRY_ZONES, REGION_ZONES};

const ZONE1970: &str = "/usr/share/zoneinfo/zone1970.tab";

#[test]
fn every_zone_in_the_table_is_one_the_iana_database_gives_its_country() {
    let Ok(table) = std::fs::read_to_string(ZONE1970) else {
        eprintln!("skipped: {ZONE1970} is absent");
        return;
    };
    let rows: BTreeSet<(String, String)> = table
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            Some((columns.first()?.to_string(), columns.get(2)?.to_string()))
        })
        .flat_map(|(countries, zone)| {
            countries
                .split(',')
                .map(|country| (country.to_owned(), zone.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut wrong = vec![];
    for (country, zones) in COUNTRY_ZONES {
        for zone in zones {
            if !rows.contains(&(country.to_owned(), zone.name().to_owned())) {
                wrong.push(format!("{country}: {}", zone.name()));
            }
        }
    }
    for (country, regions) in REGION_ZONES {
        for (code, name, zone) in regions {
            if !rows.contains(&(country.to_owned(), zone.name().to_owned())) {
                wrong.push(format!("{country}-{code} ({name}): {}", zone.name()));
            }
        }
    }
    assert_eq!(wrong, Vec::<String>::new());
}
