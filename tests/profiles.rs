//! The official CLIs' saved logins, read from files in the format each tool
//! writes: tccli's (the fixtures are the exact bytes `tccli configure set`
//! 3.1.189.1 wrote), the atlas CLI's `config.toml` and cone's
//! `config.yaml`. Pins the precedence (environment over profile), the
//! tools' own profile selectors, and that no error or `Source` ever shows a
//! secret.

#![cfg(all(
    feature = "profiles",
    feature = "tencent-cls",
    feature = "atlas",
    feature = "conductorone"
))]

use logexport::profile::{atlascli, cone, tccli, Source, Tool};
use logexport::{atlas, conductorone, ErrorKind};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profiles/tccli")
}

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

fn no_env() -> impl Fn(&str) -> Option<String> {
    vars(&[])
}

fn assert_no_secret(err: &logexport::Error, secret: &str) {
    assert!(!err.to_string().contains(secret), "{err}");
    assert!(!format!("{err:?}").contains(secret), "{err:?}");
}

// ---- tccli ----------------------------------------------------------------

#[test]
fn tccli_files_as_tccli_writes_them() {
    let p = tccli::read_profile(&fixtures(), "default").unwrap();
    let c = p.credentials.unwrap();
    assert_eq!(c.secret_id(), "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE");
    assert_eq!(c.secret_key().expose(), "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE");
    assert!(c.session_token().is_none());
    assert_eq!(p.region.unwrap().as_str(), "ap-singapore");

    let p = tccli::read_profile(&fixtures(), "sts").unwrap();
    let c = p.credentials.unwrap();
    assert_eq!(
        c.session_token().map(|t| t.expose()),
        Some("sts-session-token-EXAMPLE")
    );
    assert_eq!(p.region.unwrap().as_str(), "na-siliconvalley");

    let p = tccli::read_profile(&fixtures(), "absent").unwrap();
    assert!(p.credentials.is_none() && p.region.is_none());
}

#[test]
fn tccli_profile_is_used_when_the_environment_has_no_keys() {
    let login = tccli::resolve_in(no_env(), Some(&fixtures()), None).unwrap();
    assert_eq!(
        login.credentials.value.secret_id(),
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
    );
    let shown = login.credentials.source.to_string();
    assert!(shown.starts_with("tccli profile `default` ("), "{shown}");
    assert!(shown.ends_with("default.credential)"), "{shown}");
    assert!(!shown.contains("Gu5t9x"), "{shown}");
    let region = login.region.unwrap();
    assert_eq!(region.value.as_str(), "ap-singapore");
    assert!(
        matches!(&region.source, Source::Profile { tool: Tool::Tccli, path, .. } if path.ends_with("default.configure"))
    );
    let json = serde_json::to_value(&login.credentials.source).unwrap();
    assert_eq!(json["kind"], "profile");
    assert_eq!(json["tool"], "tccli");
    assert_eq!(json["name"], "default");
}

#[test]
fn tccli_profile_selector_and_explicit_choice() {
    let env = vars(&[("TCCLI_PROFILE", "sts")]);
    let login = tccli::resolve_in(&env, Some(&fixtures()), None).unwrap();
    assert_eq!(login.credentials.value.secret_id(), "AKIDstsEXAMPLE");
    // The caller's --profile beats TCCLI_PROFILE.
    let login = tccli::resolve_in(&env, Some(&fixtures()), Some("default")).unwrap();
    assert_eq!(
        login.credentials.value.secret_id(),
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
    );
}

#[test]
fn tccli_environment_wins_over_the_profile() {
    let env = vars(&[
        ("TENCENTCLOUD_SECRET_ID", "AKIDfromENV"),
        ("TENCENTCLOUD_SECRET_KEY", "env-key"),
        ("TENCENTCLOUD_TOKEN", "env-token"),
    ]);
    let login = tccli::resolve_in(&env, Some(&fixtures()), None).unwrap();
    assert_eq!(login.credentials.value.secret_id(), "AKIDfromENV");
    assert_eq!(
        login.credentials.source,
        Source::Env {
            variables: vec![
                "TENCENTCLOUD_SECRET_ID",
                "TENCENTCLOUD_SECRET_KEY",
                "TENCENTCLOUD_TOKEN"
            ]
        }
    );
    // Settings are taken one by one: no region in the environment, so the
    // profile's.
    assert_eq!(login.region.unwrap().value.as_str(), "ap-singapore");
    let env = vars(&[
        ("TENCENTCLOUD_SECRET_ID", "AKIDfromENV"),
        ("TENCENTCLOUD_SECRET_KEY", "env-key"),
        ("TENCENTCLOUD_REGION", "eu-frankfurt"),
    ]);
    let login = tccli::resolve_in(&env, Some(&fixtures()), None).unwrap();
    assert_eq!(login.region.unwrap().value.as_str(), "eu-frankfurt");
}

