//! The crate's text policy as the CLI reports it: a log line with invalid
//! UTF-8 is written with U+FFFD, never dropped, and the `--json` summary
//! counts the replacements.

#[path = "../../tests/common/hostile.rs"]
#[allow(dead_code)]
mod hostile;
mod support;

use std::io::Write;
use support::{last_json, logexport, text, tokio_rt};

#[test]
fn invalid_utf8_is_replaced_and_counted_in_the_summary() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{\"a\":\"ok\"}\n{\"a\":\"bad \xff byte\"}\n")
        .unwrap();
    let body = gz.finish().unwrap();
    let rt = tokio_rt();
    let server = rt.block_on(hostile::Hostile::start(move |seen, _| {
        if seen.header("authorization").is_none() {
            return hostile::Reply::atlas_digest_challenge();
        }
        hostile::Reply::Send {
            status: 200,
            headers: vec![(
                "content-type".into(),
                "application/vnd.atlas.2023-02-01+gzip".into(),
            )],
            body: body.clone(),
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("host.ndjson");
    let url = server.url();
    let output = logexport(&[
        "--endpoint",
        &url,
        "--json",
        "-o",
        out.to_str().unwrap(),
        "atlas",
        "cluster-logs",
        "--project",
        "64b7f3a2c1d0e9f8a7b6c5d4",
        "--host",
        "h0.example.net",
        "--log",
        "mongodb",
        "--since",
        "1h",
    ])
    .env("MONGODB_ATLAS_PUBLIC_API_KEY", "textpub")
    .env("MONGODB_ATLAS_PRIVATE_API_KEY", "text-private-key-0123")
    .output()
    .unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, "{\"a\":\"ok\"}\n{\"a\":\"bad \u{fffd} byte\"}\n");
    let summary = last_json(&output.stderr);
    assert_eq!(summary["replaced"], 1, "{stderr}");
}
