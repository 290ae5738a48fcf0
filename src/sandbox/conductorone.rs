//! The ConductorOne emulator ([`logexport_sandbox::conductorone`]) and the
//! client glue.

pub use logexport_sandbox::conductorone::{
    demo_events, demo_public_key, demo_seed, ConductorOneSandbox, ConductorOneSandboxBuilder,
    DEMO_CLIENT_ID, EVENTS_PATH, TOKEN_PATH,
};

use crate::conductorone::{Client, ClientBuilder, ClientSecret};
use crate::SecretString;

/// The demo client's secret, the key the sandbox registers for
/// [`DEMO_CLIENT_ID`]. Worthless outside the sandbox.
pub fn demo_secret() -> ClientSecret {
    ClientSecret::from_seed(demo_seed())
}

/// The client-typed methods of [`ConductorOneSandbox`].
///
/// ```no_run
/// # async fn demo() -> logexport::Result<()> {
/// use logexport::sandbox::conductorone::ConductorOneSandbox;
/// use logexport::sandbox::prelude::*;
///
/// let sandbox = ConductorOneSandbox::start().await?;
/// let client = sandbox.client_builder().build()?;
/// let exporters: Vec<_> = futures::TryStreamExt::try_collect(client.list_exporters().stream()?).await?;
/// assert_eq!(exporters.len(), 1);
/// # Ok(()) }
/// ```
pub trait ConductorOneSandboxExt {
    /// The demo client secret, in C1's text form.
    fn client_secret(&self) -> SecretString;
    /// A client builder pointed at this sandbox with the demo credentials.
    fn client_builder(&self) -> ClientBuilder;
    /// Mints an access token for the demo client without an exchange (for
    /// testing access-token credentials).
    fn issue_access_token(&self) -> SecretString;
}

impl ConductorOneSandboxExt for ConductorOneSandbox {
    fn client_secret(&self) -> SecretString {
        demo_secret().to_secret_string()
    }

    fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .endpoint(self.endpoint())
            .client_credentials(DEMO_CLIENT_ID, self.client_secret())
    }

    fn issue_access_token(&self) -> SecretString {
        SecretString::new(self.mint_access_token())
    }
}
