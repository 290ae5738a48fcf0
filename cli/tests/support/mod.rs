//! Helpers for the CLI tests that run the built binary against emulators
//! hosted by the test process (so the emulator outlives every run).
#![allow(dead_code)]

use logexport::sandbox::atlas::{self as atlas_sb, AtlasSandbox};
use logexport::sandbox::conductorone::ConductorOneSandbox;
use logexport::sandbox::prelude::*;
use logexport::sandbox::tencent_cls::TencentClsSandbox;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_logexport");

/// Every credential variable the CLI reads, cleared so tests see only what
/// they set.
const CREDENTIAL_VARS: &[&str] = &[
    "MONGODB_ATLAS_PUBLIC_API_KEY",
    "MONGODB_ATLAS_PRIVATE_API_KEY",
    "MONGODB_ATLAS_CLIENT_ID",
    "MONGODB_ATLAS_CLIENT_SECRET",
    "MONGODB_ATLAS_BASE_URL",
    "MONGODB_ATLAS_OPS_MANAGER_URL",
    "MONGODB_ATLAS_PROJECT_ID",
    "MONGODB_ATLAS_ORG_ID",
    "CONE_CLIENT_ID",
    "CONE_CLIENT_SECRET",
    "CONE_ACCESS_TOKEN",
    "CONE_ENDPOINT",
    "CONE_API_ENDPOINT",
    "CONE_PROFILE",
    "CONE_CONFIG_PATH",
    "CONDUCTORONE_CLIENT_ID",
    "CONDUCTORONE_CLIENT_SECRET",
    "CONDUCTORONE_ACCESS_TOKEN",
    "CONDUCTORONE_SERVER_URL",
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENTCLOUD_SESSION_TOKEN",
    "TENCENTCLOUD_TOKEN",
    "TENCENTCLOUD_SECURITY_TOKEN",
    "TENCENTCLOUD_REGION",
    "TCCLI_PROFILE",
    "XDG_CONFIG_HOME",
    "USERPROFILE",
];

/// An empty home directory for every run, so a developer's real tccli,
/// atlas or cone logins never leak into a test.
pub fn empty_home() -> &'static std::path::Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("a temp HOME"))
        .path()
}

/// The binary with `args` and a clean credential environment.
pub fn logexport(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null());
    for v in CREDENTIAL_VARS {
        cmd.env_remove(v);
    }
    cmd.env("HOME", empty_home());
    cmd
}

/// A runtime for the emulators, on threads of its own.
pub fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Lossy UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every line of `bytes` as JSON; panics, naming the line, unless each one
/// is a JSON object.
pub fn ndjson(bytes: &[u8]) -> Vec<serde_json::Value> {
    text(bytes)
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}"));
            assert!(v.is_object(), "not an object: {l:?}");
            v
        })
        .collect()
}

/// The last line of `stderr` as JSON: the `--json` summary or error.
pub fn last_json(stderr: &[u8]) -> serde_json::Value {
    let err = text(stderr);
    let last = err
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no last line: {err:?}"));
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line not JSON ({e}): {err}"))
}

/// Points a command at an emulator through the variables a user would set.
pub trait SandboxEnv {
    /// `MONGODB_ATLAS_BASE_URL` and the demo API key pair.
    fn atlas_env(&mut self, sb: &AtlasSandbox) -> &mut Self;
    /// `TENCENTCLOUD_SECRET_ID` and `TENCENTCLOUD_SECRET_KEY` (the endpoint
    /// goes in `--endpoint`).
    fn cls_env(&mut self, sb: &TencentClsSandbox) -> &mut Self;
    /// `CONE_ENDPOINT`, `CONE_CLIENT_ID` and `CONE_CLIENT_SECRET`.
    fn c1_env(&mut self, sb: &ConductorOneSandbox) -> &mut Self;
}

impl SandboxEnv for Command {
    fn atlas_env(&mut self, sb: &AtlasSandbox) -> &mut Self {
        self.env("MONGODB_ATLAS_BASE_URL", sb.endpoint())
            .env("MONGODB_ATLAS_PUBLIC_API_KEY", atlas_sb::DEMO_PUBLIC_KEY)
            .env("MONGODB_ATLAS_PRIVATE_API_KEY", atlas_sb::DEMO_PRIVATE_KEY)
    }

    fn cls_env(&mut self, sb: &TencentClsSandbox) -> &mut Self {
        let creds = sb.credentials();
        self.env("TENCENTCLOUD_SECRET_ID", creds.secret_id())
            .env("TENCENTCLOUD_SECRET_KEY", creds.secret_key().expose())
    }

    fn c1_env(&mut self, sb: &ConductorOneSandbox) -> &mut Self {
        self.env("CONE_ENDPOINT", sb.endpoint())
            .env("CONE_CLIENT_ID", sb.client_id())
            .env("CONE_CLIENT_SECRET", sb.client_secret().expose())
    }
}

/// `c1 events` of `sb` into `out`, quiet, from and to `checkpoint` if given.
pub fn c1_events(sb: &ConductorOneSandbox, out: &Path, checkpoint: Option<&Path>) -> Command {
    let mut args = vec!["-q", "-o", out.to_str().unwrap(), "c1", "events"];
    if let Some(cp) = checkpoint {
        args.extend(["--checkpoint", cp.to_str().unwrap()]);
    }
    let mut cmd = logexport(&args);
    cmd.c1_env(sb);
    cmd
}

/// `atlas cluster-logs` of the demo host's audit log from `start` to `end`
/// in one-hour windows with `checkpoint`, quiet, into `out`.
pub fn atlas_audit_windows(
    sb: &AtlasSandbox,
    out: &Path,
    checkpoint: &Path,
    start: &str,
    end: &str,
) -> Command {
    let mut cmd = logexport(&[
        "-q",
        "-o",
        out.to_str().unwrap(),
        "atlas",
        "cluster-logs",
        "--project",
        atlas_sb::DEMO_PROJECT_ID,
        "--host",
        atlas_sb::DEMO_HOST,
        "--log",
        "mongodb-audit-log",
        "--start",
        start,
        "--end",
        end,
        "--step",
        "1h",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
    ]);
    cmd.atlas_env(sb);
    cmd
}

/// A tiny deterministic generator for kill delays.
pub struct Lcg(pub u64);

impl Lcg {
    /// A delay in `lo..hi` milliseconds.
    pub fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

/// Runs `make()` to completion, killing it with SIGKILL after random delays
/// in `lo..hi` ms until one run finishes. Returns how many runs were killed.
pub fn run_with_kills(make: &dyn Fn() -> Command, rng: &mut Lcg, lo: u64, hi: u64) -> u32 {
    let mut kills = 0;
    loop {
        let mut child = make()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_millis(rng.next_ms(lo, hi));
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                assert!(status.success(), "run failed: {err}");
                return kills;
            }
            if Instant::now() >= deadline {
                child.kill().unwrap(); // SIGKILL on Unix
                let _ = child.wait();
                kills += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(kills < 200, "never completed");
    }
}
