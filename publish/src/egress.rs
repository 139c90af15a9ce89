//! Where outbound requests may go. A DID document, a PDS's metadata and an
//! authorization server's metadata are written by strangers, and each names
//! URLs we then call: without a guard, a DID whose PDS is
//! `http://169.254.169.254/` makes this server read its own cloud metadata.
//! On the network only public addresses are reachable, checked after DNS
//! (so a public name that resolves to a private address is refused too),
//! at every redirect, and for addresses written as IP literals.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use thiserror::Error;
use url::{Host, Url};

/// Which addresses outbound requests may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses only: the network's setting.
    PublicOnly,
    /// Any address, loopback and private ones included: for tests and
    /// development against a PDS on this machine or a private network.
    Anywhere,
}

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 3;

/// A URL that may not be called.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("refusing to call {url}: {reason}")]
pub struct Refused {
    /// The URL.
    pub url: String,
    /// Why.
    pub reason: String,
}

impl Reach {
    /// Whether `url` may be called: an http(s) URL whose host, when it is
    /// an IP address, is one this reach allows. Names are checked when they
    /// resolve (see [`client`]).
    pub fn check(self, url: &str) -> Result<(), Refused> {
        let refused = |reason: String| Refused {
            url: url.to_owned(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|err| refused(format!("not a URL ({err})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refused(format!(
                "the scheme {} is not http(s)",
                parsed.scheme()
            )));
        }
        let ip = match parsed.host() {
            None => return Err(refused("it names no host".into())),
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        self.allows(ip)
            .then_some(())
            .ok_or_else(|| refused(format!("{ip} is not a public address")))
    }

    fn allows(self, ip: IpAddr) -> bool {
        self == Self::Anywhere || is_public(ip)
    }
}

/// Whether `ip` is reachable on the public internet: not loopback,
/// private, link-local, shared (carrier-grade NAT), documentation,
/// benchmarking, multicast, reserved or unspecified. (`IpAddr::is_global`
/// would say this, but it is not stable.)
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => is_public_v4(mapped),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || first == 0x0064)
}

/// The HTTP client of every outbound call: `timeout` per request, at most
/// [`MAX_REDIRECTS`] redirects, each checked, and with
/// [`Reach::PublicOnly`] names that resolve to public addresses only, but
/// for the `trusted` host names (the services the operator configured).
pub fn client(timeout: Duration, reach: Reach, trusted: Vec<String>) -> reqwest::Client {
    let redirects = redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match reach.check(attempt.url().as_str()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    });
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(redirects);
    let builder = match reach {
        Reach::PublicOnly => builder.dns_resolver(Arc::new(PublicNames { trusted })),
        Reach::Anywhere => builder,
    };
    builder.build().unwrap_or_default()
}

impl Reach {
    /// [`Reach::check`], and with [`Reach::PublicOnly`] the name of the
    /// URL's host resolved now and refused unless every address it has is
    /// public: for a URL a stranger wrote, before it is called.
    pub async fn check_resolved(self, url: &str) -> Result<(), Refused> {
        self.check(url)?;
        let parsed = Url::parse(url).map_err(|err| Refused {
            url: url.to_owned(),
            reason: err.to_string(),
        })?;
        let (Self::PublicOnly, Some(Host::Domain(name))) = (self, parsed.host()) else {
            return Ok(());
        };
        let found = resolve(name).await.map_err(|reason| Refused {
            url: url.to_owned(),
            reason,
        })?;
        match found.iter().find(|addr| !is_public(addr.ip())) {
            Some(private) => Err(Refused {
                url: url.to_owned(),
                reason: format!("{name} resolves to {}, not a public address", private.ip()),
            }),
            None => Ok(()),
        }
    }
}

async fn resolve(name: &str) -> Result<Vec<SocketAddr>, String> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((name, 0))
        .await
        .map_err(|err| format!("{name} does not resolve: {err}"))?
        .collect();
    if found.is_empty() {
        return Err(format!("{name} resolves to no address"));
    }
    Ok(found)
}

