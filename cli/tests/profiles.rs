//! The CLI reads the vendor CLIs' saved logins: `--profile`, each tool's
//! own selector (`TCCLI_PROFILE`, `CONE_PROFILE`, the atlas CLI's
//! `default`), environment over profile, Atlas project/org defaults, and
//! the credential source (never a value) in `-v` and the `--json` summary.
//! Every run gets a temp HOME holding files in the tools' own formats.

mod support;

use logexport::sandbox::atlas::{self as atlas_sb, AtlasSandbox};
use logexport::sandbox::conductorone::ConductorOneSandbox;
use logexport::sandbox::prelude::*;
use logexport::sandbox::tencent_cls::{self as cls_sb, TencentClsSandbox};
use std::path::Path;
use std::process::Output;
use support::{last_json, logexport, text, tokio_rt, SandboxEnv};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/profiles");

/// A tccli profile as tccli writes it: the fixture's `.configure` with the
/// region the emulator serves, and a `.credential` in the fixture's shape.
fn tccli_profile(home: &Path, name: &str, secret_id: &str, secret_key: &str) {
    let dir = home.join(".tccli");
    std::fs::create_dir_all(&dir).unwrap();
    let configure = std::fs::read_to_string(format!("{FIXTURES}/tccli/default.configure")).unwrap();
    let mut configure: serde_json::Value = serde_json::from_str(&configure).unwrap();
    configure["_sys_param"]["region"] = cls_sb::DEMO_REGION.into();
    std::fs::write(
        dir.join(format!("{name}.configure")),
        serde_json::to_string_pretty(&configure).unwrap(),
    )
    .unwrap();
    let credential = std::fs::read_to_string(format!("{FIXTURES}/tccli/default.credential"))
        .unwrap()
        .replace("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", secret_id)
        .replace("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", secret_key);
    std::fs::write(dir.join(format!("{name}.credential")), credential).unwrap();
}

/// The atlas CLI's `config.toml` (go-toml v2: single-quoted strings).
fn atlas_config(home: &Path, profile: &str, private_key: &str, project: Option<&str>) {
    let dir = home.join(".config/atlascli");
    std::fs::create_dir_all(&dir).unwrap();
    let project = project
        .map(|p| format!("project_id = '{p}'\n"))
        .unwrap_or_default();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "skip_update_check = true\ntelemetry_enabled = false\n\n[{profile}]\n\
             org_id = '{}'\noutput = 'json'\nprivate_api_key = '{private_key}'\n{project}\
             public_api_key = '{}'\nservice = 'cloud'\n",
            atlas_sb::DEMO_ORG_ID,
            atlas_sb::DEMO_PUBLIC_KEY
        ),
    )
    .unwrap();
}

/// cone's `config.yaml` (yaml.v3: four-space indents).
fn cone_config(home: &Path, profile: &str, client_id: &str, secret: &str) {
    let dir = home.join(".conductorone");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        format!(
            "profiles:\n    {profile}:\n        client-id: {client_id}\n        client-secret: {secret}\n"
        ),
    )
    .unwrap();
}

fn summary(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    last_json(&out.stderr)
}

