//! Which zones a country keeps, and which one a region of it (a state, a
//! province) keeps: an address that names its country restricts the
//! zones a series' times are read in, and one that also names its region
//! names the zone.
//!
//! Written by hand from the IANA database's `zone1970.tab` (its rows per
//! country, and the regions its comments name): neither `chrono-tz` nor a
//! maintained crate maps countries or ISO 3166-2 subdivisions to zones. A
//! test checks every pair here against the `zone1970.tab` of the machine
//! it runs on. A region that spans zones takes the zone most of its people
//! keep (Texas: Chicago; Florida: New York).

use chrono_tz::{America, Asia, Atlantic, Australia, Europe, Pacific, Tz};

/// Countries with several zones, each zone once per set of rules that a
/// time of day can tell apart, the most populous first.
pub const COUNTRY_ZONES: [(&str, &[Tz]); 12] = [
    (
        "US",
        &[
            America::New_York,
            America::Chicago,
            America::Denver,
            America::Phoenix,
            America::Los_Angeles,
            America::Anchorage,
            Pacific::Honolulu,
        ],
    ),
    (
        "CA",
        &[
            America::Toronto,
            America::Vancouver,
            America::Edmonton,
            America::Winnipeg,
            America::Halifax,
            America::Regina,
            America::St_Johns,
        ],
    ),
    (
        "AU",
        &[
            Australia::Sydney,
            Australia::Brisbane,
            Australia::Perth,
            Australia::Adelaide,
            Australia::Darwin,
        ],
    ),
    (
        "BR",
        &[
            America::Sao_Paulo,
            America::Manaus,
            America::Rio_Branco,
            America::Noronha,
        ],
    ),
    (
        "MX",
        &[
            America::Mexico_City,
            America::Tijuana,
            America::Cancun,
            America::Hermosillo,
            America::Mazatlan,
        ],
    ),
    (
        "RU",
        &[
            Europe::Moscow,
            Europe::Kaliningrad,
            Europe::Samara,
            Asia::Yekaterinburg,
            Asia::Omsk,
            Asia::Novosibirsk,
            Asia::Irkutsk,
            Asia::Yakutsk,
            Asia::Vladivostok,
            Asia::Magadan,
            Asia::Kamchatka,
        ],
    ),
    ("ID", &[Asia::Jakarta, Asia::Makassar, Asia::Jayapura]),
    (
        "CL",
        &[America::Santiago, America::Punta_Arenas, Pacific::Easter],
    ),
    ("ES", &[Europe::Madrid, Atlantic::Canary]),
    ("PT", &[Europe::Lisbon, Atlantic::Azores]),
    ("NZ", &[Pacific::Auckland, Pacific::Chatham]),
    ("EC", &[America::Guayaquil, Pacific::Galapagos]),
];

/// A region: its ISO 3166-2 code (without the country), the name people
/// write, and its zone.
pub type Region = (&'static str, &'static str, Tz);

/// Regions, by country.
pub const REGION_ZONES: [(&str, &[Region]); 7] = [
    ("US", US_STATES),
    ("CA", CA_PROVINCES),
    ("AU", AU_STATES),
    ("BR", BR_STATES),
    ("MX", MX_STATES),
    ("RU", RU_SUBJECTS),
    ("ID", ID_PROVINCES),
];

