//! Learning paths as SCIM groups (RFC 7644 §3): find one by displayName, create
//! it, add learners with PATCH, and read every group's members in checked pages
//! (real servers often leave the User's read-only `groups` attribute empty).

use serde_json::{Value, json};

use super::hris::encode_segment;
use super::scim::{SCIM_JSON, ScimClient, quoted};
use super::scim_paging::ListAnswer;
use super::{ConnectorError, json_of};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Members added per PATCH, so one request stays a reasonable size.
pub const MEMBERS_PER_PATCH: usize = 500;
/// Groups asked for per page (each may carry many members).
pub const GROUP_PAGE: usize = 50;

/// One group and the ids of its members.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupMembers {
    pub id: String,
    pub display_name: String,
    pub members: Vec<String>,
}

impl ScimClient {
    /// The id of the group with this displayName, if the LMS has one.
    pub async fn group_id(&self, display_name: &str) -> Result<Option<String>, ConnectorError> {
        let what = format!("LMS group {display_name:?} (GET Groups)");
        let filter = format!("displayName eq {}", quoted(display_name));
        let mut request = self
            .request(reqwest::Method::GET, "Groups")
            .query(&[("filter", filter.as_str())]);
        if self.profile().sends_attributes() {
            request = request.query(&[("attributes", "id,displayName")]);
        }
        let answer: ListAnswer = json_of(&what, self.send(&what, request).await?).await?;
        // A server that cannot filter groups answers all of them: pick by name.
        Ok(answer.resources.iter().find_map(|g| {
            let named = g["displayName"].as_str().is_none_or(|name| name == display_name);
            g["id"].as_str().filter(|_| named).map(str::to_string)
        }))
    }

    /// Creates an empty group (a learning path); answers its id.
    pub async fn create_group(&self, display_name: &str) -> Result<String, ConnectorError> {
        let what = format!("creating LMS group {display_name:?} (POST Groups)");
        let body = json!({ "schemas": [GROUP], "displayName": display_name, "members": [] });
        let request = self
            .request(reqwest::Method::POST, "Groups")
            .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
            .body(body.to_string());
        let created: Value = json_of(&what, self.send(&what, request).await?).await?;
        created["id"].as_str().map(str::to_string).ok_or_else(|| {
            ConnectorError::permanent(format!("{what}: the LMS answered a group without an id"))
        })
    }

    /// Adds learners to a group; adding one already in it changes nothing.
    pub async fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError> {
        for chunk in user_ids.chunks(MEMBERS_PER_PATCH) {
            let what = format!(
                "adding {} learner(s) to LMS group {group_id} (PATCH Groups/{{id}})",
                chunk.len()
            );
            let members: Vec<Value> = chunk.iter().map(|id| json!({ "value": id })).collect();
            let body = json!({
                "schemas": [PATCH_OP],
                "Operations": [{ "op": "add", "path": "members", "value": members }],
            });
            // Asking for the id alone spares the whole member list in the answer,
            // but some servers break on it: then asked once more without it.
            let trimmed = self.profile().sends_attributes() && !self.attributes_refused();
            match self.patch_group(group_id, &what, &body, trimmed).await {
                Err(error) if trimmed && error.status() == Some(500) => {
                    self.patch_group(group_id, &what, &body, false).await?;
                    self.refuse_attributes(&error);
                }
                answer => answer?,
            }
        }
        Ok(())
    }

    /// Takes learners out of a group (a `remove` of each member by its value);
    /// their history in the LMS is not touched.
    pub async fn remove_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError> {
        for chunk in user_ids.chunks(MEMBERS_PER_PATCH) {
            let what = format!(
                "removing {} learner(s) from LMS group {group_id} (PATCH Groups/{{id}})",
                chunk.len()
            );
            let operations: Vec<Value> = chunk
                .iter()
                .map(|id| {
                    let quoted = serde_json::to_string(id).unwrap_or_default();
                    json!({ "op": "remove", "path": format!("members[value eq {quoted}]") })
                })
                .collect();
            let body = json!({ "schemas": [PATCH_OP], "Operations": operations });
            let trimmed = self.profile().sends_attributes() && !self.attributes_refused();
            match self.patch_group(group_id, &what, &body, trimmed).await {
                Err(error) if trimmed && error.status() == Some(500) => {
                    self.patch_group(group_id, &what, &body, false).await?;
                    self.refuse_attributes(&error);
                }
                answer => answer?,
            }
        }
        Ok(())
    }

    async fn patch_group(
        &self,
        group_id: &str,
        what: &str,
        body: &Value,
        trimmed: bool,
    ) -> Result<(), ConnectorError> {
        let mut request = self
            .request(
                reqwest::Method::PATCH,
                &format!("Groups/{}", encode_segment(group_id)),
            )
            .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
            .body(body.to_string());
        if trimmed {
            request = request.query(&[("attributes", "id")]);
        }
        self.send(what, request).await.map(|_| ())
    }

    /// Every group with its members, read in checked pages.
    pub async fn all_groups(&self) -> Result<Vec<GroupMembers>, ConnectorError> {
        let mut groups = Vec::new();
        let page_size = GROUP_PAGE.min(self.profile().page_size());
        self.each_page("Groups", "groups", page_size, |group| {
            let Some(id) = group["id"].as_str() else {
                return Ok(());
            };
            let members = group["members"]
                .as_array()
                .map(|members| {
                    members
                        .iter()
                        .filter_map(|m| m["value"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            groups.push(GroupMembers {
                id: id.to_string(),
                display_name: group["displayName"].as_str().unwrap_or_default().to_string(),
                members,
            });
            Ok(())
        })
        .await?;
        Ok(groups)
    }
}