#[test]
fn tccli_half_an_environment_pair_is_an_error_not_a_fallback() {
    let env = vars(&[("TENCENTCLOUD_SECRET_ID", "AKIDfromENV")]);
    let err = tccli::resolve_in(&env, Some(&fixtures()), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Credentials);
    assert!(err.to_string().contains("TENCENTCLOUD_SECRET_KEY"), "{err}");
}

#[test]
fn tccli_missing_and_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = tccli::resolve_in(no_env(), Some(dir.path()), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Credentials);
    assert!(err.to_string().contains("tccli configure"), "{err}");
    assert!(err.to_string().contains("default.credential"), "{err}");

    // A truncated file whose broken line holds the key.
    std::fs::write(
        dir.path().join("default.credential"),
        "{\n  \"secretId\": \"AKIDx\",\n  \"secretKey\": \"TopSecretValue\n",
    )
    .unwrap();
    let err = tccli::resolve_in(no_env(), Some(dir.path()), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Credentials);
    assert!(err.to_string().contains("default.credential"), "{err}");
    assert!(err.to_string().contains("line"), "{err}");
    assert_no_secret(&err, "TopSecretValue");

    // A role profile (tccli assumes the role itself).
    std::fs::write(
        dir.path().join("role.credential"),
        r#"{"role-arn": "qcs::cam::uin/1:roleName/x", "role-session-name": "s"}"#,
    )
    .unwrap();
    let err = tccli::resolve_in(no_env(), Some(dir.path()), Some("role")).unwrap_err();
    assert!(err.to_string().contains("role-arn"), "{err}");

    let err = tccli::resolve_in(no_env(), Some(dir.path()), Some("../etc/passwd")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

// ---- atlas CLI ------------------------------------------------------------

/// As the atlas CLI (go-toml v2 through viper) writes it: globals first,
/// then one table per profile, single-quoted strings.
const ATLAS_CONFIG: &str = "\
mongosh_path = '/usr/bin/mongosh'
skip_update_check = true
telemetry_enabled = false

[default]
org_id = '5e2211c17a3e5a48f5497de3'
output = 'json'
private_api_key = '6d3a6ba1-5b7e-4c43-a2a4-EXAMPLEPRIV'
project_id = '64b7f3a2c1d0e9f8a7b6c5d4'
public_api_key = 'vxmqjpfa'
service = 'cloud'

[sa]
auth_type = 'service_account'
client_id = 'mdb_sa_id_64b7f3a2c1d0e9f8a7b6c5d4'
client_secret = 'mdb_sa_sk_EXAMPLESECRET'
org_id = '5e2211c17a3e5a48f5497de3'
service = 'cloud'

[gov]
private_api_key = 'gov-private'
public_api_key = 'govpub'
service = 'cloudgov'

[keyring]
auth_type = 'api_keys'
org_id = '5e2211c17a3e5a48f5497de3'
public_api_key = 'keyringpub'
service = 'cloud'
";

fn atlas_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("atlascli/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn atlascli_api_key_and_service_account_profiles() {
    let (_d, path) = atlas_file(ATLAS_CONFIG);
    let login = atlascli::resolve_in(no_env(), Some(&path), None).unwrap();
    assert_eq!(
        login.credentials.value,
        atlas::Credentials::api_key("vxmqjpfa", "6d3a6ba1-5b7e-4c43-a2a4-EXAMPLEPRIV")
    );
    assert!(login
        .credentials
        .source
        .to_string()
        .starts_with("atlas profile `default`"));
    assert_eq!(login.project_id.unwrap().value, "64b7f3a2c1d0e9f8a7b6c5d4");
    assert_eq!(login.org_id.unwrap().value, "5e2211c17a3e5a48f5497de3");
    assert!(login.base_url.is_none());

    let login = atlascli::resolve_in(no_env(), Some(&path), Some("sa")).unwrap();
    assert_eq!(login.credentials.value.scheme(), "service-account");
    assert!(login.project_id.is_none());

    let login = atlascli::resolve_in(no_env(), Some(&path), Some("gov")).unwrap();
    assert_eq!(login.base_url.unwrap().value, atlascli::CLOUDGOV_URL);
}

#[test]
fn atlascli_environment_wins_setting_by_setting() {
    let (_d, path) = atlas_file(ATLAS_CONFIG);
    let env = vars(&[
        ("MONGODB_ATLAS_PROJECT_ID", "0123456789abcdef01234567"),
        ("MONGODB_ATLAS_OPS_MANAGER_URL", "https://om.example.com/"),
    ]);
    let login = atlascli::resolve_in(&env, Some(&path), None).unwrap();
    let project = login.project_id.unwrap();
    assert_eq!(project.value, "0123456789abcdef01234567");
    assert_eq!(
        project.source,
        Source::Env {
            variables: vec!["MONGODB_ATLAS_PROJECT_ID"]
        }
    );
    assert!(matches!(
        login.org_id.unwrap().source,
        Source::Profile { .. }
    ));
    assert_eq!(login.base_url.unwrap().value, "https://om.example.com/");
    // Credentials from the profile: the environment has none.
    assert_eq!(login.credentials.value.scheme(), "digest");

    let env = vars(&[
        ("MONGODB_ATLAS_CLIENT_ID", "mdb_sa_id_env"),
        ("MONGODB_ATLAS_CLIENT_SECRET", "mdb_sa_sk_env"),
    ]);
    let login = atlascli::resolve_in(&env, Some(&path), None).unwrap();
    assert_eq!(
        login.credentials.value,
        atlas::Credentials::service_account("mdb_sa_id_env", "mdb_sa_sk_env")
    );
    assert_eq!(
        login.credentials.source.to_string(),
        "environment (MONGODB_ATLAS_CLIENT_ID, MONGODB_ATLAS_CLIENT_SECRET)"
    );
    // Half a pair in the environment does not fall back to the profile.
    let env = vars(&[("MONGODB_ATLAS_PUBLIC_API_KEY", "pub")]);
    let err = atlascli::resolve_in(&env, Some(&path), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Credentials);
}

#[test]
fn atlascli_profiles_without_usable_secrets() {
    let (_d, path) = atlas_file(ATLAS_CONFIG);
    let err = atlascli::resolve_in(no_env(), Some(&path), Some("keyring")).unwrap_err();
    assert!(err.to_string().contains("private_api_key"), "{err}");
    assert!(err.to_string().contains("keyring"), "{err}");
    let err = atlascli::resolve_in(no_env(), Some(&path), Some("nope")).unwrap_err();
    assert!(err.to_string().contains("no profile `nope`"), "{err}");

    let (_d, path) =
        atlas_file("[default]\npublic_api_key = 'p'\nprivate_api_key = 'SuperSecret\n");
    let err = atlascli::resolve_in(no_env(), Some(&path), None).unwrap_err();
    assert!(err.to_string().contains("TOML at line 3"), "{err}");
    assert_no_secret(&err, "SuperSecret");

    let (_d, path) = atlas_file("[default]\nclient_id = 'mdb_sa_id_x'\nservice = 'cloud'\n");
    let err = atlascli::resolve_in(no_env(), Some(&path), None).unwrap_err();
    assert!(
        err.to_string()
            .contains("only one of `client_id` and `client_secret`"),
        "{err}"
    );
}

#[test]
fn atlascli_default_path_follows_xdg() {
    if cfg!(target_os = "macos") {
        return;
    }
    let p = atlascli::default_path(vars(&[("HOME", "/home/u")])).unwrap();
    assert_eq!(p, Path::new("/home/u/.config/atlascli/config.toml"));
    let p =
        atlascli::default_path(vars(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/x")])).unwrap();
    assert_eq!(p, Path::new("/x/atlascli/config.toml"));
}

// ---- cone -----------------------------------------------------------------

/// As cone (viper through yaml.v3) writes it: four-space indents.
fn cone_yaml(secret: &str) -> String {
    format!(
        "profiles:\n    default:\n        client-id: bot@acme.conductor.one/cli\n        client-secret: {secret}\n    other:\n        client-id: ops@other.conductor.one/cli\n        client-secret: {secret}\n"
    )
}

fn cone_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".conductorone")).unwrap();
    std::fs::write(dir.path().join(".conductorone/config.yaml"), text).unwrap();
    dir
}

