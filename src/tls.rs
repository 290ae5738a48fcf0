//! Makes the `tls-ring` feature work on its own.
//!
//! With `tls-aws-lc`, reqwest falls back to aws-lc-rs when the process has
//! no rustls crypto provider. With only `tls-ring`, reqwest has no fallback
//! and panics while building a client, so every client this crate builds
//! first installs ring as the process default, unless the application has
//! already installed a provider of its own.

/// Installs ring as the process-wide rustls provider if none is installed
/// and aws-lc-rs is not compiled in.
pub(crate) fn ensure_crypto_provider() {
    #[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc")))]
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a provider is set.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    /// Under `tls-ring` alone, reqwest panics while building a client
    /// unless a provider was installed first.
    #[test]
    fn the_crates_http_clients_build_with_either_provider() {
        crate::http::redirect::api_client_builder()
            .build()
            .expect("an HTTP client");
        crate::http::redirect::download_client().expect("a download client");
    }
}
