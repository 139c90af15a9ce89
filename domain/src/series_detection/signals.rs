//! Supporting signals: how alike a group's locations and descriptions are.
//! They raise or lower a group's confidence; they never split a group, since
//! a series that moves venue or rewrites its blurb is still one series.
//! A member that gives no location (or no description) is no evidence
//! either way, so it is left out of that signal.

use std::collections::BTreeSet;

use super::most_common;
use crate::occurrence::Place;

fn lower(text: &Option<String>) -> String {
    text.as_deref().unwrap_or_default().trim().to_lowercase()
}

/// What identifies a place: an address by its country, locality, street and
/// name; coordinates to about 100 m; the others by their ids.
fn place_key(place: &Place) -> String {
    if let Some((latitude, longitude)) = place.coordinates() {
        return format!("geo:{latitude:.3},{longitude:.3}");
    }
    match place {
        Place::Address {
            country,
            locality,
            street,
            name,
            ..
        } => format!(
            "address:{}|{}|{}|{}",
            country.trim().to_lowercase(),
            lower(locality),
            lower(street),
            lower(name)
        ),
        Place::Foursquare { place_id, .. } => format!("fsq:{place_id}"),
        Place::H3 { value, .. } => format!("h3:{value}"),
        Place::Online(link) => format!("online:{}", link.uri.trim().to_lowercase()),
        Place::Geo {
            latitude,
            longitude,
            ..
        } => format!("geo:{latitude},{longitude}"),
        Place::Other(json) => format!("other:{json}"),
    }
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// How alike the members' locations are (0 to 1): each member's places
/// against the set most members give (Jaccard), averaged. `None` when
/// fewer than two members give a location.
pub fn location_similarity<'a>(members: impl Iterator<Item = &'a [Place]>) -> Option<f64> {
    let sets: Vec<BTreeSet<String>> = members
        .filter(|places| !places.is_empty())
        .map(|places| places.iter().map(place_key).collect())
        .collect();
    if sets.len() < 2 {
        return None;
    }
    let usual = most_common(&sets)?;
    Some(sets.iter().map(|set| jaccard(set, usual)).sum::<f64>() / sets.len() as f64)
}

/// How alike the members' descriptions are (0 to 1): each against the one
/// most members give (Sørensen–Dice over letter pairs), averaged. `None`
/// when fewer than two members give a description.
pub fn description_similarity<'a>(members: impl Iterator<Item = Option<&'a str>>) -> Option<f64> {
    let texts: Vec<String> = members
        .flatten()
        .map(|text| text.trim().to_lowercase())
        .filter(|text| !text.is_empty())
        .collect();
    if texts.len() < 2 {
        return None;
    }
    let usual = most_common(&texts)?;
    Some(
        texts
            .iter()
            .map(|text| strsim::sorensen_dice(text, usual))
            .sum::<f64>()
            / texts.len() as f64,
    )
}

/// How alike two places lists are (Jaccard of their keys); `None` unless
/// both give one.
pub fn places_similarity(a: &[Place], b: &[Place]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let keys = |places: &[Place]| places.iter().map(place_key).collect::<BTreeSet<_>>();
    Some(jaccard(&keys(a), &keys(b)))
}

/// How alike two descriptions are (Sørensen–Dice); `None` unless both give
/// one.
pub fn texts_similarity(a: Option<&str>, b: Option<&str>) -> Option<f64> {
    let clean = |text: Option<&str>| {
        text.map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
    };
    Some(strsim::sorensen_dice(&clean(a)?, &clean(b)?))
}

/// The group's confidence from its signals: name and timing always, the
/// supporting signals when members give them. Timing weighs most: it is
/// what makes a series.
pub fn confidence(
    name_similarity: f64,
    timing: f64,
    location: Option<f64>,
    description: Option<f64>,
) -> f64 {
    let supporting: Vec<f64> = [location, description].into_iter().flatten().collect();
    if supporting.is_empty() {
        return 0.4 * name_similarity + 0.6 * timing;
    }
    let support = supporting.iter().sum::<f64>() / supporting.len() as f64;
    0.35 * name_similarity + 0.5 * timing + 0.15 * support
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::occurrence::Link;

    fn address(street: &str) -> Place {
        Place::Address {
            country: "DE".into(),
            postal_code: None,
            region: None,
            locality: Some("Berlin".into()),
            street: Some(street.into()),
            name: None,
        }
    }

    fn geo(latitude: &str, longitude: &str) -> Place {
        Place::Geo {
            latitude: latitude.into(),
            longitude: longitude.into(),
            altitude: None,
            name: None,
        }
    }

    #[test]
    fn one_venue_spelled_alike_is_fully_similar() {
        let a = [address("Rungestraße 20"), geo("52.51281", "13.42012")];
        let b = [address(" rungestraße 20 "), geo("52.5128", "13.4201")];
        assert_eq!(
            location_similarity([&a[..], &b[..], &a[..]].into_iter()),
            Some(1.0)
        );
    }

    #[test]
    fn a_member_at_another_venue_lowers_the_location_signal() {
        let usual = [address("Rungestraße 20")];
        let other = [address("Alexanderplatz 1")];
        let similarity =
            location_similarity([&usual[..], &usual[..], &usual[..], &other[..]].into_iter());
        assert_eq!(similarity, Some(0.75));
    }

    #[test]
    fn members_without_locations_are_no_evidence() {
        let usual = [address("Rungestraße 20")];
        let online = [Place::Online(Link {
            uri: "https://meet.example/rust".into(),
            name: None,
        })];
        assert_eq!(
            location_similarity([&usual[..], &[][..], &[][..]].into_iter()),
            None
        );
        assert_eq!(
            location_similarity([&online[..], &[][..], &online[..]].into_iter()),
            Some(1.0)
        );
    }

    #[test]
    fn descriptions_are_compared_with_the_usual_one() {
        let same = "Talks and pizza, every Tuesday.";
        assert_eq!(
            description_similarity([Some(same), None, Some(same)].into_iter()),
            Some(1.0)
        );
        let varied = description_similarity(
            [
                Some(same),
                Some(same),
                Some("Talks and pizza, every Tuesday. December edition!"),
            ]
            .into_iter(),
        )
        .unwrap();
        assert!(varied > 0.85 && varied < 1.0, "{varied}");
        assert_eq!(description_similarity([Some(same), None].into_iter()), None);
    }

    #[test]
    fn supporting_signals_move_the_confidence_within_their_weight() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(confidence(1.0, 1.0, None, None), 1.0));
        assert!(close(confidence(1.0, 1.0, Some(1.0), Some(1.0)), 1.0));
        assert!(close(confidence(1.0, 1.0, Some(0.0), None), 0.85));
        assert!(confidence(0.8, 0.9, Some(1.0), None) > confidence(0.8, 0.9, Some(0.5), None));
    }
}
