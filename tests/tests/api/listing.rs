//! Listing pages end, show each visible credential once, and stay inside the organisation
//! (issue 11, item 11): a property over random grant layouts, followed to the last page.

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

use crate::helpers::{postgres, TestApp, ORG};

/// A small deterministic generator: the layouts are random but every run sees the same ones.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Every page of `GET /credentials?limit=` for `token`, following `next_token` to the end.
async fn every_page(app: &TestApp, token: &str, limit: usize, cap: usize) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut path = format!("/credentials?limit={limit}");
    for _ in 0..cap {
        let page = app.call(Method::GET, &path, Some(token), None, &[]).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let next = page.body["next_token"].as_str().map(str::to_owned);
        pages.push(page.body);
        match next {
            Some(t) => path = format!("/credentials?limit={limit}&next_token={t}"),
            None => return pages,
        }
    }
    panic!("more than {cap} pages at limit {limit}: the listing does not end");
}

fn token_position(token: &str) -> String {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    serde_json::from_slice::<Value>(&raw).unwrap()["at"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn pages_end_and_show_every_visible_credential_exactly_once() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice");
    let grantees = ["user/bob", "team/t1", "team/t2", &format!("org/{ORG}")];
    let roles = ["collaborator", "operator", "admin"];
    // Cumulative over the seeds: each layout adds to the one before.
    let mut visible = BTreeSet::new();
    for seed in [0x9e37_79b9_7f4a_7c15_u64, 0x0123_4567_89ab_cdef] {
        let mut rng = XorShift(seed);
        for n in 0..12 {
            let id = app
                .create("alice", &postgres(&format!("db{n}"), "pw"))
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned();
            for grantee in grantees {
                if rng.below(2) == 0 {
                    continue;
                }
                let role = roles[rng.below(3) as usize];
                let share = app
                    .call(
                        Method::PUT,
                        &format!("/credentials/{id}/accessors/{grantee}"),
                        Some(&alice),
                        Some(&json!({ "role": role })),
                        &[],
                    )
                    .await;
                assert!(share.status.is_success(), "{}", share.text);
                visible.insert(id.clone());
            }
        }
        let bob = app.jwt.token("bob", ORG, &["t1", "t2"], 3600);
        for limit in [1, 2, 3, 5, 100] {
            let pages = every_page(&app, &bob, limit, 200).await;
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            for page in &pages {
                for item in page["items"].as_array().unwrap() {
                    *seen
                        .entry(item["id"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                }
                if let Some(t) = page["next_token"].as_str() {
                    let at = token_position(t);
                    // A position is only ever a credential of the caller's organisation.
                    assert!(at.starts_with("cred_"), "{at}");
                }
            }
            let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
            assert!(
                repeated.is_empty(),
                "seed {seed:x} limit {limit}: repeated {repeated:?}"
            );
            let seen: BTreeSet<String> = seen.into_keys().collect();
            assert_eq!(seen, visible, "seed {seed:x} limit {limit}");
        }
    }

    // A namesake in another organisation, in teams of the same names, sees nothing and is
    // handed no position in anyone else's organisation.
    let namesake = app.jwt.token("bob", "globex", &["t1", "t2"], 3600);
    for limit in [1, 3] {
        let pages = every_page(&app, &namesake, limit, 5).await;
        assert_eq!(pages.len(), 1, "{pages:?}");
        assert_eq!(pages[0]["items"], json!([]));
        assert!(pages[0]["next_token"].is_null(), "{pages:?}");
    }

    // A token is the caller's own: another caller's is refused, not followed.
    let first = every_page(&app, &alice, 1, 1000).await;
    assert!(first.len() > 1);
    let alices = first[0]["next_token"].as_str().unwrap();
    let bob = app.jwt.token("bob", ORG, &["t1", "t2"], 3600);
    let stolen = app
        .call(
            Method::GET,
            &format!("/credentials?limit=1&next_token={alices}"),
            Some(&bob),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (stolen.status.as_u16(), stolen.code()),
        (400, "invalid_page_token")
    );
}

/// Search by name: any part of it, in any case, with the other filters.
#[tokio::test]
async fn q_finds_credentials_by_any_part_of_their_name() {
    let app = TestApp::spawn().await;
    for name in ["Sales Warehouse", "sales-replica", "Marketing"] {
        app.create("alice", &postgres(name, "pw")).await;
    }
    let names = |page: &Value| -> BTreeSet<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, expected) in [
        ("q=SALES", vec!["Sales Warehouse", "sales-replica"]),
        ("q=%20house%20", vec!["Sales Warehouse"]),
        ("q=keting&connector=postgres", vec!["Marketing"]),
        ("q=keting&connector=mysql", vec![]),
        ("q=", vec!["Sales Warehouse", "sales-replica", "Marketing"]),
    ] {
        let page = app.get("alice", &format!("/credentials?{query}")).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let expected: BTreeSet<String> = expected.into_iter().map(str::to_owned).collect();
        assert_eq!(names(&page.body), expected, "{query}");
    }
}
