//! The Atlas emulator ([`logexport_sandbox::atlas`]) and the client glue.

pub use logexport_sandbox::atlas::{
    digest, versions, AtlasSandbox, AtlasSandboxBuilder, VersionStatus, DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET, DEMO_CLUSTER, DEMO_HOST, DEMO_HOSTS, DEMO_ORG_ID, DEMO_PRIVATE_KEY,
    DEMO_PROCESSORS, DEMO_PROJECT_ID, DEMO_PUBLIC_KEY, DEMO_WORKSPACE, DEMO_WORKSPACE_2, REALM,
};

use crate::atlas::{Client, ClientBuilder, Credentials, LogName, TimeRange};
use crate::SecretString;
use logexport_sandbox::atlas as sb;

impl From<LogName> for sb::LogName {
    fn from(name: LogName) -> Self {
        match name {
            LogName::Mongodb => sb::LogName::Mongodb,
            LogName::Mongos => sb::LogName::Mongos,
            LogName::MongodbAuditLog => sb::LogName::MongodbAuditLog,
            LogName::MongosAuditLog => sb::LogName::MongosAuditLog,
        }
    }
}

impl From<TimeRange> for sb::TimeRange {
    fn from(range: TimeRange) -> Self {
        sb::TimeRange {
            start: range.start,
            end: range.end,
        }
    }
}

/// The client-typed methods of [`AtlasSandbox`].
pub trait AtlasSandboxExt {
    /// The demo API key (HTTP Digest).
    fn demo_api_key(&self) -> Credentials;
    /// The demo service account (OAuth).
    fn demo_service_account(&self) -> Credentials;
    /// A client builder pointed at the sandbox with the demo API key.
    fn client_builder(&self) -> ClientBuilder;
    /// A client builder pointed at the sandbox with the demo service account.
    fn service_account_client_builder(&self) -> ClientBuilder;
    /// Every token issued so far, for tests that replay one by hand.
    fn issued_tokens(&self) -> Vec<SecretString>;
}

impl AtlasSandboxExt for AtlasSandbox {
    fn demo_api_key(&self) -> Credentials {
        Credentials::api_key(DEMO_PUBLIC_KEY, DEMO_PRIVATE_KEY)
    }

    fn demo_service_account(&self) -> Credentials {
        Credentials::service_account(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    }

    fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .endpoint(self.endpoint())
            .credentials(self.demo_api_key())
    }

    fn service_account_client_builder(&self) -> ClientBuilder {
        Client::builder()
            .endpoint(self.endpoint())
            .credentials(self.demo_service_account())
    }

    fn issued_tokens(&self) -> Vec<SecretString> {
        self.issued_token_values()
            .into_iter()
            .map(SecretString::new)
            .collect()
    }
}
