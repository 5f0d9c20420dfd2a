//! DNS for the webhook client, pinned to the SSRF policy: reqwest connects only to addresses
//! that passed the check made in the same lookup, so DNS rebinding between a check and the
//! connection cannot redirect a delivery to an internal address.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::ssrf::{self, TargetError, TargetPolicy};

/// Longest wait for a DNS answer before the attempt counts as failed (and is retried).
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// The answer of one lookup.
pub type Addresses = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Answers the addresses of a host name; pluggable so tests can play DNS rebinding.
pub trait Lookup: Send + Sync {
    /// Looks `host` up (a name, never an IP literal).
    fn lookup(&self, host: &str) -> Addresses;
}

/// The operating system's resolver (getaddrinfo, through tokio).
struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> Addresses {
        let host = host.to_owned();
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// The lookup every webhook DNS question goes through: the system's unless replaced.
#[derive(Clone)]
pub struct DnsLookup(Arc<dyn Lookup>);

impl DnsLookup {
    /// A custom lookup (tests).
    pub fn new(lookup: impl Lookup + 'static) -> DnsLookup {
        DnsLookup(Arc::new(lookup))
    }

    /// Addresses of `host`, or why there are none now (a transient failure).
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, TargetError> {
        match tokio::time::timeout(DNS_TIMEOUT, self.0.lookup(host)).await {
            Ok(Ok(addrs)) if addrs.is_empty() => {
                Err(TargetError::Unresolved(format!("host {host:?} resolved to no addresses")))
            }
            Ok(Ok(addrs)) => Ok(addrs),
            Ok(Err(e)) => Err(TargetError::Unresolved(format!("cannot resolve {host:?}: {e}"))),
            Err(_) => Err(TargetError::Unresolved(format!("resolving {host:?} timed out"))),
        }
    }
}

impl Default for DnsLookup {
    fn default() -> DnsLookup {
        DnsLookup(Arc::new(SystemLookup))
    }
}

impl std::fmt::Debug for DnsLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsLookup")
    }
}

/// A connection refused because the name resolved only to forbidden addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked(pub String);

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

impl Blocked {
    /// The `Blocked` cause of a failed request, if that is why it failed.
    pub fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Blocked> {
        let mut cur = Some(err);
        while let Some(e) = cur {
            if let Some(b) = e.downcast_ref::<Blocked>() {
                return Some(b);
            }
            cur = e.source();
        }
        None
    }
}

/// The addresses of `host` that `policy` permits; `Err(Blocked)` when none is.
pub async fn permitted_addresses(
    dns: &DnsLookup,
    host: &str,
    policy: &TargetPolicy,
) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
    if ssrf::is_localhost_name(host) && !policy.allow_loopback {
        return Err(Box::new(Blocked(format!("blocked: host {host:?} is loopback, not a permitted webhook target"))));
    }
    let addrs = dns.addresses(host).await.map_err(|e| e.to_string())?;
    let (ok, refused): (Vec<IpAddr>, Vec<IpAddr>) =
        addrs.into_iter().partition(|ip| !ssrf::is_forbidden_ip(*ip, policy));
    if ok.is_empty() {
        let list: Vec<String> = refused.iter().map(|ip| format!("{ip} ({})", ssrf::describe(*ip))).collect();
        return Err(Box::new(Blocked(format!(
            "blocked: host {host:?} resolves to {}, not a permitted webhook target",
            list.join(", ")
        ))));
    }
    if !refused.is_empty() {
        tracing::warn!(host, ?refused, "webhook target resolved partly to forbidden addresses; those are skipped");
    }
    Ok(ok)
}

/// reqwest's resolver for the webhook client: looks up, filters by policy, hands over only
/// the permitted addresses (port 0, which reqwest replaces with the URL's port).
pub struct PinnedResolver {
    dns: DnsLookup,
    policy: TargetPolicy,
}

impl PinnedResolver {
    /// A resolver asking `dns` and enforcing `policy`.
    pub fn new(dns: DnsLookup, policy: TargetPolicy) -> PinnedResolver {
        PinnedResolver { dns, policy }
    }
}

impl reqwest::dns::Resolve for PinnedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (dns, policy) = (self.dns.clone(), self.policy.clone());
        Box::pin(async move {
            let ips = permitted_addresses(&dns, name.as_str(), &policy).await?;
            let addrs: reqwest::dns::Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve;

    struct Fixed(Vec<IpAddr>);

    impl Lookup for Fixed {
        fn lookup(&self, _: &str) -> Addresses {
            let v = self.0.clone();
            Box::pin(async move { Ok(v) })
        }
    }

    fn resolver(ips: &[&str], policy: TargetPolicy) -> PinnedResolver {
        PinnedResolver::new(DnsLookup::new(Fixed(ips.iter().map(|s| s.parse().unwrap()).collect())), policy)
    }

    async fn resolve(r: &PinnedResolver, host: &str) -> Result<Vec<SocketAddr>, String> {
        match r.resolve(host.parse().unwrap()).await {
            Ok(addrs) => Ok(addrs.collect()),
            Err(e) => Err(Blocked::find(e.as_ref()).map(|b| b.0.clone()).unwrap_or_else(|| format!("other: {e}"))),
        }
    }

    #[tokio::test]
    async fn only_permitted_addresses_reach_the_client() {
        let r = resolver(&["127.0.0.1", "8.8.8.8", "10.0.0.1"], TargetPolicy::default());
        assert_eq!(resolve(&r, "mixed.test").await, Ok(vec!["8.8.8.8:0".parse().unwrap()]));
    }

    #[tokio::test]
    async fn a_name_with_only_forbidden_addresses_is_blocked() {
        let r = resolver(&["127.0.0.1", "169.254.169.254"], TargetPolicy::default());
        let err = resolve(&r, "internal.test").await.unwrap_err();
        assert!(err.starts_with("blocked:"), "{err}");
        assert!(err.contains("127.0.0.1 (loopback)") && err.contains("169.254.169.254 (reserved)"), "{err}");
        let err = resolve(&resolver(&["8.8.8.8"], TargetPolicy::default()), "localhost").await.unwrap_err();
        assert!(err.contains("loopback"), "{err}");
    }

    #[tokio::test]
    async fn the_policy_unlocks_loopback_and_private() {
        let policy = TargetPolicy { allow_loopback: true, allow_private: true };
        let r = resolver(&["127.0.0.1", "10.0.0.1", "169.254.169.254"], policy);
        let got = resolve(&r, "lab.test").await.unwrap();
        assert_eq!(got, vec!["127.0.0.1:0".parse().unwrap(), "10.0.0.1:0".parse().unwrap()]);
    }

    #[tokio::test]
    async fn lookup_failures_are_not_blocks() {
        let r = resolver(&[], TargetPolicy::default());
        let err = resolve(&r, "empty.test").await.unwrap_err();
        assert!(err.starts_with("other:") && err.contains("no addresses"), "{err}");
    }
}
