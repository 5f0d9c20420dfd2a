//! Refuses webhook targets that would let a tenant reach internal networks (SSRF).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::resolver::DnsLookup;

/// Which non-public destinations an operator has opted into.
///
/// Both default to `false`; link-local (cloud metadata) and other reserved ranges stay
/// refused whatever the policy says.
#[derive(Clone, Debug, Default)]
pub struct TargetPolicy {
    /// Permit loopback (127.0.0.0/8, `::1`, `localhost`), e.g. for local development.
    pub allow_loopback: bool,
    /// Permit private (RFC 1918), carrier-grade NAT (100.64.0.0/10) and IPv6 ULA targets.
    pub allow_private: bool,
}

/// How reachable an address is, coarsest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Global,
    Loopback,
    Private,
    /// Reserved space that no policy may unlock.
    Never,
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    const NEVER: &[([u8; 4], u32)] = &[
        // "This network"; Linux routes 0.0.0.0 to the local host, so it is as bad as loopback.
        ([0, 0, 0, 0], 8),
        // Link-local, home of the 169.254.169.254 cloud metadata service.
        ([169, 254, 0, 0], 16),
        ([192, 0, 0, 0], 24),
        ([192, 0, 2, 0], 24),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        // Multicast, then reserved 240/4 which also covers 255.255.255.255 broadcast.
        ([224, 0, 0, 0], 4),
        ([240, 0, 0, 0], 4),
    ];
    const PRIVATE: &[([u8; 4], u32)] =
        &[([10, 0, 0, 0], 8), ([172, 16, 0, 0], 12), ([192, 168, 0, 0], 16), ([100, 64, 0, 0], 10)];
    if in_v4(ip, [127, 0, 0, 0], 8) {
        Class::Loopback
    } else if NEVER.iter().any(|&(net, len)| in_v4(ip, net, len)) {
        Class::Never
    } else if PRIVATE.iter().any(|&(net, len)| in_v4(ip, net, len)) {
        Class::Private
    } else {
        Class::Global
    }
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    if ip == Ipv6Addr::LOCALHOST {
        return Class::Loopback;
    }
    if ip == Ipv6Addr::UNSPECIFIED {
        return Class::Never;
    }
    // Mapped (::ffff:a.b.c.d) and deprecated compatible (::a.b.c.d) forms reach the embedded
    // IPv4 host, so they must not slip past the IPv4 rules; `::` and `::1` were handled above
    // because `to_ipv4` would misread them as 0.0.0.0 and 0.0.0.1.
    if let Some(v4) = ip.to_ipv4() {
        return classify_v4(v4);
    }
    // NAT64 (64:ff9b::/96) gateways forward to the embedded IPv4 address.
    if in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        let [.., a, b, c, d] = ip.octets();
        return classify_v4(Ipv4Addr::new(a, b, c, d));
    }
    const NEVER: &[(Ipv6Addr, u32)] = &[
        // Link-local.
        (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
        // Documentation.
        (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
        // Multicast.
        (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
        // Discard-only.
        (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
        // Local-use NAT64, whose translation target is site-defined and so unknowable here.
        (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48),
    ];
    const PRIVATE: &[(Ipv6Addr, u32)] = &[
        // Unique local addresses.
        (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
        // Deprecated site-local, the old IPv6 counterpart of RFC 1918 space.
        (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
    ];
    if NEVER.iter().any(|&(net, len)| in_v6(ip, net, len)) {
        Class::Never
    } else if PRIVATE.iter().any(|&(net, len)| in_v6(ip, net, len)) {
        Class::Private
    } else {
        Class::Global
    }
}

fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn permitted(class: Class, policy: &TargetPolicy) -> bool {
    match class {
        Class::Global => true,
        Class::Loopback => policy.allow_loopback,
        Class::Private => policy.allow_private,
        Class::Never => false,
    }
}

/// What kind of address `ip` is, for error messages: `public`, `loopback`, `private` or
/// `reserved`.
pub fn describe(ip: IpAddr) -> &'static str {
    match classify(ip) {
        Class::Global => "public",
        Class::Loopback => "loopback",
        Class::Private => "private",
        Class::Never => "reserved",
    }
}

/// Returns `true` if a webhook must not be delivered to `ip` under `policy`.
pub fn is_forbidden_ip(ip: IpAddr, policy: &TargetPolicy) -> bool {
    !permitted(classify(ip), policy)
}

pub(crate) fn is_localhost_name(host: &str) -> bool {
    // A trailing dot names the same host, so it must not bypass the check.
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Checks a webhook URL's shape and any literal IP host, without touching DNS.
///
/// Requires `http`/`https`, a host and no userinfo (credentials belong in headers, and
/// `user@host` URLs are a classic way to disguise the real target). `localhost` and
/// `*.localhost` count as loopback. Host names are not resolved here; use
/// [`resolve_and_check`] before connecting.
pub fn check_url(url: &Url, policy: &TargetPolicy) -> Result<(), String> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(format!("scheme {other:?} is not allowed; use http or https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("URLs with embedded credentials are not allowed".to_owned());
    }
    let ip = match url.host() {
        None => return Err("URL has no host".to_owned()),
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(Host::Domain(name)) => {
            if is_localhost_name(name) && !policy.allow_loopback {
                return Err(format!("host {name:?} is loopback and not allowed"));
            }
            return Ok(());
        }
    };
    if is_forbidden_ip(ip, policy) {
        return Err(format!("address {ip} is not a permitted webhook target"));
    }
    Ok(())
}

/// Runs [`check_url`], then resolves a named host through `dns` and refuses if any address
/// is forbidden.
///
/// Every address must pass, because the HTTP client may pick any of them. The answer can go
/// stale before the connection is made (rebinding), which is why the webhook client resolves
/// again through [`super::resolver::PinnedResolver`], connecting only to permitted addresses.
pub async fn resolve_and_check(url: &Url, policy: &TargetPolicy, dns: &DnsLookup) -> Result<(), TargetError> {
    check_url(url, policy).map_err(TargetError::Forbidden)?;
    let Some(Host::Domain(name)) = url.host() else {
        // IP literals were fully checked by check_url.
        return Ok(());
    };
    for ip in dns.addresses(name).await? {
        if is_forbidden_ip(ip, policy) {
            return Err(TargetError::Forbidden(format!(
                "host {name:?} resolves to {ip} ({}), which is not a permitted webhook target",
                describe(ip)
            )));
        }
    }
    Ok(())
}

/// Why a target cannot be used now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The target is not allowed: never retried.
    Forbidden(String),
    /// The name did not resolve (now): a transient failure, retried like any other.
    Unresolved(String),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::Forbidden(m) | TargetError::Unresolved(m) => f.write_str(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    const LOOPBACK: TargetPolicy = TargetPolicy { allow_loopback: true, allow_private: false };
    const PRIVATE: TargetPolicy = TargetPolicy { allow_loopback: false, allow_private: true };
    const ALL: TargetPolicy = TargetPolicy { allow_loopback: true, allow_private: true };

    #[test]
    fn default_policy_refuses_internal_urls() {
        let policy = TargetPolicy::default();
        for target in [
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            // The url crate normalises these spellings of 127.0.0.1 to an IPv4 host.
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            assert!(check_url(&url(target), &policy).is_err(), "{target}");
        }
    }

    #[test]
    fn refused_addresses() {
        let policy = TargetPolicy::default();
        for addr in [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "0.0.0.0",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fdff::1",
            "2001:db8::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_forbidden_ip(ip(addr), &policy), "{addr}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        let policy = TargetPolicy::default();
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!is_forbidden_ip(ip(addr), &policy), "{addr}");
        }
        assert!(check_url(&url("http://8.8.8.8/hook"), &policy).is_ok());
        assert!(check_url(&url("https://[2606:4700::1111]:8443/"), &policy).is_ok());
        assert!(check_url(&url("https://example.com/hook"), &policy).is_ok());
    }

    #[test]
    fn allow_loopback_unlocks_only_loopback() {
        assert!(check_url(&url("http://127.0.0.1:8080/"), &LOOPBACK).is_ok());
        assert!(check_url(&url("http://[::1]/"), &LOOPBACK).is_ok());
        assert!(check_url(&url("http://[::ffff:127.0.0.1]/"), &LOOPBACK).is_ok());
        assert!(check_url(&url("http://localhost:8080/"), &LOOPBACK).is_ok());
        assert!(check_url(&url("http://169.254.169.254/"), &LOOPBACK).is_err());
        assert!(check_url(&url("http://10.0.0.1/"), &LOOPBACK).is_err());
        assert!(check_url(&url("http://0.0.0.0/"), &LOOPBACK).is_err());
    }

    #[test]
    fn allow_private_unlocks_only_private() {
        for addr in ["10.0.0.1", "172.20.1.1", "192.168.1.1", "100.64.0.1", "fd12::1"] {
            assert!(!is_forbidden_ip(ip(addr), &PRIVATE), "{addr}");
        }
        assert!(is_forbidden_ip(ip("127.0.0.1"), &PRIVATE));
        assert!(is_forbidden_ip(ip("169.254.169.254"), &PRIVATE));
    }

    #[test]
    fn never_ranges_stay_refused_under_any_policy() {
        for addr in [
            "169.254.169.254",
            "fe80::1",
            "::ffff:169.254.169.254",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(is_forbidden_ip(ip(addr), &ALL), "{addr}");
        }
    }

    #[test]
    fn url_shape_rules() {
        let policy = TargetPolicy::default();
        assert!(check_url(&url("http://user:pw@example.com"), &policy).is_err());
        assert!(check_url(&url("http://user@example.com"), &policy).is_err());
        assert!(check_url(&url("https://:pw@example.com"), &policy).is_err());
        assert!(check_url(&url("ftp://x"), &policy).is_err());
        assert!(check_url(&url("file:///etc/passwd"), &policy).is_err());
        assert!(check_url(&url("http://localhost:8080/"), &policy).is_err());
        assert!(check_url(&url("http://LOCALHOST./"), &policy).is_err());
        assert!(check_url(&url("http://api.localhost/"), &policy).is_err());
        assert!(check_url(&url("http://notlocalhost.com/"), &policy).is_ok());
    }

    #[tokio::test]
    async fn resolve_and_check_handles_literals_without_dns() {
        let policy = TargetPolicy::default();
        let dns = DnsLookup::default();
        assert!(resolve_and_check(&url("http://8.8.8.8/"), &policy, &dns).await.is_ok());
        assert!(matches!(
            resolve_and_check(&url("http://[::1]/"), &policy, &dns).await,
            Err(TargetError::Forbidden(_))
        ));
        assert!(matches!(
            resolve_and_check(&url("http://localhost/"), &policy, &dns).await,
            Err(TargetError::Forbidden(_))
        ));
        assert!(matches!(
            resolve_and_check(&url("ftp://8.8.8.8/"), &policy, &dns).await,
            Err(TargetError::Forbidden(_))
        ));
        // A name that cannot resolve is a transient failure, not a refusal.
        let unresolved = resolve_and_check(&url("http://no-such-host.invalid/"), &policy, &dns).await;
        assert!(matches!(unresolved, Err(TargetError::Unresolved(_))), "{unresolved:?}");
    }
}
