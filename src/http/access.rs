//! Access on the HTTP surface: which token a request carries, what it may
//! read, and the refusals (401, 403, 429). With access off every request
//! reads every asset, as before. The page takes its token from a cookie;
//! every other route from `Authorization: Bearer`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use crate::access::{Access, Failures, Grant};
use crate::asset::{AssetId, AssetScope};
use crate::config::ServerArgs;
use crate::error::Error;

/// The page's cookie, holding the token it was signed in with.
pub const COOKIE: &str = "footprint_token";

/// Routes anyone may ask, access on or off.
const OPEN: [&str; 3] = ["/healthz", "/readyz", "/openapi.json"];
/// Routes of the page, which reads its token from the cookie itself.
const PAGE: [&str; 3] = ["/", "/signin", "/signout"];

/// Access as the router sees it: off, or the tokens and the failures
/// counted per client address.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    access: Option<Access>,
    failures: Failures,
    /// Take the client's address and scheme from a proxy's
    /// `X-Forwarded-For` and `X-Forwarded-Proto`.
    trust_proxy: bool,
}

impl Gate {
    pub fn new(access: Option<Access>, config: &ServerArgs) -> Self {
        Gate {
            access,
            failures: Failures::new(config.max_token_failures),
            trust_proxy: config.trust_proxy,
        }
    }

    pub fn is_on(&self) -> bool {
        self.access.is_some()
    }

    /// The grant of `token` for a request from `address`, or why not. A
    /// refused address is refused before its token is looked at, so that
    /// a right guess cannot be told from a wrong one once it is limited.
    pub fn check(&self, token: Option<&str>, address: Option<IpAddr>) -> Result<Reader, Error> {
        let Some(access) = &self.access else {
            return Ok(Reader::everyone());
        };
        if let Some(wait) = self.failures.refused(address) {
            refused("limited");
            return Err(Error::TooManyFailures(wait.as_secs().max(1)));
        }
        let Some(token) = token else {
            refused("missing");
            return Err(Error::Unauthorized(false));
        };
        match access.grant(token) {
            Some(grant) => Ok(Reader::of(grant)),
            None => {
                refused("unknown");
                self.failures.failed(address);
                tracing::info!(client = ?address, "a token that is not known was refused");
                Err(Error::Unauthorized(true))
            }
        }
    }

    /// The client's address: the connection's peer, or with
    /// `--trust-proxy` the address the proxy appended last.
    pub fn client(&self, parts_headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        let forwarded = || {
            let list = parts_headers.get("x-forwarded-for")?.to_str().ok()?;
            list.rsplit(',').next()?.trim().parse().ok()
        };
        match self.trust_proxy {
            true => forwarded().or(peer.map(|p| p.ip())),
            false => peer.map(|p| p.ip()),
        }
    }

    /// Whether the request came over HTTPS: only a trusted proxy says so.
    pub fn over_https(&self, headers: &HeaderMap) -> bool {
        self.trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }
}

fn refused(reason: &'static str) {
    metrics::counter!("access_refused_total", "reason" => reason).increment(1);
}

/// Who is asking: the assets they may read, and whether `/metrics`.
#[derive(Debug, Clone)]
pub struct Reader {
    pub assets: Arc<AssetScope>,
    pub metrics: bool,
    /// The token's name, when access is on.
    pub name: Option<Arc<str>>,
}

impl Reader {
    pub fn everyone() -> Self {
        static ALL: std::sync::LazyLock<Arc<AssetScope>> =
            std::sync::LazyLock::new(|| Arc::new(AssetScope::everything()));
        Reader {
            assets: Arc::clone(&ALL),
            metrics: true,
            name: None,
        }
    }

    fn of(grant: Arc<Grant>) -> Self {
        Reader {
            assets: Arc::clone(&grant.assets),
            metrics: grant.metrics,
            name: Some(Arc::clone(&grant.name)),
        }
    }
}

/// A handler's reader, put there by [`authorize`]; a request that did not
/// pass through it sees nothing.
impl<S: Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Reader>().cloned().unwrap_or(Reader {
            assets: Arc::new(AssetScope::nothing()),
            metrics: false,
            name: None,
        }))
    }
}

/// An error about the id asked for in place of `asked` (outside the
/// reader's scope, see [`AssetScope::visible`]) told of `asked`: the very
/// error an asset that does not exist gets.
pub fn told_of(err: Error, asked: &AssetId) -> Error {
    use crate::pipeline::PipelineError;
    let pipeline = match &err {
        Error::Pipeline(e) => e,
        Error::Shared(inner) => match &**inner {
            Error::Pipeline(e) => e,
            _ => return err,
        },
        _ => return err,
    };
    match pipeline {
        PipelineError::NoAssetRows { asset, day } if asset.is_unseen() => {
            Error::Pipeline(PipelineError::NoAssetRows {
                asset: asked.clone(),
                day: *day,
            })
        }
        PipelineError::NoRegion { asset } if asset.is_unseen() => {
            Error::Pipeline(PipelineError::NoRegion {
                asset: asked.clone(),
            })
        }
        _ => err,
    }
}

/// The bearer token of `headers`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The page's token, from its cookie.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// The client address of a request, as [`Gate::client`] reads it.
pub fn client_of(
    gate: &Gate,
    request_parts: (&HeaderMap, &axum::http::Extensions),
) -> Option<IpAddr> {
    let (headers, extensions) = request_parts;
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    gate.client(headers, peer)
}

/// Gives `request` its [`Reader`], or returns the refusal to answer
/// instead.
/// Open routes pass as they are; the page decides for itself, from its
/// cookie. Called by the one middleware every request passes through.
pub fn authorize(gate: &Gate, request: &mut Request) -> Option<Response> {
    let path = request.uri().path();
    if !gate.is_on() {
        request.extensions_mut().insert(Reader::everyone());
        return None;
    }
    if OPEN.contains(&path) || PAGE.contains(&path) {
        return None;
    }
    let address = client_of(gate, (request.headers(), request.extensions()));
    let reader = match gate.check(bearer(request.headers()), address) {
        Ok(reader) => reader,
        Err(refusal) => return Some(refusal.into_response()),
    };
    if path == "/metrics" && !reader.metrics {
        refused("forbidden");
        return Some(Error::Forbidden("/metrics").into_response());
    }
    request.extensions_mut().insert(reader);
    None
}
