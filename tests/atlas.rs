#![cfg(all(feature = "atlas", feature = "sandbox"))]
//! Atlas client against the Atlas sandbox: authentication, versions,
//! retries, input checks and secrets.

mod common;

use futures::TryStreamExt;
use logexport::atlas::{
    AccessHistoryQuery, Client, EventQuery, LogName, StreamLogOptions, TimeRange,
};
use logexport::sandbox::atlas::{
    AtlasSandbox, VersionStatus, DEMO_CLIENT_SECRET, DEMO_CLUSTER, DEMO_HOST, DEMO_HOSTS,
    DEMO_ORG_ID, DEMO_PRIVATE_KEY, DEMO_PROJECT_ID, DEMO_PUBLIC_KEY, DEMO_WORKSPACE,
};
use logexport::sandbox::prelude::*;
use logexport::sandbox::Fault;
use logexport::{ErrorKind, RetryPolicy};
use std::time::{Duration, Instant};

fn window() -> TimeRange {
    TimeRange::from_unix_secs(1_772_323_200, 1_772_326_800).unwrap() // 2026-03-01, one hour
}

async fn host_count(client: &Client) -> logexport::Result<usize> {
    Ok(client
        .processes(DEMO_PROJECT_ID)?
        .try_collect::<Vec<_>>()
        .await?
        .len())
}

fn statuses(sb: &AtlasSandbox) -> Vec<u16> {
    sb.requests().entries().iter().map(|r| r.status).collect()
}

// ------------------------------------------------------------------ auth

#[tokio::test]
async fn digest_api_key_end_to_end() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.client_builder().build().unwrap();
    assert_eq!(client.auth_scheme(), "digest");
    let hosts: Vec<String> = client
        .processes(DEMO_PROJECT_ID)
        .unwrap()
        .map_ok(|p| p.hostname)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(hosts, DEMO_HOSTS);
    assert_eq!(statuses(&sb), [401, 200], "one challenge, then the answer");
}

#[tokio::test]
async fn service_account_end_to_end() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.service_account_client_builder().build().unwrap();
    assert_eq!(client.auth_scheme(), "service-account");
    assert_eq!(host_count(&client).await.unwrap(), 3);
    assert_eq!(host_count(&client.clone()).await.unwrap(), 3);
    assert_eq!(sb.token_requests(), 1, "clones share the token");
    assert_eq!(sb.requests().count_path("/api/oauth/token"), 1);
}

#[tokio::test]
async fn wrong_api_key_is_an_auth_error() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb
        .client_builder()
        .api_key(DEMO_PUBLIC_KEY, "not-the-private-key")
        .build()
        .unwrap();
    let err = host_count(&client).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some("UNAUTHORIZED"));
    assert!(!err.is_retryable());
    // The challenge, then one answer that is refused: no loop.
    assert_eq!(statuses(&sb), [401, 401]);
    let unknown = sb.client_builder().api_key("nobody", "x").build().unwrap();
    assert_eq!(
        host_count(&unknown).await.unwrap_err().kind(),
        ErrorKind::Auth
    );
}

#[tokio::test]
async fn wrong_service_account_secret_is_an_auth_error() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb
        .service_account_client_builder()
        .service_account(logexport::sandbox::atlas::DEMO_CLIENT_ID, "mdb_sa_sk_wrong")
        .build()
        .unwrap();
    let err = host_count(&client).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.code(), Some("invalid_client"));
    // The API itself was never called without a token.
    assert_eq!(
        sb.requests()
            .count_path(&format!("/api/atlas/v2/groups/{DEMO_PROJECT_ID}/processes")),
        0
    );
}

#[tokio::test]
async fn digest_nonce_is_reused_across_calls_and_clones() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.client_builder().build().unwrap();
    for i in 0..10 {
        let c = if i % 2 == 0 {
            client.clone()
        } else {
            client.clone().clone()
        };
        assert_eq!(host_count(&c).await.unwrap(), 3);
    }
    assert_eq!(
        sb.requests().len(),
        11,
        "10 calls cost 11 round trips, not 20"
    );
    assert_eq!(statuses(&sb).iter().filter(|s| **s == 401).count(), 1);
}

#[tokio::test]
async fn concurrent_digest_calls_share_a_nonce_without_replays() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.client_builder().build().unwrap();
    host_count(&client).await.unwrap();
    sb.requests().clear();
    let all = futures::future::join_all((0..20).map(|_| host_count(&client))).await;
    assert!(all.iter().all(|r| *r.as_ref().unwrap() == 3));
    assert_eq!(
        sb.requests().len(),
        20,
        "every call used the cached nonce with its own count"
    );
}

