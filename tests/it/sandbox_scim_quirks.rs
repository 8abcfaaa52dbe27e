//! The sandbox's LMS behaving like real SCIM servers that deviate from the
//! RFCs, one `scim.quirks` name at a time, over real HTTP; and as the spec has
//! it when the quirk is off.

use hrsync::sandbox::faults::{Faults, ScimQuirk};
use hrsync::sandbox::{Sandbox, SandboxConfig};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use hrsync::model::ENTERPRISE_SCHEMA as ENTERPRISE;
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

struct Lms {
    sandbox: Sandbox,
    http: Client,
}

impl Lms {
    async fn start() -> Lms {
        Lms::start_with(Faults::default()).await
    }

    async fn start_with(faults: Faults) -> Lms {
        let config = SandboxConfig {
            employees: 5,
            faults,
            ..SandboxConfig::default()
        };
        Lms {
            sandbox: Sandbox::start(config).await.expect("sandbox starts"),
            http: Client::new(),
        }
    }

    /// Sets `scim.quirks` through the admin API, as a test harness would.
    async fn quirks(&self, names: &[&str]) {
        let url = format!("{}/faults", self.sandbox.credentials().admin_url);
        let body = json!({"scim": {"quirks": names}});
        let answer = self.http.post(url).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{names:?}");
    }

    /// Any SCIM call: its status, headers and JSON body (null when empty).
    async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (StatusCode, HeaderMap, Value) {
        let credentials = self.sandbox.credentials();
        let mut request = self
            .http
            .request(method, format!("{}{path}", credentials.scim_url))
            .bearer_auth(&credentials.scim_token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        let answer = request.send().await.expect("answered");
        let (status, headers) = (answer.status(), answer.headers().clone());
        let text = answer.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, headers, body)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, body) = self.call_with(method, path, body, None).await;
        (status, body)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    async fn create_user(&self, user_name: &str) -> Value {
        let (status, body) = self.call(Method::POST, "/Users", Some(user(user_name))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn first_group_id(&self) -> String {
        let groups = self.get("/Groups?count=1").await;
        groups["Resources"][0]["id"]
            .as_str()
            .expect("a group")
            .to_string()
    }

    async fn join(&self, group: &str, user: &str) {
        let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": user}]}]));
        let (status, body) = self
            .call(Method::PATCH, &format!("/Groups/{group}"), Some(add))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

fn user(user_name: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "active": true,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        ENTERPRISE: {"employeeNumber": format!("E-{user_name}"), "department": "Engineering"},
    })
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn ids(list: &Value) -> Vec<&str> {
    let resources = list["Resources"].as_array().expect("Resources");
    resources.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn no_enterprise_filter_finds_nothing_by_an_extension_attribute() {
    let lms = Lms::start().await;
    lms.create_user("ada").await;
    let by_urn = format!(
        "/Users?filter={}",
        encode(&format!("{ENTERPRISE}:employeeNumber eq \"E-ada\""))
    );
    let by_short_name = format!("/Users?filter={}", encode("department eq \"Engineering\""));
    let by_user_name = format!("/Users?filter={}", encode("userName eq \"ada\""));
    for path in [&by_urn, &by_short_name, &by_user_name] {
        assert_eq!(lms.get(path).await["totalResults"], 1, "{path}");
    }

    lms.quirks(&["no_enterprise_filter"]).await;
    for path in [&by_urn, &by_short_name] {
        let list = lms.get(path).await;
        assert_eq!(list["totalResults"], 0, "{path}: {list}");
        assert_eq!(list["Resources"], json!([]), "{path}");
    }
    assert_eq!(lms.get(&by_user_name).await["totalResults"], 1);
}

#[tokio::test]
async fn no_groups_attribute_hides_membership_from_users_but_not_from_groups() {
    let lms = Lms::start().await;
    let id = lms.create_user("ada").await["id"].as_str().unwrap().to_string();
    let group = lms.first_group_id().await;
    lms.join(&group, &id).await;
    assert_eq!(
        lms.get(&format!("/Users/{id}")).await["groups"][0]["value"],
        group
    );

    lms.quirks(&["no_groups_attribute"]).await;
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "Ada L"}]));
    let (_, patched) = lms
        .call(Method::PATCH, &format!("/Users/{id}"), Some(rename))
        .await;
    let (_, replaced) = lms
        .call(Method::PUT, &format!("/Users/{id}"), Some(user("ada")))
        .await;
    let read = lms.get(&format!("/Users/{id}")).await;
    let listed = lms.get("/Users").await["Resources"][0].clone();
    for answer in [&patched, &replaced, &read, &listed] {
        assert_eq!(answer["id"], id.as_str(), "{answer}");
        assert!(answer.get("groups").is_none(), "{answer}");
    }
    let members = &lms.get(&format!("/Groups/{group}")).await["members"];
    assert_eq!(members[0]["value"], id.as_str(), "membership is kept: {members}");
}

