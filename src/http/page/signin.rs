//! The page's sign-in with access on: a form that posts a token, kept in
//! an `HttpOnly`, `SameSite=Strict` cookie that only the page reads, and a
//! sign-out that clears it. The token never goes into a URL.

use axum::Form;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, html};
use serde::Deserialize;

use crate::error::Error;
use crate::http::AppState;
use crate::http::access::{COOKIE, client_of};

#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
}

/// `POST /signin`: a known token is kept in the cookie and the browser is
/// sent to the page; another gets the form again, saying why.
pub async fn sign_in(
    State(state): State<AppState>,
    request: Parts,
    form: Result<Form<SignIn>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !state.gate.is_on() {
        return to_page(None);
    }
    if from_elsewhere(&request.headers) {
        return sign_in_page(&Error::Forbidden("signing in from another site"));
    }
    let token = form.map(|Form(f)| f.token).unwrap_or_default();
    let token = token.trim();
    // What a cookie cannot hold is no token of ours.
    let storable = token
        .bytes()
        .all(|c| c.is_ascii_graphic() && !matches!(c, b';' | b',' | b'"' | b'\\'));
    if token.is_empty() {
        return sign_in_page(&Error::BadQuery("no token was given".into()));
    }
    if !storable {
        return sign_in_page(&Error::Unauthorized(true));
    }
    let address = client_of(&state.gate, (&request.headers, &request.extensions));
    match state.gate.check(Some(token), address) {
        Ok(_) => {
            let secure = if state.gate.over_https(&request.headers) {
                "; Secure"
            } else {
                ""
            };
            to_page(Some(format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
            )))
        }
        Err(refusal) => sign_in_page(&refusal),
    }
}

/// `POST /signout`: the cookie is cleared.
pub async fn sign_out(request: Parts) -> Response {
    if from_elsewhere(&request.headers) {
        return sign_in_page(&Error::Forbidden("signing out from another site"));
    }
    to_page(Some(format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    )))
}

/// A form posted from another site's page (a browser says so), which
/// could sign a visitor in with someone else's token.
fn from_elsewhere(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site")
}

/// 303 to the page, setting `cookie` if given.
fn to_page(cookie: Option<String>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(value) = cookie.and_then(|c| HeaderValue::try_from(c).ok()) {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}

/// The sign-in form, with the reason it is shown: no token yet (200), a
/// token refused (401, the cookie cleared), or too many attempts (429).
pub fn sign_in_page(reason: &Error) -> Response {
    let (status, message) = match reason {
        Error::Unauthorized(false) => (StatusCode::OK, None),
        Error::Unauthorized(true) => (
            StatusCode::UNAUTHORIZED,
            Some("That token is not known here (or no longer). Check it and try again."),
        ),
        Error::BadQuery(_) => (
            StatusCode::BAD_REQUEST,
            Some("Paste the token you were given, then sign in."),
        ),
        Error::TooManyFailures(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many tokens that are not known were sent from here; wait a minute."),
        ),
        _ => (
            StatusCode::FORBIDDEN,
            Some("Sign in from this service's own page."),
        ),
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (super::markup::head("Sign in: carbon footprint"))
            body {
                main {
                    h1 { "Carbon footprint: sign in" }
                    p { "This service shows each reader the assets of their access token. Paste the token you were given." }
                    form method="post" action="/signin" {
                        label for="token" {
                            "Access token"
                            input id="token" name="token" type="password" autocomplete="current-password" required;
                        }
                        button type="submit" id="sign-in" { "Sign in" }
                    }
                    @if let Some(message) = message {
                        p class="problem" role="alert" id="problem" { (message) }
                    }
                    p class="note" { "The token is kept in a cookie that only this page reads; API clients send it as "
                        code { "Authorization: Bearer <token>" } "." }
                }
            }
        }
    };
    let mut response = (status, Html(page.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Error::TooManyFailures(seconds) = reason {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="carbon-footprint", error="invalid_token""#),
        );
        // A refused cookie is dropped, so the form is not refused again.
        headers.insert(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "footprint_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
            ),
        );
    }
    response
}
