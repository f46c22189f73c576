//! The outbound guard (brief §7): every connection made on a user's behalf (connection tests,
//! validation URLs, token URLs, OAuth endpoints) goes only to public addresses, checked after DNS
//! resolution, unless an operator allows a network with `LATCHKEY_OUTBOUND_ALLOW`.
//! Without it, a credential's host could point Latchkey at the cloud metadata service or at
//! anything else inside the network it runs in.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Clone, Debug, Default)]
pub struct OutboundGuard {
    allow: Vec<IpNet>,
}

/// Why a destination was not contacted. Messages name the host (a non-secret field) and the
/// kind of address, so a person can act on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("{host} resolves to {kind} address {ip}; Latchkey only connects to public addresses")]
    Refused {
        host: String,
        ip: IpAddr,
        kind: &'static str,
    },
    #[error("{host} could not be resolved")]
    Unresolved { host: String },
}

impl GuardError {
    pub fn code(&self) -> &'static str {
        match self {
            GuardError::Refused { .. } => "destination_refused",
            GuardError::Unresolved { .. } => "dns_failed",
        }
    }
}

/// The kind of address that is never contacted unless allowed, or `None` for a public one.
pub fn restricted_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => restricted_v6(v6),
    }
}

fn restricted_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified",
        (127, _, _) => "a loopback",
        (10, _, _) | (192, 168, _) => "a private",
        (172, 16..=31, _) => "a private",
        (169, 254, _) => "a link-local",
        (100, 64..=127, _) => "a carrier-grade NAT",
        (192, 0, 0) => "a reserved",
        (198, 18..=19, _) => "a benchmarking",
        (224..=239, _, _) => "a multicast",
        (240..=255, _, _) => "a reserved",
        _ => return None,
    })
}

fn restricted_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return restricted_v4(v4);
    }
    let seg = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0; 4] {
        let [a, b] = seg[6].to_be_bytes();
        let [c, d] = seg[7].to_be_bytes();
        return restricted_v4(Ipv4Addr::new(a, b, c, d));
    }
    Some(match seg[0] {
        _ if ip.is_unspecified() => "an unspecified",
        _ if ip.is_loopback() => "a loopback",
        0xfc00..=0xfdff => "a private (unique local)",
        0xfe80..=0xfebf => "a link-local",
        0xfec0..=0xfeff => "a site-local",
        0xff00..=0xffff => "a multicast",
        _ => return None,
    })
}

impl OutboundGuard {
    /// `LATCHKEY_OUTBOUND_ALLOW`: comma-separated CIDRs (or single addresses) exempt from the guard.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let allow = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not a CIDR or an IP address"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allow })
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        restricted_kind(ip).is_none() || self.allow.iter().any(|net| net.contains(&ip))
    }

    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), GuardError> {
        match restricted_kind(ip) {
            Some(kind) if !self.permits(ip) => Err(GuardError::Refused {
                host: host.to_owned(),
                ip,
                kind,
            }),
            _ => Ok(()),
        }
    }

    /// Resolves `host` and returns its addresses only if every one of them is permitted, so a
    /// name that also resolves to an internal address is refused whole. Connect to exactly
    /// these addresses (not the name again), so a second lookup cannot answer differently.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, GuardError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|_| GuardError::Unresolved {
                    host: host.to_owned(),
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(GuardError::Unresolved {
                host: host.to_owned(),
            });
        }
        for addr in &addrs {
            self.check(host, addr.ip())?;
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_restricted_and_public_ones_are_not() {
        for restricted in [
            "169.254.169.254",
            "10.0.0.1",
            "127.0.0.1",
            "0.0.0.0",
            "172.16.5.4",
            "192.168.1.1",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(restricted_kind(ip(restricted)).is_some(), "{restricted}");
            assert!(
                !OutboundGuard::default().permits(ip(restricted)),
                "{restricted}"
            );
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "172.32.0.1",
            "100.128.0.1",
        ] {
            assert!(restricted_kind(ip(public)).is_none(), "{public}");
        }
    }

    #[test]
    fn the_allow_list_exempts_exactly_its_networks() {
        let guard = OutboundGuard::parse("127.0.0.1/32, ::1").unwrap();
        assert!(guard.permits(ip("127.0.0.1")));
        assert!(guard.permits(ip("::1")));
        assert!(!guard.permits(ip("127.0.0.2")));
        assert!(!guard.permits(ip("169.254.169.254")));
        assert!(OutboundGuard::parse("not-a-net").is_err());
        assert!(OutboundGuard::parse("").unwrap().allow.is_empty());
    }

    #[tokio::test]
    async fn resolution_is_checked_before_anything_connects() {
        let guard = OutboundGuard::default();
        for host in [
            "169.254.169.254",
            "10.0.0.1",
            "127.0.0.1",
            "[::1]",
            "0.0.0.0",
            "localhost",
        ] {
            let err = guard.resolve(host, 80).await.unwrap_err();
            assert_eq!(err.code(), "destination_refused", "{host}");
            assert!(err
                .to_string()
                .contains("only connects to public addresses"));
        }
        let allowed = OutboundGuard::parse("127.0.0.0/8,::1/128").unwrap();
        assert!(allowed.resolve("localhost", 80).await.is_ok());
    }
}
