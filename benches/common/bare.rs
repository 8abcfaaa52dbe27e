//! The ceilings of the sync benches: the HTTP work the engine does for a load, a
//! reconciliation's reads or a write-back, done by a bare reqwest client at the
//! same concurrency and with nothing else while timed (no journal, no mapping:
//! the bodies are made first, by the contract's own functions). And the
//! sandbox's tally of the requests a client made, to show what each did.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use futures::StreamExt;
use hrsync::config::Config;
use hrsync::connectors::{
    GROUP_PAGE, HrisClient, LrsClient, MEMBERS_PER_PATCH, PAGES_IN_FLIGHT, ReadBackoff, SCIM_PAGE,
};
use hrsync::contract::Contract;
use hrsync::contract::identity::identity_keys;
use hrsync::contract::map::map_employee;
use hrsync::contract::writeback::{StatementMapping, map_statement};
use hrsync::engine::apply::plan::{ManagerRef, Plan, plan};
use hrsync::engine::intake::duplicates;
use hrsync::engine::intake::initial_load::hris_fields;
use serde_json::{Value, json};

const SCIM_JSON: &str = "application/scim+json";

/// The requests each simulated system has received, by method
/// (`/_sandbox/state`'s `requests`: `{"scim": {"POST": n, ...}, ...}`).
pub async fn tally(admin_url: &str) -> Value {
    let state: Value = reqwest::get(format!("{admin_url}/state"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("the sandbox answers its state")
        .json()
        .await
        .expect("the sandbox's state is JSON");
    state["requests"].clone()
}

/// The requests between two tallies per `unit` (an employee, a completion),
/// e.g. `scim POST 1.000, scim PATCH 0.009`; "none" when there were none.
pub fn per_unit(before: &Value, after: &Value, units: usize) -> String {
    let mut shown = Vec::new();
    for (system, methods) in after.as_object().into_iter().flatten() {
        for (method, n) in methods.as_object().into_iter().flatten() {
            let made = n.as_f64().unwrap_or(0.0) - before[system][method].as_f64().unwrap_or(0.0);
            if made > 0.0 {
                shown.push(format!("{system} {method} {:.3}", made / units.max(1) as f64));
            }
        }
    }
    if shown.is_empty() {
        return "none".into();
    }
    shown.join(", ")
}

/// Runs `requests`, at most `concurrency` at a time.
async fn at_most<T>(
    concurrency: usize,
    requests: impl IntoIterator<Item = impl Future<Output = T>>,
) -> Vec<T> {
    futures::stream::iter(requests)
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// Sends a request and reads its answer whole; panics with what was asked if it fails.
async fn answered(what: &str, request: reqwest::RequestBuilder) -> axum::body::Bytes {
    let response = request.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = response.status();
    let body = response.bytes().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        status.is_success(),
        "{what}: {status} {:.200}",
        String::from_utf8_lossy(&body)
    );
    body
}

/// Where the engine of `config` talks to, and how.
struct Sides<'a> {
    http: reqwest::Client,
    config: &'a Config,
}

impl Sides<'_> {
    fn hris(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let hris = &self.config.hris;
        self.http
            .request(method, format!("{}/{path}", hris.api_base.trim_end_matches('/')))
            .basic_auth(hris.api_key.expose(), Some("x"))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    fn scim(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let lms = &self.config.lms;
        self.http
            .request(method, format!("{}/{path}", lms.scim_url.trim_end_matches('/')))
            .bearer_auth(lms.token.expose())
            .header(reqwest::header::ACCEPT, SCIM_JSON)
    }

    /// The HRIS full pull as the engine asks for it (the custom report).
    async fn report(&self, fields: &[&str]) -> axum::body::Bytes {
        let request = self
            .hris(
                reqwest::Method::POST,
                "reports/custom?format=JSON&onlyCurrent=false",
            )
            .json(&json!({ "title": "hrsync full pull", "fields": fields }));
        answered("the HRIS report", request).await
    }

    /// Every page of a SCIM list of `page_size`, `PAGES_IN_FLIGHT` asked for at
    /// once as the engine does; answers the bytes read.
    async fn pages(&self, resource: &str, page_size: usize) -> usize {
        let page = |start: usize| {
            let request = self.scim(reqwest::Method::GET, resource).query(&[
                ("startIndex", start.to_string()),
                ("count", page_size.to_string()),
            ]);
            answered(resource, request)
        };
        let first = page(1).await;
        let total = serde_json::from_slice::<Value>(&first).expect("a SCIM list")["totalResults"]
            .as_u64()
            .expect("totalResults") as usize;
        let rest: Vec<axum::body::Bytes> =
            futures::stream::iter((1 + page_size..=total).step_by(page_size).map(page))
                .buffered(PAGES_IN_FLIGHT)
                .collect()
                .await;
        first.len() + rest.iter().map(axum::body::Bytes::len).sum::<usize>()
    }
}

/// The bare initial load: how long the requests took, and what they were.
pub struct BareLoad {
    pub secs: f64,
    /// Learners created (POST Users) and group memberships added.
    pub created: usize,
    pub memberships: usize,
    /// The sandbox's tallies just before and after the timed part.
    pub requests: (Value, Value),
}

/// The engine's initial load as bare HTTP: the HRIS report and the LMS's learners
/// read at once, a POST of each learner the contract creates (`concurrency` at a
/// time) and the enrolments, `MEMBERS_PER_PATCH` members per PATCH after one
/// lookup per group: the fewest the work needs (the engine batches the
/// enrolments waiting while a PATCH is in flight, so its count depends on timing;
/// both tallies are printed). The learners carry no manager: their ids are the LMS's.
pub async fn initial_load(
    config: &Config,
    contract: &Contract,
    concurrency: usize,
    admin_url: &str,
) -> BareLoad {
    let sides = &Sides {
        http: reqwest::Client::new(),
        config,
    };
    let fields = hris_fields(contract);
    // Made first, untimed: the bodies, by the contract's own mapping and plan.
    let hris = HrisClient::new(
        &config.hris.api_base,
        config.hris.api_key.clone(),
        ReadBackoff::new(),
    )
    .expect("the HRIS URL");
    let records = hris.full_pull(&fields).await.expect("the HRIS report");
    let today = jiff::Timestamp::now().to_zoned(contract.time_zone.clone()).date();
    // The engine syncs the first of a group of suspected duplicates and holds the rest.
    let now = jiff::Timestamp::now();
    let people: Vec<_> = records
        .iter()
        .map(|r| (identity_keys(contract, r), now))
        .collect();
    let held: HashSet<String> = duplicates::employee_groups(&people)
        .into_iter()
        .flat_map(|group| group.members.into_iter().skip(1))
        .filter_map(|member| member.employee_id)
        .collect();
    let creates: Vec<(String, Vec<String>)> = records
        .iter()
        .filter(|record| !held.contains(&identity_keys(contract, record).employee_id))
        .filter_map(|record| map_employee(contract, record).ok())
        .filter_map(
            |mapped| match plan(contract, &mapped, None, &ManagerRef::None, today) {
                Plan::Create { document, enrol, .. } => Some((document.to_string(), enrol)),
                _ => None,
            },
        )
        .collect();
    drop(records);

    let before = tally(admin_url).await;
    let started = Instant::now();
    tokio::join!(sides.report(&fields), sides.pages("Users", SCIM_PAGE));
    let posts = creates.iter().map(|(document, enrol)| {
        let request = sides
            .scim(reqwest::Method::POST, "Users")
            .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
            .body(document.clone());
        async move {
            let answer = answered("POST Users", request).await;
            let created: Value = serde_json::from_slice(&answer).expect("a SCIM user");
            (created["id"].as_str().expect("its id").to_string(), enrol)
        }
    });
    let mut groups: HashMap<&str, Vec<String>> = HashMap::new();
    for (id, enrol) in at_most(concurrency, posts).await {
        for group in enrol {
            groups.entry(group).or_default().push(id.clone());
        }
    }
    let lookups = groups.keys().map(|group| async move {
        let filter = format!("displayName eq \"{group}\"");
        let request = sides
            .scim(reqwest::Method::GET, "Groups")
            .query(&[("filter", filter.as_str())]);
        let found: Value =
            serde_json::from_slice(&answered("GET Groups", request).await).expect("a SCIM list");
        let id = found["Resources"][0]["id"].as_str().map(str::to_string);
        (
            *group,
            id.unwrap_or_else(|| panic!("the LMS has no group {group}")),
        )
    });
    let ids: HashMap<&str, String> = at_most(concurrency, lookups).await.into_iter().collect();
    let patches = groups.iter().flat_map(|(group, members)| {
        members.chunks(MEMBERS_PER_PATCH).map(|chunk| {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "add", "path": "members",
                                 "value": chunk.iter().map(|id| json!({ "value": id })).collect::<Vec<_>>() }],
            });
            let request = sides
                .scim(reqwest::Method::PATCH, &format!("Groups/{}", ids[*group]))
                .query(&[("attributes", "id")])
                .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
                .body(body.to_string());
            answered("PATCH Groups", request)
        })
    });
    at_most(concurrency, patches).await;
    let secs = started.elapsed().as_secs_f64();
    BareLoad {
        secs,
        created: creates.len(),
        memberships: groups.values().map(Vec::len).sum(),
        requests: (before, tally(admin_url).await),
    }
}

