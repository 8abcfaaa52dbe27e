//! The sandbox's LMS over real HTTP: SCIM 2.0 auth, discovery, CRUD, filters,
//! paging, PATCH, group membership, ETags and the error answers.

use hrsync::sandbox::{Sandbox, SandboxConfig};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use hrsync::model::ENTERPRISE_SCHEMA as ENTERPRISE;
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

struct Lms {
    sandbox: Sandbox,
    http: Client,
}

impl Lms {
    async fn start() -> Lms {
        let config = SandboxConfig {
            employees: 10,
            ..SandboxConfig::default()
        };
        Lms {
            sandbox: Sandbox::start(config).await.expect("sandbox starts"),
            http: Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.credentials().scim_url)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.sandbox.credentials().scim_token)
    }

    async fn send(&self, builder: RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = builder.send().await.expect("request is answered");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, headers, body)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut builder = self.request(method, path);
        if let Some(body) = body {
            builder = builder
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let (status, _, body) = self.send(builder).await;
        (status, body)
    }

    async fn create_user(&self, user_name: &str, external_id: &str, employee_number: &str) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/Users",
                Some(user(user_name, external_id, employee_number)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn lms_counts(&self) -> Value {
        let url = format!("{}/state", self.sandbox.credentials().admin_url);
        let state: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        state["lms"].clone()
    }

    async fn filter(&self, filter: &str) -> Value {
        let (status, body) = self
            .call(Method::GET, &format!("/Users?filter={}", encode(filter)), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{filter}: {body}");
        body
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn user(user_name: &str, external_id: &str, employee_number: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "externalId": external_id,
        "active": true,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": format!("{user_name}"), "type": "work", "primary": true}],
        ENTERPRISE: {"employeeNumber": employee_number, "department": "Engineering", "costCenter": "CC-1",
                     "manager": {"value": "m-1"}},
    })
}

fn assert_scim_error(body: &Value, status: &str, scim_type: Option<&str>) {
    assert_eq!(body["schemas"][0], ERROR, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn requests_without_the_bearer_token_get_401_in_scim_form() {
    let lms = Lms::start().await;
    for auth in [None, Some("Bearer wrong"), Some("Basic abc")] {
        let mut builder = lms.http.get(lms.url("/Users"));
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        let (status, headers, body) = lms.send(builder).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers["content-type"], "application/scim+json");
        assert_scim_error(&body, "401", None);
    }
}

#[tokio::test]
async fn discovery_endpoints_describe_users_groups_and_the_enterprise_extension() {
    let lms = Lms::start().await;
    let (status, config) = lms.call(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["etag"]["supported"], true);
    let (_, schemas) = lms.call(Method::GET, "/Schemas", None).await;
    let schema_ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        schema_ids.contains(&ENTERPRISE) && schema_ids.contains(&USER),
        "{schema_ids:?}"
    );
    let (status, enterprise) = lms
        .call(Method::GET, &format!("/Schemas/{ENTERPRISE}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        enterprise["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "employeeNumber")
    );
    let (_, types) = lms.call(Method::GET, "/ResourceTypes", None).await;
    assert_eq!(types["totalResults"], 2);
    let (_, user_type) = lms.call(Method::GET, "/ResourceTypes/User", None).await;
    assert_eq!(user_type["schemaExtensions"][0]["schema"], ENTERPRISE);
    let (status, body) = lms.call(Method::POST, "/Schemas", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_scim_error(&body, "405", None);
    let (status, body) = lms.call(Method::GET, "/Nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_scim_error(&body, "404", None);
}

#[tokio::test]
async fn create_then_get_and_a_taken_user_name_is_409_whatever_its_case() {
    let lms = Lms::start().await;
    let (status, headers, created) = lms
        .send(
            lms.request(Method::POST, "/Users")
                .header("content-type", "application/json")
                .body(user("ada@example.com", "E-1", "1001").to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    assert_eq!(headers["location"], lms.url(&format!("/Users/{id}")).as_str());
    assert_eq!(created["meta"]["location"], lms.url(&format!("/Users/{id}")));
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(headers["etag"], created["meta"]["version"].as_str().unwrap());
    assert_eq!(created[ENTERPRISE]["costCenter"], "CC-1");

    let (status, again) = lms
        .call(
            Method::POST,
            "/Users",
            Some(user("ADA@Example.COM", "E-2", "1002")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_scim_error(&again, "409", Some("uniqueness"));

    let (status, fetched) = lms.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
    assert_eq!(fetched["externalId"], "E-1");
}

#[tokio::test]
async fn filters_eq_co_sw_and_on_each_indexed_attribute() {
    let lms = Lms::start().await;
    let ada = lms.create_user("ada@example.com", "E-1", "1001").await;
    let bob = lms.create_user("bob@example.com", "E-2", "1002").await;
    let ada_id = ada["id"].as_str().unwrap().to_string();
    let bob_id = bob["id"].as_str().unwrap().to_string();
    let cases = [
        (r#"userName eq "ADA@example.com""#.to_string(), vec![&ada_id]),
        (r#"username co "@EXAMPLE""#.into(), vec![&ada_id, &bob_id]),
        (r#"userName sw "bo""#.into(), vec![&bob_id]),
        (r#"externalId eq "E-2""#.into(), vec![&bob_id]),
        (r#"externalId eq "e-2""#.into(), vec![]),
        (r#"externalId sw "E-""#.into(), vec![&ada_id, &bob_id]),
        (r#"employeeNumber eq "1001""#.into(), vec![&ada_id]),
        (format!(r#"{ENTERPRISE}:employeeNumber eq "1002""#), vec![&bob_id]),
        (
            format!(r#"{ENTERPRISE}:employeeNumber co "00""#),
            vec![&ada_id, &bob_id],
        ),
        (r#"emails.value co "bob@""#.into(), vec![&bob_id]),
        (
            r#"emails[type eq "work" and value sw "ada"]"#.into(),
            vec![&ada_id],
        ),
        (r#"active eq true and userName sw "a""#.into(), vec![&ada_id]),
        (
            r#"userName eq "ada@example.com" and externalId eq "E-2""#.into(),
            vec![],
        ),
        (
            r#"userName eq "ada@example.com" or externalId eq "E-2""#.into(),
            vec![&ada_id, &bob_id],
        ),
    ];
    for (filter, expected) in cases {
        let list = lms.filter(&filter).await;
        let mut found = ids(&list);
        found.sort();
        let mut expected: Vec<String> = expected.into_iter().cloned().collect();
        expected.sort();
        assert_eq!(found, expected, "{filter}");
        assert_eq!(list["totalResults"], expected.len(), "{filter}");
    }
    let (status, groups) = lms
        .call(
            Method::GET,
            &format!("/Groups?filter={}", encode(r#"displayName eq "onboarding""#)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(groups["Resources"][0]["externalId"], "path-onboarding");
}

#[tokio::test]
async fn paging_follows_start_index_and_count() {
    let lms = Lms::start().await;
    for n in 0..7 {
        lms.create_user(
            &format!("user{n}@example.com"),
            &format!("E-{n}"),
            &format!("{n}"),
        )
        .await;
    }
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let (_, page) = lms
            .call(Method::GET, &format!("/Users?startIndex={start}&count=3"), None)
            .await;
        assert_eq!(page["totalResults"], 7);
        assert_eq!(page["startIndex"], start);
        assert_eq!(page["itemsPerPage"], if start == 7 { 1 } else { 3 });
        seen.extend(ids(&page));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7, "the pages cover every user once");
    let (_, none) = lms.call(Method::GET, "/Users?count=0", None).await;
    assert_eq!(none["totalResults"], 7);
    assert_eq!(none["Resources"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn put_replaces_everything_but_id_and_created() {
    let lms = Lms::start().await;
    let ada = lms.create_user("ada@example.com", "E-1", "1001").await;
    let id = ada["id"].as_str().unwrap();
    let mut replacement = user("ada.king@example.com", "E-1", "1001");
    replacement["active"] = false.into();
    replacement.as_object_mut().unwrap().remove("name");
    let (status, replaced) = lms
        .call(Method::PUT, &format!("/Users/{id}"), Some(replacement))
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["userName"], "ada.king@example.com");
    assert_eq!(replaced["active"], false);
    assert!(replaced.get("name").is_none());
    assert_eq!(replaced["meta"]["created"], ada["meta"]["created"]);
    assert_ne!(replaced["meta"]["version"], ada["meta"]["version"]);
    assert_eq!(
        ids(&lms.filter(r#"userName eq "ada.king@example.com""#).await),
        vec![id.to_string()]
    );
    assert_eq!(
        lms.filter(r#"userName eq "ada@example.com""#).await["totalResults"],
        0
    );
}

#[tokio::test]
async fn patch_add_replace_remove_with_and_without_path() {
    let lms = Lms::start().await;
    let ada = lms.create_user("ada@example.com", "E-1", "1001").await;
    let path = format!("/Users/{}", ada["id"].as_str().unwrap());
    let ops = |ops: Value| Some(json!({"schemas": [PATCH_OP], "Operations": ops}));

    let (status, patched) = lms
        .call(
            Method::PATCH,
            &path,
            ops(json!([
                {"op": "add", "path": "title", "value": "Engineer"},
                {"op": "Replace", "value": {"displayName": "Ada L", "name": {"givenName": "Augusta"}}},
                {"op": "add", "path": "emails", "value": [{"value": "ada@home.example", "type": "home"}]},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@new.example"},
                {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Research"},
                {"op": "replace", "path": "active", "value": "False"},
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["title"], "Engineer");
    assert_eq!(patched["displayName"], "Ada L");
    assert_eq!(
        patched["name"],
        json!({"givenName": "Augusta", "familyName": "Lovelace"})
    );
    assert_eq!(patched["emails"][0]["value"], "ada@new.example");
    assert_eq!(patched["emails"][1]["value"], "ada@home.example");
    assert_eq!(patched[ENTERPRISE]["department"], "Research");
    assert_eq!(patched["active"], false);

    let (status, patched) = lms
        .call(
            Method::PATCH,
            &path,
            ops(json!([
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "remove", "path": "title"},
                {"op": "remove", "path": format!("{ENTERPRISE}:manager")},
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["emails"].as_array().unwrap().len(), 1);
    assert!(patched.get("title").is_none());
    assert!(patched[ENTERPRISE].get("manager").is_none());

    let (status, body) = lms
        .call(Method::PATCH, &path, ops(json!([{"op": "remove"}])))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_scim_error(&body, "400", Some("noTarget"));
    let (status, body) = lms
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_scim_error(&body, "400", Some("mutability"));
    let (status, body) = lms
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "replace", "path": "nosuch", "value": 1}])),
        )
        .await;
    assert_scim_error(&body, "400", Some("invalidPath"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = lms
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "replace", "path": "emails[type eq \"fax\"].value", "value": "x"}])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_scim_error(&body, "400", Some("noTarget"));
}

#[tokio::test]
async fn group_members_are_added_and_removed_and_follow_user_deletion() {
    let lms = Lms::start().await;
    let ada = lms.create_user("ada@example.com", "E-1", "1001").await;
    let bob = lms.create_user("bob@example.com", "E-2", "1002").await;
    let (ada_id, bob_id) = (ada["id"].as_str().unwrap(), bob["id"].as_str().unwrap());
    let (_, groups) = lms
        .call(
            Method::GET,
            &format!("/Groups?filter={}", encode(r#"displayName eq "Leadership""#)),
            None,
        )
        .await;
    let group_path = format!("/Groups/{}", groups["Resources"][0]["id"].as_str().unwrap());
    let ops = |ops: Value| Some(json!({"schemas": [PATCH_OP], "Operations": ops}));

    let (status, group) = lms
        .call(
            Method::PATCH,
            &group_path,
            ops(json!([{"op": "add", "path": "members", "value": [{"value": ada_id}, {"value": bob_id}]}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["members"].as_array().unwrap().len(), 2);
    let leaders = lms
        .sandbox
        .shared()
        .lms
        .read()
        .group_member_external_ids("Leadership");
    assert_eq!(leaders, vec!["E-1".to_string(), "E-2".to_string()]);
    assert_eq!(lms.lms_counts().await["memberships"], 2);
    let (_, fetched_ada) = lms.call(Method::GET, &format!("/Users/{ada_id}"), None).await;
    assert_eq!(fetched_ada["groups"][0]["display"], "Leadership");

    let remove = json!([{"op": "remove", "path": format!("members[value eq \"{ada_id}\"]")}]);
    let (status, group) = lms.call(Method::PATCH, &group_path, ops(remove)).await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["members"], json!([{"value": bob_id}]));

    let (status, body) = lms
        .call(
            Method::PATCH,
            &group_path,
            ops(json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_scim_error(&body, "400", Some("invalidValue"));

    let (status, _) = lms.call(Method::DELETE, &format!("/Users/{bob_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, group) = lms.call(Method::GET, &group_path, None).await;
    assert!(
        group
            .get("members")
            .is_none_or(|m| m.as_array().unwrap().is_empty()),
        "{group}"
    );
    assert_eq!(lms.lms_counts().await["memberships"], 0);
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_star_matches() {
    let lms = Lms::start().await;
    let ada = lms.create_user("ada@example.com", "E-1", "1001").await;
    let path = format!("/Users/{}", ada["id"].as_str().unwrap());
    let first = ada["meta"]["version"].as_str().unwrap().to_string();
    let patch =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "A"}]});
    let send = |tag: &str| {
        lms.request(Method::PATCH, &path)
            .header("content-type", "application/scim+json")
            .header("if-match", tag)
            .body(patch.to_string())
    };
    let (status, headers, body) = lms.send(send(&first)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(headers["etag"].to_str().unwrap(), first);
    assert_eq!(headers["etag"], body["meta"]["version"].as_str().unwrap());
    let (status, _, body) = lms.send(send(&first)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_scim_error(&body, "412", None);
    let (status, _, _) = lms.send(send("*")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = lms
        .send(
            lms.request(Method::DELETE, &path)
                .header("if-match", first.as_str()),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn delete_then_get_is_404() {
    let lms = Lms::start().await;
    let ada = lms.create_user("ada@example.com", "E-1", "1001").await;
    let path = format!("/Users/{}", ada["id"].as_str().unwrap());
    let (status, body) = lms.call(Method::DELETE, &path, None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, body) = lms.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_scim_error(&body, "404", None);
    let (status, _) = lms.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_requests_get_scim_errors() {
    let lms = Lms::start().await;
    let send_raw = |body: String| {
        lms.request(Method::POST, "/Users")
            .header("content-type", "application/scim+json")
            .body(body)
    };
    let (status, _, body) = lms.send(send_raw("{not json".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_scim_error(&body, "400", Some("invalidSyntax"));

    let (status, _, body) = lms.send(send_raw(json!({"schemas": [USER]}).to_string())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_scim_error(&body, "400", Some("invalidValue"));

    let (status, _, body) = lms
        .send(send_raw(
            json!({"schemas": [USER], "userName": "a", "active": "yes"}).to_string(),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_scim_error(&body, "400", Some("invalidValue"));

    let (status, body) = lms
        .call(
            Method::GET,
            &format!("/Users?filter={}", encode(r#"userName eq"#)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_scim_error(&body, "400", Some("invalidFilter"));
    let (status, body) = lms
        .call(
            Method::GET,
            &format!("/Users?filter={}", encode(r#"userName xx "a""#)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_scim_error(&body, "400", Some("invalidFilter"));

    let huge = json!({"schemas": [USER], "userName": "big", "title": "x".repeat(2 << 20)});
    let (status, _, body) = lms.send(send_raw(huge.to_string())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_scim_error(&body, "413", None);

    let (status, _, body) = lms
        .send(
            lms.request(Method::POST, "/Users")
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_scim_error(&body, "415", None);
}

#[tokio::test]
async fn sandbox_state_counts_follow_the_lms() {
    let lms = Lms::start().await;
    let before = lms.lms_counts().await;
    assert_eq!(before["users"], 0);
    let groups = before["groups"].as_u64().unwrap();
    assert!(groups >= 2, "one group per learning path: {before}");
    let ada = lms.create_user("ada@example.com", "E-1", "1001").await;
    lms.create_user("bob@example.com", "E-2", "1002").await;
    let patch =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let (status, _) = lms
        .call(
            Method::PATCH,
            &format!("/Users/{}", ada["id"].as_str().unwrap()),
            Some(patch),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let after = lms.lms_counts().await;
    assert_eq!(
        after,
        json!({"users": 2, "active_users": 1, "groups": groups, "memberships": 0})
    );

    let shared = lms.sandbox.shared().clone();
    let learner = shared.lms.read().sample_active_learner(&mut rand::rng());
    assert_eq!(learner.as_deref(), Some("E-2"));
    let found = shared.lms.read().user_by_external_id("E-1").expect("E-1 exists");
    assert_eq!(found["userName"], "ada@example.com");
}

#[tokio::test]
async fn adding_members_is_atomic_idempotent_and_answers_only_what_was_asked() {
    let lms = Lms::start().await;
    let mut ids = Vec::new();
    for name in ["m1@example.test", "m2@example.test"] {
        let (status, user) = lms
            .call(
                Method::POST,
                "/Users",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    let (_, group) = lms
        .call(Method::POST, "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Fast path"})))
        .await;
    let gid = group["id"].as_str().unwrap().to_string();
    let add = |members: Value| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": members}],
        })
    };
    let (status, answer) = lms
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}?attributes=id"),
            Some(add(
                json!([{"value": ids[0]}, {"value": ids[0]}, {"value": ids[1]}]),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer.get("members").is_none(),
        "members were not asked for: {answer}"
    );
    let (_, after) = lms.call(Method::GET, &format!("/Groups/{gid}"), None).await;
    let members: Vec<&str> = after["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        members,
        vec![ids[0].as_str(), ids[1].as_str()],
        "each member once"
    );
    assert_ne!(
        after["meta"]["version"], group["meta"]["version"],
        "the version moved"
    );

    let (status, _) = lms
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(add(json!([{"value": ids[1]}, {"value": "no-such-id"}]))),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, unchanged) = lms.call(Method::GET, &format!("/Groups/{gid}"), None).await;
    assert_eq!(unchanged["members"], after["members"], "all or nothing");
    assert_eq!(unchanged["meta"]["version"], after["meta"]["version"]);

    let (_, user) = lms.call(Method::GET, &format!("/Users/{}", ids[1]), None).await;
    assert_eq!(
        user["groups"][0]["value"],
        json!(gid),
        "the user lists the group: {user}"
    );
}

#[tokio::test]
async fn answers_carry_location_groups_and_etag_and_never_the_password() {
    let lms = Lms::start().await;
    let mut body = user("ada@example.com", "E-1", "1001");
    body["password"] = json!("s3cret");
    let (status, created) = lms.call(Method::POST, "/Users", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (_, groups) = lms
        .call(
            Method::GET,
            &format!("/Groups?filter={}", encode(r#"displayName eq "Leadership""#)),
            None,
        )
        .await;
    let group_id = groups["Resources"][0]["id"].as_str().unwrap().to_string();
    let add = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]});
    let (status, _) = lms
        .call(Method::PATCH, &format!("/Groups/{group_id}"), Some(add))
        .await;
    assert_eq!(status, StatusCode::OK);

    body["name"]["givenName"] = json!("Augusta");
    let put = lms
        .request(Method::PUT, &format!("/Users/{id}"))
        .header("content-type", "application/scim+json")
        .body(body.to_string());
    let (status, headers, replaced) = lms.send(put).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let (_, got_headers, got) = lms.send(lms.request(Method::GET, &format!("/Users/{id}"))).await;
    let found = lms.filter(r#"externalId eq "E-1""#).await;
    let listed = &found["Resources"][0];
    for (answer, etag) in [
        (&replaced, Some(&headers)),
        (&got, Some(&got_headers)),
        (listed, None),
    ] {
        assert!(answer.get("password").is_none(), "{answer}");
        assert_eq!(answer["name"]["givenName"], "Augusta", "{answer}");
        assert_eq!(
            answer["meta"]["location"],
            lms.url(&format!("/Users/{id}")),
            "{answer}"
        );
        assert_eq!(answer["meta"]["created"], created["meta"]["created"], "{answer}");
        assert_eq!(
            answer["groups"],
            json!([{"value": group_id, "display": "Leadership", "type": "direct",
                    "$ref": lms.url(&format!("/Groups/{group_id}"))}]),
            "{answer}"
        );
        if let Some(headers) = etag {
            assert_eq!(headers["etag"], answer["meta"]["version"].as_str().unwrap());
        }
    }
    assert_ne!(replaced["meta"]["version"], created["meta"]["version"]);
    let (_, picked) = lms
        .call(Method::GET, &format!("/Users/{id}?attributes=userName"), None)
        .await;
    assert_eq!(
        picked,
        json!({"schemas": [USER, ENTERPRISE], "id": id, "userName": "ada@example.com"})
    );
}
