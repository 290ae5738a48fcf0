#![cfg(all(feature = "atlas", feature = "sandbox"))]
//! What the shared transport core makes visible through a vendor's public
//! client, against the emulators: warnings logged once per client, not once
//! per call.

mod common;

use logexport::atlas::{LogName, TimeRange};
use logexport::sandbox::atlas::{AtlasSandbox, DEMO_HOST, DEMO_PROJECT_ID};
use logexport::sandbox::prelude::*;
use logexport::sandbox::Fault;

#[tokio::test]
async fn a_deprecated_version_is_warned_about_once_per_client() {
    // The only test in this binary, so the process-wide capture sees its
    // events alone.
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
