//! Atlas service-account tokens do not pile up: every CLI run revokes the
//! token it minted, whether the command succeeded or failed; the token cap
//! is an error that names it; the library scopes a token to a block of work.

mod support;

use futures::TryStreamExt;
use logexport::sandbox::atlas::{self as atlas_sb, AtlasSandbox};
use logexport::sandbox::prelude::*;
use logexport::ErrorKind;
use std::process::Output;
use support::{logexport, text, tokio_rt};

/// A project id the emulator does not know: the run authenticates (mints a
/// token), then fails with 404.
const UNKNOWN_PROJECT: &str = "0123456789abcdef01234567";

fn processes(sb: &AtlasSandbox, project: &str) -> Output {
    logexport(&["-q", "atlas", "processes", "--project", project])
        .env("MONGODB_ATLAS_BASE_URL", sb.endpoint())
        .env("MONGODB_ATLAS_CLIENT_ID", atlas_sb::DEMO_CLIENT_ID)
        .env("MONGODB_ATLAS_CLIENT_SECRET", atlas_sb::DEMO_CLIENT_SECRET)
        .output()
        .unwrap()
}

#[test]
fn one_hundred_twenty_runs_leave_no_live_token() {
    let rt = tokio_rt();
    // Atlas's own cap: 100 live tokens per service account.
    let sb = rt.block_on(AtlasSandbox::start()).unwrap();
    let runs = 120;
    let mut failed = 0;
    for i in 0..runs {
        // Every fourth run fails after minting its token.
        let bad = i % 4 == 3;
        let out = processes(
            &sb,
            if bad {
                UNKNOWN_PROJECT
            } else {
                atlas_sb::DEMO_PROJECT_ID
            },
        );
        let stderr = text(&out.stderr);
        if bad {
            assert_eq!(out.status.code(), Some(1), "run {i}: {stderr}");
            assert!(!stderr.contains("live tokens"), "run {i}: {stderr}");
            failed += 1;
        } else {
            assert!(out.status.success(), "run {i}: {stderr}");
            assert!(!text(&out.stdout).is_empty(), "run {i} listed nothing");
        }
        assert_eq!(sb.live_tokens(), 0, "after run {i}");
    }
    assert_eq!(sb.token_requests(), runs);
    assert_eq!(sb.requests().count_path("/api/oauth/revoke"), runs);
    eprintln!(
        "atlas tokens: {runs} CLI runs ({failed} failing after auth), {} tokens minted, {} live afterwards",
        sb.token_requests(),
        sb.live_tokens()
    );
}

#[test]
fn the_token_cap_is_an_error_that_names_it() {
    let rt = tokio_rt();
    let sb = rt
        .block_on(AtlasSandbox::builder().max_live_tokens(2).start())
        .unwrap();
    // Two other jobs hold their tokens.
    let holders: Vec<_> = (0..2)
        .map(|_| sb.service_account_client_builder().build().unwrap())
        .collect();
    for c in &holders {
        rt.block_on(async {
            c.processes(atlas_sb::DEMO_PROJECT_ID)
                .unwrap()
                .try_collect::<Vec<_>>()
                .await
        })
        .unwrap();
    }
    let out = processes(&sb, atlas_sb::DEMO_PROJECT_ID);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("403") && stderr.contains("at most 100 live tokens per service account"),
        "{stderr}"
    );
    assert!(!stderr.contains(atlas_sb::DEMO_CLIENT_SECRET), "{stderr}");
    // Nothing minted, nothing to revoke; the holders' tokens are untouched.
    assert_eq!(sb.live_tokens(), 2);
}

#[tokio::test]
async fn a_scoped_token_is_revoked_whether_the_work_succeeds_or_fails() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.service_account_client_builder().build().unwrap();
    let n = client
        .with_scoped_token(|c| async move {
            let all: Vec<_> = c
                .processes(atlas_sb::DEMO_PROJECT_ID)?
                .try_collect()
                .await?;
            Ok(all.len())
        })
        .await
        .unwrap();
    assert!(n > 0);
    assert_eq!((sb.token_requests(), sb.live_tokens()), (1, 0));

    let err = client
        .with_scoped_token(|c| async move {
            c.processes(UNKNOWN_PROJECT)?.try_collect::<Vec<_>>().await
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!((sb.token_requests(), sb.live_tokens()), (2, 0));

    // A refused revocation after successful work is the error: the token
    // still counts against the cap.
    sb.faults().inject(
        "oauth_revoke",
        logexport::sandbox::Fault::Error {
            status: 500,
            code: "UNEXPECTED_ERROR".into(),
            retry_after: None,
        },
        1,
    );
    let err = client
        .with_scoped_token(|c| async move {
            c.processes(atlas_sb::DEMO_PROJECT_ID)?
                .try_collect::<Vec<_>>()
                .await
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert_eq!(sb.live_tokens(), 1);
}
