//! Reading the LMS: lookups by id and externalId, filtered and paged search
//! (through the indexes when the filter allows), counts and sampling.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use serde_json::{Value, json};

use super::filter::{self, Filter};
use super::shown::{Found, GroupRef};
use super::store::{LmsState, is_active, member_ids, text};
use super::validate::ResourceKind;

impl LmsState {
    /// Counts for `/_sandbox/state`.
    pub fn counts(&self) -> Value {
        json!({
            "users": self.users.len(),
            "active_users": self.active_users,
            "groups": self.groups.len(),
            "memberships": self.memberships,
        })
    }

    /// The externalId of a random active learner, if there is one.
    pub fn sample_active_learner(&self, rng: &mut impl Rng) -> Option<String> {
        fn eligible(user: &Value) -> Option<&str> {
            is_active(user).then(|| text(user, "externalId")).flatten()
        }
        if !self.user_ids.is_empty() {
            for _ in 0..16 {
                let id = &self.user_ids[rng.random_range(0..self.user_ids.len())];
                if let Some(external_id) = self.users.get(id).and_then(|u| eligible(u)) {
                    return Some(external_id.to_string());
                }
            }
        }
        self.users.values().find_map(|u| eligible(u)).map(str::to_string)
    }

    /// The user with this externalId, as GET would show it (without meta.location).
    pub fn user_by_external_id(&self, external_id: &str) -> Option<Value> {
        let id = self.by_external_id.get(external_id)?.first()?;
        self.get(ResourceKind::User, id)
    }

    /// The externalIds of the users in the group with this displayName.
    pub fn group_member_external_ids(&self, group_display_name: &str) -> Vec<String> {
        let group = self
            .groups
            .values()
            .find(|g| text(g, "displayName").is_some_and(|n| n.eq_ignore_ascii_case(group_display_name)));
        group
            .map(|g| member_ids(g))
            .unwrap_or_default()
            .iter()
            .filter_map(|id| {
                self.users
                    .get(id)
                    .and_then(|u| text(u, "externalId"))
                    .map(str::to_string)
            })
            .collect()
    }

    pub(super) fn table(&self, kind: ResourceKind) -> &BTreeMap<String, Arc<Value>> {
        match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        }
    }

    /// A resource as GET shows it, with a user's computed `groups`.
    pub fn get(&self, kind: ResourceKind, id: &str) -> Option<Value> {
        self.find(kind, id).map(Found::into_value)
    }

    /// The stored resource, shared, with a user's groups beside it.
    pub(super) fn find(&self, kind: ResourceKind, id: &str) -> Option<Found> {
        let stored = self.table(kind).get(id)?;
        Some(self.found(kind, id, stored.clone()))
    }

    pub(super) fn found(&self, kind: ResourceKind, id: &str, stored: Arc<Value>) -> Found {
        let groups = match self.groups_of.get(id) {
            Some(groups) if kind == ResourceKind::User => groups
                .iter()
                .map(|gid| GroupRef {
                    id: gid.clone(),
                    display: self
                        .groups
                        .get(gid)
                        .and_then(|g| text(g, "displayName"))
                        .unwrap_or("")
                        .to_string(),
                })
                .collect(),
            _ => Vec::new(),
        };
        Found { kind, stored, groups }
    }

    /// The resources matching `filter`: their total, and the page from
    /// `start` (1-based) of at most `count`.
    pub fn search(
        &self,
        kind: ResourceKind,
        filter: Option<&Filter>,
        start: usize,
        count: usize,
    ) -> (usize, Vec<Found>) {
        let table = self.table(kind);
        let matching = |(_, v): &(&String, &Arc<Value>)| filter.is_none_or(|f| filter::matches(f, v, None));
        let lookup = filter.and_then(filter::indexed_equality).map(|(name, value)| {
            let ids: Vec<&String> = match name.as_str() {
                "id" => table.get_key_value(value).map(|(k, _)| k).into_iter().collect(),
                _ if kind == ResourceKind::Group => return None,
                "username" => self.by_user_name.get(&value.to_lowercase()).into_iter().collect(),
                "externalid" => self.by_external_id.get(value).into_iter().flatten().collect(),
                _ => self.by_employee_number.get(value).into_iter().flatten().collect(),
            };
            Some(ids)
        });
        let page = |iter: &mut dyn Iterator<Item = (&String, &Arc<Value>)>| {
            let mut total = 0;
            let mut page = Vec::new();
            for (id, value) in iter {
                total += 1;
                if total >= start && page.len() < count {
                    page.push(self.found(kind, id, value.clone()));
                }
            }
            (total, page)
        };
        match lookup.flatten() {
            Some(ids) => {
                let mut hits = ids
                    .into_iter()
                    .filter_map(|id| table.get_key_value(id))
                    .filter(|e| matching(e));
                page(&mut hits)
            }
            None => page(&mut table.iter().filter(|e| matching(e))),
        }
    }
}