/// A reconciliation's reads as bare HTTP, with the engine's page sizes: the HRIS
/// report, and at once the LMS's groups then its learners. Answers the seconds.
pub async fn reconcile_reads(config: &Config, contract: &Contract) -> f64 {
    let sides = &Sides {
        http: reqwest::Client::new(),
        config,
    };
    let fields = hris_fields(contract);
    let started = Instant::now();
    tokio::join!(sides.report(&fields), async {
        sides.pages("Groups", GROUP_PAGE.min(SCIM_PAGE)).await;
        sides.pages("Users", SCIM_PAGE).await;
    });
    started.elapsed().as_secs_f64()
}

/// The bare write-back: how long the writes took, for how many completions.
pub struct BareWriteback {
    pub secs: f64,
    pub completions: usize,
    /// Training records and credential rows posted.
    pub writes: usize,
}

/// The engine's write-back writes as bare HTTP: every statement in the LRS
/// mapped by the contract, once per idempotency key as the engine journals
/// them, and what the HRIS lacks (known by the contract's
/// `recorded_in` and `credential_in` against what it held, read first, untimed)
/// posted `concurrency` at a time: training records and credential rows.
pub async fn writeback(config: &Config, contract: &Contract, concurrency: usize) -> BareWriteback {
    let sides = &Sides {
        http: reqwest::Client::new(),
        config,
    };
    let lrs_config = config.lrs.as_ref().expect("an LRS");
    let lrs = LrsClient::new(
        &lrs_config.url,
        lrs_config.user.clone(),
        lrs_config.password.clone(),
        ReadBackoff::new(),
    )
    .expect("the LRS URL");
    let mut page = lrs.stored_since(None, 1000).await.expect("the LRS's statements");
    let writeback = contract.writeback.as_ref().expect("the contract writes back");
    let mut by_employee: BTreeMap<String, Vec<_>> = BTreeMap::new();
    // A completion reported again has the same key and is journaled once.
    let mut keys = HashSet::new();
    loop {
        for statement in &page.statements {
            if let Ok(StatementMapping::Completion(c)) = map_statement(contract, writeback, statement)
                && keys.insert(c.idempotency_key())
            {
                by_employee.entry(c.employee_id.clone()).or_default().push(c);
            }
        }
        let Some(more) = page.more.take() else { break };
        page = lrs.more(&more).await.expect("the LRS's next page");
    }
    let hris = HrisClient::new(
        &config.hris.api_base,
        config.hris.api_key.clone(),
        ReadBackoff::new(),
    )
    .expect("the HRIS URL");
    let table = &writeback.credential_table;
    let mut writes: Vec<(String, Value)> = Vec::new();
    let mut completions = 0;
    for (employee, theirs) in &by_employee {
        let Some(mut records) = hris.training_records(employee).await.expect("training records") else {
            continue;
        };
        let mut rows = hris
            .table_rows(employee, table)
            .await
            .expect("table rows")
            .unwrap_or_default();
        completions += theirs.len();
        for c in theirs {
            if !c.recorded_in(&records) {
                writes.push((
                    format!("training/record/employee/{employee}"),
                    c.training_record(),
                ));
                records.push(c.training_record());
            }
            if let Some(row) = c.certification_row().filter(|_| !c.credential_in(&rows)) {
                writes.push((format!("employees/{employee}/tables/{table}"), row.clone()));
                rows.push(row);
            }
        }
    }
    let started = Instant::now();
    let posts = writes.iter().map(|(path, body)| {
        answered(
            "an HRIS write",
            sides.hris(reqwest::Method::POST, path).json(body),
        )
    });
    at_most(concurrency, posts).await;
    BareWriteback {
        secs: started.elapsed().as_secs_f64(),
        completions,
        writes: writes.len(),
    }
}
