//! `Error`'s `Display` and its `source()` chain never say the same thing
//! twice, as anyhow and eyre print them (`{e}: {source}: {source}…`).

use logexport::Error;

/// The chain as anyhow's `{:#}` walks it: the error, then every source.
fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut parts = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        parts.push(c.to_string());
        cause = c.source();
    }
    parts
}

fn assert_no_repeats(e: &Error) {
    let parts = chain(e);
    for (i, a) in parts.iter().enumerate() {
        for b in &parts[i + 1..] {
            assert!(
                !b.is_empty() && !a.contains(b.as_str()),
                "`{b}` is printed twice in {parts:?}"
            );
        }
    }
}

#[test]
fn io_errors_print_their_text_once() {
    let io = std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "no write access to /x",
    );
    let e = Error::from(io);
    assert!(e.to_string().contains("no write access to /x"), "{e}");
    assert_no_repeats(&e);
}

#[tokio::test]
async fn network_errors_print_their_text_once() {
    // A port that was free a moment ago: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = reqwest::Client::builder()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    let e = Error::from(err);
    assert!(e.to_string().to_lowercase().contains("connect"), "{e}");
    assert_no_repeats(&e);
}

#[test]
fn a_source_the_message_does_not_repeat_stays_reachable() {
    let io = std::io::Error::other("disk on fire");
    let e = Error::invalid_input("output", "cannot write there").with_source(io);
    let parts = chain(&e);
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[1], "disk on fire");
}