const US_STATES: &[Region] = &[
    ("AL", "Alabama", America::Chicago),
    ("AK", "Alaska", America::Anchorage),
    ("AZ", "Arizona", America::Phoenix),
    ("AR", "Arkansas", America::Chicago),
    ("CA", "California", America::Los_Angeles),
    ("CO", "Colorado", America::Denver),
    ("CT", "Connecticut", America::New_York),
    ("DE", "Delaware", America::New_York),
    ("DC", "District of Columbia", America::New_York),
    ("FL", "Florida", America::New_York),
    ("GA", "Georgia", America::New_York),
    ("HI", "Hawaii", Pacific::Honolulu),
    ("ID", "Idaho", America::Boise),
    ("IL", "Illinois", America::Chicago),
    ("IN", "Indiana", America::Indiana::Indianapolis),
    ("IA", "Iowa", America::Chicago),
    ("KS", "Kansas", America::Chicago),
    ("KY", "Kentucky", America::Kentucky::Louisville),
    ("LA", "Louisiana", America::Chicago),
    ("ME", "Maine", America::New_York),
    ("MD", "Maryland", America::New_York),
    ("MA", "Massachusetts", America::New_York),
    ("MI", "Michigan", America::Detroit),
    ("MN", "Minnesota", America::Chicago),
    ("MS", "Mississippi", America::Chicago),
    ("MO", "Missouri", America::Chicago),
    ("MT", "Montana", America::Denver),
    ("NE", "Nebraska", America::Chicago),
    ("NV", "Nevada", America::Los_Angeles),
    ("NH", "New Hampshire", America::New_York),
    ("NJ", "New Jersey", America::New_York),
    ("NM", "New Mexico", America::Denver),
    ("NY", "New York", America::New_York),
    ("NC", "North Carolina", America::New_York),
    ("ND", "North Dakota", America::Chicago),
    ("OH", "Ohio", America::New_York),
    ("OK", "Oklahoma", America::Chicago),
    ("OR", "Oregon", America::Los_Angeles),
    ("PA", "Pennsylvania", America::New_York),
    ("RI", "Rhode Island", America::New_York),
    ("SC", "South Carolina", America::New_York),
    ("SD", "South Dakota", America::Chicago),
    ("TN", "Tennessee", America::Chicago),
    ("TX", "Texas", America::Chicago),
    ("UT", "Utah", America::Denver),
    ("VT", "Vermont", America::New_York),
    ("VA", "Virginia", America::New_York),
    ("WA", "Washington", America::Los_Angeles),
    ("WV", "West Virginia", America::New_York),
    ("WI", "Wisconsin", America::Chicago),
    ("WY", "Wyoming", America::Denver),
];

const CA_PROVINCES: &[Region] = &[
    ("AB", "Alberta", America::Edmonton),
    ("BC", "British Columbia", America::Vancouver),
    ("MB", "Manitoba", America::Winnipeg),
    ("NB", "New Brunswick", America::Moncton),
    ("NL", "Newfoundland and Labrador", America::St_Johns),
    ("NS", "Nova Scotia", America::Halifax),
    ("NT", "Northwest Territories", America::Edmonton),
    ("NU", "Nunavut", America::Iqaluit),
    ("ON", "Ontario", America::Toronto),
    ("PE", "Prince Edward Island", America::Halifax),
    ("QC", "Quebec", America::Toronto),
    ("SK", "Saskatchewan", America::Regina),
    ("YT", "Yukon", America::Whitehorse),
];

const AU_STATES: &[Region] = &[
    ("ACT", "Australian Capital Territory", Australia::Sydney),
    ("NSW", "New South Wales", Australia::Sydney),
    ("NT", "Northern Territory", Australia::Darwin),
    ("QLD", "Queensland", Australia::Brisbane),
    ("SA", "South Australia", Australia::Adelaide),
    ("TAS", "Tasmania", Australia::Hobart),
    ("VIC", "Victoria", Australia::Melbourne),
    ("WA", "Western Australia", Australia::Perth),
];

const BR_STATES: &[Region] = &[
    ("AC", "Acre", America::Rio_Branco),
    ("AL", "Alagoas", America::Maceio),
    ("AP", "Amapá", America::Belem),
    ("AM", "Amazonas", America::Manaus),
    ("BA", "Bahia", America::Bahia),
    ("CE", "Ceará", America::Fortaleza),
    ("DF", "Distrito Federal", America::Sao_Paulo),
    ("ES", "Espírito Santo", America::Sao_Paulo),
    ("GO", "Goiás", America::Sao_Paulo),
    ("MA", "Maranhão", America::Fortaleza),
    ("MT", "Mato Grosso", America::Cuiaba),
    ("MS", "Mato Grosso do Sul", America::Campo_Grande),
    ("MG", "Minas Gerais", America::Sao_Paulo),
    ("PA", "Pará", America::Belem),
    ("PB", "Paraíba", America::Fortaleza),
    ("PR", "Paraná", America::Sao_Paulo),
    ("PE", "Pernambuco", America::Recife),
    ("PI", "Piauí", America::Fortaleza),
    ("RJ", "Rio de Janeiro", America::Sao_Paulo),
    ("RN", "Rio Grande do Norte", America::Fortaleza),
    ("RS", "Rio Grande do Sul", America::Sao_Paulo),
    ("RO", "Rondônia", America::Porto_Velho),
    ("RR", "Roraima", America::Boa_Vista),
    ("SC", "Santa Catarina", America::Sao_Paulo),
    ("SP", "São Paulo", America::Sao_Paulo),
    ("SE", "Sergipe", America::Maceio),
    ("TO", "Tocantins", America::Araguaina),
];