/// An error with its causes: reqwest's own message says only "error
/// sending request", a cause says which address was refused and why.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text = format!("{text}: {inner}");
        cause = inner.source();
    }
    text
}

/// The system resolver, keeping only the public addresses of a name that
/// is not trusted. It guards every connection, redirects included, and a
/// name whose addresses changed since [`Reach::check_resolved`] looked.
struct PublicNames {
    trusted: Vec<String>,
}

impl Resolve for PublicNames {
    fn resolve(&self, name: Name) -> Resolving {
        let trusted = self.trusted.iter().any(|host| host == name.as_str());
        Box::pin(async move {
            let name = name.as_str().to_owned();
            let found = resolve(&name).await.map_err(|reason| Refused {
                url: name.clone(),
                reason,
            })?;
            let public: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|addr| trusted || is_public(addr.ip()))
                .collect();
            if public.is_empty() {
                let reason = format!("{name} resolves to {}, not a public address", found[0].ip());
                return Err(Box::new(Refused { url: name, reason }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The host name of `url`, when it has one.
pub(crate) fn host_name(url: &str) -> Option<String> {
    match Url::parse(url).ok()?.host()? {
        Host::Domain(name) => Some(name.to_owned()),
        Host::Ipv4(_) | Host::Ipv6(_) => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback HTTP server answering every request with `answer` (the
    /// status line, headers and body), `{url}` in it replaced by its own
    /// address.
    pub(crate) async fn answering(answer: &str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let answer = answer.replace("{url}", &url);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        url
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_on_the_network() {
        let url = answering(OK).await.replace("127.0.0.1", "localhost");
        let timeout = Duration::from_secs(5);
        let err = client(timeout, Reach::PublicOnly, Vec::new())
            .get(&url)
            .send()
            .await
            .unwrap_err();
        let chain = error_chain(&err);
        assert!(chain.contains("localhost resolves to "), "{chain}");
        assert!(chain.ends_with(", not a public address"), "{chain}");
        let answer = client(timeout, Reach::Anywhere, Vec::new())
            .get(&url)
            .send()
            .await;
        assert_eq!(answer.unwrap().text().await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn redirects_stop_after_the_cap() {
        let url = answering(
            "HTTP/1.1 302 Found\r\nlocation: {url}/again\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let err = client(Duration::from_secs(5), Reach::Anywhere, Vec::new())
            .get(&url)
            .send()
            .await
            .unwrap_err();
        assert!(err.is_redirect(), "{err}");
        assert!(
            error_chain(&err).contains(&format!("more than {MAX_REDIRECTS} redirects")),
            "{}",
            error_chain(&err)
        );
    }

    #[test]
    fn only_addresses_on_the_internet_are_public() {
        let public = [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "100.128.0.1",
        ];
        let private = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "2001:db8::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ];
        for ip in public {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
        for ip in private {
            assert!(!is_public(ip.parse().unwrap()), "{ip} is not public");
        }
    }

    #[test]
    fn ip_literals_are_checked_and_names_left_to_resolution() {
        let reach = Reach::PublicOnly;
        assert_eq!(reach.check("https://pds.example.com/xrpc"), Ok(()));
        assert_eq!(reach.check("https://8.8.8.8/"), Ok(()));
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:2583",
            "http://[::1]:8080/",
            "http://[::ffff:10.0.0.1]/",
        ] {
            let refused = reach.check(url).unwrap_err();
            assert!(refused.reason.contains("not a public address"), "{refused}");
            assert_eq!(refused.url, url);
        }
        assert_eq!(Reach::Anywhere.check("http://127.0.0.1:2583"), Ok(()));
    }

    #[test]
    fn only_http_urls_with_a_host_may_be_called() {
        for reach in [Reach::PublicOnly, Reach::Anywhere] {
            for url in ["file:///etc/passwd", "gopher://example.com/", "not a url"] {
                assert!(reach.check(url).is_err(), "{url}");
            }
        }
    }
}
