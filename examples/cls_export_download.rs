//! Downloads one CLS export to an NDJSON file through the library's export
//! path (DescribeExports, the pre-signed download, tar.gz → NDJSON), as
//! `benches/peer/run.sh` times it beside the Python peer.
//!
//! ```text
//! cargo run --release --example cls_export_download -- ENDPOINT TOPIC_ID EXPORT_ID OUT
//! ```
//!
//! `ENDPOINT` is a CLS API (a loopback stand-in in the bench); the
//! credentials are placeholders, which such a stand-in does not check.

use logexport::tencent_cls::{Client, Credentials, ExportOptions, SaveMode};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, topic, export, out] = args.as_slice() else {
        return Err("usage: cls_export_download ENDPOINT TOPIC_ID EXPORT_ID OUT".into());
    };
    let client = Client::builder()
        .endpoint(endpoint.as_str())
        .credentials(Credentials::new("AKIDBENCHEXAMPLE", "bench-secret"))
        .region("ap-guangzhou")
        .build()?;
    let options = ExportOptions::default()
        .poll_interval(Duration::from_millis(10), Duration::from_millis(10));
    let summary = client
        .resume_export(topic.as_str(), export.as_str(), options)
        .save(out, SaveMode::Decoded)
        .await?;
    eprintln!("{} records", summary.records.unwrap_or(0));
    Ok(())
}
