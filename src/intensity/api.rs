//! The GB Carbon Intensity API client: one reqwest client with a connect
//! timeout, a total timeout and a User-Agent, the base URL injected so tests
//! point it at a local mock. One retry on a connection error or a 5xx; the
//! body is validated down to every half-hour of the day before it is
//! believed.

use std::time::Duration;

use reqwest::StatusCode;

use super::day::{IncompleteDay, IntensityDay};
use super::format::IntensityResponse;
use crate::half_hour::Day;
use crate::message::chain;

/// Largest body accepted: a day is about 7 KiB.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Pause before the single retry.
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// Why the API did not give a usable day.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("could not connect to the intensity API: {0}")]
    Connect(String),
    #[error("the intensity API did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the intensity API answered {status}{}", retry_after.as_ref().map(|s| format!(" (Retry-After: {s})")).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    #[error("the intensity API's body was not usable: {0}")]
    Body(String),
    #[error("the intensity API's answer is incomplete: {0}")]
    Incomplete(IncompleteDay),
    #[error("could not build the intensity API client: {0}")]
    Client(String),
}

/// The longest period the API answers in one call.
pub const MAX_DAYS_PER_CALL: u32 = 14;

/// A client for `{base_url}/intensity/{from}/{to}`.
#[derive(Debug, Clone)]
pub struct IntensityClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

impl IntensityClient {
    /// `timeout` bounds each attempt from connect to the last body byte.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, ApiError> {
        let base = reqwest::Url::parse(base_url)
            .map_err(|e| ApiError::Client(format!("the intensity URL is not a URL: {e}")))?;
        // A redirect elsewhere is not the API answering: it is not followed
        // (the 3xx is then a failed call, and the file answers).
        let same_origin = reqwest::redirect::Policy::custom(move |attempt| {
            let url = attempt.url();
            if attempt.previous().len() < 3
                && url.scheme() == base.scheme()
                && url.host_str() == base.host_str()
                && url.port_or_known_default() == base.port_or_known_default()
            {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let http = reqwest::Client::builder()
            .redirect(same_origin)
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ))
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .timeout(timeout)
            .build()
            .map_err(|e| ApiError::Client(e.to_string()))?;
        Ok(IntensityClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeout,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL asked for `day`: 00:00 of the day to 00:00 of the next. Built
    /// from a parsed [`Day`] only, so no request text reaches it.
    pub fn day_url(&self, day: Day) -> String {
        let next = day.next().unwrap_or(day);
        format!("{}/intensity/{day}T00:00Z/{next}T00:00Z", self.base_url)
    }

    /// The URL asked for the days `from..=to`: 00:00 of the first to 00:00
    /// after the last.
    pub fn days_url(&self, from: Day, to: Day) -> String {
        let after = to.next().unwrap_or(to);
        format!("{}/intensity/{from}T00:00Z/{after}T00:00Z", self.base_url)
    }

    /// Fetches `from..=to` (at most [`MAX_DAYS_PER_CALL`] days) in one call
    /// and matches its entries to each day; a day the answer lacks in part
    /// is that day's own error, not the others'.
    pub async fn fetch_days(
        &self,
        from: Day,
        to: Day,
    ) -> Result<Vec<(Day, Result<IntensityDay, IncompleteDay>)>, ApiError> {
        let url = self.days_url(from, to);
        let body: IntensityResponse = self.fetch_json_retrying(&url).await?;
        Ok(from
            .through(to)
            .map(|day| (day, IntensityDay::from_entries(day, &body.data)))
            .collect())
    }

    /// Fetches and validates one day. Retries once on a connection error or
    /// a 5xx answer; everything else fails at once.
    pub async fn fetch_day(&self, day: Day) -> Result<IntensityDay, ApiError> {
        let url = self.day_url(day);
        self.fetch_json_retrying::<IntensityResponse>(&url)
            .await
            .and_then(|body| {
                IntensityDay::from_entries(day, &body.data).map_err(ApiError::Incomplete)
            })
    }

    /// GETs `url` and parses its JSON body as `T`. Retries once on a
    /// connection error or a 5xx answer.
    pub(super) async fn fetch_json_retrying<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, ApiError> {
        match self.fetch_json(url).await {
            Err(err) if is_retryable(&err) => {
                tracing::debug!(%url, error = %err, "retrying the intensity API once");
                tokio::time::sleep(RETRY_DELAY).await;
                self.fetch_json(url).await
            }
            other => other,
        }
    }

    async fn fetch_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, ApiError> {
        let result = self.fetch_json_once(url).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ApiError::Status { .. }) => "status",
            Err(ApiError::Timeout(_)) => "timeout",
            Err(ApiError::Connect(_)) => "connect",
            Err(_) => "body",
        };
        metrics::counter!("intensity_api_calls_total", "outcome" => outcome).increment(1);
        result
    }

