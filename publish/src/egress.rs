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

use atrium_api::xrpc::http;
use atrium_api::xrpc::{HttpClient, XrpcClient};
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
    /// resolve (see [`GuardedClient`]).
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

/// The guarded client could not be built: start-up stops here rather than
/// call anywhere unguarded.
#[derive(Debug, Error)]
#[error("the guarded HTTP client of outbound calls cannot be built: {0}")]
pub struct BuildError(String);

/// The one HTTP client of every call to an address a stranger may have
/// written: a PDS, an authorization server, a DID document, a handle
/// resolver. Its own type, so that no bare `reqwest::Client` can be handed
/// where it belongs. Each request waits at most its timeout and follows at
/// most [`MAX_REDIRECTS`] redirects, each checked; with
/// [`Reach::PublicOnly`] an IP address written in a URL is checked before
/// the request is made, and a name is checked when it resolves (at every
/// connection), but for the `trusted` hosts (the services the operator
/// configured).
#[derive(Clone, Debug)]
pub struct GuardedClient {
    http: reqwest::Client,
    reach: Reach,
    trusted: Arc<[String]>,
}

impl GuardedClient {
    /// A client waiting at most `timeout` per request, calling what `reach`
    /// allows and the `trusted` hosts (names or IP addresses).
    pub fn new(timeout: Duration, reach: Reach, trusted: Vec<String>) -> Result<Self, BuildError> {
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
            Reach::PublicOnly => builder.dns_resolver(Arc::new(PublicNames {
                trusted: trusted.clone(),
            })),
            Reach::Anywhere => builder,
        };
        let http = builder
            .build()
            .map_err(|err| BuildError(error_chain(&err)))?;
        Ok(Self {
            http,
            reach,
            trusted: trusted.into(),
        })
    }

    /// Which addresses this client may call.
    pub fn reach(&self) -> Reach {
        self.reach
    }

    /// Whether `url` may be called: a trusted host, or an http(s) URL whose
    /// host, when it is an IP address, is one the reach allows.
    pub fn check(&self, url: &str) -> Result<(), Refused> {
        match host_name(url) {
            Some(host) if self.trusted.contains(&host) => Ok(()),
            _ => self.reach.check(url),
        }
    }

    /// A request to `url`, once `url` may be called.
    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Refused> {
        self.check(url)?;
        Ok(self.http.request(method, url))
    }

    /// Sends `request`, once its URL may be called.
    pub(crate) async fn execute(
        &self,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.check(request.url().as_str())?;
        Ok(self.http.execute(request).await?)
    }
}

impl HttpClient for GuardedClient {
    async fn send_http(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        let response = self.execute(request.try_into()?).await?;
        let mut builder = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        Ok(builder.body(response.bytes().await?.to_vec())?)
    }
}

/// XRPC calls to one service with no session: a login, a public record.
pub(crate) struct Unauthenticated {
    http: GuardedClient,
    base: String,
}

impl Unauthenticated {
    /// Calls to `base` through `http`.
    pub(crate) fn new(http: &GuardedClient, base: &str) -> Self {
        Self {
            http: http.clone(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }
}

impl HttpClient for Unauthenticated {
    async fn send_http(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.http.send_http(request).await
    }
}

impl XrpcClient for Unauthenticated {
    fn base_uri(&self) -> String {
        self.base.clone()
    }
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

/// The host of `url` (a name, or an IP address as the URL writes it), when
/// it has one.
pub(crate) fn host_name(url: &str) -> Option<String> {
    Url::parse(url).ok()?.host_str().map(str::to_owned)
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

    /// A guarded client with a 5 s timeout and no trusted host.
    pub(crate) fn guarded(reach: Reach) -> GuardedClient {
        GuardedClient::new(Duration::from_secs(5), reach, Vec::new()).unwrap()
    }

    /// URLs of a loopback, a private, a link-local and an IPv6-mapped
    /// loopback address, each with `path`.
    pub(crate) fn strangers_addresses(path: &str) -> [String; 4] {
        [
            "http://127.0.0.1:9",
            "http://10.0.0.1",
            "http://169.254.169.254",
            "http://[::ffff:127.0.0.1]:9",
        ]
        .map(|base| format!("{base}{path}"))
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_on_the_network() {
        let url = answering(OK).await.replace("127.0.0.1", "localhost");
        let err = guarded(Reach::PublicOnly)
            .request(reqwest::Method::GET, &url)
            .unwrap()
            .send()
            .await
            .unwrap_err();
        let chain = error_chain(&err);
        assert!(chain.contains("localhost resolves to "), "{chain}");
        assert!(chain.ends_with(", not a public address"), "{chain}");
        let answer = guarded(Reach::Anywhere)
            .request(reqwest::Method::GET, &url)
            .unwrap()
            .send()
            .await;
        assert_eq!(answer.unwrap().text().await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn every_request_to_an_address_written_as_a_private_ip_is_refused_before_it_is_made() {
        let public = guarded(Reach::PublicOnly);
        for url in strangers_addresses("/xrpc/com.atproto.server.describeServer") {
            let refused = public.request(reqwest::Method::GET, &url).unwrap_err();
            assert!(
                refused.reason.ends_with("is not a public address"),
                "{refused}"
            );
            let request = http::Request::get(&url).body(Vec::new()).unwrap();
            let err = public.send_http(request).await.unwrap_err();
            assert!(err.to_string().contains("is not a public address"), "{err}");
        }
        let url = answering(OK).await;
        let request = http::Request::get(&url).body(Vec::new()).unwrap();
        let answer = guarded(Reach::Anywhere).send_http(request).await.unwrap();
        assert_eq!(answer.body(), b"ok");
    }

    #[tokio::test]
    async fn a_trusted_host_is_called_even_on_a_private_address() {
        let url = answering(OK).await;
        let host = host_name(&url).unwrap();
        let client =
            GuardedClient::new(Duration::from_secs(5), Reach::PublicOnly, vec![host]).unwrap();
        let request = http::Request::get(&url).body(Vec::new()).unwrap();
        assert_eq!(client.send_http(request).await.unwrap().body(), b"ok");
    }

    #[tokio::test]
    async fn redirects_stop_after_the_cap() {
        let url = answering(
            "HTTP/1.1 302 Found\r\nlocation: {url}/again\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let err = guarded(Reach::Anywhere)
            .request(reqwest::Method::GET, &url)
            .unwrap()
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
