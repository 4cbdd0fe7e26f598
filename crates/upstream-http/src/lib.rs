//! What wegate's upstream API clients (`wecom`, `dingtalk`, `feishu`, `oidc-rp`) share about HTTP: an answer
//! is read up to a bound and refused beyond it, never read into memory whole — whatever answers in an
//! upstream's place (a misrouted proxy, a hostile server) cannot make wegate hold gigabytes.

use std::fmt;

/// Why an answer was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Longer than the bound (announced so, or found so while reading).
    TooLarge { max: usize },
    /// The connection failed while reading (a timeout included).
    Transport(reqwest::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::TooLarge { max } => write!(f, "the answer is larger than {} KiB", max / 1024),
            ReadError::Transport(e) => write!(f, "{}", e),
        }
    }
}

impl std::error::Error for ReadError {}

/// The answer's body, at most `max` bytes: an announced length beyond it is refused before reading, and an
/// unannounced one as soon as what arrived passes it.
pub async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(ReadError::TooLarge { max });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > max {
            return Err(ReadError::TooLarge { max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Stand-ins for the clients' tests.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    /// A server on 127.0.0.1 that answers every request with 4 GiB of spaces and no announced length (nobody
    /// waits for the end): its base URL.
    pub async fn endless() -> std::io::Result<String> {
        use axum::body::{Body, Bytes};
        let endless = || async {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            let chunks = futures::stream::iter((0..65_536).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
            axum::response::Response::new(Body::from_stream(chunks))
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(endless)).await });
        Ok(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(body: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(move || async move { body });
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    #[tokio::test]
    async fn an_answer_within_the_bound_is_read_whole_and_one_beyond_it_refused() {
        let base = serve(b"{\"ok\":true}").await;
        let answer = reqwest::get(&base).await.unwrap();
        assert_eq!(read_capped(answer, 11).await.unwrap(), b"{\"ok\":true}");
        // Announced longer than the bound: refused before reading.
        let answer = reqwest::get(&base).await.unwrap();
        let error = read_capped(answer, 10).await.unwrap_err();
        assert!(matches!(error, ReadError::TooLarge { max: 10 }), "{error}");
    }

    #[tokio::test]
    async fn an_endless_answer_with_no_length_is_refused_as_it_passes_the_bound() {
        let base = testing::endless().await.unwrap();
        let answer = reqwest::get(&base).await.unwrap();
        assert!(answer.content_length().is_none());
        let error = read_capped(answer, 256 * 1024).await.unwrap_err();
        assert_eq!(error.to_string(), "the answer is larger than 256 KiB");
    }
}
