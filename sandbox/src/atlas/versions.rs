//! Which resource versions each Atlas operation accepts, read from the
//! committed spec (`specs/atlas.yaml`, its `x-logexport-accept` and
//! `x-logexport-versions` extensions), not from the client's table, so a
//! client that sends a version the spec does not list is refused.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The spec the emulator serves, as committed.
const SPEC: &str = include_str!("../../../specs/atlas.yaml");

/// One operation's versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    /// The media type the spec names as the operation's default.
    pub default: String,
    /// Every `(media type, sunset date)` the spec lists.
    pub listed: Vec<(String, Option<String>)>,
}

/// The table, by operation id, parsed once.
pub fn table() -> &'static HashMap<String, Versions> {
    static TABLE: OnceLock<HashMap<String, Versions>> = OnceLock::new();
    TABLE.get_or_init(|| parse(SPEC).expect("specs/atlas.yaml carries the version extensions"))
}

/// The versions of `operation`, if the spec has it.
pub fn of(operation: &str) -> Option<&'static Versions> {
    table().get(operation)
}

/// The date part of `application/vnd.atlas.<date>+<suffix>`.
pub fn date_of(media_type: &str) -> Option<&str> {
    let rest = media_type.strip_prefix("application/vnd.atlas.")?;
    Some(rest.split('+').next().unwrap_or(rest))
}

fn parse(text: &str) -> Result<HashMap<String, Versions>, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let paths = doc
        .get("paths")
        .and_then(|p| p.as_mapping())
        .ok_or("the spec has no paths")?;
    let mut out = HashMap::new();
    for item in paths.values() {
        let Some(item) = item.as_mapping() else {
            continue;
        };
        for op in item.values() {
            let Some(id) = op.get("operationId").and_then(|v| v.as_str()) else {
                continue;
            };
            let default = op
                .get("x-logexport-accept")
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("{id} lacks x-logexport-accept"))?;
            let listed = op
                .get("x-logexport-versions")
                .and_then(|v| v.as_sequence())
                .ok_or_else(|| format!("{id} lacks x-logexport-versions"))?
                .iter()
                .map(|v| {
                    let media = v
                        .get("media_type")
                        .and_then(|m| m.as_str())
                        .ok_or_else(|| format!("{id}: a version lacks media_type"))?;
                    let sunset = v.get("sunset").and_then(|s| s.as_str()).map(str::to_string);
                    Ok((media.to_string(), sunset))
                })
                .collect::<Result<Vec<_>, String>>()?;
            out.insert(
                id.to_string(),
                Versions {
                    default: default.to_string(),
                    listed,
                },
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_lists_every_served_operation_with_its_default() {
        let t = table();
        assert!(t.len() >= 8, "{}", t.len());
        for (id, v) in t {
            assert!(
                v.listed.iter().any(|(m, _)| *m == v.default),
                "{id}: default not among listed versions"
            );
            assert!(v.listed.iter().all(|(m, _)| date_of(m).is_some()), "{id}");
        }
        let logs = of("download_cluster_log").expect("cluster logs");
        assert_eq!(logs.default, "application/vnd.atlas.2023-02-01+gzip");
        assert!(logs.listed.contains(&(
            "application/vnd.atlas.2023-01-01+gzip".into(),
            Some("2027-07-01".into())
        )));
    }

    #[test]
    fn a_spec_without_the_extensions_is_refused() {
        let bad = "paths:\n  /x:\n    get:\n      operationId: x\n";
        assert!(parse(bad).is_err());
    }
}
