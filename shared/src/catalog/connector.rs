//! A connector's rules applied to a request: the fields of a create, an unsaved test or a
//! patch, split into public and secret, defaults applied, locator changes caught.

use super::*;

impl Connector {
    pub fn auth_type(&self, id: Option<&str>) -> Result<&AuthType, ApiError> {
        let id = id.unwrap_or(&self.default_auth_type);
        self.auth_types.iter().find(|a| a.id == id).ok_or_else(|| {
            let known: Vec<&str> = self.auth_types.iter().map(|a| a.id.as_str()).collect();
            ApiError::bad_request(
                "unknown_auth_type",
                format!(
                    "connector {} has no such auth type; use one of: {}",
                    self.id,
                    known.join(", ")
                ),
            )
            .about(["auth_type"])
        })
    }

    pub fn spec(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.get(name)
    }

    /// The fields an auth type uses, in form order, each with whether it is required.
    pub fn fields_of<'a>(
        &'a self,
        auth: &'a AuthType,
    ) -> impl Iterator<Item = (&'a str, &'a FieldSpec, bool)> + 'a {
        let required = self.common.required.iter().chain(&auth.required);
        let optional = self.common.optional.iter().chain(&auth.optional);
        required
            .map(|n| (n, true))
            .chain(optional.map(|n| (n, false)))
            .filter_map(|(n, req)| self.fields.get(n).map(|spec| (n.as_str(), spec, req)))
    }

    fn field_for<'a>(&'a self, auth: &'a AuthType, name: &str) -> Result<&'a FieldSpec, ApiError> {
        self.fields_of(auth)
            .find(|(n, _, _)| *n == name)
            .map(|(_, spec, _)| spec)
            .ok_or_else(|| {
                let usable: Vec<&str> = self.fields_of(auth).map(|(n, _, _)| n).collect();
                ApiError::bad_request(
                    "unknown_field",
                    format!(
                        "field {} is not used by connector {} with auth type {}; its fields are: {}",
                        echoable_name(name),
                        self.id,
                        auth.id,
                        usable.join(", ")
                    ),
                )
            })
    }

    fn check_required(
        &self,
        auth: &AuthType,
        present: impl Fn(&str) -> bool,
    ) -> Result<(), ApiError> {
        let missing: Vec<&str> = self
            .fields_of(auth)
            .filter(|(n, _, req)| *req && !present(n))
            .map(|(n, _, _)| n)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_request(
                "missing_field",
                format!(
                    "connector {} with auth type {} needs: {}",
                    self.id,
                    auth.id,
                    missing.join(", ")
                ),
            )
            .about(missing.iter().map(|n| format!("fields.{n}"))))
        }
    }

    fn apply_defaults(&self, auth: &AuthType, public: &mut Map<String, Value>) {
        for (name, spec, _) in self.fields_of(auth) {
            if let (false, Some(default)) = (public.contains_key(name), &spec.default) {
                public.insert(name.to_owned(), default.clone());
            }
        }
    }

    /// Validates the fields of a new credential. `null` means "not given".
    pub fn validate_new(
        &self,
        auth: &AuthType,
        fields: &Map<String, Value>,
    ) -> Result<ValidFields, ApiError> {
        let mut public = Map::new();
        let mut secrets = SecretFields::default();
        for (name, value) in fields {
            let spec = self.field_for(auth, name)?;
            if value.is_null() {
                continue;
            }
            match normalise(name, spec, value)? {
                Normalised::Secret(s) => {
                    secrets.0.insert(name.clone(), s);
                }
                Normalised::Public(v) => {
                    public.insert(name.clone(), v);
                }
            }
        }
        self.check_required(auth, |n| {
            public.contains_key(n) || secrets.0.contains_key(n)
        })?;
        self.apply_defaults(auth, &mut public);
        Ok(ValidFields { public, secrets })
    }

    /// Validates a partial update. Omitted fields keep their stored values; `null` removes one;
    /// stored fields the (new) auth type does not use are dropped.
    pub fn validate_patch(
        &self,
        auth: &AuthType,
        stored_public: &Map<String, Value>,
        stored_secret_names: &BTreeSet<String>,
        patch: &Map<String, Value>,
    ) -> Result<FieldChanges, ApiError> {
        let usable: BTreeSet<&str> = self.fields_of(auth).map(|(n, _, _)| n).collect();
        let mut public: Map<String, Value> = stored_public
            .iter()
            .filter(|(n, _)| usable.contains(n.as_str()))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let mut secret_names: BTreeSet<String> = stored_secret_names
            .iter()
            .filter(|n| usable.contains(n.as_str()))
            .cloned()
            .collect();
        let mut new_secrets = SecretFields::default();
        let mut changed: BTreeSet<String> = stored_public
            .keys()
            .chain(stored_secret_names)
            .filter(|n| !usable.contains(n.as_str()))
            .cloned()
            .collect();

        for (name, value) in patch {
            let spec = self.field_for(auth, name)?;
            if value.is_null() {
                if public.remove(name).is_some() || secret_names.remove(name) {
                    changed.insert(name.clone());
                }
                continue;
            }
            match normalise(name, spec, value)? {
                Normalised::Secret(s) => {
                    new_secrets.0.insert(name.clone(), s);
                    secret_names.insert(name.clone());
                    changed.insert(name.clone());
                }
                Normalised::Public(v) => {
                    if public.get(name) != Some(&v) {
                        changed.insert(name.clone());
                    }
                    public.insert(name.clone(), v);
                }
            }
        }
        self.check_required(auth, |n| public.contains_key(n) || secret_names.contains(n))?;
        self.apply_defaults(auth, &mut public);
        let moved: Vec<&str> = self
            .fields
            .iter()
            .filter(|(n, spec)| spec.moves_secrets(stored_public.get(*n), public.get(*n)))
            .map(|(n, _)| n.as_str())
            .collect();
        let mut dropped_tokens = false;
        if !moved.is_empty() {
            let unsupplied: Vec<&str> = secret_names
                .iter()
                .filter(|n| !new_secrets.0.contains_key(*n))
                .filter(|n| !self.spec(n).is_some_and(|s| s.held_by_service))
                .map(String::as_str)
                .collect();
            if !unsupplied.is_empty() {
                return Err(ApiError::unprocessable(
                    "secrets_required",
                    format!(
                        "changing {} changes where the secrets go or how they are protected; supply {} again in the same request",
                        moved.join(", "),
                        unsupplied.join(", ")
                    ),
                )
                .about(unsupplied.iter().map(|n| format!("fields.{n}"))));
            }
            // Tokens a provider issued for the old destination mean nothing at the new one.
            let held: Vec<String> = secret_names
                .iter()
                .filter(|n| !new_secrets.0.contains_key(*n))
                .filter(|n| self.spec(n).is_some_and(|s| s.held_by_service))
                .cloned()
                .collect();
            for name in held {
                secret_names.remove(&name);
                changed.insert(name);
                dropped_tokens = true;
            }
        }
        Ok(FieldChanges {
            public,
            new_secrets,
            secret_names,
            changed,
            dropped_tokens,
        })
    }
}