#[tokio::test]
async fn stale_nonce_costs_one_rechallenge() {
    let sb = AtlasSandbox::builder()
        .nonce_lifetime(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let client = sb.client_builder().build().unwrap();
    host_count(&client).await.unwrap();
    sb.clock().advance(Duration::from_secs(61));
    host_count(&client).await.unwrap();
    host_count(&client).await.unwrap();
    // challenge+answer, stale+answer, answer
    assert_eq!(statuses(&sb), [401, 200, 401, 200, 200]);
}

#[tokio::test]
async fn token_is_fetched_once_for_50_concurrent_calls() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.service_account_client_builder().build().unwrap();
    let all = futures::future::join_all((0..50).map(|_| {
        let c = client.clone();
        async move { host_count(&c).await }
    }))
    .await;
    assert!(all.iter().all(|r| *r.as_ref().unwrap() == 3));
    assert_eq!(sb.token_requests(), 1);
    assert_eq!(sb.live_tokens(), 1);
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    // A 2 s token is replaced after half its life, not after it failed.
    let sb = AtlasSandbox::builder()
        .token_lifetime(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let client = sb.service_account_client_builder().build().unwrap();
    host_count(&client).await.unwrap();
    host_count(&client).await.unwrap();
    assert_eq!(sb.token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    host_count(&client).await.unwrap();
    assert_eq!(sb.token_requests(), 2);
    assert!(statuses(&sb).iter().all(|s| *s == 200));
}

#[tokio::test]
async fn revoked_token_is_rejected_and_replaced() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.service_account_client_builder().build().unwrap();
    host_count(&client).await.unwrap();
    let old = sb.issued_tokens().pop().unwrap();
    assert!(client.revoke_token().await.unwrap());
    assert!(
        !client.revoke_token().await.unwrap(),
        "nothing cached any more"
    );
    assert_eq!(sb.live_tokens(), 0);
    assert_eq!(sb.requests().count_path("/api/oauth/revoke"), 1);

    let raw = reqwest::Client::new()
        .get(format!(
            "{}/api/atlas/v2/groups/{DEMO_PROJECT_ID}/processes",
            sb.endpoint()
        ))
        .bearer_auth(old.expose())
        .header("accept", "application/vnd.atlas.2023-01-01+json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401, "the revoked token no longer works");

    host_count(&client).await.unwrap();
    assert_eq!(sb.token_requests(), 2, "the client fetched a new one");
}

#[tokio::test]
async fn token_endpoint_outage_is_retried() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb
        .service_account_client_builder()
        .retry_policy(RetryPolicy::default().with_initial_backoff(Duration::from_millis(10)))
        .build()
        .unwrap();
    sb.faults()
        .inject("oauth_token", Fault::error(503, "SERVICE_UNAVAILABLE"), 1);
    assert_eq!(host_count(&client).await.unwrap(), 3);
    assert_eq!(
        sb.token_requests(),
        1,
        "the failed attempt never reached the token logic"
    );
    assert_eq!(sb.requests().count_path("/api/oauth/token"), 2);
}

#[tokio::test]
async fn token_limit_is_403_auth() {
    let sb = AtlasSandbox::builder()
        .max_live_tokens(2)
        .start()
        .await
        .unwrap();
    for _ in 0..2 {
        host_count(&sb.service_account_client_builder().build().unwrap())
            .await
            .unwrap();
    }
    let err = host_count(&sb.service_account_client_builder().build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Auth, Some(403)),
        "{err}"
    );
}

// ---------------------------------------------------------------- versions

#[tokio::test]
async fn every_request_carries_the_versioned_accept() {
    let sb = AtlasSandbox::start().await.unwrap();
    // The sandbox answers 406 to anything else, so success proves it.
    let client = sb.client_builder().build().unwrap();
    host_count(&client).await.unwrap();
    client
        .stream_workspace(DEMO_PROJECT_ID, DEMO_WORKSPACE)
        .await
        .unwrap();
    let d = client
        .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window())
        .await
        .unwrap();
    assert_eq!(d.meta().media_type, "application/vnd.atlas.2023-02-01+gzip");
    assert_eq!(d.meta().deprecation, None);
    assert_eq!(
        client.media_type("list_processes"),
        Some("application/vnd.atlas.2023-01-01+json")
    );
}

