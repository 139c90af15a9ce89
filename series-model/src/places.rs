//! Where the model's series happen: real cities of both hemispheres, with
//! their zone, country, region (as ISO 3166-2 code and as people write
//! it) and coordinates, and how a record says where it is.

use chrono_tz::Tz;
use chrono_tz::{Africa, America, Asia, Australia, Europe, Pacific};
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

/// A city the model places series in.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    pub zone: Tz,
    pub country: &'static str,
    pub region_code: &'static str,
    pub region_name: &'static str,
    pub locality: &'static str,
    pub latitude: f64,
    pub longitude: f64,
}

const fn site(
    zone: Tz,
    country: &'static str,
    region_code: &'static str,
    region_name: &'static str,
    locality: &'static str,
    latitude: f64,
    longitude: f64,
) -> Site {
    Site {
        zone,
        country,
        region_code,
        region_name,
        locality,
        latitude,
        longitude,
    }
}

/// Cities, weighted towards countries with several zones, where a
/// country alone does not say the zone.
pub const SITES: [Site; 32] = [
    site(
        America::New_York,
        "US",
        "NY",
        "New York",
        "New York",
        40.7128,
        -74.0060,
    ),
    site(
        America::New_York,
        "US",
        "MA",
        "Massachusetts",
        "Boston",
        42.3601,
        -71.0589,
    ),
    site(
        America::Chicago,
        "US",
        "IL",
        "Illinois",
        "Chicago",
        41.8781,
        -87.6298,
    ),
    site(
        America::Chicago,
        "US",
        "TX",
        "Texas",
        "Austin",
        30.2672,
        -97.7431,
    ),
    site(
        America::Denver,
        "US",
        "CO",
        "Colorado",
        "Denver",
        39.7392,
        -104.9903,
    ),
    site(
        America::Phoenix,
        "US",
        "AZ",
        "Arizona",
        "Phoenix",
        33.4484,
        -112.0740,
    ),
    site(
        America::Los_Angeles,
        "US",
        "CA",
        "California",
        "San Francisco",
        37.7749,
        -122.4194,
    ),
    site(
        America::Los_Angeles,
        "US",
        "WA",
        "Washington",
        "Seattle",
        47.6062,
        -122.3321,
    ),
    site(
        America::Toronto,
        "CA",
        "ON",
        "Ontario",
        "Toronto",
        43.6532,
        -79.3832,
    ),
    site(
        America::Vancouver,
        "CA",
        "BC",
        "British Columbia",
        "Vancouver",
        49.2827,
        -123.1207,
    ),
    site(
        America::Edmonton,
        "CA",
        "AB",
        "Alberta",
        "Calgary",
        51.0447,
        -114.0719,
    ),
    site(
        America::Halifax,
        "CA",
        "NS",
        "Nova Scotia",
        "Halifax",
        44.6488,
        -63.5752,
    ),
    site(
        Australia::Sydney,
        "AU",
        "NSW",
        "New South Wales",
        "Sydney",
        -33.8688,
        151.2093,
    ),
    site(
        Australia::Melbourne,
        "AU",
        "VIC",
        "Victoria",
        "Melbourne",
        -37.8136,
        144.9631,
    ),
    site(
        Australia::Brisbane,
        "AU",
        "QLD",
        "Queensland",
        "Brisbane",
        -27.4698,
        153.0251,
    ),
    site(
        Australia::Adelaide,
        "AU",
        "SA",
        "South Australia",
        "Adelaide",
        -34.9285,
        138.6007,
    ),
    site(
        Australia::Perth,
        "AU",
        "WA",
        "Western Australia",
        "Perth",
        -31.9505,
        115.8605,
    ),
    site(
        America::Sao_Paulo,
        "BR",
        "SP",
        "São Paulo",
        "São Paulo",
        -23.5505,
        -46.6333,
    ),
    site(
        America::Manaus,
        "BR",
        "AM",
        "Amazonas",
        "Manaus",
        -3.1190,
        -60.0217,
    ),
    site(
        America::Mexico_City,
        "MX",
        "CMX",
        "Ciudad de México",
        "Ciudad de México",
        19.4326,
        -99.1332,
    ),
    site(
        America::Tijuana,
        "MX",
        "BCN",
        "Baja California",
        "Tijuana",
        32.5149,
        -117.0382,
    ),
    site(
        Europe::Moscow,
        "RU",
        "MOW",
        "Moscow",
        "Moscow",
        55.7558,
        37.6173,
    ),
    site(
        Asia::Novosibirsk,
        "RU",
        "NVS",
        "Novosibirsk Oblast",
        "Novosibirsk",
        55.0084,
        82.9357,
    ),
    site(
        Asia::Jakarta,
        "ID",
        "JK",
        "Jakarta",
        "Jakarta",
        -6.2088,
        106.8456,
    ),
    site(
        Asia::Makassar,
        "ID",
        "BA",
        "Bali",
        "Denpasar",
        -8.6705,
        115.2126,
    ),
    site(
        Europe::Berlin,
        "DE",
        "BE",
        "Berlin",
        "Berlin",
        52.5200,
        13.4050,
    ),
    site(
        Europe::London,
        "GB",
        "ENG",
        "England",
        "London",
        51.5074,
        -0.1278,
    ),
    site(
        Europe::Madrid,
        "ES",
        "MD",
        "Madrid",
        "Madrid",
        40.4168,
        -3.7038,
    ),
    site(
        Pacific::Auckland,
        "NZ",
        "AUK",
        "Auckland",
        "Auckland",
        -36.8485,
        174.7633,
    ),
    site(
        America::Santiago,
        "CL",
        "RM",
        "Región Metropolitana",
        "Santiago",
        -33.4489,
        -70.6693,
    ),
    site(Asia::Tokyo, "JP", "13", "Tokyo", "Tokyo", 35.6762, 139.6503),
    site(
        Africa::Johannesburg,
        "ZA",
        "GP",
        "Gauteng",
        "Johannesburg",
        -26.2041,
        28.0473,
    ),
];