#[test]
fn tccli_profile_is_used_and_named_never_shown() {
    let rt = tokio_rt();
    let sb = rt.block_on(TencentClsSandbox::start()).unwrap();
    let home = tempfile::tempdir().unwrap();
    tccli_profile(
        home.path(),
        "default",
        cls_sb::DEMO_SECRET_ID,
        cls_sb::DEMO_SECRET_KEY,
    );
    // No --region: it comes from the profile's .configure.
    let out = logexport(&["--json", "--endpoint", &sb.endpoint(), "cls", "topics"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    let s = summary(&out);
    assert_eq!(s["credentials"]["kind"], "profile", "{s}");
    assert_eq!(s["credentials"]["tool"], "tccli", "{s}");
    assert_eq!(s["credentials"]["name"], "default", "{s}");
    assert!(s["credentials"]["path"]
        .as_str()
        .unwrap()
        .ends_with(".tccli/default.credential"));
    let all = text(&out.stderr);
    assert!(!all.contains(cls_sb::DEMO_SECRET_KEY), "{all}");
    assert!(!all.contains(cls_sb::DEMO_SECRET_ID), "{all}");
}

#[test]
fn tccli_selector_and_profile_flag() {
    let rt = tokio_rt();
    let sb = rt.block_on(TencentClsSandbox::start()).unwrap();
    let home = tempfile::tempdir().unwrap();
    tccli_profile(
        home.path(),
        "default",
        "AKIDwrong0000000000000000000000",
        "wrong",
    );
    tccli_profile(
        home.path(),
        "work",
        cls_sb::DEMO_SECRET_ID,
        cls_sb::DEMO_SECRET_KEY,
    );
    let run = |extra: &[&str], selector: Option<&str>| {
        let mut args = vec!["--json", "--endpoint"];
        let endpoint = sb.endpoint();
        args.push(&endpoint);
        args.extend_from_slice(extra);
        args.extend(["cls", "topics"]);
        let mut cmd = logexport(&args);
        cmd.env("HOME", home.path());
        if let Some(s) = selector {
            cmd.env("TCCLI_PROFILE", s);
        }
        cmd.output().unwrap()
    };
    // The default profile's keys are wrong: the vendor refuses them.
    let out = run(&[], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        summary(&run(&[], Some("work")))["credentials"]["name"],
        "work"
    );
    assert_eq!(
        summary(&run(&["--profile", "work"], None))["credentials"]["name"],
        "work"
    );
    // The flag beats the tool's selector.
    let out = run(&["--profile", "default"], Some("work"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // A missing profile is a credentials error naming what was looked for.
    let out = run(&["--profile", "nope"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nope"), "{}", text(&out.stderr));
}

#[test]
fn environment_wins_over_profile() {
    let rt = tokio_rt();
    let sb = rt.block_on(TencentClsSandbox::start()).unwrap();
    let home = tempfile::tempdir().unwrap();
    tccli_profile(
        home.path(),
        "default",
        "AKIDwrong0000000000000000000000",
        "wrong",
    );
    let out = logexport(&["--json", "--endpoint", &sb.endpoint(), "cls", "topics"])
        .env("HOME", home.path())
        .cls_env(&sb)
        .output()
        .unwrap();
    let s = summary(&out);
    assert_eq!(s["credentials"]["kind"], "env", "{s}");
    assert_eq!(
        s["credentials"]["variables"],
        serde_json::json!(["TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"])
    );
}

#[test]
fn verbose_says_where_credentials_came_from() {
    let rt = tokio_rt();
    let sb = rt.block_on(TencentClsSandbox::start()).unwrap();
    let home = tempfile::tempdir().unwrap();
    tccli_profile(
        home.path(),
        "default",
        cls_sb::DEMO_SECRET_ID,
        cls_sb::DEMO_SECRET_KEY,
    );
    let out = logexport(&["-v", "--endpoint", &sb.endpoint(), "cls", "topics"])
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("tccli profile `default`"), "{err}");
    assert!(!err.contains(cls_sb::DEMO_SECRET_KEY), "{err}");
}

#[test]
fn atlas_profile_gives_credentials_and_project() {
    let rt = tokio_rt();
    let sb = rt.block_on(AtlasSandbox::start()).unwrap();
    let home = tempfile::tempdir().unwrap();
    atlas_config(
        home.path(),
        "default",
        atlas_sb::DEMO_PRIVATE_KEY,
        Some(atlas_sb::DEMO_PROJECT_ID),
    );
    // No --project: the profile's project_id.
    let out = logexport(&["--json", "--endpoint", &sb.endpoint(), "atlas", "processes"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    let s = summary(&out);
    assert_eq!(s["credentials"]["tool"], "atlascli", "{s}");
    assert!(s["records"].as_u64().unwrap() > 0, "{s}");
    assert!(!text(&out.stderr).contains(atlas_sb::DEMO_PRIVATE_KEY));
    // A named profile through --profile.
    atlas_config(
        home.path(),
        "ops",
        atlas_sb::DEMO_PRIVATE_KEY,
        Some(atlas_sb::DEMO_PROJECT_ID),
    );
    let out = logexport(&[
        "--json",
        "--profile",
        "ops",
        "--endpoint",
        &sb.endpoint(),
        "atlas",
        "processes",
    ])
    .env("HOME", home.path())
    .output()
    .unwrap();
    assert_eq!(summary(&out)["credentials"]["name"], "ops");
}

#[test]
fn atlas_project_and_org_ids_from_the_environment() {
    let rt = tokio_rt();
    let sb = rt.block_on(AtlasSandbox::start()).unwrap();
    let out = logexport(&["--json", "atlas", "processes"])
        .atlas_env(&sb)
        .env("MONGODB_ATLAS_PROJECT_ID", atlas_sb::DEMO_PROJECT_ID)
        .output()
        .unwrap();
    assert!(summary(&out)["records"].as_u64().unwrap() > 0);
    let out = logexport(&["--json", "atlas", "events"])
        .atlas_env(&sb)
        .env("MONGODB_ATLAS_ORG_ID", atlas_sb::DEMO_ORG_ID)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Without either, a usage error that names the variable.
    let out = logexport(&["atlas", "processes"])
        .atlas_env(&sb)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("MONGODB_ATLAS_PROJECT_ID"));
}

#[test]
fn cone_profile_and_selector() {
    let rt = tokio_rt();
    let sb = rt.block_on(ConductorOneSandbox::start()).unwrap();
    let home = tempfile::tempdir().unwrap();
    cone_config(
        home.path(),
        "acme",
        sb.client_id(),
        sb.client_secret().expose(),
    );
    let run = |selector: Option<&str>| {
        let mut cmd = logexport(&[
            "--json",
            "--endpoint",
            &sb.endpoint(),
            "c1",
            "exporters",
            "list",
        ]);
        cmd.env("HOME", home.path());
        if let Some(s) = selector {
            cmd.env("CONE_PROFILE", s);
        }
        cmd.output().unwrap()
    };
    let out = run(None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("default"));
    let out = run(Some("acme"));
    let s = summary(&out);
    assert_eq!(s["credentials"]["tool"], "cone", "{s}");
    assert_eq!(s["credentials"]["name"], "acme", "{s}");
    assert!(!text(&out.stderr).contains(sb.client_secret().expose()));
}