#[tokio::test]
async fn unknown_version_is_406_version_error() {
    let sb = AtlasSandbox::start().await.unwrap();
    sb.set_version_status("list_processes", "2023-01-01", VersionStatus::Unknown);
    let err = host_count(&sb.client_builder().build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status(), err.code()),
        (ErrorKind::Version, Some(406), Some("INVALID_VERSION_DATE"))
    );
    assert!(err.to_string().contains("version"), "{err}");
}

#[tokio::test]
async fn sunset_version_is_410_version_error() {
    let sb = AtlasSandbox::start().await.unwrap();
    sb.set_version_status(
        "download_stream_audit_logs",
        "2023-02-01",
        VersionStatus::Gone,
    );
    let client = sb.client_builder().build().unwrap();
    let err = client
        .download_stream_audit_logs(
            DEMO_PROJECT_ID,
            DEMO_WORKSPACE,
            window(),
            StreamLogOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.status(), err.code()),
        (ErrorKind::Version, Some(410), Some("VERSION_GONE"))
    );

    // The spec's own sunset date, reached on the sandbox clock.
    let old = client
        .with_version("download_cluster_log", "2023-01-01")
        .unwrap();
    sb.clock().advance(Duration::from_secs(800 * 86_400));
    let err = old
        .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window())
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Version, Some("VERSION_GONE"))
    );
}

#[tokio::test]
async fn unknown_pinned_version_is_rejected_locally() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.client_builder().build().unwrap();
    let err = client
        .with_version("download_cluster_log", "2030-01-01")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("2023-02-01"),
        "lists the known versions: {err}"
    );
    let err = sb
        .client_builder()
        .version("list_org_events", "application/vnd.atlas.2023-01-01+gzip")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(sb.requests().is_empty());
}

#[tokio::test]
async fn deprecation_and_sunset_are_surfaced() {
    let sb = AtlasSandbox::start().await.unwrap();
    // From the spec: 2023-01-01 of the cluster log sunsets on 2027-07-01.
    let client = sb
        .client_builder()
        .version("download_cluster_log", "2023-01-01")
        .build()
        .unwrap();
    let d = client
        .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window())
        .await
        .unwrap();
    assert_eq!(d.meta().media_type, "application/vnd.atlas.2023-01-01+gzip");
    assert_eq!(
        d.meta().sunset.as_deref(),
        Some("Thu, 01 Jul 2027 00:00:00 GMT")
    );
    assert_eq!(
        d.meta().deprecation.as_deref(),
        Some("Wed, 01 Feb 2023 00:00:00 GMT")
    );
    // And from a sandbox override on the current version.
    let sunset = chrono::NaiveDate::from_ymd_opt(2099, 1, 31).unwrap();
    sb.set_version_status(
        "download_stream_audit_logs",
        "2023-02-01",
        VersionStatus::Deprecated { sunset },
    );
    let d = client
        .download_stream_audit_logs(
            DEMO_PROJECT_ID,
            DEMO_WORKSPACE,
            window(),
            StreamLogOptions::default(),
        )
        .await
        .unwrap();
    assert!(d.meta().deprecation.is_some());
    assert_eq!(
        d.meta().sunset.as_deref(),
        Some("Sat, 31 Jan 2099 00:00:00 GMT")
    );
}

// ----------------------------------------------------------------- retries

#[tokio::test]
async fn retry_after_is_honoured_end_to_end() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.client_builder().build().unwrap();
    host_count(&client).await.unwrap();
    sb.requests().clear();
    sb.faults().inject(
        "list_processes",
        Fault::Error {
            status: 429,
            code: "RATE_LIMITED".into(),
            retry_after: Some(1),
        },
        1,
    );
    let start = Instant::now();
    assert_eq!(host_count(&client).await.unwrap(), 3);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(statuses(&sb), [429, 200]);
}

