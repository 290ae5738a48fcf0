//! What the shared core makes visible through the public API, against
//! loopback: transport errors that name where they went but not the query,
//! warnings logged once per client rather than once per call.

#[cfg(all(feature = "atlas", feature = "sandbox"))]
mod common;

use logexport::{Error, ErrorKind};

#[tokio::test]
async fn transport_errors_name_the_cause_and_the_origin_not_the_query() {
    // Port 9 (discard) is closed on loopback.
    let e = reqwest::Client::new()
        .get("http://127.0.0.1:9/x?sig=SECRET")
        .send()
        .await
        .unwrap_err();
    let e = Error::from(e);
    let text = e.to_string();
    assert!(text.contains("127.0.0.1:9"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
    assert_eq!(e.kind(), ErrorKind::Network);
}

#[cfg(all(feature = "atlas", feature = "sandbox"))]
#[tokio::test]
async fn a_deprecated_version_is_warned_about_once_per_client() {
    use logexport::atlas::{LogName, TimeRange};
    use logexport::sandbox::atlas::{AtlasSandbox, DEMO_HOST, DEMO_PROJECT_ID};
    use logexport::sandbox::prelude::*;
    use logexport::sandbox::Fault;

    // The only test in this binary that logs, so the process-wide capture
    // sees its events alone.
    let capture = common::capture::global();
    let sb = AtlasSandbox::start().await.unwrap();
    // From the spec: 2023-01-01 of the cluster log sunsets on 2027-07-01.
    let client = sb
        .client_builder()
        .version("download_cluster_log", "2023-01-01")
        .build()
        .unwrap();
    // An answer without the headers must not use up the warning.
    sb.faults()
        .inject("download_cluster_log", Fault::error(404, "NOT_FOUND"), 1);
    let window = TimeRange::from_unix_secs(1_772_323_200, 1_772_326_800).unwrap();
    for _ in 0..4 {
        let _ = client
            .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window)
            .await;
    }
    let text = capture.text();
    let warnings: Vec<_> = text
        .lines()
        .filter(|l| l.contains("pin a newer one before the sunset"))
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        warnings[0].contains("Thu, 01 Jul 2027") && warnings[0].contains("download_cluster_log"),
        "{text}"
    );
}
