//! A SCIM list read with pages asked for ahead: every learner still comes once
//! and in the server's order, a server that answers shorter pages than asked is
//! read whole, and a page that fails mid-way fails the pull naming that page.
//! The LMS here is a small axum server that counts the pages asked at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hrsync::connectors::{ScimClient, ScimProfile};
use hrsync::model::Secret;
use serde_json::json;

/// What the LMS saw: the pages asked at once, at most.
#[derive(Default)]
struct Asked {
    now: AtomicUsize,
    most: AtomicUsize,
    pages: AtomicUsize,
}

/// An LMS listing `total` learners (`l00001`, …) in pages of at most `most`,
/// answering 400 to the page from `failing`. Each answer takes a few
/// milliseconds, as a real server's would, so pages asked ahead overlap.
async fn lms(total: usize, most: usize, failing: Option<usize>) -> (String, Arc<Asked>) {
    let asked = Arc::new(Asked::default());
    let seen = asked.clone();
    let app = axum::Router::new().route(
        "/scim/v2/Users",
        axum::routing::get(move |Query(query): Query<HashMap<String, String>>| {
            let asked = seen.clone();
            async move {
                let number = |name: &str| query.get(name).and_then(|v| v.parse::<usize>().ok());
                let (start, count) = (number("startIndex").unwrap_or(1), number("count").unwrap_or(most));
                let now = asked.now.fetch_add(1, Ordering::SeqCst) + 1;
                asked.most.fetch_max(now, Ordering::SeqCst);
                asked.pages.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                asked.now.fetch_sub(1, Ordering::SeqCst);
                if Some(start) == failing {
                    let error = json!({ "status": "400", "detail": "this page is broken" });
                    return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
                }
                let end = (start + count.min(most)).min(total + 1);
                let resources: Vec<_> = (start..end)
                    .map(|i| json!({ "id": format!("l{i:05}"), "userName": format!("l{i}@example.test") }))
                    .collect();
                axum::Json(json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": total,
                    "startIndex": start,
                    "itemsPerPage": resources.len(),
                    "Resources": resources,
                }))
                .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/scim/v2"), asked)
}

/// A client asking for pages of `page` learners.
fn client(base: &str, page: usize) -> ScimClient {
    ScimClient::new(
        base,
        Secret::new("t"),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap()
    .with_profile(ScimProfile {
        max_results: Some(page),
        ..ScimProfile::default()
    })
}

fn ids(total: usize) -> Vec<String> {
    (1..=total).map(|i| format!("l{i:05}")).collect()
}

#[tokio::test]
async fn pages_asked_ahead_yield_every_learner_once_in_order() {
    let (base, asked) = lms(2_345, 100, None).await;
    let users = client(&base, 100).all_users().await.unwrap();
    let read: Vec<String> = users.into_iter().map(|u| u.id).collect();
    assert_eq!(read, ids(2_345), "every learner once, in the server's order");
    assert_eq!(asked.pages.load(Ordering::SeqCst), 24, "no page asked twice");
    let most = asked.most.load(Ordering::SeqCst);
    assert!(
        (2..=3).contains(&most),
        "pages are asked ahead, a bounded number at once: {most} at most"
    );
}

#[tokio::test]
async fn a_server_answering_shorter_pages_is_still_read_whole() {
    // Asked for 100 at a time, it gives 70: the pages asked ahead of the first
    // start in the wrong places and are asked again from where it left off.
    let (base, _) = lms(1_000, 70, None).await;
    let users = client(&base, 100).all_users().await.unwrap();
    let read: Vec<String> = users.into_iter().map(|u| u.id).collect();
    assert_eq!(read, ids(1_000));
}

#[tokio::test]
async fn a_page_failing_mid_way_fails_the_pull_naming_it() {
    let (base, _) = lms(1_000, 100, Some(501)).await;
    let mut handed = Vec::new();
    let error = client(&base, 100)
        .each_user(|user| handed.push(user.id))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("LMS learners from 501") && error.contains("HTTP 400"),
        "{error}"
    );
    assert_eq!(
        handed,
        ids(500),
        "the pages before it were read, in order, and no more"
    );
}