const MX_STATES: &[Region] = &[
    ("AGU", "Aguascalientes", America::Mexico_City),
    ("BCN", "Baja California", America::Tijuana),
    ("BCS", "Baja California Sur", America::Mazatlan),
    ("CAM", "Campeche", America::Merida),
    ("CHP", "Chiapas", America::Mexico_City),
    ("CHH", "Chihuahua", America::Chihuahua),
    ("CMX", "Ciudad de México", America::Mexico_City),
    ("COA", "Coahuila", America::Monterrey),
    ("COL", "Colima", America::Mexico_City),
    ("DUR", "Durango", America::Monterrey),
    ("GUA", "Guanajuato", America::Mexico_City),
    ("GRO", "Guerrero", America::Mexico_City),
    ("HID", "Hidalgo", America::Mexico_City),
    ("JAL", "Jalisco", America::Mexico_City),
    ("MEX", "Estado de México", America::Mexico_City),
    ("MIC", "Michoacán", America::Mexico_City),
    ("MOR", "Morelos", America::Mexico_City),
    ("NAY", "Nayarit", America::Mazatlan),
    ("NLE", "Nuevo León", America::Monterrey),
    ("OAX", "Oaxaca", America::Mexico_City),
    ("PUE", "Puebla", America::Mexico_City),
    ("QUE", "Querétaro", America::Mexico_City),
    ("ROO", "Quintana Roo", America::Cancun),
    ("SLP", "San Luis Potosí", America::Mexico_City),
    ("SIN", "Sinaloa", America::Mazatlan),
    ("SON", "Sonora", America::Hermosillo),
    ("TAB", "Tabasco", America::Mexico_City),
    ("TAM", "Tamaulipas", America::Monterrey),
    ("TLA", "Tlaxcala", America::Mexico_City),
    ("VER", "Veracruz", America::Mexico_City),
    ("YUC", "Yucatán", America::Merida),
    ("ZAC", "Zacatecas", America::Mexico_City),
];

/// The federal subjects where most of Russia's people live.
const RU_SUBJECTS: &[Region] = &[
    ("MOW", "Moscow", Europe::Moscow),
    ("MOS", "Moscow Oblast", Europe::Moscow),
    ("SPE", "Saint Petersburg", Europe::Moscow),
    ("LEN", "Leningrad Oblast", Europe::Moscow),
    ("KGD", "Kaliningrad Oblast", Europe::Kaliningrad),
    ("TA", "Tatarstan", Europe::Moscow),
    ("NIZ", "Nizhny Novgorod Oblast", Europe::Moscow),
    ("KDA", "Krasnodar Krai", Europe::Moscow),
    ("ROS", "Rostov Oblast", Europe::Moscow),
    ("VGG", "Volgograd Oblast", Europe::Volgograd),
    ("SAM", "Samara Oblast", Europe::Samara),
    ("BA", "Bashkortostan", Asia::Yekaterinburg),
    ("SVE", "Sverdlovsk Oblast", Asia::Yekaterinburg),
    ("CHE", "Chelyabinsk Oblast", Asia::Yekaterinburg),
    ("PER", "Perm Krai", Asia::Yekaterinburg),
    ("OMS", "Omsk Oblast", Asia::Omsk),
    ("NVS", "Novosibirsk Oblast", Asia::Novosibirsk),
    ("TOM", "Tomsk Oblast", Asia::Tomsk),
    ("KEM", "Kemerovo Oblast", Asia::Novokuznetsk),
    ("KYA", "Krasnoyarsk Krai", Asia::Krasnoyarsk),
    ("IRK", "Irkutsk Oblast", Asia::Irkutsk),
    ("SA", "Sakha", Asia::Yakutsk),
    ("PRI", "Primorsky Krai", Asia::Vladivostok),
    ("KHA", "Khabarovsk Krai", Asia::Vladivostok),
    ("MAG", "Magadan Oblast", Asia::Magadan),
    ("KAM", "Kamchatka Krai", Asia::Kamchatka),
];

