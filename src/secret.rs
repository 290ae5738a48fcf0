//! A string that never prints, is wiped from memory when dropped, and
//! compares in constant time.
//!
//! Every credential in the crate is held as a [`SecretString`], so deriving
//! `Debug` on a config struct cannot leak a key into logs or panics.

use std::fmt;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret value: `Debug` shows `"***"` and there is no `Display`.
///
/// Clones share one buffer, which is zeroed when the last clone is dropped.
/// `==` takes the same time wherever two equal-length secrets differ, so
/// comparing a presented token against a stored one leaks no prefix.
///
/// ```
/// use logexport::SecretString;
///
/// let key = SecretString::new("hunter2");
/// assert_eq!(format!("{key:?}"), "SecretString(***)");
/// assert_eq!(key.expose(), "hunter2");
/// assert_eq!(key, SecretString::new("hunter2"));
/// assert_ne!(key, SecretString::new("hunter3"));
/// ```
#[derive(Clone)]
pub struct SecretString(Arc<Zeroizing<String>>);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(Arc::new(Zeroizing::new(value.into())))
    }

    /// The secret itself. Call sites are easy to audit with `grep expose`.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        self.expose()
            .as_bytes()
            .ct_eq(other.expose().as_bytes())
            .into()
    }
}

impl Eq for SecretString {}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_is_by_value_and_length() {
        let a = SecretString::new("token-a");
        assert_eq!(a, a.clone());
        assert_eq!(a, SecretString::from("token-a".to_string()));
        assert_ne!(a, SecretString::new("token-b"));
        assert_ne!(a, SecretString::new("token-a2"));
        assert_ne!(a, SecretString::new(""));
        assert_eq!(SecretString::new(""), SecretString::new(""));
    }

    #[test]
    fn clones_share_one_buffer() {
        let a = SecretString::new("shared");
        let b = a.clone();
        assert!(std::ptr::eq(a.expose().as_ptr(), b.expose().as_ptr()));
    }
}
