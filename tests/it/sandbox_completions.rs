//! The three simulated systems together: learners created in the LMS over
//! SCIM go on to complete courses in the LRS, and only they do.

use std::collections::HashSet;
use std::time::Duration;

use hrsync::sandbox::xapi::{ACCOUNT_HOMEPAGE, VERSION_HEADER, XAPI_VERSION};
use hrsync::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn the_generator_completes_courses_for_active_lms_learners_only() {
    let config = SandboxConfig {
        employees: 30,
        completions_per_sec: 40.0,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let creds = sandbox.credentials().clone();
    let http = reqwest::Client::new();

    let mut learners = HashSet::new();
    for (n, active) in [(11, true), (12, true), (13, false)] {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("learner{n}@acme.example"),
            "externalId": n.to_string(),
            "active": active,
        });
        let created = http
            .post(format!("{}/Users", creds.scim_url))
            .bearer_auth(&creds.scim_token)
            .json(&user)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        if active {
            learners.insert(n.to_string());
        }
    }

    let mut statements: Vec<Value> = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let page: Value = http
            .get(format!("{}/statements?limit=1000", creds.xapi_url))
            .basic_auth(&creds.xapi_user, Some(&creds.xapi_password))
            .header(VERSION_HEADER, XAPI_VERSION)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        statements = page["statements"].as_array().unwrap().clone();
        if statements.len() >= 20 {
            break;
        }
    }
    assert!(
        statements.len() >= 20,
        "the generator made {} statements in 5 s at 40/s",
        statements.len()
    );
    let actors: HashSet<String> = statements
        .iter()
        .map(|s| s["actor"]["account"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        actors.is_subset(&learners),
        "only active learners complete courses: {actors:?}"
    );
    assert!(
        statements
            .iter()
            .all(|s| s["actor"]["account"]["homePage"] == ACCOUNT_HOMEPAGE)
    );
    sandbox.shutdown().await;
}