const ID_PROVINCES: &[Region] = &[
    ("AC", "Aceh", Asia::Jakarta),
    ("SU", "North Sumatra", Asia::Jakarta),
    ("SB", "West Sumatra", Asia::Jakarta),
    ("RI", "Riau", Asia::Jakarta),
    ("SS", "South Sumatra", Asia::Jakarta),
    ("LA", "Lampung", Asia::Jakarta),
    ("BT", "Banten", Asia::Jakarta),
    ("JK", "Jakarta", Asia::Jakarta),
    ("JB", "West Java", Asia::Jakarta),
    ("JT", "Central Java", Asia::Jakarta),
    ("YO", "Yogyakarta", Asia::Jakarta),
    ("JI", "East Java", Asia::Jakarta),
    ("KB", "West Kalimantan", Asia::Pontianak),
    ("KT", "Central Kalimantan", Asia::Pontianak),
    ("KS", "South Kalimantan", Asia::Makassar),
    ("KI", "East Kalimantan", Asia::Makassar),
    ("BA", "Bali", Asia::Makassar),
    ("NB", "West Nusa Tenggara", Asia::Makassar),
    ("NT", "East Nusa Tenggara", Asia::Makassar),
    ("SN", "South Sulawesi", Asia::Makassar),
    ("SA", "North Sulawesi", Asia::Makassar),
    ("MA", "Maluku", Asia::Jayapura),
    ("PA", "Papua", Asia::Jayapura),
    ("PB", "West Papua", Asia::Jayapura),
];

/// What an address says of its zone.
#[derive(Clone, Debug, PartialEq)]
pub enum AddressZone {
    /// One zone: the country keeps one, or the region names it.
    One(Tz),
    /// One of these, which the times must tell apart; `unknown_region`
    /// is a region the address gave that is not in the table.
    Among {
        /// The country's zones, most populous first.
        zones: &'static [Tz],
        /// A region given but not known.
        unknown_region: Option<String>,
    },
}

/// The zones of multi-zone `country` (ISO 3166 alpha-2), if it has several.
pub fn country_zones(country: &str) -> Option<&'static [Tz]> {
    COUNTRY_ZONES
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(country.trim()))
        .map(|(_, zones)| *zones)
}

/// What the `region` of a `country` with several zones says: its zone,
/// or the country's zones when it names none this table knows.
pub fn region_zone(country: &str, region: Option<&str>) -> Option<AddressZone> {
    let zones = country_zones(country)?;
    let Some(region) = region.map(str::trim).filter(|r| !r.is_empty()) else {
        return Some(AddressZone::Among {
            zones,
            unknown_region: None,
        });
    };
    let country = country.trim().to_ascii_uppercase();
    let code = match region.split_once('-') {
        Some((prefix, code)) if prefix.eq_ignore_ascii_case(&country) => code,
        _ => region,
    };
    let found = REGION_ZONES
        .iter()
        .find(|(c, _)| *c == country)
        .and_then(|(_, regions)| {
            regions
                .iter()
                .find(|(iso, name, _)| iso.eq_ignore_ascii_case(code) || same_name(name, region))
        });
    Some(match found {
        Some((_, _, zone)) => AddressZone::One(*zone),
        None => AddressZone::Among {
            zones,
            unknown_region: Some(region.to_owned()),
        },
    })
}

/// Names equal ignoring case and accents ("Sao Paulo" is "São Paulo").
fn same_name(a: &str, b: &str) -> bool {
    let fold = |text: &str| -> String {
        text.chars()
            .flat_map(char::to_lowercase)
            .map(|c| match c {
                'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'í' | 'ì' | 'î' | 'ï' => 'i',
                'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
                'ú' | 'ù' | 'û' | 'ü' => 'u',
                'ç' => 'c',
                'ñ' => 'n',
                other => other,
            })
            .collect()
    };
    fold(a) == fold(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_by_code_or_name_names_its_zone() {
        assert_eq!(
            region_zone("US", Some("NY")),
            Some(AddressZone::One(America::New_York))
        );
        assert_eq!(
            region_zone("us", Some("us-ca")),
            Some(AddressZone::One(America::Los_Angeles))
        );
        assert_eq!(
            region_zone("BR", Some("Sao Paulo")),
            Some(AddressZone::One(America::Sao_Paulo))
        );
        assert_eq!(
            region_zone("AU", Some("Western Australia")),
            Some(AddressZone::One(Australia::Perth))
        );
    }

    #[test]
    fn an_unknown_region_or_none_leaves_the_countrys_zones() {
        let us = country_zones("US").unwrap();
        assert_eq!(
            region_zone("US", Some("Atlantis")),
            Some(AddressZone::Among {
                zones: us,
                unknown_region: Some("Atlantis".into())
            })
        );
        assert_eq!(
            region_zone("US", None),
            Some(AddressZone::Among {
                zones: us,
                unknown_region: None
            })
        );
        assert_eq!(region_zone("DE", Some("Berlin")), None);
    }
}
