//! How many logins an address or a handle may start, and fail, before it
//! must wait: one fixed window per counter. The counters themselves live
//! in a shared store (the API keeps them in Redis); this module says what
//! they are called and what a count means.

use std::net::IpAddr;
use std::time::Duration;

/// At most `attempts` in every `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// How many are allowed in one window.
    pub attempts: u64,
    /// How long a window lasts from its first attempt.
    pub window: Duration,
}

/// A counter as the store reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// Attempts so far in the current window, this one included.
    pub attempts: u64,
    /// When the window ends; `None` when the store holds no expiry.
    pub resets_in: Option<Duration>,
}

/// What a count allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on.
    Allowed,
    /// Refused: try again after this long (at least a second).
    Wait(Duration),
}

impl Limit {
    /// Whether `counted` stays within this limit. A window the store forgot
    /// to expire counts as a whole window still to wait.
    pub fn judge(&self, counted: Counted) -> Verdict {
        if counted.attempts <= self.attempts {
            return Verdict::Allowed;
        }
        let left = counted.resets_in.unwrap_or(self.window).min(self.window);
        Verdict::Wait(left.max(Duration::from_secs(1)))
    }
}

/// The limits of logins. Starts are every login attempt (an app-password
/// login, or an OAuth redirect); failures are refused passwords and refused
/// OAuth callbacks, and a caller with too many of them may not even start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    /// Logins started from one address.
    pub starts_per_address: Limit,
    /// Logins started for one handle or DID.
    pub starts_per_handle: Limit,
    /// Failed logins from one address.
    pub failures_per_address: Limit,
    /// Failed logins of one handle or DID.
    pub failures_per_handle: Limit,
}

impl Default for LoginLimits {
    /// 30 starts a minute per address and 10 per handle; 20 failures per
    /// address and 5 per handle in a quarter of an hour.
    fn default() -> Self {
        let minute = Duration::from_secs(60);
        let quarter = Duration::from_secs(15 * 60);
        Self {
            starts_per_address: Limit {
                attempts: 30,
                window: minute,
            },
            starts_per_handle: Limit {
                attempts: 10,
                window: minute,
            },
            failures_per_address: Limit {
                attempts: 20,
                window: quarter,
            },
            failures_per_handle: Limit {
                attempts: 5,
                window: quarter,
            },
        }
    }
}

/// Who is counted: a network (see [`network`]) or a handle (see [`handle`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The caller's network.
    Network(String),
    /// The account asked for.
    Handle(String),
}

/// What is counted of a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// Logins started.
    Starts,
    /// Logins refused.
    Failures,
}

impl LoginLimits {
    /// The limit of `count` for `subject`.
    pub fn of(&self, count: Count, subject: &Subject) -> Limit {
        match (count, subject) {
            (Count::Starts, Subject::Network(_)) => self.starts_per_address,
            (Count::Starts, Subject::Handle(_)) => self.starts_per_handle,
            (Count::Failures, Subject::Network(_)) => self.failures_per_address,
            (Count::Failures, Subject::Handle(_)) => self.failures_per_handle,
        }
    }
}

impl Subject {
    /// The counter's name, unique per count and subject.
    pub fn key(&self, count: Count) -> String {
        let count = match count {
            Count::Starts => "starts",
            Count::Failures => "failures",
        };
        match self {
            Subject::Network(network) => format!("login:{count}:net:{network}"),
            Subject::Handle(handle) => format!("login:{count}:handle:{handle}"),
        }
    }

    /// Who the caller is, for a refusal.
    pub fn describe(&self) -> String {
        match self {
            Subject::Network(network) => format!("from {network}"),
            Subject::Handle(handle) => format!("for {handle}"),
        }
    }
}

/// The network an address is counted under: an IPv4 address itself, an
/// IPv6 address by its /64 (one host is given a whole /64, and could
/// otherwise change address at every attempt).
pub fn network(address: IpAddr) -> Subject {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    };
    Subject::Network(match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    })
}

