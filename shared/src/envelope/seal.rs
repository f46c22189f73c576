//! Sealing one secret version: AES-256-GCM under the organisation's data key, with the
//! organisation, credential id and version as additional authenticated data, so a sealed value
//! copied to another credential, version or organisation fails to open.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::catalog::SecretFields;
use crate::error::InternalError;
use crate::ports::SecretOwner;

/// Bumped if the layout ever changes; part of the authenticated data.
const FORMAT: &str = "latchkey-sealed-v1";

/// An unwrapped data key, usable only to seal and open (its bytes are not kept).
pub struct DataKey(LessSafeKey);

impl DataKey {
    pub fn new(bytes: &[u8]) -> Result<Self, InternalError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| InternalError::new("a data key is not 256 bits"))?;
        Ok(Self(LessSafeKey::new(key)))
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// What binds a sealed value to its place: organisation, credential, version. Ids are
/// identifiers (no NUL), so the joined form is unambiguous.
fn bound_to(owner: SecretOwner<'_>, version: &str) -> Vec<u8> {
    [FORMAT, owner.org, owner.id.as_str(), version]
        .join("\0")
        .into_bytes()
}

/// `nonce || ciphertext || tag` of the fields as a JSON object. A random 96-bit nonce per
/// version: a data key seals at most one rotation period of one organisation's versions,
/// far below the 2^32 messages where random nonces start to risk a repeat.
pub fn seal(
    key: &DataKey,
    owner: SecretOwner<'_>,
    version: &str,
    fields: &SecretFields,
) -> Result<Vec<u8>, InternalError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| InternalError::new("no randomness for a nonce"))?;
    let mut out = nonce.to_vec();
    // The plaintext JSON, encrypted in place: what is left of it is overwritten when dropped.
    let mut body = Zeroizing::new(fields.to_json()?.expose_secret().as_bytes().to_vec());
    key.0
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(bound_to(owner, version)),
            &mut *body,
        )
        .map_err(|_| InternalError::new("sealing failed"))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// The fields sealed for exactly this organisation, credential and version.
pub fn open(
    key: &DataKey,
    owner: SecretOwner<'_>,
    version: &str,
    sealed: &[u8],
) -> Result<SecretFields, InternalError> {
    let refused = || InternalError::new("a sealed secret does not open for this credential");
    if sealed.len() < NONCE_LEN {
        return Err(refused());
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
    // Overwritten when dropped, whichever way this returns.
    let mut body = Zeroizing::new(body.to_vec());
    let plain = key
        .0
        .open_in_place(nonce, Aad::from(bound_to(owner, version)), &mut body)
        .map_err(|_| refused())?;
    SecretFields::from_json(plain)
        .map_err(|_| InternalError::new("a sealed secret is not a JSON object of strings"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CredentialId;
    use secrecy::SecretString;

    fn key(byte: u8) -> DataKey {
        DataKey::new(&[byte; 32]).unwrap()
    }

    fn fields() -> SecretFields {
        SecretFields(
            [("password".to_owned(), SecretString::from("pw-1".to_owned()))]
                .into_iter()
                .collect(),
        )
    }

    #[test]
    fn a_sealed_value_opens_only_where_it_was_sealed() {
        let id = CredentialId::generate();
        let other_id = CredentialId::generate();
        let owner = SecretOwner {
            id: &id,
            org: "acme",
        };
        let sealed = seal(&key(1), owner, "v1", &fields()).unwrap();
        assert!(
            !sealed.windows(4).any(|w| w == b"pw-1"),
            "the value is not in the sealed bytes"
        );
        let opened = open(&key(1), owner, "v1", &sealed).unwrap();
        assert_eq!(opened.0["password"].expose_secret(), "pw-1");

        let elsewhere = [
            (
                SecretOwner {
                    id: &other_id,
                    org: "acme",
                },
                "v1",
            ),
            (owner, "v2"),
            (
                SecretOwner {
                    id: &id,
                    org: "globex",
                },
                "v1",
            ),
        ];
        for (owner, version) in elsewhere {
            assert!(
                open(&key(1), owner, version, &sealed).is_err(),
                "{owner:?} {version}"
            );
        }
        assert!(open(&key(2), owner, "v1", &sealed).is_err(), "another key");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(open(&key(1), owner, "v1", &tampered).is_err(), "tampered");
        assert!(
            open(&key(1), owner, "v1", &sealed[..5]).is_err(),
            "truncated"
        );
    }

    #[test]
    fn every_seal_draws_a_fresh_nonce() {
        let id = CredentialId::generate();
        let owner = SecretOwner {
            id: &id,
            org: "acme",
        };
        let a = seal(&key(1), owner, "v1", &fields()).unwrap();
        let b = seal(&key(1), owner, "v1", &fields()).unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
    }

    #[test]
    fn a_data_key_is_256_bits_and_never_printed() {
        assert!(DataKey::new(&[0; 16]).is_err());
        assert_eq!(format!("{:?}", key(7)), "DataKey([redacted])");
    }
}