#[tokio::test]
async fn sandbox_rate_limit_is_retried_and_exhaustion_is_typed() {
    let sb = AtlasSandbox::builder()
        .rate_limit(2, Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let client = sb.client_builder().build().unwrap();
    let start = Instant::now();
    for _ in 0..3 {
        host_count(&client).await.unwrap();
    }
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert!(statuses(&sb).contains(&429));

    let sb = AtlasSandbox::start().await.unwrap();
    let impatient = sb
        .client_builder()
        .retry_policy(RetryPolicy::default().with_max_attempts(2))
        .build()
        .unwrap();
    sb.faults().inject(
        "list_processes",
        Fault::Error {
            status: 429,
            code: "RATE_LIMITED_PER_USER".into(),
            retry_after: Some(0),
        },
        5,
    );
    let err = host_count(&impatient).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::RateLimited, Some("RATE_LIMITED_PER_USER"))
    );
    assert_eq!(err.retry_after(), Some(Duration::ZERO));
    assert_eq!(
        sb.requests()
            .entries()
            .iter()
            .filter(|r| r.status == 429)
            .count(),
        2
    );
}

#[tokio::test]
async fn service_unavailable_is_retried_but_other_4xx_are_not() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb
        .client_builder()
        .retry_policy(RetryPolicy::default().with_initial_backoff(Duration::from_millis(10)))
        .build()
        .unwrap();
    host_count(&client).await.unwrap();
    sb.requests().clear();
    sb.faults().inject(
        "list_processes",
        Fault::error(503, "SERVICE_UNAVAILABLE"),
        1,
    );
    assert_eq!(host_count(&client).await.unwrap(), 3);
    assert_eq!(statuses(&sb), [503, 200]);

    sb.requests().clear();
    sb.faults().inject(
        "list_processes",
        Fault::error(400, "INVALID_QUERY_PARAMETER"),
        1,
    );
    let err = host_count(&client).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Api, Some("INVALID_QUERY_PARAMETER"))
    );
    assert_eq!(statuses(&sb), [400]);
}

#[tokio::test]
async fn json_body_cut_mid_way_is_retried() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb
        .client_builder()
        .retry_policy(RetryPolicy::default().with_initial_backoff(Duration::from_millis(10)))
        .build()
        .unwrap();
    host_count(&client).await.unwrap();
    sb.requests().clear();
    sb.faults()
        .inject("list_processes", Fault::ResetAfter { after: 40 }, 1);
    assert_eq!(host_count(&client).await.unwrap(), 3);
    assert_eq!(statuses(&sb), [200, 200], "the cut page was fetched again");

    // With retries off, the cut is a typed network error, not a decode one.
    let once = sb
        .client_builder()
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    host_count(&once).await.unwrap();
    sb.faults()
        .inject("list_processes", Fault::ResetAfter { after: 40 }, 1);
    let err = host_count(&once).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
}

#[tokio::test]
async fn not_found_is_typed() {
    let sb = AtlasSandbox::start().await.unwrap();
    let client = sb.client_builder().build().unwrap();
    let err = client
        .processes("aaaaaaaaaaaaaaaaaaaaaaaa")
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::NotFound, Some("GROUP_NOT_FOUND"))
    );
    let err = client
        .stream_workspace(DEMO_PROJECT_ID, "nope")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = client
        .download_cluster_log(
            DEMO_PROJECT_ID,
            "other.host.mongodb.net",
            LogName::Mongodb,
            window(),
        )
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::NotFound, Some(404)));
}

// ------------------------------------------------------------------ inputs