#[test]
fn cone_profiles_and_selectors() {
    let secret = conductorone::ClientSecret::from_seed([4; 32]).to_secret_string();
    let home = cone_dir(&cone_yaml(secret.expose()));
    let home_str = home.path().to_str().unwrap();
    let login = cone::resolve(vars(&[("HOME", home_str)]), None).unwrap();
    assert_eq!(login.credentials.value.host(), Some("acme.conductor.one"));
    let shown = login.credentials.source.to_string();
    assert!(shown.starts_with("cone profile `default`"), "{shown}");
    assert!(!shown.contains("secret-token"), "{shown}");
    assert!(login.endpoint.is_none());

    let login =
        cone::resolve(vars(&[("HOME", home_str), ("CONE_PROFILE", "other")]), None).unwrap();
    assert_eq!(login.credentials.value.host(), Some("other.conductor.one"));

    // CONE_CONFIG_PATH names the directory holding config.yaml.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        elsewhere.path().join("config.yaml"),
        cone_yaml(secret.expose()),
    )
    .unwrap();
    let login = cone::resolve(
        vars(&[
            ("HOME", "/nonexistent"),
            ("CONE_CONFIG_PATH", elsewhere.path().to_str().unwrap()),
        ]),
        Some("other"),
    )
    .unwrap();
    assert!(
        matches!(&login.credentials.source, Source::Profile { path, .. } if path.starts_with(elsewhere.path()))
    );
}