#[tokio::test]
async fn ignores_attributes_param_fails_projected_patches_and_answers_gets_whole() {
    let lms = Lms::start().await;
    let id = lms.create_user("ada").await["id"].as_str().unwrap().to_string();
    let deactivate = || patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let projected = format!("/Users/{id}?attributes=userName");
    assert!(lms.get(&projected).await.get("name").is_none());
    let (status, _) = lms.call(Method::PATCH, &projected, Some(deactivate())).await;
    assert_eq!(status, StatusCode::OK);
    let reactivate = patch(json!([{"op": "replace", "path": "active", "value": true}]));
    lms.call(Method::PATCH, &format!("/Users/{id}"), Some(reactivate))
        .await;

    lms.quirks(&["ignores_attributes_param"]).await;
    assert_eq!(lms.get(&projected).await["name"]["givenName"], "Ada");
    let listed = lms.get("/Users?excludedAttributes=name").await;
    assert_eq!(listed["Resources"][0]["name"]["givenName"], "Ada", "{listed}");
    for path in [
        projected.clone(),
        format!("/Users/{id}?excludedAttributes=emails"),
    ] {
        let (status, body) = lms.call(Method::PATCH, &path, Some(deactivate())).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(
            (&body["schemas"][0], &body["status"]),
            (&json!(ERROR), &json!("500"))
        );
    }
    assert_eq!(
        lms.get(&format!("/Users/{id}")).await["active"],
        true,
        "the failed PATCH changed nothing"
    );
    let (status, body) = lms
        .call(Method::PATCH, &format!("/Users/{id}"), Some(deactivate()))
        .await;
    assert_eq!((status, &body["active"]), (StatusCode::OK, &json!(false)));
}

