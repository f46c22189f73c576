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
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation",
        (198, 18..=19, _) => "a benchmarking",
        (224..=239, _, _) => "a multicast",
        (240..=255, _, _) => "a reserved",
        _ => return None,
    })
}

fn v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// Every way an IPv6 address carries an IPv4 one that a router or translator may deliver to:
/// each is judged by the IPv4 address inside, so `::ffff:10.0.0.1` is as private as `10.0.0.1`.
/// Prefixes that exist only for local translation are refused whole.
fn restricted_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    let last = v4(seg[6], seg[7]);
    if ip.is_unspecified() {
        return Some("an unspecified");
    }
    if ip.is_loopback() {
        return Some("a loopback");
    }
    match seg {
        // IPv4-mapped ::ffff:a.b.c.d, and SIIT's IPv4-translated ::ffff:0:a.b.c.d (RFC 7915).
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0xffff, 0, ..] => return restricted_v4(last),
        // IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1): deprecated, never a real destination.
        [0, 0, 0, 0, 0, 0, ..] => {
            return Some(restricted_v4(last).unwrap_or("a deprecated IPv4-compatible"))
        }
        // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052) reaches the IPv4 address at its end.
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => return restricted_v4(last),
        // Local-use NAT64 64:ff9b:1::/48 (RFC 8215): translated inside someone's network.
        [0x64, 0xff9b, 1, ..] => return Some("a local-use NAT64"),
        // 6to4 2002:a.b.c.d::/48 (RFC 3056): the relay tunnels to the embedded IPv4 address.
        [0x2002, high, low, ..] => return restricted_v4(v4(high, low)),
        // Teredo 2001:0::/32 (RFC 4380): server in bits 32-63, client obfuscated in the last 32.
        [0x2001, 0, s_high, s_low, .., c_high, c_low] => {
            return restricted_v4(v4(s_high, s_low)).or(restricted_v4(v4(!c_high, !c_low)))
        }
        _ => {}
    }
    Some(match seg[0] {
        0x0100 if seg[1..4] == [0; 3] => "a discard-only",
        0x2001 if seg[1] == 0x0db8 => "a documentation",
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

    /// Every IPv6 spelling of a private IPv4 address is as refused as the address itself.
    /// Judged by the guard's decision only: nothing connects (an embedding the guard missed
    /// would leave this machine by its default route).
    #[test]
    fn every_ipv6_embedding_of_an_internal_ipv4_address_is_refused() {
        for spelling in [
            "::127.0.0.1",                          // IPv4-compatible
            "::10.0.0.1",                           //
            "::8.8.8.8",                            // deprecated even when public
            "::ffff:0:127.0.0.1",                   // SIIT IPv4-translated
            "::ffff:0:a9fe:a9fe",                   // SIIT, hex
            "::ffff:10.1.2.3",                      // IPv4-mapped
            "::ffff:7f00:1",                        // mapped, hex
            "64:ff9b::10.0.0.1",                    // NAT64 well-known
            "64:ff9b:1::a00:1",                     // local-use NAT64
            "64:ff9b:1:abcd::8.8.8.8",              // local-use NAT64, whatever it embeds
            "2002:7f00:1::",                        // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::1",                    // 6to4 of 169.254.169.254
            "2002:c0a8:101:1::1",                   // 6to4 of 192.168.1.1
            "2001:0:a00:1::1",                      // Teredo, server 10.0.0.1
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1 (obfuscated)
            "2001:db8::1",                          // documentation
            "100::1",                               // discard-only
            "192.0.2.1",
            "203.0.113.9",
        ] {
            assert!(restricted_kind(ip(spelling)).is_some(), "{spelling}");
        }
        for public in [
            "2002:808:808::1",                      // 6to4 of 8.8.8.8
            "64:ff9b::808:808",                     // NAT64 of 8.8.8.8
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7", // Teredo, client 8.8.8.8
            "2a00:1450:4001::1",
        ] {
            assert!(restricted_kind(ip(public)).is_none(), "{public}");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// An address inside one of the IPv4 ranges the guard refuses.
        fn internal_v4() -> impl Strategy<Value = Ipv4Addr> {
            const RANGES: [(u32, u8); 9] = [
                (0x7f00_0000, 8),  // 127/8
                (0x0a00_0000, 8),  // 10/8
                (0xac10_0000, 12), // 172.16/12
                (0xc0a8_0000, 16), // 192.168/16
                (0xa9fe_0000, 16), // 169.254/16
                (0x6440_0000, 10), // 100.64/10
                (0x0000_0000, 8),  // 0/8
                (0xe000_0000, 4),  // 224/4
                (0xf000_0000, 4),  // 240/4
            ];
            (prop::sample::select(&RANGES[..]), any::<u32>())
                .prop_map(|((base, len), host)| Ipv4Addr::from(base | (host >> len)))
        }

        fn embeddings(v4: Ipv4Addr, noise: u64) -> Vec<Ipv6Addr> {
            let bits = u32::from(v4);
            let (hi, lo) = ((bits >> 16) as u16, bits as u16);
            let n = |i: u32| (noise >> (16 * i)) as u16;
            vec![
                v4.to_ipv6_mapped(),
                v4.to_ipv6_compatible(),
                Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, hi, lo),
                Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
                Ipv6Addr::new(0x64, 0xff9b, 1, n(0), n(1), n(2), hi, lo),
                Ipv6Addr::new(0x2002, hi, lo, n(0), n(1), n(2), n(3), 1),
                Ipv6Addr::new(0x2001, 0, hi, lo, n(0), n(1), n(2), n(3)),
                Ipv6Addr::new(0x2001, 0, 0x4136, 0xe378, n(0), n(1), !hi, !lo),
            ]
        }

        proptest! {
            #[test]
            fn internal_ipv4_is_refused_in_every_spelling(v4 in internal_v4(), noise in any::<u64>()) {
                let guard = OutboundGuard::default();
                prop_assert!(!guard.permits(IpAddr::V4(v4)), "{v4}");
                for v6 in embeddings(v4, noise) {
                    prop_assert!(!guard.permits(IpAddr::V6(v6)), "{v4} as {v6}");
                }
            }
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
