//! The emulators, started together for `--sandbox`, `sandbox` and `tour`.

use crate::{Ctx, Failure};
use logexport::sandbox::atlas::{self as atlas_sb, AtlasSandbox};
use logexport::sandbox::conductorone::ConductorOneSandbox;
use logexport::sandbox::prelude::*;
use logexport::sandbox::tencent_cls::{self as cls_sb, TencentClsSandbox};
use serde_json::json;

/// All three emulators.
pub struct Sandboxes {
    /// MongoDB Atlas.
    pub atlas: AtlasSandbox,
    /// ConductorOne.
    pub conductorone: ConductorOneSandbox,
    /// Tencent Cloud CLS.
    pub cls: TencentClsSandbox,
}

impl Sandboxes {
    /// Starts them on `port`, `port + 1`, `port + 2`, or on free ports for 0.
    pub async fn start(port: u16) -> Result<Sandboxes, Failure> {
        let at = |offset: u16| {
            if port == 0 {
                0
            } else {
                port.saturating_add(offset)
            }
        };
        let started = async {
            std::io::Result::Ok(Sandboxes {
                atlas: AtlasSandbox::builder().port(at(0)).start().await?,
                conductorone: ConductorOneSandbox::builder().port(at(1)).start().await?,
                cls: TencentClsSandbox::builder().port(at(2)).start().await?,
            })
        };
        started
            .await
            .map_err(|e| Failure::runtime(format!("cannot start the sandbox: {e}")))
    }

    /// Endpoints, demo credentials and demo resource names, for users to
    /// point their own clients at.
    pub fn describe(&self) -> serde_json::Value {
        let cls_creds = self.cls.credentials();
        json!({
            "atlas": {
                "endpoint": self.atlas.endpoint(),
                "env": {
                    "MONGODB_ATLAS_BASE_URL": self.atlas.endpoint(),
                    "MONGODB_ATLAS_PUBLIC_API_KEY": atlas_sb::DEMO_PUBLIC_KEY,
                    "MONGODB_ATLAS_PRIVATE_API_KEY": atlas_sb::DEMO_PRIVATE_KEY,
                },
                "service_account": {
                    "MONGODB_ATLAS_CLIENT_ID": atlas_sb::DEMO_CLIENT_ID,
                    "MONGODB_ATLAS_CLIENT_SECRET": atlas_sb::DEMO_CLIENT_SECRET,
                },
                "project": atlas_sb::DEMO_PROJECT_ID,
                "org": atlas_sb::DEMO_ORG_ID,
                "workspace": atlas_sb::DEMO_WORKSPACE,
                "host": atlas_sb::DEMO_HOST,
            },
            "conductorone": {
                "endpoint": self.conductorone.endpoint(),
                "env": {
                    "CONE_ENDPOINT": self.conductorone.endpoint(),
                    "CONE_CLIENT_ID": self.conductorone.client_id(),
                    "CONE_CLIENT_SECRET": self.conductorone.client_secret().expose(),
                },
            },
            "cls": {
                "endpoint": self.cls.endpoint(),
                "env": {
                    "TENCENTCLOUD_SECRET_ID": cls_creds.secret_id(),
                    "TENCENTCLOUD_SECRET_KEY": cls_creds.secret_key().expose(),
                    "TENCENTCLOUD_REGION": cls_sb::DEMO_REGION,
                },
                "topic": cls_sb::DEMO_TOPIC_ID,
            },
        })
    }
}

/// `logexport sandbox`: serve until SIGINT or SIGTERM, which `main` turns
/// into exit 130 or 143 like for every other command.
pub async fn serve(ctx: &Ctx, port: u16) -> Result<(), Failure> {
    let sandboxes = Sandboxes::start(port).await?;
    // The demo credentials are printed on purpose: they only open the
    // emulators, which exist only in this process.
    println!(
        "{}",
        serde_json::to_string_pretty(&sandboxes.describe()).expect("serialisable")
    );
    if !ctx.global.quiet && !ctx.global.json {
        eprintln!("sandbox running; press Ctrl-C to stop");
    }
    std::future::pending().await
}
