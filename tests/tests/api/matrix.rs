//! The authorization matrix: every route × every kind of caller, with the status each must get.
//! The route table below is checked against the template, so a new route cannot be forgotten.

use futures::stream::{self, StreamExt};
use latchkey_shared::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use crate::helpers::{postgres, TestApp, ORG};

/// Who may call a route.
#[derive(Clone, Copy, Debug)]
enum Access {
    /// No token needed (the OAuth callback): every caller gets the same answer.
    Public,
    AnyCaller,
    AtLeast(Role),
}

struct RouteCase {
    method: &'static str,
    /// The template's path; `{id}` is the credential, other parameters are filled in below.
    route: &'static str,
    path: &'static str,
    body: Option<Value>,
    access: Access,
    ok: u16,
    /// The credential must be deleted first (restore).
    deleted: bool,
}

fn routes() -> Vec<RouteCase> {
    use Access::*;
    use Role::*;
    let case = |method, route, path, body, access, ok| RouteCase {
        method,
        route,
        path,
        body,
        access,
        ok,
        deleted: false,
    };
    vec![
        case("GET", "/connectors", "/connectors", None, AnyCaller, 200),
        case(
            "POST",
            "/credentials",
            "/credentials",
            Some(postgres("new", "pw")),
            AnyCaller,
            201,
        ),
        case("GET", "/credentials", "/credentials", None, AnyCaller, 200),
        case(
            "GET",
            "/credentials/{id}",
            "/credentials/{id}",
            None,
            AtLeast(Collaborator),
            200,
        ),
        case(
            "PATCH",
            "/credentials/{id}",
            "/credentials/{id}",
            Some(json!({"name": "renamed"})),
            AtLeast(Admin),
            200,
        ),
        case(
            "DELETE",
            "/credentials/{id}",
            "/credentials/{id}?force=true",
            None,
            AtLeast(Admin),
            200,
        ),
        RouteCase {
            deleted: true,
            ..case(
                "POST",
                "/credentials/{id}/restore",
                "/credentials/{id}/restore",
                None,
                AtLeast(Admin),
                200,
            )
        },
        case(
            "GET",
            "/credentials/{id}/history",
            "/credentials/{id}/history",
            None,
            AtLeast(Collaborator),
            200,
        ),
        case(
            "GET",
            "/credentials/{id}/usages",
            "/credentials/{id}/usages",
            None,
            AtLeast(Collaborator),
            200,
        ),
        case(
            "POST",
            "/credentials/{id}/usages",
            "/credentials/{id}/usages",
            Some(json!({"kind": "destination", "resource_id": "lake"})),
            AtLeast(Collaborator),
            201,
        ),
        // Attached by the owner: others need admin to detach it.
        case(
            "DELETE",
            "/credentials/{id}/usages/{kind}/{rid}",
            "/credentials/{id}/usages/source/orders",
            None,
            AtLeast(Admin),
            204,
        ),
        case(
            "GET",
            "/credentials/{id}/accessors",
            "/credentials/{id}/accessors",
            None,
            AtLeast(Collaborator),
            200,
        ),
        case(
            "PUT",
            "/credentials/{id}/accessors/{type}/{pid}",
            "/credentials/{id}/accessors/user/newbie",
            Some(json!({"role": "collaborator"})),
            AtLeast(Admin),
            201,
        ),
        case(
            "DELETE",
            "/credentials/{id}/accessors/{type}/{pid}",
            "/credentials/{id}/accessors/user/victim",
            None,
            AtLeast(Admin),
            204,
        ),
        case(
            "POST",
            "/credentials/{id}/owner",
            "/credentials/{id}/owner",
            Some(json!({"user": "adam"})),
            AtLeast(Owner),
            200,
        ),
        // A database credential: an admin may ask, and learns it does not connect through OAuth.
        case(
            "GET",
            "/credentials/{id}/oauth/authorize",
            "/credentials/{id}/oauth/authorize",
            None,
            AtLeast(Admin),
            422,
        ),
        // Without a state the callback refuses everyone alike.
        case(
            "GET",
            "/oauth/callback",
            "/oauth/callback",
            None,
            Public,
            400,
        ),
        // The API describes itself to anyone.
        case("GET", "/openapi.json", "/openapi.json", None, Public, 200),
        case("GET", "/docs", "/docs", None, Public, 200),
        // So does the console: its page is public like any sign-in page.
        case("GET", "/", "/", None, Public, 200),
        case("GET", "/console", "/console", None, Public, 200),
        case(
            "GET",
            "/console/{proxy+}",
            "/console/credentials/new",
            None,
            Public,
            200,
        ),
        case(
            "GET",
            "/docs/redoc.standalone.js",
            "/docs/redoc.standalone.js",
            None,
            Public,
            200,
        ),
        // The fixture is a database credential: an operator may ask, and learns it has no token.
        case(
            "POST",
            "/credentials/{id}/refresh",
            "/credentials/{id}/refresh",
            None,
            AtLeast(Operator),
            422,
        ),
        // The fixture points at a closed local port: the test runs and is inconclusive.
        case(
            "POST",
            "/credentials/{id}/test",
            "/credentials/{id}/test",
            None,
            AtLeast(Collaborator),
            200,
        ),
        case(
            "POST",
            "/credentials/test",
            "/credentials/test",
            Some(json!({"connector": "postgres", "fields": closed_postgres()})),
            AnyCaller,
            200,
        ),
    ]
}

/// The kinds of caller, each with the role it holds on the credential under test.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Owner,
    Admin,
    Operator,
    Collaborator,
    TeamMember,
    OrgMember,
    SameOrgNoGrant,
    OtherOrg,
    NoToken,
    MalformedToken,
    ExpiredToken,
}