#[tokio::test]
async fn bad_inputs_are_rejected_before_any_request() {
    let sb = AtlasSandbox::start().await.unwrap();
    let c = sb.client_builder().build().unwrap();
    let p = DEMO_PROJECT_ID;
    let w = window();
    let reversed = TimeRange::new(w.end, w.start);
    let ancient = TimeRange::from_unix_secs(1_000_000_000, 1_000_003_600).unwrap();
    let millis = TimeRange::from_unix_secs(1_772_323_200_000, 1_772_326_800_000).unwrap();
    let opts = StreamLogOptions::default;

    let mut errors = vec![
        c.download_cluster_log("not-a-group", DEMO_HOST, LogName::Mongodb, w)
            .await
            .unwrap_err(),
        c.download_cluster_log("64b7f3a2c1d0e9f8a7b6c5d", DEMO_HOST, LogName::Mongodb, w)
            .await
            .unwrap_err(),
        c.download_cluster_log(p, "../../etc", LogName::Mongodb, w)
            .await
            .unwrap_err(),
        c.download_cluster_log(p, DEMO_HOST, LogName::Mongodb, reversed)
            .await
            .unwrap_err(),
        c.download_cluster_log(
            p,
            DEMO_HOST,
            LogName::Mongodb,
            TimeRange::new(w.start, w.start),
        )
        .await
        .unwrap_err(),
        c.download_cluster_log(p, DEMO_HOST, LogName::Mongodb, ancient)
            .await
            .unwrap_err(),
        c.download_cluster_log(p, DEMO_HOST, LogName::Mongodb, millis)
            .await
            .unwrap_err(),
        c.download_stream_audit_logs("zz", DEMO_WORKSPACE, w, opts())
            .await
            .unwrap_err(),
        c.download_stream_audit_logs(p, "a/b", w, opts())
            .await
            .unwrap_err(),
        c.download_stream_audit_logs(p, DEMO_WORKSPACE, w, opts().processor("x/y"))
            .await
            .unwrap_err(),
        c.download_stream_audit_logs(p, DEMO_WORKSPACE, reversed, opts())
            .await
            .unwrap_err(),
        c.download_stream_operational_logs(p, DEMO_WORKSPACE, millis, opts())
            .await
            .unwrap_err(),
        c.project_events("nope", EventQuery::default())
            .err()
            .unwrap(),
        c.project_events(p, EventQuery::default().items_per_page(501))
            .err()
            .unwrap(),
        c.project_events(p, EventQuery::default().items_per_page(0))
            .err()
            .unwrap(),
        c.project_events(p, EventQuery::default().event_type("not a type"))
            .err()
            .unwrap(),
        c.project_events(p, EventQuery::default().since(w.end).until(w.start))
            .err()
            .unwrap(),
        c.org_events(p.trim_end_matches('4'), EventQuery::default())
            .err()
            .unwrap(),
        c.org_events(
            DEMO_ORG_ID,
            EventQuery::default().cluster_name(DEMO_CLUSTER),
        )
        .err()
        .unwrap(),
        c.processes("12345").err().unwrap(),
        c.stream_workspaces("").err().unwrap(),
        c.stream_workspace(p, "").await.unwrap_err(),
        c.db_access_history(p, "-bad", AccessHistoryQuery::default())
            .await
            .unwrap_err(),
        c.db_access_history(p, DEMO_CLUSTER, AccessHistoryQuery::default().limit(20_001))
            .await
            .unwrap_err(),
        c.db_access_history(
            p,
            DEMO_CLUSTER,
            AccessHistoryQuery::default().range(reversed),
        )
        .await
        .unwrap_err(),
        c.db_access_history(
            p,
            DEMO_CLUSTER,
            AccessHistoryQuery::default().ip_address("1.2.3"),
        )
        .await
        .unwrap_err(),
        "mongod".parse::<LogName>().unwrap_err(),
        c.with_version("download_stream_audit_logs", "2025-03-12")
            .unwrap_err(),
    ];
    for (i, e) in errors.drain(..).enumerate() {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "case {i}: {e}");
    }
    assert!(
        sb.requests().is_empty(),
        "sent: {:?}",
        sb.requests().entries()
    );
}

// ----------------------------------------------------------------- secrets

#[tokio::test]
async fn secrets_never_appear_in_debug_or_errors() {
    let sb = AtlasSandbox::start().await.unwrap();
    let digest = sb.client_builder().build().unwrap();
    let oauth = sb.service_account_client_builder().build().unwrap();
    host_count(&oauth).await.unwrap();
    let token = sb.issued_tokens().pop().unwrap();
    let bad_key = sb
        .client_builder()
        .api_key(DEMO_PUBLIC_KEY, "wrong-private-key-123")
        .build()
        .unwrap();
    let bad_secret = sb
        .service_account_client_builder()
        .service_account("mdb_sa_id_x", "wrong-client-secret-456")
        .build()
        .unwrap();
    let e1 = host_count(&bad_key).await.unwrap_err();
    let e2 = host_count(&bad_secret).await.unwrap_err();

    let shown = format!(
        "{digest:?} {oauth:?} {:?} {:?} {:?} {e1} {e1:?} {e2} {e2:?}",
        sb.client_builder(),
        sb.demo_api_key(),
        sb.demo_service_account()
    );
    for secret in [
        DEMO_PRIVATE_KEY,
        DEMO_CLIENT_SECRET,
        token.expose(),
        "wrong-private-key-123",
        "wrong-client-secret-456",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked in: {shown}");
    }
    assert!(
        shown.contains(DEMO_PUBLIC_KEY),
        "non-secret identifiers stay visible for debugging"
    );
}

