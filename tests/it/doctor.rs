//! `hrsync doctor`, the real binary, against the sandbox's LMS in several quirk
//! modes: what it finds, the quirks it suggests, what it says hrsync will do
//! differently, and that it only reads.

use crate::common;

use common::{Options, World, start_for_binary};
use serde_json::{Value, json};

use hrsync::model::ENTERPRISE_SCHEMA as ENTERPRISE;

async fn scim_post(world: &World, path: &str, body: Value) -> Value {
    let c = world.sandbox.credentials();
    let answer = world
        .http
        .post(format!("{}/{path}", c.scim_url))
        .bearer_auth(&c.scim_token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap()
}

/// A few learners, one of them in a group, so every probe has data.
async fn seed(world: &World) {
    let mut ids = Vec::new();
    for n in 1..=3 {
        let user = scim_post(
            world,
            "Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "userName": format!("doctor{n}@acme.example"), "externalId": format!("d{n}"), "active": true,
                ENTERPRISE: { "employeeNumber": format!("E-D{n}") },
            }),
        )
        .await;
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    scim_post(
        world,
        "Groups",
        json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Doctor's path",
                "members": [{ "value": ids[0] }] }),
    )
    .await;
}

fn doctor(world: &World, json: bool) -> (bool, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"));
    command
        .arg("--log-file")
        .arg(world.dir.path().join("doctor.log"))
        .args(["doctor", "--config"])
        .arg(world.dir.path().join("hrsync.toml"))
        .envs(world.engine_env());
    if json {
        command.arg("--json");
    }
    let output = tokio::task::block_in_place(|| command.output().unwrap());
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn findings(world: &World) -> Value {
    let (ok, out) = doctor(world, true);
    assert!(ok, "doctor failed: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reads_what_the_lms_does_and_names_the_quirks() {
    let world = start_for_binary(Options {
        employees: 20,
        ..Options::default()
    })
    .await;
    seed(&world).await;

    // A server as the RFCs have it: nothing to add, standard request forms.
    let plain = findings(&world);
    let lms = &plain["lms"];
    assert_eq!(lms["reachable"], true);
    assert_eq!(lms["findings"]["pages_correctly"], true, "{plain:#}");
    assert_eq!(lms["findings"]["enterprise_filter"], true, "{plain:#}");
    assert_eq!(lms["findings"]["groups_attribute"], true, "{plain:#}");
    assert_eq!(lms["findings"]["string_booleans"], false, "{plain:#}");
    assert_eq!(lms["findings"]["suggested_quirks"], json!([]));
    assert_eq!(lms["will"], json!([]));
    assert_eq!(plain["hris"]["reachable"], true);
    assert_eq!(plain["lrs"]["reachable"], true);
    let (_, text) = doctor(&world, false);
    assert!(
        text.contains("hrsync will use the standard request forms"),
        "{text}"
    );

    // Each deviation is seen, and the quirk that works around it is suggested.
    for (quirk, finding, suggested) in [
        (
            "no_enterprise_filter",
            "enterprise_filter",
            Some("no_enterprise_filter"),
        ),
        (
            "no_groups_attribute",
            "groups_attribute",
            Some("no_groups_attribute"),
        ),
        ("string_booleans", "string_booleans", Some("string_booleans")),
        ("broken_paging", "pages_correctly", None),
    ] {
        world
            .admin("faults", json!({ "scim": { "quirks": [quirk] } }))
            .await;
        let found = findings(&world);
        let f = &found["lms"]["findings"];
        let expected = finding == "string_booleans";
        assert_eq!(f[finding], expected, "{quirk}: {found:#}");
        match suggested {
            Some(name) => assert_eq!(f["suggested_quirks"], json!([name]), "{quirk}: {found:#}"),
            None => {
                let (_, text) = doctor(&world, false);
                assert!(text.contains("does not page correctly"), "{quirk}: {text}");
            }
        }
    }

    // A server without ETags: doctor says lost-update protection is off.
    world
        .admin("faults", json!({ "scim": { "quirks": ["no_etag"] } }))
        .await;
    let found = findings(&world);
    assert_eq!(found["lms"]["findings"]["profile"]["etag"], false);
    let will = found["lms"]["will"].to_string();
    assert!(will.contains("lost-update protection is off"), "{will}");

    // Named in the configuration, a quirk is not suggested again and says its effect.
    world
        .admin("faults", json!({ "scim": { "quirks": ["no_groups_attribute"] } }))
        .await;
    let config = world.dir.path().join("hrsync.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "token_env = \"T_SCIM_TOKEN\"",
            "token_env = \"T_SCIM_TOKEN\"\nquirks = [\"no_groups_attribute\"]",
        ),
    )
    .unwrap();
    let found = findings(&world);
    assert_eq!(found["lms"]["findings"]["suggested_quirks"], json!([]));
    let will = found["lms"]["will"].to_string();
    assert!(will.contains("membership is read from /Groups"), "{will}");

    // Only reads: the LMS holds what it held.
    let c = world.sandbox.credentials();
    let users: Value = world
        .http
        .get(format!("{}/Users", c.scim_url))
        .bearer_auth(&c.scim_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["totalResults"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_naming_a_system_it_cannot_reach() {
    let world = start_for_binary(Options {
        employees: 10,
        ..Options::default()
    })
    .await;
    let config = world.dir.path().join("hrsync.toml");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let scim_url = world.sandbox.credentials().scim_url.clone();
    std::fs::write(
        &config,
        text.replace(&scim_url, &format!("http://{closed}/scim/v2")),
    )
    .unwrap();
    let (ok, out) = doctor(&world, false);
    assert!(!ok, "exit non-zero: {out}");
    assert!(out.contains("LMS") && out.contains("FAILED"), "{out}");
    assert!(out.contains("HRIS") && out.contains(" ok"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_a_csv_feed_lms_outbox_upload_and_exports() {
    let world = start_for_binary(Options {
        employees: 10,
        ..Options::default()
    })
    .await;
    let config = world.dir.path().join("hrsync.toml");
    let exports = world.dir.path().join("lms-exports");
    std::fs::create_dir_all(&exports).unwrap();
    std::fs::write(exports.join("users-2026-12-01.csv"), "Username\r\n").unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[lms]").unwrap();
    let end = text.find("[lrs]").unwrap();
    let lms = format!(
        "[lms]\nkind = \"csv\"\noutbox = \"feed\"\ninbox = \"lms-exports\"\n\
         upload = \"sftp://hrsync@{closed}/import\"\nknown_hosts = \"known_hosts\"\n\
         [lms.columns]\n\"Username\" = \"userName\"\n\"Status\" = \"active\"\n"
    );
    std::fs::write(&config, format!("{}{lms}{}", &text[..start], &text[end..])).unwrap();

    let (ok, out) = doctor(&world, false);
    assert!(!ok, "an unreachable upload server fails the doctor: {out}");
    assert!(
        out.contains("LMS   CSV feed") && out.contains("learners.csv  ok"),
        "{out}"
    );
    assert!(
        out.contains(&format!("upload to sftp://hrsync@{closed}/import  FAILED")),
        "{out}"
    );
    assert!(
        out.contains("reconciliation compares with users-2026-12-01.csv"),
        "{out}"
    );
    let (_, json) = doctor(&world, true);
    let report: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(report["lms"]["kind"], "csv");
    assert_eq!(report["lms"]["writable"], true);
    assert_eq!(report["lms"]["upload"]["reachable"], false);
    assert_eq!(report["lms"]["inbox"]["newest"], "users-2026-12-01.csv");
    // It only looked: nothing is left in the outbox.
    let left = std::fs::read_dir(world.dir.path().join("feed")).unwrap().count();
    assert_eq!(left, 0, "the doctor leaves nothing in the outbox");
}
