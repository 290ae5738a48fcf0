//! The one rule for reading a setting from the environment: the value is
//! trimmed, and a blank value means unset. Shells and CI systems export
//! empty variables (`FOO=` in a `.env` file, an unset secret in a workflow),
//! and a trailing newline comes with values pasted from files; neither should
//! count as a setting, or shadow the next source (another name, a profile).
//!
//! Always built, below the vendors and `profile`, so that every reader of
//! the environment shares this one rule whatever features are on.

/// `v` trimmed; `None` if absent or blank.
pub(crate) fn trimmed(v: Option<String>) -> Option<String> {
    let v = v?;
    let t = v.trim();
    if t.is_empty() {
        None
    } else if t.len() == v.len() {
        // Already trimmed: keep the string rather than copy it.
        Some(v)
    } else {
        Some(t.to_string())
    }
}

/// Variable `name` through `lookup`, by [`trimmed`]'s rule.
pub(crate) fn var(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    trimmed(lookup(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_the_rest_is_trimmed() {
        let lookup = |k: &str| match k {
            "EMPTY" => Some(String::new()),
            "BLANK" => Some(" \t\n".to_string()),
            "PADDED" => Some("  value\n".to_string()),
            "PLAIN" => Some("value".to_string()),
            _ => None,
        };
        assert_eq!(var(&lookup, "UNSET"), None);
        assert_eq!(var(&lookup, "EMPTY"), None);
        assert_eq!(var(&lookup, "BLANK"), None);
        assert_eq!(var(&lookup, "PADDED").as_deref(), Some("value"));
        assert_eq!(var(&lookup, "PLAIN").as_deref(), Some("value"));
    }
}
