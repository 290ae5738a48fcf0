//! A few bytes from the operating system's random source, for nonces,
//! generated keys and retry jitter. `getrandom` alone does this; an RNG
//! crate would add a dependency tree for no gain.

/// `N` bytes from the OS. The OS source failing means the machine cannot
/// make a safe nonce or key at all, so this panics rather than degrade
/// (as `rand::random` does).
// Atlas Digest cnonces, C1 assertion ids and keys: nothing else needs it.
#[cfg(any(feature = "atlas", feature = "conductorone"))]
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    out
}

/// A uniform value in `[0, 1)`, or `0.5` if the OS source fails: jitter is
/// not worth failing a request over.
pub(crate) fn unit() -> f64 {
    getrandom::u64().map_or(0.5, |r| (r >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    #[cfg(any(feature = "atlas", feature = "conductorone"))]
    #[test]
    fn bytes_differ_between_calls() {
        // 2^-128 chance of a false failure.
        assert_ne!(super::bytes::<16>(), super::bytes::<16>());
    }

    #[test]
    fn unit_is_in_range() {
        for _ in 0..1000 {
            let u = super::unit();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }
}
