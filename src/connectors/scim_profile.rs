//! What a SCIM server supports (its `ServiceProviderConfig`, RFC 7643 §5) and
//! the quirks the configuration names; the client picks its request forms from
//! this, and `hrsync doctor` shows it.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::json_of;
use super::scim::ScimClient;
use crate::model::ScimQuirk;

/// Learners asked for per page when the server sets no lower maximum.
pub const PAGE: usize = 1000;

/// A server's capabilities as hrsync will use them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScimProfile {
    /// `ServiceProviderConfig` was read (otherwise the defaults below stand).
    pub discovered: bool,
    /// Why it could not be read, when it could not.
    pub discovery_problem: Option<String>,
    pub filter: bool,
    pub patch: bool,
    pub etag: bool,
    pub bulk: bool,
    /// The most resources the server returns in one answer, when it says.
    pub max_results: Option<usize>,
    /// Named in `[lms] quirks` (or found by `doctor`'s probes).
    pub quirks: BTreeSet<ScimQuirk>,
}

impl Default for ScimProfile {
    /// What is assumed of a server that says nothing: the RFC's mandatory parts.
    fn default() -> Self {
        ScimProfile {
            discovered: false,
            discovery_problem: None,
            filter: true,
            patch: true,
            etag: false,
            bulk: false,
            max_results: None,
            quirks: BTreeSet::new(),
        }
    }
}

impl ScimProfile {
    pub fn with_quirks(quirks: impl IntoIterator<Item = ScimQuirk>) -> ScimProfile {
        ScimProfile {
            quirks: quirks.into_iter().collect(),
            ..ScimProfile::default()
        }
    }

    pub fn has(&self, quirk: ScimQuirk) -> bool {
        self.quirks.contains(&quirk)
    }

    /// Learners per page: ours, or fewer when the server caps its answers.
    pub fn page_size(&self) -> usize {
        self.max_results.map_or(PAGE, |most| most.clamp(1, PAGE))
    }

    /// Whether updates carry If-Match (the server's ETag, when it sent one).
    pub fn sends_if_match(&self) -> bool {
        !self.has(ScimQuirk::NoEtag)
    }

    /// Whether `attributes` may be sent to trim an answer.
    pub fn sends_attributes(&self) -> bool {
        !self.has(ScimQuirk::IgnoresAttributesParam)
    }

    /// Reads the answer of `GET /ServiceProviderConfig` into the profile.
    fn read_config(&mut self, config: &Value) {
        let supported = |name: &str| config[name]["supported"].as_bool();
        self.discovered = true;
        self.filter = supported("filter").unwrap_or(self.filter);
        self.patch = supported("patch").unwrap_or(self.patch);
        self.etag = supported("etag").unwrap_or(self.etag);
        self.bulk = supported("bulk").unwrap_or(self.bulk);
        self.max_results = config["filter"]["maxResults"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0);
    }

    /// What hrsync does differently from its defaults with this server, one line each.
    pub fn differences(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(problem) = &self.discovery_problem {
            lines.push(format!(
                "ServiceProviderConfig could not be read ({problem}): the RFC's mandatory features are assumed"
            ));
        }
        if !self.etag && !self.has(ScimQuirk::NoEtag) {
            lines.push(
                "the server offers no ETags: updates go without If-Match, so lost-update protection is off"
                    .into(),
            );
        }
        if !self.filter {
            lines.push(
                "the server says it cannot filter: lookups are tried anyway and an empty answer means no learner"
                    .into(),
            );
        }
        if self.page_size() < PAGE {
            lines.push(format!(
                "the server answers at most {} resources at once: lists are read in pages of that size",
                self.page_size()
            ));
        }
        for quirk in &self.quirks {
            lines.push(format!("{quirk}: {}", quirk.effect()));
        }
        lines
    }
}

impl ScimClient {
    /// Reads the server's `ServiceProviderConfig` and adds the configured quirks.
    /// A server that cannot say keeps the defaults, with the reason recorded:
    /// that is no reason to stop syncing.
    pub async fn discover(&self, quirks: &[ScimQuirk]) -> ScimProfile {
        let mut profile = ScimProfile::with_quirks(quirks.iter().copied());
        let what = "the LMS's capabilities (GET ServiceProviderConfig)";
        let answer = async {
            let response = self
                .send(what, self.request(reqwest::Method::GET, "ServiceProviderConfig"))
                .await?;
            json_of::<Value>(what, response).await
        }
        .await;
        match answer {
            Ok(config) => profile.read_config(&config),
            Err(error) => profile.discovery_problem = Some(error.to_string()),
        }
        profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_config_sets_what_it_says_and_keeps_the_rest() {
        let mut profile = ScimProfile::with_quirks([ScimQuirk::DuplicateIs400]);
        profile.read_config(&json!({
            "patch": {"supported": true},
            "etag": {"supported": false},
            "filter": {"supported": true, "maxResults": 200},
        }));
        assert!(profile.discovered && profile.patch && profile.filter && !profile.etag);
        assert_eq!(profile.page_size(), 200);
        let said = profile.differences().join("\n");
        assert!(said.contains("lost-update protection is off"), "{said}");
        assert!(said.contains("at most 200"), "{said}");
        assert!(said.contains("duplicate_is_400"), "{said}");
    }

    #[test]
    fn quirks_choose_the_request_forms() {
        let plain = ScimProfile::default();
        assert!(plain.sends_attributes() && plain.sends_if_match());
        let quirky = ScimProfile::with_quirks([ScimQuirk::IgnoresAttributesParam, ScimQuirk::NoEtag]);
        assert!(!quirky.sends_attributes() && !quirky.sends_if_match());
    }
}