/// How a series' records say where they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PlaceMode {
    /// An address with its country and region.
    AddressWithRegion,
    /// An address with its country only.
    AddressCountryOnly,
    /// A coordinate.
    Coordinates,
    /// Nothing: an online event, or a client that writes no place.
    Nothing,
}

impl PlaceMode {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            PlaceMode::AddressWithRegion => "address with region",
            PlaceMode::AddressCountryOnly => "address, country only",
            PlaceMode::Coordinates => "coordinates",
            PlaceMode::Nothing => "no place",
        }
    }

    pub(crate) fn draw(rng: &mut StdRng) -> PlaceMode {
        match rng.random_range(0..100) {
            0..40 => PlaceMode::AddressWithRegion,
            40..55 => PlaceMode::AddressCountryOnly,
            55..75 => PlaceMode::Coordinates,
            _ => PlaceMode::Nothing,
        }
    }
}

const VENUES: [&str; 8] = [
    "The Commons",
    "Library Hall",
    "Co-working Loft",
    "Riverside Pub",
    "Community Centre",
    "Makerspace",
    "Café Central",
    "Tech Hub",
];

/// The `locations` a record at `site` gives in `mode`, at venue `venue`.
pub(crate) fn locations(site: &Site, mode: PlaceMode, venue: usize, rng: &mut StdRng) -> Value {
    let name = VENUES[venue % VENUES.len()];
    let street = format!("{} Main Street", 10 + venue * 7);
    match mode {
        PlaceMode::AddressWithRegion => {
            let region = if rng.random_bool(0.5) {
                site.region_code
            } else {
                site.region_name
            };
            json!([{"$type": "community.lexicon.location.address", "country": site.country,
                "region": region, "locality": site.locality, "street": street, "name": name}])
        }
        PlaceMode::AddressCountryOnly => {
            json!([{"$type": "community.lexicon.location.address", "country": site.country,
                "locality": site.locality, "street": street, "name": name}])
        }
        PlaceMode::Coordinates => {
            let jitter = venue as f64 * 0.003;
            json!([{"$type": "community.lexicon.location.geo",
                "latitude": format!("{:.4}", site.latitude + jitter),
                "longitude": format!("{:.4}", site.longitude - jitter), "name": name}])
        }
        PlaceMode::Nothing => json!([]),
    }
}