#[test]
fn cone_environment_wins_and_token_comes_first() {
    let secret = conductorone::ClientSecret::from_seed([4; 32]).to_secret_string();
    let home = cone_dir(&cone_yaml(secret.expose()));
    let env = vars(&[
        ("HOME", home.path().to_str().unwrap()),
        ("CONE_ACCESS_TOKEN", "env-token"),
        ("CONE_CLIENT_ID", "bot@tenant.conductor.one/x"),
    ]);
    let login = cone::resolve(&env, None).unwrap();
    assert!(matches!(
        login.credentials.value,
        conductorone::Credentials::AccessToken(_)
    ));
    assert_eq!(
        login.credentials.source,
        Source::Env {
            variables: vec!["CONE_ACCESS_TOKEN"]
        }
    );
    let endpoint = login.endpoint.unwrap();
    assert_eq!(endpoint.value, "https://tenant.conductor.one");
}

#[test]
fn cone_placeholders_and_broken_yaml() {
    let home = cone_dir(
        "profiles:\n    default:\n        client-id: <client-id>\n        client-secret: <client-secret>\n",
    );
    let err = cone::resolve(vars(&[("HOME", home.path().to_str().unwrap())]), None).unwrap_err();
    assert!(err.to_string().contains("placeholders"), "{err}");

    let home = cone_dir(
        "profiles:\n    default:\n        client-id: a@b.conductor.one/x\n        client-secret: \"secret-token:LeakMe\n",
    );
    let err = cone::resolve(vars(&[("HOME", home.path().to_str().unwrap())]), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Credentials);
    assert!(err.to_string().contains("YAML"), "{err}");
    assert_no_secret(&err, "LeakMe");

    let home = cone_dir(
        "profiles:\n    default:\n        client-id: a@b.conductor.one/x\n        client-secret: secret-token:conductorone.com:v1:NotBase64!!\n",
    );
    let err = cone::resolve(vars(&[("HOME", home.path().to_str().unwrap())]), None).unwrap_err();
    assert!(err.to_string().contains("config.yaml"), "{err}");
    assert_no_secret(&err, "NotBase64");

    let empty = tempfile::tempdir().unwrap();
    let err = cone::resolve(vars(&[("HOME", empty.path().to_str().unwrap())]), None).unwrap_err();
    assert!(err.to_string().contains("cone login"), "{err}");
}
