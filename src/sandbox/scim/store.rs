//! The LMS's learners and learning paths as SCIM resources: stored JSON plus
//! the indexes (userName, externalId, employeeNumber, membership) that keep
//! lookups O(1) at a million users. Each resource sits behind an `Arc`, so an
//! answer is serialised from the stored copy after the lock is released.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use rand::Rng;
use serde_json::{Map, Value, json};

use super::clock::Clock;
use super::error::ScimError;
use super::filter::get_ci;
use super::patch::{self, Operation};
use super::schemas::ENTERPRISE_SCHEMA;
use super::shown::Found;
use super::validate::{ResourceKind, prepare};
use crate::sandbox::world::catalog::LearningPath;

pub struct LmsState {
    pub(super) users: BTreeMap<String, Arc<Value>>,
    pub(super) groups: BTreeMap<String, Arc<Value>>,
    /// Every user id, for sampling a random learner in O(1).
    pub(super) user_ids: Vec<String>,
    user_slots: HashMap<String, usize>,
    pub(super) by_user_name: HashMap<String, String>,
    pub(super) by_external_id: HashMap<String, Vec<String>>,
    pub(super) by_employee_number: HashMap<String, Vec<String>>,
    /// Member id → the groups it is in; and group id → its member ids.
    pub(super) groups_of: HashMap<String, BTreeSet<String>>,
    members_of: HashMap<String, HashSet<String>>,
    pub(super) active_users: usize,
    pub(super) memberships: usize,
    next_version: u64,
    clock: Clock,
}

