//! Property tests: the redactor here, and the strategy and check that each
//! vendor's error module runs its decoders through: arbitrary input, never
//! a panic, always a typed error naming the vendor.

use crate::hooks::VendorErrors;
use proptest::prelude::*;

/// Bytes that are sometimes JSON in a vendor's error dialect, sometimes
/// broken JSON, sometimes noise.
pub(crate) fn bodies() -> impl Strategy<Value = Vec<u8>> {
    // The keys of every vendor's error dialect.
    const KEYS: &str = "code message details error errorCode detail parameters \
                        error_description Response Error Code RequestId";
    let field = proptest::sample::select(KEYS.split_whitespace().collect::<Vec<_>>())
        .prop_map(|key| format!("\"{key}\""));
    let value = prop_oneof![
        Just("null".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        "[ -~]{0,40}".prop_map(|s| serde_json::Value::String(s).to_string()),
    ];
    let object = proptest::collection::vec((field, value), 0..6).prop_map(|pairs| {
        let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("{{{}}}", inner.join(",")).into_bytes()
    });
    let nested = object.clone().prop_map(|o| {
        let o = String::from_utf8(o).unwrap();
        format!(r#"{{"Response":{{"Error":{o},"RequestId":"r"}}}}"#).into_bytes()
    });
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        object,
        nested,
    ]
}

pub(crate) fn check<V: VendorErrors>(status: u16, body: &[u8]) {
    let e = V::from_parts(status, &http::HeaderMap::new(), body);
    assert_eq!(e.vendor(), Some(V::VENDOR), "{e:?}");
    let _ = e.to_string();
    let json_err = serde_json::from_slice::<u8>(b"x").unwrap_err();
    let e = V::from_unparsed_success(body, json_err);
    assert_eq!(e.vendor(), Some(V::VENDOR), "{e:?}");
    let _ = e.to_string();
}

/// The property every vendor's reading of errors has: no status and body,
/// however hostile, makes it panic or lose the vendor; `extra` (a parser of
/// the vendor's own) is run on the body too.
macro_rules! error_bodies_never_panic {
    ($vendor:ty $(, $extra:path)?) => {
        proptest::proptest! {
            #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

            #[test]
            fn error_bodies_never_panic(
                status in 100u16..600,
                body in crate::http::proptests::bodies(),
            ) {
                crate::http::proptests::check::<$vendor>(status, &body);
                $(let _ = $extra(&body);)?
            }
        }
    };
}
pub(crate) use error_bodies_never_panic;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn redaction_leaves_no_secret(
        secret in "[A-Z0-9]{6,24}",
        before in "[ -~]{0,40}",
        after in "[ -~]{0,40}",
    ) {
        let r = super::redact::Redactor::default();
        r.add(&secret);
        let text = format!("{before}{secret}{after}");
        let out = r.redact(&text);
        prop_assert!(!out.contains(&secret), "{}", out);
        let b64 = super::redact::tests_base64(secret.as_bytes());
        let text = format!("{before}Basic {b64}{after}");
        prop_assert!(!r.redact(&text).contains(&b64));
    }
}
