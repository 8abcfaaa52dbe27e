//! `hrsync doctor`'s look at a SCIM server, read-only: what it says it supports,
//! and what a few reads show it actually does (paging, filters on the
//! enterprise extension, `groups` on Users, booleans), with the quirks to name.

use serde::Serialize;
use serde_json::Value;

use super::scim::{ScimClient, quoted};
use super::scim_paging::ListAnswer;
use super::scim_profile::ScimProfile;
use super::{ConnectorError, json_of};
use crate::model::{ENTERPRISE_SCHEMA as ENTERPRISE, ScimQuirk};

/// What the probe found; `None` where there was nothing to try it on.
#[derive(Debug, Serialize)]
pub struct ScimFindings {
    pub profile: ScimProfile,
    /// Learners the server says it holds (`totalResults`), if Users could be read.
    pub learners: Option<usize>,
    /// Groups (learning paths) it holds, if Groups could be read.
    pub groups: Option<usize>,
    /// Why Users or Groups could not be read.
    pub problems: Vec<String>,
    /// A second page starts where it was asked to.
    pub pages_correctly: Option<bool>,
    /// A filter on the enterprise employeeNumber finds the learner that has it.
    pub enterprise_filter: Option<bool>,
    /// A learner in a group lists it in `groups`.
    pub groups_attribute: Option<bool>,
    /// `active` comes as a string.
    pub string_booleans: Option<bool>,
    /// Quirks the findings call for that the configuration does not name yet.
    pub suggested_quirks: Vec<ScimQuirk>,
}

impl ScimClient {
    /// Probes the server with reads only; never fails, every problem is a finding.
    pub async fn probe(&self) -> ScimFindings {
        let mut findings = ScimFindings {
            profile: self.profile().clone(),
            learners: None,
            groups: None,
            problems: Vec::new(),
            pages_correctly: None,
            enterprise_filter: None,
            groups_attribute: None,
            string_booleans: None,
            suggested_quirks: Vec::new(),
        };
        let first = match self.list("Users", 1, 1, None).await {
            Ok(page) => {
                findings.learners = Some(page.total_results);
                page.resources.into_iter().next()
            }
            Err(error) => {
                findings.problems.push(format!("Users: {error}"));
                None
            }
        };
        match self.list("Groups", 1, 50, None).await {
            Ok(page) => {
                findings.groups = Some(page.total_results);
                let with_members = page
                    .resources
                    .iter()
                    .find(|g| g["members"].as_array().is_some_and(|m| !m.is_empty()));
                if let Some(group) = with_members {
                    findings.groups_attribute = self.groups_attribute(group).await;
                }
            }
            Err(error) => findings.problems.push(format!("Groups: {error}")),
        }
        if let Some(first) = &first {
            findings.string_booleans = first.get("active").map(Value::is_string);
            if findings.learners.unwrap_or(0) > 1 {
                findings.pages_correctly = match self.list("Users", 2, 1, None).await {
                    Ok(second) => Some(
                        second.resources.first().map(|r| &r["id"]) != Some(&first["id"])
                            && second.start_index.is_none_or(|at| at == 2),
                    ),
                    Err(error) => {
                        findings.problems.push(format!("Users from 2: {error}"));
                        None
                    }
                };
            }
            if let Some(number) = first[ENTERPRISE]["employeeNumber"].as_str() {
                let filter = format!("{ENTERPRISE}:employeeNumber eq {}", quoted(number));
                findings.enterprise_filter = match self.list("Users", 1, 2, Some(&filter)).await {
                    Ok(found) => Some(found.resources.iter().any(|r| r["id"] == first["id"])),
                    Err(_) => Some(false),
                };
            }
        }
        let named = &findings.profile.quirks;
        let suggest = [
            (
                findings.enterprise_filter == Some(false),
                ScimQuirk::NoEnterpriseFilter,
            ),
            (
                findings.groups_attribute == Some(false),
                ScimQuirk::NoGroupsAttribute,
            ),
            (findings.string_booleans == Some(true), ScimQuirk::StringBooleans),
        ];
        findings.suggested_quirks = suggest
            .into_iter()
            .filter(|(found, quirk)| *found && !named.contains(quirk))
            .map(|(_, quirk)| quirk)
            .collect();
        findings
    }

    /// One page of a list, as the server answers it (unchecked: that is the point).
    async fn list(
        &self,
        resource: &str,
        start: usize,
        count: usize,
        filter: Option<&str>,
    ) -> Result<ListAnswer, ConnectorError> {
        let what = format!("{resource} from {start} (GET {resource})");
        let mut request = self
            .request(reqwest::Method::GET, resource)
            .query(&[("startIndex", start.to_string()), ("count", count.to_string())]);
        if let Some(filter) = filter {
            request = request.query(&[("filter", filter)]);
        }
        json_of(&what, self.send(&what, request).await?).await
    }

    /// Whether a member of `group` lists the group in its own `groups`.
    async fn groups_attribute(&self, group: &Value) -> Option<bool> {
        let group_id = group["id"].as_str()?;
        let member = group["members"].as_array()?.first()?["value"].as_str()?;
        let user = self.user(member).await.ok()??;
        Some(
            user.resource["groups"]
                .as_array()
                .is_some_and(|groups| groups.iter().any(|g| g["value"] == group_id)),
        )
    }
}
