//! OpenAPI links between operations.

use super::*;

/// What a client can do next with an answer: OpenAPI links, which generated clients and
/// stateful testers (schemathesis) follow: create, read, edit with the `ETag`, test, share,
/// delete, restore.
/// `(link name, target operation, [(parameter, runtime expression)])`.
pub type Link = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

pub const LINKS: &[(&str, &str, &[Link])] = {
    const ID: (&str, &str) = ("id", "$response.body#/id");
    const SAME: (&str, &str) = ("id", "$request.path.id");
    const ETAG: (&str, &str) = ("header.If-Match", "$response.header.ETag");
    &[
        (
            "createCredential",
            "201",
            &[
                ("GetCredential", "getCredential", &[ID]),
                ("UpdateCredential", "updateCredential", &[ID, ETAG]),
                ("TestCredential", "testCredential", &[ID]),
                ("ListAccessors", "listAccessors", &[ID]),
                ("GrantAccess", "grantAccess", &[ID]),
                ("AttachUsage", "attachUsage", &[ID]),
                ("GetHistory", "getCredentialHistory", &[ID]),
                ("DeleteCredential", "deleteCredential", &[ID, ETAG]),
            ],
        ),
        (
            "getCredential",
            "200",
            &[
                ("UpdateCredential", "updateCredential", &[SAME, ETAG]),
                ("DeleteCredential", "deleteCredential", &[SAME, ETAG]),
            ],
        ),
        (
            "updateCredential",
            "200",
            &[
                ("TestCredential", "testCredential", &[SAME]),
                ("DeleteCredential", "deleteCredential", &[SAME, ETAG]),
            ],
        ),
        (
            "deleteCredential",
            "200",
            &[
                ("RestoreCredential", "restoreCredential", &[SAME]),
                ("GetHistory", "getCredentialHistory", &[SAME]),
            ],
        ),
        (
            "restoreCredential",
            "200",
            &[("GetCredential", "getCredential", &[SAME])],
        ),
        (
            "grantAccess",
            "201",
            &[(
                "RevokeAccess",
                "revokeAccess",
                &[
                    SAME,
                    ("type", "$request.path.type"),
                    ("pid", "$request.path.pid"),
                ],
            )],
        ),
        (
            "attachUsage",
            "201",
            &[(
                "DetachUsage",
                "detachUsage",
                &[
                    SAME,
                    ("kind", "$response.body#/kind"),
                    ("rid", "$response.body#/resource_id"),
                ],
            )],
        ),
    ]
};

pub(super) fn add_links(doc: &mut Value) {
    for (from, status, links) in LINKS {
        // Each function's part is also documented alone; the whole document's test checks
        // that both ends of every link exist.
        let Some(response) = doc["paths"]
            .as_object_mut()
            .into_iter()
            .flat_map(|paths| paths.values_mut())
            .flat_map(|item| {
                item.as_object_mut()
                    .into_iter()
                    .flat_map(|i| i.values_mut())
            })
            .find(|op| op["operationId"] == *from)
            .map(|op| &mut op["responses"][*status])
        else {
            continue;
        };
        for (name, to, parameters) in links.iter() {
            let parameters: Map<String, Value> = parameters
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            response["links"][*name] = json!({ "operationId": to, "parameters": parameters });
        }
    }
}
