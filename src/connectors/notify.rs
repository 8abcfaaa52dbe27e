//! The ops channel: a Slack-style incoming webhook that gets `{"text": …}`.

use serde_json::json;

use super::{ConnectorError, checked, http_client, unanswered};

/// Tells the ops channel; with no `[notify] webhook_url` configured it is silent.
#[derive(Clone, Debug)]
pub struct Notifier {
    target: Option<(reqwest::Client, url::Url)>,
}

impl Notifier {
    pub fn new(url: Option<url::Url>) -> Notifier {
        // Building a client only fails when TLS cannot start; then nothing can
        // be sent, and saying so on every send is the useful thing.
        let target = url.and_then(|url| http_client().ok().map(|client| (client, url)));
        Notifier { target }
    }

    pub async fn send(&self, text: &str) -> Result<(), ConnectorError> {
        let Some((client, url)) = &self.target else {
            return Ok(());
        };
        let what = format!("telling the ops channel at {}", url.host_str().unwrap_or("?"));
        let response = client
            .post(url.clone())
            .json(&json!({ "text": text }))
            .send()
            .await
            .map_err(|error| unanswered(&what, error))?;
        checked(&what, response).await.map(|_| ())
    }
}