const CALLERS: [Caller; 11] = [
    Caller::Owner,
    Caller::Admin,
    Caller::Operator,
    Caller::Collaborator,
    Caller::TeamMember,
    Caller::OrgMember,
    Caller::SameOrgNoGrant,
    Caller::OtherOrg,
    Caller::NoToken,
    Caller::MalformedToken,
    Caller::ExpiredToken,
];

impl Caller {
    fn role(self) -> Option<Role> {
        match self {
            Caller::Owner => Some(Role::Owner),
            Caller::Admin => Some(Role::Admin),
            Caller::Operator => Some(Role::Operator),
            Caller::Collaborator | Caller::TeamMember | Caller::OrgMember => {
                Some(Role::Collaborator)
            }
            _ => None,
        }
    }

    fn token(self, app: &TestApp) -> Option<String> {
        match self {
            Caller::Owner => Some(app.token("alice")),
            Caller::Admin => Some(app.token("adam")),
            Caller::Operator => Some(app.token("olga")),
            Caller::Collaborator => Some(app.token("carl")),
            Caller::TeamMember => Some(app.jwt.token("tina", ORG, &["data"], 3600)),
            Caller::OrgMember => Some(app.token("oscar")),
            Caller::SameOrgNoGrant => Some(app.token("nora")),
            Caller::OtherOrg => Some(app.jwt.token("alice", "globex", &["data"], 3600)),
            Caller::NoToken => None,
            Caller::MalformedToken => Some("eyJhbGciOiJIUzI1NiJ9.garbage.sig".into()),
            Caller::ExpiredToken => Some(app.jwt.token("alice", ORG, &[], -60)),
        }
    }

    fn authenticated(self) -> bool {
        !matches!(
            self,
            Caller::NoToken | Caller::MalformedToken | Caller::ExpiredToken
        )
    }

    fn expected(self, case: &RouteCase) -> u16 {
        if let Access::Public = case.access {
            return case.ok;
        }
        if !self.authenticated() {
            return 401;
        }
        match (case.access, self.role()) {
            (Access::AnyCaller, _) => case.ok,
            (Access::AtLeast(_), None) => 404,
            (Access::AtLeast(needed), Some(role)) if role < needed => 403,
            _ => case.ok,
        }
    }
}

/// A credential owned by alice with one grant per role, a team grant, a revocable grant and a
/// usage; for the org member, an org-wide grant too (which would reach every same-org caller).
fn closed_postgres() -> Value {
    json!({"host": "127.0.0.1", "port": 1, "database": "sales", "username": "etl", "password": "pw"})
}

async fn fixture(app: &TestApp, caller: Caller, deleted: bool) -> String {
    let body = json!({"name": "shared", "connector": "postgres", "fields": closed_postgres()});
    let id = app.create("alice", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut grants = vec![
        ("user/adam", "admin"),
        ("user/olga", "operator"),
        ("user/carl", "collaborator"),
        ("team/data", "collaborator"),
        ("user/victim", "collaborator"),
    ];
    if matches!(caller, Caller::OrgMember) {
        grants.push(("org/acme", "collaborator"));
    }
    let alice = app.token("alice");
    for (who, role) in grants {
        let r = app
            .call(
                Method::PUT,
                &format!("/credentials/{id}/accessors/{who}"),
                Some(&alice),
                Some(&json!({"role": role})),
                &[],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = app
        .post(
            "alice",
            &format!("/credentials/{id}/usages"),
            &json!({"kind": "source", "resource_id": "orders"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    if deleted {
        let r = app
            .call(
                Method::DELETE,
                &format!("/credentials/{id}?force=true"),
                Some(&alice),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    id
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_the_matrix_says() {
    let app = TestApp::spawn().await;
    let table = routes();

    let declared: BTreeSet<String> = app
        .stack
        .template
        .routes()
        .iter()
        .map(|r| r.key())
        .collect();
    let covered: BTreeSet<String> = table
        .iter()
        .map(|c| format!("{} {}", c.method, c.route))
        .collect();
    assert_eq!(
        covered, declared,
        "the matrix covers exactly the template's routes"
    );

    // A request that is expected to change something gets a fresh credential; every other one
    // shares one of these (a wrongly allowed change there fails its own row anyway).
    let mut shared = std::collections::BTreeMap::new();
    for (org_grant, deleted) in [(false, false), (true, false), (false, true), (true, true)] {
        let caller = if org_grant {
            Caller::OrgMember
        } else {
            Caller::Owner
        };
        shared.insert((org_grant, deleted), fixture(&app, caller, deleted).await);
    }
    let cases: Vec<(&RouteCase, Caller)> = table
        .iter()
        .flat_map(|c| CALLERS.iter().map(move |k| (c, *k)))
        .collect();
    let failures: Vec<String> = stream::iter(cases)
        .map(|(case, caller)| {
            let (app, shared) = (&app, &shared);
            async move {
                let want = caller.expected(case);
                let changes_state = case.method != "GET" && (200..300).contains(&want);
                let id = if changes_state {
                    fixture(app, caller, case.deleted).await
                } else {
                    shared[&(matches!(caller, Caller::OrgMember), case.deleted)].clone()
                };
                let path = case.path.replace("{id}", &id);
                let method = Method::from_bytes(case.method.as_bytes()).unwrap();
                let reply = app
                    .call(
                        method,
                        &path,
                        caller.token(app).as_deref(),
                        case.body.as_ref(),
                        &[],
                    )
                    .await;
                (reply.status.as_u16() != want).then(|| {
                    format!(
                        "{} {} as {caller:?}: want {want}, got {} {}",
                        case.method, case.route, reply.status, reply.text
                    )
                })
            }
        })
        .buffer_unordered(4)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
