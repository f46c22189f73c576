//! The guarded HTTP client: every connection it makes passes the outbound guard (names when
//! they are resolved, IP literals before any request), it follows redirects only on the origin
//! the user chose, and it sends no `Referer`. The REST tester, Snowflake and the OAuth 2.0
//! token flows reach the network through it.

use reqwest::dns::{Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::guard::{GuardError, OutboundGuard};
use crate::status::{unreachable, Observation, Verdict};

/// Every HTTP client's builder: TLS as [`tls_config`] says. reqwest's own choice would add ring.
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(tls_config())
}

/// TLS for connection tests: the public web roots, aws-lc-rs as the crypto provider.
pub(crate) fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

pub(crate) fn guard_observation(e: GuardError) -> Observation {
    Observation::new(Verdict::Inconclusive, e.code(), e.to_string())
}

const MAX_REDIRECTS: usize = 5;

/// Every name reqwest connects to is resolved here, through the guard.
struct GuardedResolver(Arc<OutboundGuard>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addrs = guard.resolve(name.as_str(), 0).await?;
            Ok(Box::new(addrs.into_iter())
                as Box<dyn Iterator<Item = std::net::SocketAddr> + Send>)
        })
    }
}

fn ip_host(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// An HTTP client whose every connection passes the guard: names through the resolver, IP
/// literals (which skip resolution) through [`GuardedHttp::check_url`]. It follows no redirect and
/// sends no `Referer`: reqwest would carry custom headers, an API-key header, a re-POSTed form
/// (307/308) and a Referer holding `?api_key=` to whatever host a redirect names;
/// [`GuardedHttp::send_following_same_origin`] follows only what stays on the origin the user
/// chose.
fn guarded_client(guard: Arc<OutboundGuard>, timeout: Duration) -> reqwest::Client {
    http_client()
        .dns_resolver(Arc::new(GuardedResolver(guard)))
        .redirect(Policy::none())
        .referer(false)
        .no_proxy()
        .timeout(timeout)
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with a resolver and a redirect policy always builds")
}

/// The guard and the client that obeys it, held together.
pub struct GuardedHttp {
    guard: Arc<OutboundGuard>,
    client: reqwest::Client,
}

impl GuardedHttp {
    /// Requests give up after `timeout`.
    pub fn new(guard: Arc<OutboundGuard>, timeout: Duration) -> Self {
        Self {
            client: guarded_client(guard.clone(), timeout),
            guard,
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The permitted addresses of `host` (for protocols other than HTTP), or the observation
    /// that explains the refusal.
    pub async fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<std::net::SocketAddr>, Observation> {
        self.guard
            .resolve(host, port)
            .await
            .map_err(guard_observation)
    }

    /// Checks a URL before any request: IP literals here, names when they are resolved.
    pub fn check_url(&self, raw: &str) -> Result<url::Url, Observation> {
        let url = url::Url::parse(raw)
            .map_err(|_| unreachable("invalid_url", "the URL does not parse"))?;
        if let Some(ip) = ip_host(&url) {
            self.guard
                .check(url.host_str().unwrap_or_default(), ip)
                .map_err(guard_observation)?;
        }
        Ok(url)
    }

    /// Sends `request`, following redirects (at most [`MAX_REDIRECTS`]) only while they stay on the
    /// request's origin: a redirect to another origin (another host, port or scheme) is refused, as
    /// it would carry the credentials somewhere nobody chose. A 303, or a 301/302 of anything but
    /// GET and HEAD, continues as a GET without a body, as browsers do.
    pub async fn send_following_same_origin(
        &self,
        request: reqwest::Request,
        what: &str,
    ) -> Result<reqwest::Response, Observation> {
        let mut request = request;
        for _ in 0..=MAX_REDIRECTS {
            let again = request.try_clone();
            let method = request.method().clone();
            let resp = self
                .client
                .execute(request)
                .await
                .map_err(|e| request_failure(what, &e))?;
            let status = resp.status();
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok());
            let (true, Some(location)) = (status.is_redirection(), location) else {
                return Ok(resp);
            };
            let target = resp.url().join(location).map_err(|_| {
                unreachable(
                    "redirect_refused",
                    format!("{what} redirects to an address that does not parse"),
                )
            })?;
            self.check_url(target.as_str())?;
            if target.origin() != resp.url().origin() {
                return Err(redirect_refused(what, &target));
            }
            let Some(mut next) = again else {
                return Err(redirect_refused(what, &target));
            };
            let to_get = status == reqwest::StatusCode::SEE_OTHER
                || (matches!(status.as_u16(), 301 | 302)
                    && !matches!(method, reqwest::Method::GET | reqwest::Method::HEAD));
            if to_get {
                *next.method_mut() = reqwest::Method::GET;
                *next.body_mut() = None;
                next.headers_mut().remove(reqwest::header::CONTENT_TYPE);
                next.headers_mut().remove(reqwest::header::CONTENT_LENGTH);
            }
            *next.url_mut() = target;
            request = next;
        }
        Err(unreachable(
            "too_many_redirects",
            format!("{what} redirected more than {MAX_REDIRECTS} times"),
        ))
    }
}

/// Names only the origin a redirect points at: its path and query may hold what we sent.
fn redirect_refused(what: &str, target: &url::Url) -> Observation {
    unreachable(
        "redirect_refused",
        format!(
            "{what} redirects to {}; credentials are never sent on to another origin, so set the URL to the address it redirects to",
            target.origin().ascii_serialization()
        ),
    )
}

/// Why a request failed, in words and a code: a guard refusal, a timeout, or no connection.
pub fn request_failure(what: &str, e: &reqwest::Error) -> Observation {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(guard) = err.downcast_ref::<GuardError>() {
            return guard_observation(guard.clone());
        }
        source = err.source();
    }
    if e.is_timeout() {
        unreachable("timeout", format!("{what} did not answer in time"))
    } else {
        unreachable(
            "connection_failed",
            format!("could not reach {what}; check the URL and that the service is up"),
        )
    }
}
