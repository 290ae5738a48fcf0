//! Property tests of the decoders on arbitrary bytes: gzip and tar sniffing
//! and reading, raw gzip verification, ConductorOne event pages. Whatever
//! the input, the outcome is `Ok` or a typed `logexport::Error`, never a
//! panic or a hang, and valid text passes through byte for byte.

#[path = "common/rawserver.rs"]
#[allow(dead_code)]
mod rawserver;

use bytes::Bytes;
use futures::TryStreamExt;
use logexport::download::{self, ByteStream, DecodeOptions, Replacements};
use logexport::ErrorKind;
use proptest::prelude::*;
use std::io::Write;
use tokio::io::AsyncReadExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// `bytes` cut into chunks of `size` (at least 1), as a body.
fn body(bytes: &[u8], size: usize) -> ByteStream {
    let chunks: Vec<logexport::Result<Bytes>> = bytes
        .chunks(size.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

/// Decodes and reads everything, as bytes.
async fn decode_all(bytes: &[u8], chunk: usize, gzip_only: bool) -> logexport::Result<Vec<u8>> {
    let options = DecodeOptions::default().require_gzip(gzip_only);
    let (mut reader, _) =
        download::decode_with(body(bytes, chunk), options, &Replacements::new()).await?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await?;
    Ok(out)
}

/// The kinds a decoder may fail with on hostile bytes.
fn decode_kind(e: &logexport::Error) -> bool {
    e.kind() == ErrorKind::Decode
}

/// Flips one byte and maybe cuts the end: a damaged copy of `data`.
fn damage(mut data: Vec<u8>, at: usize, xor: u8, cut: usize) -> Vec<u8> {
    if !data.is_empty() {
        let i = at % data.len();
        data[i] ^= xor.max(1);
    }
    let keep = data.len().saturating_sub(cut);
    data.truncate(keep);
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_decode_or_fail_typed(data in proptest::collection::vec(any::<u8>(), 0..2048), chunk in 1usize..64, gzip_only: bool) {
        let rt = runtime();
        rt.block_on(async {
            match decode_all(&data, chunk, gzip_only).await {
                Ok(out) => {
                    // Whatever came out is text.
                    prop_assert!(std::str::from_utf8(&out).is_ok());
                    prop_assert!(!out.contains(&0));
                }
                Err(e) => prop_assert!(decode_kind(&e), "{e:?}"),
            }
            // Lines too.
            let lines = async {
                let (reader, _) = download::decode(body(&data, chunk)).await?;
                download::lines(reader).try_collect::<Vec<_>>().await
            }.await;
            if let Err(e) = lines {
                prop_assert!(decode_kind(&e), "{e:?}");
            }
            Ok(())
        })?;
    }

    #[test]
    fn text_passes_through_gzip_and_tar_byte_exact(text in "[^\u{0}]{0,600}", split in 1usize..40, chunk in 1usize..300) {
        let rt = runtime();
        rt.block_on(async {
            let bytes = text.as_bytes();
            prop_assert_eq!(decode_all(&gzip(bytes), chunk, true).await.unwrap(), bytes);
            // In a tar, each file ends in a newline.
            let cut = (split * 7).min(bytes.len());
            let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let (a, b) = bytes.split_at(cut);
            let files = vec![("a.log".to_string(), a.to_vec()), ("b.log".to_string(), b.to_vec())];
            let mut want = Vec::new();
            for (_, f) in &files {
                want.extend_from_slice(f);
                if !f.is_empty() && !f.ends_with(b"\n") {
                    want.push(b'\n');
                }
            }
            let out = decode_all(&gzip(&tar(&files)), chunk, true).await.unwrap();
            prop_assert_eq!(out, want);
            Ok(())
        })?;
    }

    #[test]
    fn damaged_gzip_and_tar_gz_never_panic(
        text in "[a-z{}\":,\n]{0,3000}",
        at: usize, xor: u8, cut in 0usize..40, chunk in 1usize..500, as_tar: bool,
    ) {
        let rt = runtime();
        rt.block_on(async {
            let inner = if as_tar {
                tar(&[("x.json".to_string(), text.clone().into_bytes())])
            } else {
                text.clone().into_bytes()
            };
            let bad = damage(gzip(&inner), at, xor, cut);
            if let Err(e) = decode_all(&bad, chunk, true).await {
                prop_assert!(decode_kind(&e), "{e:?}");
            }
            // Raw verification: Ok means the file landed whole, an error leaves nothing.
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("x.gz");
            match download::write_raw(&dest, body(&bad, chunk), true).await {
                Ok(n) => prop_assert_eq!(std::fs::read(&dest).unwrap().len() as u64, n),
                Err(e) => {
                    prop_assert!(decode_kind(&e), "{e:?}");
                    prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
                }
            }
            Ok(())
        })?;
    }

    #[test]
    fn arbitrary_tar_bytes_never_panic(mut block in proptest::collection::vec(any::<u8>(), 512..1600), size in 0u64..4096) {
        // A header that sniffs as tar, with arbitrary fields after it.
        block[257..263].copy_from_slice(b"ustar\0");
        block[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        let rt = runtime();
        rt.block_on(async {
            if let Err(e) = decode_all(&gzip(&block), 97, true).await {
                prop_assert!(decode_kind(&e), "{e:?}");
            }
            Ok(())
        })?;
    }
}

/// ConductorOne event pages, through the client.
#[cfg(feature = "conductorone")]
mod c1 {
    use super::*;
    use serde_json::Value;

    /// What a page should stream, worked out without the library: invalid
    /// UTF-8 replaced (one U+FFFD per bad sequence, the crate's text policy),
    /// then the whole page parsed by serde_json. `Some(Ok(events))` for a
    /// page of objects, `Some(Err(()))` for a page that must fail, `None`
    /// where this oracle cannot tell (a page that asks for more pages, or
    /// one with `\u` escapes, which the library may repair).
    fn oracle(page: &[u8]) -> Option<Result<Vec<Value>, ()>> {
        let text = String::from_utf8_lossy(page);
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            return if text.contains("\\u") {
                None
            } else {
                Some(Err(()))
            };
        };
        let Value::Object(page) = value else {
            return Some(Err(()));
        };
        match page.get("nextPageToken") {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) if t.is_empty() => {}
            Some(Value::String(_)) => return None,
            Some(_) => return Some(Err(())),
        }
        match page.get("list") {
            None | Some(Value::Null) => Some(Ok(Vec::new())),
            Some(Value::Array(events)) if events.iter().all(Value::is_object) => {
                Some(Ok(events.clone()))
            }
            Some(_) => Some(Err(())),
        }
    }

    /// A page of one event around `msg`: compact, or pretty-printed with
    /// line breaks (LF or CRLF) between the tokens inside the event too.
    fn event_page(msg: &[u8], pretty: bool, crlf: bool) -> Vec<u8> {
        let msg: Vec<u8> = msg
            .iter()
            .copied()
            .filter(|b| *b != b'"' && *b != b'\\' && *b >= 0x20)
            .collect();
        let nl = if crlf { "\r\n" } else { "\n" };
        let (open, close) = if pretty {
            (
                format!("{{{nl}  \"list\": [{nl}    {{{nl}      \"metadata\": {{{nl}        \"uid\": \"u1\"{nl}      }},{nl}      \"n\": [{nl}        1,{nl}        {{ \"x\": null }}{nl}      ],{nl}      \"msg\": \""),
                format!("\"{nl}    }}{nl}  ],{nl}  \"nextPageToken\": \"\"{nl}}}{nl}"),
            )
        } else {
            (
                "{\"list\":[{\"metadata\":{\"uid\":\"u1\"},\"n\":[1,{\"x\":null}],\"msg\":\""
                    .to_string(),
                "\"}],\"nextPageToken\":\"\"}".to_string(),
            )
        };
        let mut p = open.into_bytes();
        p.extend(msg);
        p.extend_from_slice(close.as_bytes());
        p
    }

    proptest! {
        // Each case is a real round trip through a loopback server.
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn c1_pages_of_arbitrary_bytes_never_panic(
            prefix in proptest::collection::vec(any::<u8>(), 0..64),
            msg in proptest::collection::vec(any::<u8>(), 0..64),
            wrap: bool,
            pretty: bool,
            crlf: bool,
        ) {
            let rt = runtime();
            rt.block_on(async {
                // Arbitrary bytes inside an event, or as the whole page.
                let page = if wrap {
                    event_page(&msg, pretty, crlf)
                } else {
                    prefix.clone()
                };
                let want = oracle(&page);
                if wrap {
                    prop_assert!(matches!(&want, Some(Ok(e)) if e.len() == 1), "{want:?}");
                }
                let server = rawserver::RawServer::start(move |_| {
                    rawserver::RawResponse::ok("application/json", page.clone())
                })
                .await;
                let client = logexport::conductorone::Client::builder()
                    .endpoint(server.url())
                    .access_token("t")
                    .retry_policy(logexport::RetryPolicy::default().with_max_attempts(1))
                    .build()
                    .unwrap();
                let got: logexport::Result<Vec<Value>> =
                    client.events().stream().unwrap().try_collect().await;
                let raw: logexport::Result<Vec<logexport::conductorone::RawEvent>> =
                    client.events().stream_raw().unwrap().try_collect().await;
                // Each stream against the oracle: the values it parsed, and
                // the text stream's events, each one line that serde_json
                // parses to the oracle's value.
                match (&want, &got) {
                    (Some(Ok(want)), Ok(values)) => prop_assert_eq!(values, want),
                    (Some(Err(())), Err(e)) | (None, Err(e)) => {
                        prop_assert!(e.kind() == ErrorKind::Decode, "{e:?}")
                    }
                    (None, Ok(_)) => {}
                    _ => prop_assert!(false, "stream: {got:?}, oracle: {want:?}"),
                }
                match (&want, &raw) {
                    (Some(Ok(want)), Ok(raw)) => {
                        prop_assert_eq!(raw.len(), want.len());
                        for (r, w) in raw.iter().zip(want) {
                            prop_assert!(!r.as_str().contains(['\n', '\r']), "{r:?}");
                            let parsed: Value = serde_json::from_str(r.as_str()).unwrap();
                            prop_assert_eq!(&parsed, w);
                        }
                    }
                    (Some(Err(())), Err(e)) | (None, Err(e)) => {
                        prop_assert!(e.kind() == ErrorKind::Decode, "{e:?}")
                    }
                    (None, Ok(_)) => {}
                    _ => prop_assert!(false, "stream_raw: {raw:?}, oracle: {want:?}"),
                }
                match got {
                    Ok(events) => {
                        if wrap {
                            prop_assert_eq!(events.len(), 1, "a page with bad text is kept");
                        }
                    }
                    Err(e) => {
                        prop_assert!(!wrap, "a wrapped event never fails: {e:?}");
                        prop_assert!(e.kind() == ErrorKind::Decode, "{e:?}");
                    }
                }
                Ok(())
            })?;
        }
    }
}