#[tokio::test]
async fn string_booleans_answer_active_as_a_string_and_take_either_form() {
    let lms = Lms::start().await;
    assert_eq!(lms.create_user("ada").await["active"], true);

    lms.quirks(&["string_booleans"]).await;
    let created = lms.create_user("bob").await;
    assert_eq!(created["active"], "true");
    let id = created["id"].as_str().unwrap();
    assert_eq!(lms.get(&format!("/Users/{id}")).await["active"], "true");
    let listed = lms.get("/Users").await;
    assert!(
        listed["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["active"] == "true"),
        "{listed}"
    );

    let mut echoed = user("bob");
    echoed["active"] = json!("false");
    let (status, body) = lms.call(Method::PUT, &format!("/Users/{id}"), Some(echoed)).await;
    assert_eq!((status, &body["active"]), (StatusCode::OK, &json!("false")));
    let (status, body) = lms
        .call(Method::PUT, &format!("/Users/{id}"), Some(user("bob")))
        .await;
    assert_eq!((status, &body["active"]), (StatusCode::OK, &json!("true")));
    let off = patch(json!([{"op": "replace", "path": "active", "value": "False"}]));
    let (status, body) = lms.call(Method::PATCH, &format!("/Users/{id}"), Some(off)).await;
    assert_eq!((status, &body["active"]), (StatusCode::OK, &json!("false")));
}

#[tokio::test]
async fn duplicate_is_400_says_taken_without_a_uniqueness_scim_type() {
    let lms = Lms::start().await;
    lms.create_user("ada").await;
    let (status, body) = lms.call(Method::POST, "/Users", Some(user("ada"))).await;
    assert_eq!(
        (status, &body["scimType"]),
        (StatusCode::CONFLICT, &json!("uniqueness"))
    );

    lms.quirks(&["duplicate_is_400"]).await;
    let (status, body) = lms.call(Method::POST, "/Users", Some(user("ada"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let expected =
        json!({"schemas": [ERROR], "status": "400", "detail": "userName \"ada\" is already taken"});
    assert_eq!(body, expected);
    let bob = lms.create_user("bob").await;
    let path = format!("/Users/{}", bob["id"].as_str().unwrap());
    let (status, body) = lms.call(Method::PUT, &path, Some(user("ada"))).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, expected));
}

#[tokio::test]
async fn no_etag_drops_versions_ignores_if_match_and_says_so() {
    let lms = Lms::start().await;
    let config = lms.get("/ServiceProviderConfig").await;
    assert_eq!(config["etag"]["supported"], true);
    let created = lms.create_user("ada").await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let stale = Some("W/\"999999\"");
    let (status, _, _) = lms.call_with(Method::PUT, &path, Some(user("ada")), stale).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);

    lms.quirks(&["no_etag"]).await;
    let config = lms.get("/ServiceProviderConfig").await;
    assert_eq!(config["etag"]["supported"], false);
    assert_eq!(config["filter"]["supported"], true, "filtering is still claimed");
    let (status, headers, read) = lms.call_with(Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers.get("etag").is_none() && read["meta"].get("version").is_none(),
        "{read}"
    );
    assert!(
        read["meta"]["lastModified"].is_string(),
        "the rest of meta stays: {read}"
    );
    let (status, headers, put) = lms.call_with(Method::PUT, &path, Some(user("ada")), stale).await;
    assert_eq!(status, StatusCode::OK, "If-Match is ignored: {put}");
    assert!(
        headers.get("etag").is_none() && put["meta"].get("version").is_none(),
        "{put}"
    );
    let listed = lms.get("/Users").await;
    assert!(
        listed["Resources"][0]["meta"].get("version").is_none(),
        "{listed}"
    );
    let (status, _, _) = lms.call_with(Method::DELETE, &path, None, stale).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn no_groups_from_the_start_leaves_the_catalog_out_and_groups_can_be_created() {
    let usual = Lms::start().await;
    assert!(usual.get("/Groups").await["totalResults"].as_u64().unwrap() > 0);

    let mut faults = Faults::default();
    faults.scim.quirks = vec![ScimQuirk::NoGroups];
    let lms = Lms::start_with(faults).await;
    assert_eq!(lms.get("/Groups").await["totalResults"], 0);
    let id = lms.create_user("ada").await["id"].as_str().unwrap().to_string();
    let path = json!({"schemas": [GROUP], "displayName": "Safety basics", "members": [{"value": id}]});
    let (status, created) = lms.call(Method::POST, "/Groups", Some(path)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let groups = lms.get("/Groups").await;
    assert_eq!(groups["totalResults"], 1);
    assert_eq!(groups["Resources"][0]["displayName"], "Safety basics");
    assert_eq!(groups["Resources"][0]["members"][0]["value"], id.as_str());
}

#[tokio::test]
async fn no_groups_set_at_run_time_deletes_every_group_once() {
    let lms = Lms::start().await;
    let id = lms.create_user("ada").await["id"].as_str().unwrap().to_string();
    lms.join(&lms.first_group_id().await, &id).await;

    lms.quirks(&["no_groups"]).await;
    assert_eq!(lms.get("/Groups").await["totalResults"], 0);
    assert!(lms.get(&format!("/Users/{id}")).await.get("groups").is_none());
    let path = json!({"schemas": [GROUP], "displayName": "Made by the client"});
    let (status, _) = lms.call(Method::POST, "/Groups", Some(path)).await;
    assert_eq!(status, StatusCode::CREATED);
    // Set again while already on, it takes nothing the client made since.
    lms.quirks(&["no_groups", "no_etag"]).await;
    assert_eq!(lms.get("/Groups").await["totalResults"], 1);
}

#[tokio::test]
async fn broken_paging_always_answers_from_the_first_resource() {
    let lms = Lms::start().await;
    for name in ["ada", "bob", "cy"] {
        lms.create_user(name).await;
    }
    let first = lms.get("/Users?startIndex=1&count=1").await;
    let second = lms.get("/Users?startIndex=2&count=1").await;
    assert_eq!(second["startIndex"], 2);
    assert_ne!(ids(&first), ids(&second));
    let first_group = lms.get("/Groups?startIndex=1&count=1").await;

    lms.quirks(&["broken_paging"]).await;
    let again = lms.get("/Users?startIndex=2&count=1").await;
    assert_eq!(
        (&again["startIndex"], &again["totalResults"]),
        (&json!(1), &json!(3))
    );
    assert_eq!(ids(&again), ids(&first));
    let groups = lms.get("/Groups?startIndex=3&count=1").await;
    assert_eq!(groups["startIndex"], 1);
    assert_eq!(ids(&groups), ids(&first_group));
}
