//! The user's side of an OAuth login, without a browser: the authorization
//! page, the provider's own sign-in and consent API (what its web page
//! calls), and the redirect back, with the headers and cookies a browser
//! would send (the provider refuses requests that do not look like its own
//! page's).

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use url::Url;

/// One browser's cookies for the authorization server.
pub struct Browser {
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all("set-cookie") {
            let Some((pair, _)) = set.to_str().unwrap().split_once(';') else {
                continue;
            };
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(kept, _)| kept != name.trim());
            if !value.is_empty() {
                self.cookies
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn cookie(&self, name: &str) -> String {
        self.cookies
            .iter()
            .find(|(kept, _)| kept == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    reqwest::header::HeaderName::from_static(name),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    /// Signs in as `username` at `authorize_url` and consents to `scope`:
    /// the URL the server redirects back to (with the code), or what the
    /// server said instead.
    pub async fn authorize(
        &mut self,
        authorize_url: &str,
        username: &str,
        password: &str,
        scope: &str,
    ) -> Result<Url, String> {
        let page = self
            .http
            .get(authorize_url)
            .headers(Self::headers(&[
                ("sec-fetch-mode", "navigate".into()),
                ("sec-fetch-dest", "document".into()),
                ("sec-fetch-site", "none".into()),
                ("accept", "text/html".into()),
                ("user-agent", "openmeet-sync-tests".into()),
            ]))
            .send()
            .await
            .unwrap();
        if page.status() != 200 {
            return Err(format!("authorize page: {}", page.status()));
        }
        self.keep_cookies(&page);
        let issuer = Url::parse(authorize_url).unwrap();
        let origin = issuer.origin().ascii_serialization();
        let api = format!("{origin}/@atproto/oauth-provider/~api");
        let signed_in = self
            .api_call(
                &format!("{api}/sign-in"),
                authorize_url,
                None,
                json!({
                    "locale": "en", "username": username, "password": password, "remember": false
                }),
            )
            .await?;
        let did = signed_in["account"]["did"].as_str().unwrap().to_owned();
        let ephemeral = signed_in["ephemeralToken"].as_str().map(str::to_owned);
        let consented = self
            .api_call(
                &format!("{api}/consent"),
                authorize_url,
                ephemeral.as_deref(),
                json!({"did": did, "scope": scope}),
            )
            .await?;
        let redirect = consented["url"].as_str().unwrap().to_owned();
        let back = self
            .http
            .get(&redirect)
            .headers(Self::headers(&[
                ("sec-fetch-mode", "navigate".into()),
                ("sec-fetch-dest", "document".into()),
                ("sec-fetch-site", "same-origin".into()),
                ("referer", authorize_url.into()),
                ("cookie", self.cookie_header()),
            ]))
            .send()
            .await
            .unwrap();
        if back.status() != 303 {
            return Err(format!("redirect: {}", back.status()));
        }
        Ok(Url::parse(back.headers()["location"].to_str().unwrap()).unwrap())
    }

    async fn api_call(
        &mut self,
        url: &str,
        referer: &str,
        bearer: Option<&str>,
        body: Value,
    ) -> Result<Value, String> {
        let origin = Url::parse(url).unwrap().origin().ascii_serialization();
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("sec-fetch-mode", "same-origin".into()),
            ("sec-fetch-site", "same-origin".into()),
            ("sec-fetch-dest", "empty".into()),
            ("origin", origin),
            ("referer", referer.into()),
            ("x-csrf-token", self.cookie("csrf-token")),
            ("cookie", self.cookie_header()),
            ("user-agent", "openmeet-sync-tests".into()),
        ];
        if let Some(token) = bearer {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        let response = self
            .http
            .post(url)
            .headers(Self::headers(&headers))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!("{url}: {status} {answer}"));
        }
        Ok(answer)
    }
}
