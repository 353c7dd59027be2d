//! The kit's "other app": `POST /score {"i": i}` answers 150 for even `i`, else 50. Either
//! answered in this process (`stub`) or called over HTTP (`http`, the kit's `score_app.mjs`).

use super::PeerArgs;
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Score {
    Stub,
    Http {
        client: reqwest::Client,
        url: String,
    },
}

impl Score {
    /// The score service the arguments name; `connections` keep-alive connections for `http`.
    pub fn new(args: &PeerArgs, connections: usize) -> Result<Score, String> {
        if !args.http_service {
            return Ok(Score::Stub);
        }
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections.max(1))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Score::Http {
            client,
            url: args.score_url(),
        })
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Score::Stub => "stub",
            Score::Http { .. } => "HTTP POST to the score app",
        }
    }

    /// The amount for instance `i`.
    pub async fn call(&self, i: u64) -> Result<i64, String> {
        match self {
            Score::Stub => Ok(PeerArgs::amount(i)),
            Score::Http { client, url } => {
                let response = client
                    .post(url)
                    .json(&serde_json::json!({ "i": i }))
                    .send()
                    .await
                    .map_err(|e| format!("score app: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!("score app answered {}", response.status()));
                }
                response
                    .json::<i64>()
                    .await
                    .map_err(|e| format!("score app: {e}"))
            }
        }
    }
}
