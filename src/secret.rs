//! A string that never prints.
//!
//! Every credential in the crate is held as a [`SecretString`], so deriving
//! `Debug` on a config struct cannot leak a key into logs or panics.

use std::fmt;
use std::sync::Arc;

/// A secret value: `Debug` shows `"***"` and there is no `Display`.
///
/// ```
/// use logexport::SecretString;
///
/// let key = SecretString::new("hunter2");
/// assert_eq!(format!("{key:?}"), "SecretString(***)");
/// assert_eq!(key.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Arc<str>);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(Arc::from(value.into()))
    }

    /// The secret itself. Call sites are easy to audit with `grep expose`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString::new(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString::new(s)
    }
}