fn new_id() -> String {
    let bits: u128 = rand::rng().random();
    // An RFC 4122 version-4 UUID, as real SCIM servers hand out.
    let bits = (bits & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

pub(super) fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    get_ci(value, key).and_then(Value::as_str)
}

pub(super) fn employee_number(user: &Value) -> Option<&str> {
    get_ci(user, ENTERPRISE_SCHEMA).and_then(|e| text(e, "employeeNumber"))
}

pub(super) fn is_active(user: &Value) -> bool {
    get_ci(user, "active").and_then(Value::as_bool) != Some(false)
}

pub(super) fn member_ids(group: &Value) -> Vec<String> {
    get_ci(group, "members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| text(m, "value").map(str::to_string))
        .collect()
}

fn add_to(index: &mut HashMap<String, Vec<String>>, key: Option<&str>, id: &str) {
    if let Some(key) = key {
        index.entry(key.to_string()).or_default().push(id.to_string());
    }
}

fn remove_from(index: &mut HashMap<String, Vec<String>>, key: Option<&str>, id: &str) {
    if let Some(key) = key
        && let Some(ids) = index.get_mut(key)
    {
        ids.retain(|i| i != id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

/// Whether an `If-Match` header names the current version (or is `*`).
pub(super) fn version_matches(current: &Value, if_match: Option<&str>) -> bool {
    let Some(if_match) = if_match else { return true };
    let version = current["meta"]["version"].as_str().unwrap_or("");
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    if_match
        .split(',')
        .any(|tag| tag.trim() == "*" || bare(tag) == bare(version))
}

impl LmsState {
    /// One Group per learning path, and no users yet.
    pub fn new(paths: &[LearningPath]) -> Self {
        let mut state = LmsState {
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            user_ids: Vec::new(),
            user_slots: HashMap::new(),
            by_user_name: HashMap::new(),
            by_external_id: HashMap::new(),
            by_employee_number: HashMap::new(),
            groups_of: HashMap::new(),
            members_of: HashMap::new(),
            active_users: 0,
            memberships: 0,
            next_version: 1,
            clock: Clock::default(),
        };
        for path in paths {
            let body = json!({
                "schemas": [ResourceKind::Group.schema()],
                "externalId": path.external_id,
                "displayName": path.display_name,
            });
            // A learning path always makes a valid group.
            let _ = state.create(ResourceKind::Group, body);
        }
        state
    }

    fn stamp(
        &mut self,
        kind: ResourceKind,
        object: &mut Map<String, Value>,
        id: &str,
        created: Option<Value>,
    ) {
        let now = self.clock.now();
        let version = format!("W/\"{}\"", self.next_version);
        self.next_version += 1;
        object.insert("id".into(), id.into());
        object.insert(
            "meta".into(),
            json!({
                "resourceType": kind.name(),
                "created": created.unwrap_or_else(|| now.clone().into()),
                "lastModified": now,
                "version": version,
            }),
        );
    }

    fn check_unique(
        &self,
        kind: ResourceKind,
        object: &Map<String, Value>,
        id: Option<&str>,
    ) -> Result<(), ScimError> {
        if kind != ResourceKind::User {
            return Ok(());
        }
        let user_name = object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("userName"))
            .and_then(|(_, v)| v.as_str());
        match user_name.and_then(|n| self.by_user_name.get(&n.to_lowercase())) {
            Some(owner) if Some(owner.as_str()) != id => Err(ScimError::uniqueness(format!(
                "userName {:?} is already taken",
                user_name.unwrap_or("")
            ))),
            _ => Ok(()),
        }
    }

    fn check_members(&self, object: &mut Map<String, Value>) -> Result<(), ScimError> {
        let Some(Value::Array(members)) = object.get_mut("members") else {
            return Ok(());
        };
        let mut seen = HashSet::new();
        for member in members.iter() {
            let value = text(member, "value")
                .ok_or_else(|| ScimError::invalid_value("every member needs a value (the member's id)"))?;
            if !self.users.contains_key(value) && !self.groups.contains_key(value) {
                return Err(ScimError::invalid_value(format!(
                    "member {value:?} is no User or Group"
                )));
            }
        }
        members.retain(|m| seen.insert(text(m, "value").unwrap_or("").to_string()));
        Ok(())
    }

    /// Adds `value` to the tables and indexes (it is not stored yet).
    fn link(&mut self, kind: ResourceKind, id: &str, value: &Value) {
        match kind {
            ResourceKind::User => {
                if let Some(name) = text(value, "userName") {
                    self.by_user_name.insert(name.to_lowercase(), id.to_string());
                }
                add_to(&mut self.by_external_id, text(value, "externalId"), id);
                add_to(&mut self.by_employee_number, employee_number(value), id);
                self.active_users += usize::from(is_active(value));
            }
            ResourceKind::Group => {
                let members: HashSet<String> = member_ids(value).into_iter().collect();
                for member in &members {
                    self.groups_of
                        .entry(member.clone())
                        .or_default()
                        .insert(id.to_string());
                }
                self.memberships += members.len();
                self.members_of.insert(id.to_string(), members);
            }
        }
    }

    fn unlink(&mut self, kind: ResourceKind, id: &str, value: &Value) {
        match kind {
            ResourceKind::User => {
                if let Some(name) = text(value, "userName") {
                    self.by_user_name.remove(&name.to_lowercase());
                }
                remove_from(&mut self.by_external_id, text(value, "externalId"), id);
                remove_from(&mut self.by_employee_number, employee_number(value), id);
                self.active_users -= usize::from(is_active(value));
            }
            ResourceKind::Group => {
                for member in self.members_of.remove(id).unwrap_or_default() {
                    self.memberships -= 1;
                    if let Some(groups) = self.groups_of.get_mut(&member) {
                        groups.remove(id);
                        if groups.is_empty() {
                            self.groups_of.remove(&member);
                        }
                    }
                }
            }
        }
    }

    fn put(&mut self, kind: ResourceKind, id: &str, value: Value) -> Found {
        self.link(kind, id, &value);
        let stored = Arc::new(value);
        match kind {
            ResourceKind::User => self.users.insert(id.to_string(), stored.clone()),
            ResourceKind::Group => self.groups.insert(id.to_string(), stored.clone()),
        };
        self.found(kind, id, stored)
    }

    /// Stores `value` in place of the resource `id`, answering it as shown and
    /// the one it replaced. A user whose indexed attributes did not change
    /// keeps its index entries: the common PUT touches no index.
    fn swap(&mut self, kind: ResourceKind, id: &str, value: Value) -> (Found, Option<Arc<Value>>) {
        if kind == ResourceKind::User
            && let Some(slot) = self.users.get_mut(id)
            && same_index_entries(slot, &value)
        {
            let stored = Arc::new(value);
            let previous = std::mem::replace(slot, stored.clone());
            return (self.found(kind, id, stored), Some(previous));
        }
        let previous = self.take(kind, id);
        (self.put(kind, id, value), previous)
    }

    fn take(&mut self, kind: ResourceKind, id: &str) -> Option<Arc<Value>> {
        let value = match kind {
            ResourceKind::User => self.users.remove(id),
            ResourceKind::Group => self.groups.remove(id),
        }?;
        self.unlink(kind, id, &value);
        Some(value)
    }

    pub fn create(&mut self, kind: ResourceKind, body: Value) -> Result<Found, ScimError> {
        let mut object = prepare(kind, body)?;
        self.check_unique(kind, &object, None)?;
        self.check_members(&mut object)?;
        let id = new_id();
        self.stamp(kind, &mut object, &id, None);
        if kind == ResourceKind::User {
            self.user_slots.insert(id.clone(), self.user_ids.len());
            self.user_ids.push(id.clone());
        }
        Ok(self.put(kind, &id, Value::Object(object)))
    }

    fn current(
        &self,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<&Arc<Value>, ScimError> {
        let current = self
            .table(kind)
            .get(id)
            .ok_or_else(|| ScimError::not_found(format!("{} {id}", kind.name())))?;
        if !version_matches(current, if_match) {
            return Err(ScimError::stale_version());
        }
        Ok(current)
    }

    /// PUT: everything but id, meta and computed attributes is replaced.
    pub fn replace(
        &mut self,
        kind: ResourceKind,
        id: &str,
        body: Value,
        if_match: Option<&str>,
    ) -> Result<Found, ScimError> {
        let object = prepare(kind, body)?;
        Ok(self.replace_prepared(kind, id, object, if_match)?.0)
    }

    /// PUT of a body already through `prepare`, so a handler can validate it
    /// before taking the write lock. Answers the resource as shown and the one
    /// it replaced, for the caller to drop outside the lock.
    pub fn replace_prepared(
        &mut self,
        kind: ResourceKind,
        id: &str,
        mut object: Map<String, Value>,
        if_match: Option<&str>,
    ) -> Result<(Found, Option<Arc<Value>>), ScimError> {
        let created = self.current(kind, id, if_match)?["meta"]["created"].clone();
        self.check_unique(kind, &object, Some(id))?;
        self.check_members(&mut object)?;
        self.stamp(kind, &mut object, id, Some(created));
        Ok(self.swap(kind, id, Value::Object(object)))
    }

    /// PATCH: all operations apply, or none do. `members_shown` says whether
    /// the answer needs a group's members (a client asking `attributes=id`
    /// does not), so adding to a large group stays cheap.
    pub fn patch(
        &mut self,
        kind: ResourceKind,
        id: &str,
        ops: &[Operation],
        if_match: Option<&str>,
        members_shown: bool,
    ) -> Result<Found, ScimError> {
        if kind == ResourceKind::Group
            && let Some(added) = member_adds(ops)
        {
            return self.add_members(id, added, if_match, members_shown);
        }
        let current = self.current(kind, id, if_match)?;
        let created = current["meta"]["created"].clone();
        let mut draft = Value::clone(current);
        for op in ops {
            patch::apply(&mut draft, op, kind.attrs())?;
        }
        if let Some(object) = draft.as_object_mut() {
            // The body is re-validated as a whole; schemas follows what is present.
            let has_ext = object
                .get(ENTERPRISE_SCHEMA)
                .is_some_and(|e| e.as_object().is_some_and(|e| !e.is_empty()));
            let mut schemas = vec![Value::from(kind.schema())];
            if has_ext {
                schemas.push(ENTERPRISE_SCHEMA.into());
            }
            object.insert("schemas".into(), Value::Array(schemas));
        }
        let mut object = prepare(kind, draft)?;
        self.check_unique(kind, &object, Some(id))?;
        self.check_members(&mut object)?;
        self.stamp(kind, &mut object, id, Some(created));
        Ok(self.swap(kind, id, Value::Object(object)).0)
    }

    /// The common PATCH `add` of `members`, done in place: only the new members
    /// are checked and indexed, not the whole group again.
    fn add_members(
        &mut self,
        id: &str,
        added: Vec<&Value>,
        if_match: Option<&str>,
        members_shown: bool,
    ) -> Result<Found, ScimError> {
        self.current(ResourceKind::Group, id, if_match)?;
        let mut fresh = Vec::new();
        let mut seen = HashSet::new();
        for member in added {
            let value = text(member, "value")
                .ok_or_else(|| ScimError::invalid_value("every member needs a value (the member's id)"))?;
            if !self.users.contains_key(value) && !self.groups.contains_key(value) {
                return Err(ScimError::invalid_value(format!(
                    "member {value:?} is no User or Group"
                )));
            }
            let already = self.members_of.get(id).is_some_and(|m| m.contains(value));
            if !already && seen.insert(value.to_string()) {
                fresh.push(member.clone());
            }
        }
        let version = format!("W/\"{}\"", self.next_version);
        self.next_version += 1;
        for member in &fresh {
            let value = text(member, "value").unwrap_or_default().to_string();
            self.groups_of
                .entry(value.clone())
                .or_default()
                .insert(id.to_string());
            self.members_of.entry(id.to_string()).or_default().insert(value);
            self.memberships += 1;
        }
        let group = self.groups.get_mut(id).expect("checked by current");
        if let Some(object) = Arc::make_mut(group).as_object_mut() {
            match object.get_mut("members") {
                Some(Value::Array(members)) => members.extend(fresh),
                _ if !fresh.is_empty() => {
                    object.insert("members".into(), Value::Array(fresh));
                }
                _ => {}
            }
            if let Some(meta) = object.get_mut("meta").and_then(Value::as_object_mut) {
                meta.insert("lastModified".into(), self.clock.now().into());
                meta.insert("version".into(), version.into());
            }
        }
        let found = |stored| Found {
            kind: ResourceKind::Group,
            stored,
            groups: Vec::new(),
        };
        if members_shown {
            return Ok(found(group.clone()));
        }
        let mut shown = Map::new();
        for (key, value) in group.as_object().into_iter().flatten() {
            if !key.eq_ignore_ascii_case("members") {
                shown.insert(key.clone(), value.clone());
            }
        }
        Ok(found(Arc::new(Value::Object(shown))))
    }

    /// DELETE; a deleted user or group also leaves every group it was in.
    pub fn delete(&mut self, kind: ResourceKind, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        self.current(kind, id, if_match)?;
        self.take(kind, id);
        if kind == ResourceKind::User
            && let Some(slot) = self.user_slots.remove(id)
        {
            self.user_ids.swap_remove(slot);
            if let Some(moved) = self.user_ids.get(slot) {
                self.user_slots.insert(moved.clone(), slot);
            }
        }
        for gid in self.groups_of.remove(id).unwrap_or_default() {
            if let Some(group) = self.groups.get_mut(&gid) {
                if let Some(Value::Array(members)) = Arc::make_mut(group).get_mut("members") {
                    members.retain(|m| text(m, "value") != Some(id));
                }
                if let Some(members) = self.members_of.get_mut(&gid) {
                    members.remove(id);
                    self.memberships -= 1;
                }
            }
        }
        Ok(())
    }
}

/// Whether a user's new version files under the same userName, externalId,
/// employeeNumber and active count as the old one.
fn same_index_entries(old: &Value, new: &Value) -> bool {
    text(old, "userName") == text(new, "userName")
        && text(old, "externalId") == text(new, "externalId")
        && employee_number(old) == employee_number(new)
        && is_active(old) == is_active(new)
}

/// The members a PATCH adds, when every operation is a plain `add` to `members`.
fn member_adds(ops: &[Operation]) -> Option<Vec<&Value>> {
    let mut added = Vec::new();
    for op in ops {
        let path = op.path.as_ref()?;
        let plain = op.kind == super::patch::OpKind::Add
            && path.filter.is_none()
            && path.attr.extension.is_none()
            && path.attr.sub.is_none()
            && path.attr.attr.eq_ignore_ascii_case("members");
        if !plain {
            return None;
        }
        match op.value.as_ref()? {
            Value::Array(members) if members.iter().all(plain_member) => added.extend(members),
            member if plain_member(member) => added.push(member),
            _ => return None,
        }
    }
    Some(added)
}

/// `{"value": "id"}`, perhaps with `display`: anything else takes the full path,
/// which validates every sub-attribute.
fn plain_member(member: &Value) -> bool {
    member.as_object().is_some_and(|m| {
        m.get("value").is_some_and(Value::is_string)
            && m.iter()
                .all(|(k, v)| (k == "value" || k == "display") && v.is_string())
    })
}