/// The handle or DID a login names, as it is counted: `@Alice.Example.COM `
/// and `alice.example.com` are one account. Handles are case-insensitive;
/// DIDs are kept as written apart from the surrounding blanks.
pub fn handle(identifier: &str) -> Subject {
    let trimmed = identifier.trim();
    Subject::Handle(if trimmed.starts_with("did:") {
        trimmed.to_owned()
    } else {
        trimmed.trim_start_matches('@').to_ascii_lowercase()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const LIMIT: Limit = Limit {
        attempts: 5,
        window: Duration::from_secs(900),
    };

    #[test]
    fn the_attempt_over_the_limit_waits_for_the_window_to_end() {
        let at = |attempts, left| Counted {
            attempts,
            resets_in: Some(Duration::from_secs(left)),
        };
        assert_eq!(LIMIT.judge(at(5, 100)), Verdict::Allowed);
        assert_eq!(
            LIMIT.judge(at(6, 100)),
            Verdict::Wait(Duration::from_secs(100))
        );
        assert_eq!(
            LIMIT.judge(at(6, 0)),
            Verdict::Wait(Duration::from_secs(1)),
            "never tells a client to retry at once"
        );
        assert_eq!(
            LIMIT.judge(Counted {
                attempts: 6,
                resets_in: None
            }),
            Verdict::Wait(LIMIT.window),
            "a counter without expiry waits a whole window"
        );
    }

    #[test]
    fn addresses_of_one_ipv6_network_are_one_caller() {
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network(a.into()), network(b.into()));
        assert_ne!(network(a.into()), network(other.into()));
        assert_eq!(
            network(a.into()),
            Subject::Network("2001:db8:1:2::/64".into())
        );
        let mapped = Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped();
        assert_eq!(
            network(mapped.into()),
            network(Ipv4Addr::new(192, 0, 2, 7).into()),
            "an IPv4 client seen through an IPv6 socket is still itself"
        );
    }

    #[test]
    fn one_handle_however_it_is_written() {
        assert_eq!(
            handle(" @Alice.Example.COM "),
            Subject::Handle("alice.example.com".into())
        );
        assert_eq!(
            handle("did:plc:AbC123 "),
            Subject::Handle("did:plc:AbC123".into())
        );
        assert_ne!(
            handle("alice.example.com").key(Count::Starts),
            handle("alice.example.com").key(Count::Failures)
        );
        assert_ne!(
            handle("1.2.3.4").key(Count::Starts),
            network(Ipv4Addr::new(1, 2, 3, 4).into()).key(Count::Starts),
            "a handle never shares a counter with an address"
        );
    }

    proptest! {
        #[test]
        fn a_count_is_allowed_exactly_up_to_the_limit(
            attempts in 0u64..1000,
            limit in 1u64..100,
            window in 1u64..10_000,
            left in proptest::option::of(0u64..20_000),
        ) {
            let limit = Limit { attempts: limit, window: Duration::from_secs(window) };
            let verdict = limit.judge(Counted {
                attempts,
                resets_in: left.map(Duration::from_secs),
            });
            match verdict {
                Verdict::Allowed => prop_assert!(attempts <= limit.attempts),
                Verdict::Wait(wait) => {
                    prop_assert!(attempts > limit.attempts);
                    prop_assert!(wait >= Duration::from_secs(1));
                    prop_assert!(wait <= limit.window.max(Duration::from_secs(1)));
                }
            }
        }

        #[test]
        fn every_ipv6_address_of_a_network_counts_as_that_network(
            prefix in any::<u64>(),
            host_a in any::<u64>(),
            host_b in any::<u64>(),
        ) {
            let at = |host: u64| IpAddr::V6(Ipv6Addr::from((u128::from(prefix) << 64) | u128::from(host)));
            // ::/64 holds ::ffff:a.b.c.d, the IPv4 clients, counted per address.
            prop_assume!(prefix != 0);
            prop_assert_eq!(network(at(host_a)), network(at(host_b)));
        }
    }
}
