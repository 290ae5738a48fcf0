//! TC3-HMAC-SHA256 against every vector in `tests/fixtures/tc3-vectors.json`,
//! step by step: canonical headers, canonical request, string to sign, the
//! HMAC key chain, the signature and the `Authorization` header.
#![cfg(feature = "tencent-cls")]

use logexport::tencent_cls::sign::{self, SignableRequest, SigningParams};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct Fixture {
    vectors: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
struct Vector {
    name: String,
    official: bool,
    secret_id: Option<String>,
    secret_key: Option<String>,
    method: String,
    host: String,
    path: String,
    query: String,
    service: String,
    action: String,
    timestamp: i64,
    date: String,
    content_type: String,
    payload: String,
    canonical_headers: String,
    signed_headers: String,
    expected: BTreeMap<String, String>,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tc3-vectors.json"
    ))
    .expect("fixture is committed");
    serde_json::from_str(&text).expect("fixture parses")
}

fn run(v: &Vector) -> sign::SigningOutput {
    let headers = [
        ("Content-Type", v.content_type.as_str()),
        ("X-TC-Action", v.action.as_str()),
    ];
    let signed: Vec<&str> = v.signed_headers.split(';').collect();
    let request = SignableRequest {
        method: &v.method,
        host: &v.host,
        path: &v.path,
        query: &v.query,
        headers: &headers,
        body: v.payload.as_bytes(),
    };
    let params = SigningParams {
        secret_id: v.secret_id.as_deref().unwrap_or("AKID-masked"),
        // Masked keys: only the key-independent values are compared.
        secret_key: v.secret_key.as_deref().unwrap_or("masked"),
        token: None,
        service: &v.service,
        timestamp: v.timestamp,
        signed_headers: &signed,
    };
    sign::sign(&request, &params).unwrap_or_else(|e| panic!("{}: {e}", v.name))
}

#[test]
fn every_vector_reproduces_every_intermediate_value() {
    let fixture = fixture();
    assert_eq!(fixture.vectors.len(), 4, "all vectors are in the fixture");
    let mut checked = 0;
    for v in &fixture.vectors {
        let out = run(v);
        let i = &out.intermediate;
        assert_eq!(i.canonical_headers, v.canonical_headers, "{}", v.name);
        assert_eq!(i.signed_headers, v.signed_headers, "{}", v.name);
        assert_eq!(i.date, v.date, "{}", v.name);
        assert_eq!(
            i.credential_scope,
            format!("{}/{}/tc3_request", v.date, v.service),
            "{}",
            v.name
        );
        let mut compare = |key: &str, got: &str| {
            if let Some(want) = v.expected.get(key) {
                assert_eq!(got, want, "{}: {key}", v.name);
                checked += 1;
            }
        };
        compare("hashed_request_payload", &i.hashed_request_payload);
        compare("canonical_request", &i.canonical_request);
        compare("hashed_canonical_request", &i.hashed_canonical_request);
        compare("string_to_sign", &i.string_to_sign);
        if let Some(key) = &v.secret_key {
            let k = sign::signing_key(key, &i.date, &v.service);
            compare("secret_date", &hex::encode(k.secret_date));
            compare("secret_service", &hex::encode(k.secret_service));
            compare("secret_signing", &hex::encode(k.secret_signing));
            compare("signature", &i.signature);
            compare("authorization", &i.authorization);
            // The headers to add carry exactly these values.
            assert_eq!(out.headers[0], ("Authorization", i.authorization.clone()));
            assert_eq!(out.headers[1], ("X-TC-Timestamp", v.timestamp.to_string()));
            assert_eq!(out.headers.len(), 2, "no token for long-term keys");
        }
    }
    // Four key-independent values per vector, and five key-dependent ones
    // for the three vectors whose key is known.
    assert_eq!(checked, 4 * 4 + 3 * 5, "every published value was compared");
}

#[test]
fn both_signed_header_variants_are_covered() {
    let fixture = fixture();
    let variants: Vec<&str> = fixture
        .vectors
        .iter()
        .map(|v| v.signed_headers.as_str())
        .collect();
    assert!(variants.contains(&"content-type;host"));
    assert!(variants.contains(&"content-type;host;x-tc-action"));
    let with_action = fixture
        .vectors
        .iter()
        .find(|v| v.signed_headers.ends_with("x-tc-action"))
        .unwrap();
    // The action's value is lowercased in the canonical headers.
    assert!(run(with_action)
        .intermediate
        .canonical_headers
        .ends_with("x-tc-action:describeinstances\n"));
    assert!(fixture.vectors.iter().filter(|v| v.official).count() >= 3);
}

#[test]
fn a_different_key_or_body_gives_a_different_signature() {
    let mut wrong = fixture()
        .vectors
        .into_iter()
        .find(|v| v.service == "cls")
        .expect("the CLS vector");
    let good = run(&wrong).intermediate.signature;
    let key = wrong.secret_key.replace("not-the-key".into());
    assert_ne!(run(&wrong).intermediate.signature, good);
    wrong.secret_key = key;
    assert_eq!(run(&wrong).intermediate.signature, good);
    wrong.payload.push(' ');
    assert_ne!(run(&wrong).intermediate.signature, good);
}

/// The committed facts agree with the upstream file they were taken from,
/// when it is present beside the checkout (`../shared`, as in CI; not in a
/// crates.io build).
#[test]
fn fixture_agrees_with_upstream_vectors_when_present() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/upstream/tencent-cls/tc3-test-vectors.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("{} not present; comparison skipped", path.display());
        return;
    };
    let upstream: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ours = fixture();
    let theirs = upstream["vectors"].as_array().unwrap();
    assert_eq!(theirs.len(), ours.vectors.len());
    for (u, o) in theirs.iter().zip(&ours.vectors) {
        assert_eq!(u["name"], o.name.as_str());
        assert_eq!(u["payload"], o.payload.as_str());
        assert_eq!(u["timestamp"], o.timestamp);
        for (key, want) in &o.expected {
            let published = u["expected"].get(key).or_else(|| u["computed"].get(key));
            assert_eq!(
                published.and_then(|p| p.as_str()),
                Some(want.as_str()),
                "{}: {key}",
                o.name
            );
        }
    }
}