    async fn fetch_json_once<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, ApiError> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(40).collect());
            return Err(ApiError::Status {
                status: status.as_u16(),
                retry_after,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ApiError::Body(format!(
                    "larger than {MAX_BODY_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| ApiError::Body(e.to_string()))
    }

    /// The failure in words that name no URL: messages reach clients in
    /// 502 problems, and the API's address is the operator's business.
    fn classify(&self, err: reqwest::Error) -> ApiError {
        let err = err.without_url();
        if err.is_timeout() {
            ApiError::Timeout(self.timeout)
        } else if err.is_connect() {
            ApiError::Connect(chain(&err))
        } else {
            ApiError::Body(chain(&err))
        }
    }
}

fn is_retryable(err: &ApiError) -> bool {
    match err {
        ApiError::Connect(_) => true,
        ApiError::Status { status, .. } => StatusCode::from_u16(*status)
            .map(|s| s.is_server_error())
            .unwrap_or(false),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    //! The client against a local wiremock server: 200, 5xx, a timeout,
    //! malformed JSON, entries out of order, a missing half-hour.

    use super::*;
    use crate::half_hour::HalfHourId;
    use crate::intensity::format::format_api_time;
    use chrono::Duration as Minutes;
    use wiremock::matchers::{header_exists, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn day() -> Day {
        Day::parse("2019-11-25").unwrap()
    }

    const DAY_PATH: &str = "/intensity/2019-11-25T00:00Z/2019-11-26T00:00Z";

    /// An API body for the day: 49 entries from 23:30 the evening before,
    /// `actual = 100 + half-hour index`, in the given order.
    fn body(order: impl Fn(Vec<serde_json::Value>) -> Vec<serde_json::Value>) -> serde_json::Value {
        let entries = (-1..48)
            .map(|n| {
                let from = day().start() + Minutes::minutes(30 * n);
                serde_json::json!({
                    "from": format_api_time(from),
                    "to": format_api_time(from + Minutes::minutes(30)),
                    "intensity": {"forecast": 200 + n, "actual": 100 + n, "index": "moderate"}
                })
            })
            .collect();
        serde_json::json!({ "data": order(entries) })
    }

    async fn client_for(server: &MockServer, timeout_ms: u64) -> IntensityClient {
        IntensityClient::new(&server.uri(), Duration::from_millis(timeout_ms)).unwrap()
    }

    /// Fetches the day from a mock that answers `template` to every call
    /// and must be called exactly `calls` times.
    async fn fetch_against(
        template: ResponseTemplate,
        calls: u64,
        timeout_ms: u64,
    ) -> Result<IntensityDay, ApiError> {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(template)
            .expect(calls)
            .mount(&server)
            .await;
        client_for(&server, timeout_ms).await.fetch_day(day()).await
    }

    #[tokio::test]
    async fn a_200_with_a_whole_day_is_matched_by_from() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(DAY_PATH))
            .and(header_exists("user-agent"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body(|e| e)))
            .expect(1)
            .mount(&server)
            .await;

        // Act
        let day = client_for(&server, 2_000)
            .await
            .fetch_day(day())
            .await
            .unwrap();

        // Assert
        assert_eq!(day.get(HalfHourId::FIRST).actual, Some(100.0));
        assert_eq!(day.get(HalfHourId::LAST).actual, Some(147.0));
    }

    #[tokio::test]
    async fn entries_out_of_order_are_still_matched_by_from() {
        let day = fetch_against(
            ResponseTemplate::new(200).set_body_json(body(|mut e| {
                e.reverse();
                e
            })),
            1,
            2_000,
        )
        .await
        .unwrap();

        assert_eq!(day.get(HalfHourId::new(14).unwrap()).actual, Some(113.0));
    }

    #[tokio::test]
    async fn a_500_is_retried_once_then_reported_with_its_status() {
        let err = fetch_against(ResponseTemplate::new(500), 2, 2_000)
            .await
            .unwrap_err();

        assert!(matches!(err, ApiError::Status { status: 500, .. }), "{err}");
    }

    #[tokio::test]
    async fn a_500_then_a_200_succeeds_on_the_retry() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body(|e| e)))
            .expect(1)
            .mount(&server)
            .await;

        assert!(
            client_for(&server, 2_000)
                .await
                .fetch_day(day())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_429_is_not_retried_and_keeps_its_retry_after() {
        let err = fetch_against(
            ResponseTemplate::new(429).insert_header("retry-after", "120"),
            1,
            2_000,
        )
        .await
        .unwrap_err();

        assert_eq!(
            err.to_string(),
            "the intensity API answered 429 (Retry-After: 120)"
        );
    }

    #[tokio::test]
    async fn a_slow_answer_times_out_without_a_retry() {
        let err = fetch_against(
            ResponseTemplate::new(200)
                .set_body_json(body(|e| e))
                .set_delay(Duration::from_secs(5)),
            1,
            200,
        )
        .await
        .unwrap_err();

        assert!(matches!(err, ApiError::Timeout(_)), "{err}");
    }

    #[tokio::test]
    async fn malformed_json_is_a_body_error() {
        let err = fetch_against(
            ResponseTemplate::new(200).set_body_string("<html>busy</html>"),
            1,
            2_000,
        )
        .await
        .unwrap_err();

        assert!(matches!(err, ApiError::Body(_)), "{err}");
    }

    #[tokio::test]
    async fn a_day_with_47_half_hours_is_incomplete_and_names_the_gap() {
        let err = fetch_against(
            ResponseTemplate::new(200).set_body_json(body(|mut e| {
                e.remove(20); // half-hour 20
                e
            })),
            1,
            2_000,
        )
        .await
        .unwrap_err();

        assert_eq!(
            err.to_string(),
            "the intensity API's answer is incomplete: no carbon intensity for 2019-11-25 half-hour(s) 20"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client =
            IntensityClient::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(1))
                .unwrap();

        let err = client.fetch_day(day()).await.unwrap_err();

        assert!(matches!(err, ApiError::Connect(_)), "{err}");
        // The message reaches clients: it must not name the API's address.
        assert!(!err.to_string().contains("127.0.0.1"), "{err}");
        assert!(!err.to_string().contains(&port.to_string()), "{err}");
    }

    #[tokio::test]
    async fn a_redirect_to_another_host_is_not_followed() {
        // Arrange: the API redirects to another server that would answer.
        let elsewhere = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body(|e| e)))
            .expect(0)
            .mount(&elsewhere)
            .await;
        let other_host = elsewhere.uri().replace("127.0.0.1", "localhost");
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{other_host}{DAY_PATH}")),
            )
            .mount(&server)
            .await;

        // Act
        let err = client_for(&server, 2_000)
            .await
            .fetch_day(day())
            .await
            .unwrap_err();

        // Assert
        assert!(matches!(err, ApiError::Status { status: 302, .. }), "{err}");
    }

    #[tokio::test]
    async fn a_redirect_on_the_same_host_is_followed() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/moved"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body(|e| e)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(DAY_PATH))
            .respond_with(ResponseTemplate::new(301).insert_header("location", "/moved"))
            .mount(&server)
            .await;

        let found = client_for(&server, 2_000).await.fetch_day(day()).await;

        assert!(found.is_ok(), "{found:?}");
    }
}
