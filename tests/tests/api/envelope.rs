//! The envelope store against KMS and DynamoDB in the emulator, whatever the run's mode: data
//! keys rotate and old ones still open what they sealed, and a sealed value opens only for the
//! organisation, credential and version it was sealed for, under that organisation's key.

use aws_sdk_dynamodb::types::AttributeValue;
use latchkey_shared::domain::CredentialId;
use latchkey_shared::envelope::keys::DataKeys;
use latchkey_shared::envelope::Envelope;
use latchkey_shared::ports::{Pending, SecretOwner, SecretReader, SecretStore};
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::time::Duration;

use crate::helpers::{secret_fields, TestApp, ORG};

#[tokio::test]
async fn data_keys_rotate_and_a_sealed_value_opens_only_where_it_was_sealed() {
    let app = TestApp::spawn().await;
    let config = app.stack.config("credentials").unwrap().envelope.unwrap();
    let ddb = app.ddb();
    let rotation = Duration::from_secs(2);
    let keys = DataKeys::new(
        aws_sdk_kms::Client::new(&app.stack.aws),
        ddb.clone(),
        &config.table,
        &config.master_key,
        rotation,
    );
    let store = Envelope::new(ddb.clone(), &config.table, keys);
    let id = CredentialId::generate();
    let owner = SecretOwner { id: &id, org: ORG };
    let first = store
        .create(owner, &secret_fields(&[("password", "pw-1")]))
        .await
        .unwrap();
    // Into the next rotation period: the next version is sealed under a new data key.
    tokio::time::sleep(rotation + Duration::from_millis(100)).await;
    let second = store
        .put_pending(
            owner,
            &secret_fields(&[("password", "pw-2")]),
            Pending::Edit,
            &first,
        )
        .await
        .unwrap();
    let read = |version: String| {
        let store = &store;
        async move {
            store
                .read(owner, &version)
                .await
                .map(|f| f.0["password"].expose_secret().to_owned())
        }
    };
    assert_eq!(
        read(first.clone()).await.unwrap(),
        "pw-1",
        "the old key still opens"
    );
    assert_eq!(read(second.clone()).await.unwrap(), "pw-2");
    let items = app.items_of(&config.table).await;
    let org_keys: Vec<&HashMap<String, AttributeValue>> = items
        .iter()
        .filter(|i| i["pk"].as_s().unwrap() == &format!("ORG#{ORG}"))
        .collect();
    assert_eq!(org_keys.len(), 2, "one data key per period: {org_keys:?}");
    assert!(org_keys.iter().all(|k| k.contains_key("wrapped")));

    // The first version's sealed bytes, copied elsewhere, do not open.
    let sealed_first = items
        .iter()
        .find(|i| i["sk"].as_s().unwrap() == &format!("V#{first}"))
        .unwrap()
        .clone();
    let copy = |pk: String, sk: String, org: &str| {
        let mut item = sealed_first.clone();
        item.insert("pk".into(), AttributeValue::S(pk));
        item.insert("sk".into(), AttributeValue::S(sk));
        item.insert("org".into(), AttributeValue::S(org.to_owned()));
        ddb.put_item()
            .table_name(&config.table)
            .set_item(Some(item))
            .send()
    };
    let other = CredentialId::generate();
    copy(format!("CRED#{other}"), format!("V#{first}"), ORG)
        .await
        .unwrap();
    let elsewhere = store
        .read(
            SecretOwner {
                id: &other,
                org: ORG,
            },
            &first,
        )
        .await;
    assert!(elsewhere.is_err(), "another credential");
    copy(format!("CRED#{id}"), format!("V#{second}"), ORG)
        .await
        .unwrap();
    assert!(read(second).await.is_err(), "another version");
    assert!(
        store
            .read(
                SecretOwner {
                    id: &id,
                    org: "globex"
                },
                &first
            )
            .await
            .is_err(),
        "another organisation"
    );
    // Another organisation's item naming acme's wrapped key: KMS refuses to unwrap it under
    // globex's encryption context.
    for key in &org_keys {
        let mut item = (*key).clone();
        item.insert("pk".into(), AttributeValue::S("ORG#globex".into()));
        ddb.put_item()
            .table_name(&config.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    copy(format!("CRED#{id}"), format!("V#{first}"), "globex")
        .await
        .unwrap();
    let unwrapped = store
        .read(
            SecretOwner {
                id: &id,
                org: "globex",
            },
            &first,
        )
        .await;
    let Err(error) = unwrapped else {
        panic!("opened under another organisation's context")
    };
    let error = format!("{error:?}");
    assert!(error.contains("InvalidCiphertext"), "{error}");
}
