//! An operator's link of a learner-side duplicate: the chosen learner gets the
//! employee's id as its externalId; the group's other learners that carried it
//! lose it (kept, not merged, not deactivated). Applied like any change, with
//! retries and the audit entry `learner.link`.

use serde_json::{Map, Value, json};

use crate::connectors::roles::LearnerTarget;
use crate::engine::apply::outcome::{Failure, Outcome};
use crate::model::{AuditAction, Event, WriteRecord};

pub async fn apply_link(learners: &dyn LearnerTarget, event: &Event) -> Result<Outcome, Failure> {
    let employee = event.employee_id.as_str();
    let Some(learner_id) = event.payload["learner"].as_str() else {
        return Err(Failure::permanent("a link names no learner"));
    };
    let mut before = Map::new();
    let mut after = Map::new();
    for other in event.payload["unlink"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let Some(user) = learners.user(other).await? else {
            continue;
        };
        if user.resource["externalId"].as_str() != Some(employee) {
            continue;
        }
        let mut document = user.resource.clone();
        if let Some(object) = document.as_object_mut() {
            object.remove("meta");
            object.remove("externalId");
        }
        learners
            .replace_user(&user.id, &document, user.etag.as_deref())
            .await?;
        before.insert(format!("{other}.externalId"), json!(employee));
        after.insert(format!("{other}.externalId"), Value::Null);
    }
    let Some(user) = learners.user(learner_id).await? else {
        return Err(Failure::permanent(format!(
            "the LMS has no learner {learner_id} to link"
        )));
    };
    let current = user.resource["externalId"].clone();
    if current.as_str() != Some(employee) {
        let mut document = user.resource.clone();
        if let Some(object) = document.as_object_mut() {
            object.remove("meta");
        }
        document["externalId"] = json!(employee);
        learners
            .replace_user(&user.id, &document, user.etag.as_deref())
            .await?;
        before.insert(format!("{learner_id}.externalId"), current);
        after.insert(format!("{learner_id}.externalId"), json!(employee));
    }
    if after.is_empty() {
        return Ok(Outcome::Unchanged {
            enrolled: Vec::new(),
            mapped: None,
            held: true,
            why: "the learner is already linked to the employee",
            awaits_manager: None,
        });
    }
    Ok(Outcome::Applied {
        write: WriteRecord {
            sent_from: "operator".into(),
            sent_to: "lms".into(),
            target_id: Some(learner_id.to_string()),
            before: Value::Object(before),
            after: Value::Object(after),
            http_status: Some(200),
        },
        audit_action: AuditAction::LearnerLink,
        enrolled: Vec::new(),
        mapped: None,
        awaits_manager: None,
    })
}