#[tokio::test]
async fn secrets_never_appear_in_tracing_output() {
    let captured = common::capture::global();
    let sb = AtlasSandbox::builder()
        .nonce_lifetime(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let digest = sb.client_builder().build().unwrap();
    let oauth = sb.service_account_client_builder().build().unwrap();
    host_count(&digest).await.unwrap();
    sb.clock().advance(Duration::from_secs(61)); // a stale nonce too
    host_count(&digest).await.unwrap();
    host_count(&oauth).await.unwrap();
    digest
        .download_cluster_log(DEMO_PROJECT_ID, DEMO_HOST, LogName::Mongodb, window())
        .await
        .unwrap();
    let token = sb.issued_tokens().pop().unwrap();
    oauth.revoke_token().await.unwrap();
    let bad = sb
        .client_builder()
        .api_key(DEMO_PUBLIC_KEY, "wrong-private-key-789")
        .build()
        .unwrap();
    host_count(&bad).await.unwrap_err();

    let text = captured.text();
    assert!(
        text.contains("operation") && text.contains("list_processes"),
        "the capture works: {text}"
    );
    for secret in [
        DEMO_PRIVATE_KEY,
        DEMO_CLIENT_SECRET,
        token.expose(),
        "wrong-private-key-789",
    ] {
        assert!(!text.contains(secret), "{secret} leaked in tracing: {text}");
    }
}

// ------------------------------------------------------------------ environment

#[test]
fn from_env_picks_the_scheme() {
    // One test touches the environment, so nothing races with it.
    let vars = [
        logexport::atlas::ENV_CLIENT_ID,
        logexport::atlas::ENV_CLIENT_SECRET,
        logexport::atlas::ENV_PUBLIC_KEY,
        logexport::atlas::ENV_PRIVATE_KEY,
        logexport::atlas::ENV_BASE_URL,
    ];
    // SAFETY: no other thread of this test binary reads these variables.
    let set = |k: &str, v: Option<&str>| unsafe {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    };
    for v in vars {
        set(v, None);
    }
    assert_eq!(
        Client::from_env().unwrap_err().kind(),
        ErrorKind::Credentials
    );
    set(vars[2], Some("pub"));
    set(vars[3], Some("priv"));
    set(vars[4], Some("http://127.0.0.1:1"));
    let c = Client::from_env().unwrap();
    assert_eq!(
        (c.auth_scheme(), c.endpoint().as_str()),
        ("digest", "http://127.0.0.1:1")
    );
    set(vars[0], Some("mdb_sa_id_1"));
    set(vars[1], Some("mdb_sa_sk_1"));
    assert_eq!(Client::from_env().unwrap().auth_scheme(), "service-account");
    set(vars[1], None);
    assert_eq!(
        Client::from_env().unwrap_err().kind(),
        ErrorKind::Credentials,
        "half a pair is an error"
    );
    for v in vars {
        set(v, None);
    }
}

#[tokio::test]
async fn access_history_travels_in_milliseconds() {
    let sb = AtlasSandbox::start().await.unwrap();
    let c = sb.client_builder().build().unwrap();
    let w = window();
    let all = c
        .db_access_history(
            DEMO_PROJECT_ID,
            DEMO_CLUSTER,
            AccessHistoryQuery::default().range(w),
        )
        .await
        .unwrap();
    // The sandbox logs one attempt at every multiple of 97 s.
    let (a, b) = (w.start.timestamp_millis(), w.end.timestamp_millis());
    let expected = ((b - 1).div_euclid(97_000) - (a + 96_999).div_euclid(97_000) + 1) as usize;
    assert_eq!(all.len(), expected);
    assert!(expected > 30);
    for e in &all {
        let line: serde_json::Value = serde_json::from_str(e.log_line.as_deref().unwrap()).unwrap();
        let t = chrono::DateTime::parse_from_rfc3339(line["t"]["$date"].as_str().unwrap()).unwrap();
        assert!(t >= w.start && t < w.end, "{t}");
    }
    let failed = c
        .db_access_history(
            DEMO_PROJECT_ID,
            DEMO_CLUSTER,
            AccessHistoryQuery::default()
                .range(w)
                .auth_result(false)
                .limit(3),
        )
        .await
        .unwrap();
    // The filter applies before the limit: the newest three failures.
    let want: Vec<_> = all
        .iter()
        .filter(|e| e.auth_result == Some(false))
        .take(3)
        .cloned()
        .collect();
    assert!(!want.is_empty(), "the window holds failed attempts");
    assert_eq!(failed, want);
    assert!(failed.iter().all(|e| e.failure_reason.is_some()));
}
