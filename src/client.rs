//! The HTTP tests' client: hyper-util's pooled HTTP/1 client (the crates
//! the examples already serve with), and GETs that panic on failure.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{HeaderMap, StatusCode};
use hyper_util::client::legacy::{self, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;

/// A pooled HTTP/1 client for loopback URLs (`http://` only); cheap to
/// clone, the clones share the pool.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = monitor_demo::Client::new();
/// let response = client.get("http://127.0.0.1:3000/metrics").await;
/// assert_eq!(response.status, 200);
/// # }
/// ```
#[derive(Clone)]
pub struct Client(legacy::Client<HttpConnector, Empty<Bytes>>);

/// A whole response: status, headers and the body read to its end.
#[derive(Debug)]
pub struct Response {
    /// The status code (compares with a number: `response.status == 200`).
    pub status: StatusCode,
    /// The response's headers.
    pub headers: HeaderMap,
    /// The body, read to its end.
    pub body: Bytes,
}

impl Client {
    /// A client with an empty pool.
    pub fn new() -> Self {
        Self(legacy::Client::builder(TokioExecutor::new()).build_http())
    }

    /// GETs `url` and reads the whole body; panics on any failure,
    /// naming the URL.
    pub async fn get(&self, url: impl AsRef<str>) -> Response {
        let url = url.as_ref();
        match self.try_get(url).await {
            Ok(response) => response,
            Err(error) => panic!("GET {url}: {error}"),
        }
    }

    /// GETs `url` and reads the whole body; any failure (a malformed URL,
    /// a refused connection, a body cut short) as an error.
    pub async fn try_get(
        &self,
        url: impl AsRef<str>,
    ) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
        let uri: hyper::Uri = url.as_ref().parse()?;
        let response = self.0.get(uri).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Response {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics, showing the body, if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }
}
