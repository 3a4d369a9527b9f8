//! Where a webhook may be delivered: the URL rules and the private-address check (SSRF guard).
//!
//! A webhook URL is typed by an administrator, but the server is the one that connects to it,
//! from inside the studio's network. Without a check, `https://10.0.0.5/admin` or
//! `http://169.254.169.254/` (a cloud metadata service) would make the server a proxy into
//! places its users cannot reach. So a target must be `https` and must not be, or resolve
//! to, an address that is not on the public Internet.
//!
//! The check runs twice: [`parse_target`] at registration (an IP literal is judged there and
//! then; a host name is resolved by the caller and judged by [`check_resolved`]), and again at
//! every delivery, where the outbound client judges the addresses it is about to connect to.
//! This module only decides; it does no I/O.
//!
//! `allow_private` (setting `webhooks.allow_private_targets`) turns the address check off and
//! also admits `http`, for tests against a receiver on the same machine.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Longest webhook URL accepted, in characters (both as typed and once normalised).
pub const MAX_URL_CHARS: usize = 2048;

/// Why a webhook target was refused. The messages are fit for a 422 field message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Longer than [`MAX_URL_CHARS`].
    #[error("must be at most 2048 characters")]
    TooLong,
    /// Not an absolute URL at all.
    #[error("must be an absolute URL")]
    NotAUrl,
    /// A scheme other than `https` (or `http` when private targets are allowed).
    #[error("must be an https URL")]
    Scheme,
    /// No host, e.g. a `data:` or `mailto:` URL.
    #[error("must have a host")]
    MissingHost,
    /// `user:password@` in the URL: credentials would be stored and logged with it.
    #[error("must not contain a user name or password")]
    Credentials,
    /// A `#fragment`, which is never sent to the server and so means a mistake.
    #[error("must not contain a fragment")]
    Fragment,
    /// The host is, or resolves to, an address that is not on the public Internet.
    #[error("must not point to a private, loopback or link-local address")]
    ForbiddenAddress,
    /// The host name resolved to no address.
    #[error("the host does not resolve")]
    Unresolvable,
}

/// A webhook URL that passed [`parse_target`].
///
/// `Debug` leaves out the query string, which receivers sometimes use for their own tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    url: Url,
    port: u16,
    ip: Option<IpAddr>,
}

impl WebhookTarget {
    /// The URL as normalised by the `url` crate (lower-case scheme and host, punycode, default
    /// port dropped, path percent-encoded), which is what is stored and requested.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The host as written in the normalised URL: a domain name, a dotted IPv4 address, or an
    /// IPv6 address in brackets (`[2001:db8::1]`).
    pub fn host(&self) -> &str {
        // A target always has a host: `parse_target` refuses one without.
        self.url.host_str().unwrap_or_default()
    }

    /// The port connected to: the explicit one, else 443 for `https` and 80 for `http`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address when the host is an IP literal, `None` for a domain name.
    pub fn ip_literal(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The URL without its query string, for logs and error messages.
    pub fn redacted(&self) -> String {
        let mut shown = self.url.clone();
        shown.set_query(None);
        shown.into()
    }
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.redacted())
            .field("port", &self.port)
            .field("ip", &self.ip)
            .finish()
    }
}

/// Parses and checks a webhook URL.
///
/// Refused: anything over [`MAX_URL_CHARS`], a relative URL, a scheme other than `https`
/// (`http` too when `allow_private`), no host, a user name or password, a fragment, and an IP
/// literal host that [`is_forbidden_address`] (unless `allow_private`). A domain name is not
/// resolved here; see [`check_resolved`].
///
/// ```
/// use cohai_domain::webhook_target::{parse_target, TargetError};
/// let t = parse_target("HTTPS://Hooks.Example.com/cohai?k=1", false).unwrap();
/// assert_eq!(t.url(), "https://hooks.example.com/cohai?k=1");
/// assert_eq!((t.host(), t.port()), ("hooks.example.com", 443));
/// assert_eq!(parse_target("http://hooks.example.com/", false), Err(TargetError::Scheme));
/// assert_eq!(parse_target("https://10.1.2.3/", false), Err(TargetError::ForbiddenAddress));
/// ```
pub fn parse_target(raw: &str, allow_private: bool) -> Result<WebhookTarget, TargetError> {
    // Checked before parsing so a huge input costs nothing; `chars()` stops counting early.
    if raw.chars().nth(MAX_URL_CHARS).is_some() {
        return Err(TargetError::TooLong);
    }
    let url = Url::parse(raw).map_err(|_| TargetError::NotAUrl)?;
    // Normalising can lengthen it (percent-encoding, punycode); the stored form must fit too.
    if url.as_str().len() > MAX_URL_CHARS {
        return Err(TargetError::TooLong);
    }
    let default_port = match url.scheme() {
        "https" => 443,
        "http" if allow_private => 80,
        _ => return Err(TargetError::Scheme),
    };
    let ip = match url.host() {
        None => return Err(TargetError::MissingHost),
        Some(Host::Domain("")) => return Err(TargetError::MissingHost),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    if url.fragment().is_some() {
        return Err(TargetError::Fragment);
    }
    if let Some(ip) = ip {
        check_resolved(&[ip], allow_private)?;
    }
    let port = url.port().unwrap_or(default_port);
    Ok(WebhookTarget { url, port, ip })
}

/// Checks the addresses a host name resolved to: refused when there are none, or when ANY of
/// them is forbidden (unless `allow_private`).
///
/// Any, not all: a client may connect to whichever address it likes, and a name that mixes a
/// public address with `127.0.0.1` is exactly how a rebinding attack looks.
pub fn check_resolved(addresses: &[IpAddr], allow_private: bool) -> Result<(), TargetError> {
    if addresses.is_empty() {
        return Err(TargetError::Unresolvable);
    }
    if !allow_private && addresses.iter().any(|&ip| is_forbidden_address(ip)) {
        return Err(TargetError::ForbiddenAddress);
    }
    Ok(())
}

/// True when `ip` is not an address of the public Internet that a webhook may be sent to.
///
/// IPv4: `0.0.0.0/8` (unspecified, "this network"), loopback `127/8`, private `10/8`,
/// `172.16/12`, `192.168/16`, carrier-grade NAT `100.64/10`, link-local `169.254/16`,
/// IETF protocol assignments `192.0.0/24`, documentation `192.0.2/24`, `198.51.100/24`,
/// `203.0.113/24`, benchmarking `198.18/15`, the old 6to4 relay `192.88.99/24`, multicast
/// `224/4`, reserved `240/4` and broadcast.
///
/// IPv6: unspecified `::`, loopback `::1`, multicast `ff00::/8`, link-local `fe80::/10`,
/// site-local `fec0::/10`, unique-local `fc00::/7`, discard `100::/64`, documentation
/// `2001:db8::/32` and `3fff::/20`, benchmarking `2001:2::/48`, Teredo `2001::/32` (its client
/// address is obfuscated, so it cannot be judged) and local-use NAT64 `64:ff9b:1::/48`. An
/// address that carries an IPv4 address is judged by that address: IPv4-mapped
/// `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and 6to4 `2002::/16`.
pub fn is_forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // 0.0.0.0/8: Linux connects 0.0.0.0 to the local host
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (b & 0xC0) == 64) // 100.64.0.0/10
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // 192.0.0.0/24, 192.0.2.0/24
        || (a == 192 && b == 88 && c == 99) // 192.88.99.0/24
        || (a == 198 && (b & 0xFE) == 18) // 198.18.0.0/15
        || (a == 198 && b == 51 && c == 100) // 198.51.100.0/24
        || (a == 203 && b == 0 && c == 113) // 203.0.113.0/24
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = embedded_v4(&s) {
        return is_forbidden_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xFF00) == 0xFF00 // multicast ff00::/8
        || (s[0] & 0xFFC0) == 0xFE80 // link-local fe80::/10
        || (s[0] & 0xFFC0) == 0xFEC0 // site-local fec0::/10 (deprecated, still routed locally)
        || (s[0] & 0xFE00) == 0xFC00 // unique-local fc00::/7
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard 100::/64
        || (s[0] == 0x2001 && s[1] == 0x0DB8) // documentation 2001:db8::/32
        || (s[0] == 0x3FFF && (s[1] & 0xF000) == 0) // documentation 3fff::/20
        || (s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0) // benchmarking 2001:2::/48
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32
        || (s[0] == 0x0064 && s[1] == 0xFF9B && s[2] == 0x0001) // local NAT64 64:ff9b:1::/48
}

/// The IPv4 address inside an IPv6 address that carries one: IPv4-mapped `::ffff:0:0/96`,
/// IPv4-compatible `::/96` (but not `::` and `::1` themselves), NAT64 `64:ff9b::/96` and
/// 6to4 `2002::/16`.
fn embedded_v4(s: &[u16; 8]) -> Option<Ipv4Addr> {
    let from = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xFFFF, hi, lo] => Some(from(*hi, *lo)),
        // `::` and `::1` are judged as themselves (unspecified, loopback); their embedded
        // forms, 0.0.0.0 and 0.0.0.1, would be forbidden as well.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(from(*hi, *lo)),
        [0x0064, 0xFF9B, 0, 0, 0, 0, hi, lo] => Some(from(*hi, *lo)),
        [0x2002, hi, lo, ..] => Some(from(*hi, *lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn mapped(v4: Ipv4Addr) -> IpAddr {
        IpAddr::V6(v4.to_ipv6_mapped())
    }

    fn nat64(v4: Ipv4Addr) -> IpAddr {
        let [a, b, c, d] = v4.octets();
        IpAddr::V6(Ipv6Addr::new(
            0x64,
            0xFF9B,
            0,
            0,
            0,
            0,
            u16::from_be_bytes([a, b]),
            u16::from_be_bytes([c, d]),
        ))
    }

    fn six_to_four(v4: Ipv4Addr, tail: u16) -> IpAddr {
        let [a, b, c, d] = v4.octets();
        IpAddr::V6(Ipv6Addr::new(
            0x2002,
            u16::from_be_bytes([a, b]),
            u16::from_be_bytes([c, d]),
            tail,
            0,
            0,
            0,
            1,
        ))
    }

    #[test]
    fn forbidden_addresses_include_every_listed_range_and_its_edges() {
        for s in [
            "0.0.0.0",
            "0.255.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.0",
            "10.255.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.1",
            "192.168.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "169.254.0.1",
            "169.254.169.254",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "198.18.0.0",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "febf:ffff::1",
            "fec0::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "ff0e::1",
            "100::1",
            "2001:db8::1",
            "3fff::1",
            "3fff:fff:ffff::1",
            "2001:2::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "64:ff9b:1::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.1.2.3",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
        ] {
            assert!(is_forbidden_address(ip(s)), "{s} should be forbidden");
        }
    }

    #[test]
    fn public_addresses_just_outside_the_ranges_are_allowed() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "192.0.1.1",
            "192.0.3.1",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.1",
            "198.51.101.1",
            "203.0.112.1",
            "203.0.114.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4010:c05::8a",
            "fe7f:ffff::1",
            "fbff::1",
            "2001:db9::1",
            "2001:1::1",
            "2001:2:1::1",
            "3ffe::1",
            "3fff:1000::1",
            "::2:0:0:1",
            "::ffff:8.8.8.8",
            "::8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(!is_forbidden_address(ip(s)), "{s} should be allowed");
        }
    }

    proptest! {
        #[test]
        fn an_ipv4_in_ipv6_is_judged_by_its_embedded_ipv4(bits: u32, tail: u16) {
            let v4 = Ipv4Addr::from(bits);
            let expected = is_forbidden_address(IpAddr::V4(v4));
            prop_assert_eq!(is_forbidden_address(mapped(v4)), expected);
            prop_assert_eq!(is_forbidden_address(nat64(v4)), expected);
            prop_assert_eq!(is_forbidden_address(six_to_four(v4, tail)), expected);
        }

        #[test]
        fn every_address_of_a_private_ipv4_block_is_forbidden(
            (base, prefix) in prop::sample::select(vec![
                (0x0000_0000_u32, 8_u32), (0x7F00_0000, 8), (0x0A00_0000, 8), (0xAC10_0000, 12),
                (0xC0A8_0000, 16), (0x6440_0000, 10), (0xA9FE_0000, 16), (0xC000_0000, 24),
                (0xC000_0200, 24), (0xC612_0000, 15), (0xC633_6400, 24), (0xCB00_7100, 24),
                (0xE000_0000, 4), (0xF000_0000, 4),
            ]),
            host: u32,
        ) {
            let v4 = Ipv4Addr::from(base | (host >> prefix));
            prop_assert!(is_forbidden_address(IpAddr::V4(v4)), "{}", v4);
        }

        #[test]
        fn every_address_of_a_local_ipv6_block_is_forbidden(
            (base, prefix) in prop::sample::select(vec![
                (0xFE80_u128 << 112, 10_u32), (0xFC00_u128 << 112, 7), (0xFF00_u128 << 112, 8),
            ]),
            host: u128,
        ) {
            let v6 = Ipv6Addr::from(base | (host >> prefix));
            prop_assert!(is_forbidden_address(IpAddr::V6(v6)), "{}", v6);
        }

        #[test]
        fn any_forbidden_address_among_the_resolved_refuses_the_target(
            public in prop::collection::vec(
                prop::sample::select(vec![ip("1.1.1.1"), ip("8.8.4.4"), ip("2606:4700::1111")]),
                0..4,
            ),
            bad in prop::sample::select(vec![ip("127.0.0.1"), ip("::1"), ip("10.9.8.7")]),
            at: prop::sample::Index,
        ) {
            let mut all = public.clone();
            all.insert(at.index(all.len() + 1), bad);
            prop_assert_eq!(check_resolved(&all, false), Err(TargetError::ForbiddenAddress));
            prop_assert_eq!(check_resolved(&all, true), Ok(()));
            if !public.is_empty() {
                prop_assert_eq!(check_resolved(&public, false), Ok(()));
            }
        }
    }

    #[test]
    fn no_resolved_address_is_refused_even_when_private_targets_are_allowed() {
        assert_eq!(check_resolved(&[], false), Err(TargetError::Unresolvable));
        assert_eq!(check_resolved(&[], true), Err(TargetError::Unresolvable));
    }

    #[test]
    fn a_public_https_url_is_accepted_and_normalised() {
        let t = parse_target("HTTPS://Hooks.Example.COM:8443/a/../in?x=1&y=%41", false).unwrap();
        assert_eq!(t.url(), "https://hooks.example.com:8443/in?x=1&y=%41");
        assert_eq!(t.host(), "hooks.example.com");
        assert_eq!(t.port(), 8443);
        assert_eq!(t.ip_literal(), None);
    }

    #[test]
    fn the_default_port_is_known_for_https_and_http() {
        assert_eq!(
            parse_target("https://example.com", false).unwrap().port(),
            443
        );
        assert_eq!(
            parse_target("https://example.com:443/", false)
                .unwrap()
                .url(),
            "https://example.com/"
        );
        assert_eq!(
            parse_target("http://example.com/", true).unwrap().port(),
            80
        );
    }

    #[test]
    fn an_international_host_is_stored_in_punycode() {
        let t = parse_target("https://студия.рф/hook", false).unwrap();
        assert_eq!(t.host(), "xn--d1aizef8e.xn--p1ai");
    }

    #[test]
    fn http_is_refused_unless_private_targets_are_allowed() {
        assert_eq!(
            parse_target("http://example.com/", false),
            Err(TargetError::Scheme)
        );
        assert!(parse_target("http://example.com/", true).is_ok());
    }

    #[test]
    fn other_schemes_are_refused_even_when_private_targets_are_allowed() {
        for raw in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "ws://example.com/",
        ] {
            assert_eq!(parse_target(raw, true), Err(TargetError::Scheme), "{raw}");
        }
        assert_eq!(
            parse_target("mailto:ops@example.com", false),
            Err(TargetError::Scheme)
        );
    }

    #[test]
    fn a_relative_or_malformed_url_is_refused() {
        for raw in [
            "",
            "example.com/hook",
            "/hook",
            "https://",
            "https://exa mple.com/",
            "https://[::1/",
        ] {
            assert_eq!(
                parse_target(raw, false),
                Err(TargetError::NotAUrl),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        for raw in [
            "https://user:pass@example.com/",
            "https://user@example.com/",
            "https://:pass@example.com/",
        ] {
            assert_eq!(
                parse_target(raw, true),
                Err(TargetError::Credentials),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_fragment_is_refused_even_an_empty_one() {
        assert_eq!(
            parse_target("https://example.com/#x", false),
            Err(TargetError::Fragment)
        );
        assert_eq!(
            parse_target("https://example.com/#", false),
            Err(TargetError::Fragment)
        );
    }

    #[test]
    fn a_url_longer_than_2048_characters_is_refused() {
        let base = "https://example.com/";
        let fits = format!("{base}{}", "a".repeat(MAX_URL_CHARS - base.len()));
        assert!(parse_target(&fits, false).is_ok());
        let over = format!("{fits}a");
        assert_eq!(parse_target(&over, false), Err(TargetError::TooLong));
        // 2048 characters as typed, but longer once percent-encoded.
        let widened = format!("{base}{}", "ж".repeat(MAX_URL_CHARS - base.len()));
        assert_eq!(parse_target(&widened, false), Err(TargetError::TooLong));
    }

    #[test]
    fn a_forbidden_ip_literal_is_refused_unless_private_targets_are_allowed() {
        for raw in [
            "https://127.0.0.1/",
            "https://10.0.0.1:8443/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:192.168.1.1]/",
            "https://0.0.0.0/",
        ] {
            assert_eq!(
                parse_target(raw, false),
                Err(TargetError::ForbiddenAddress),
                "{raw}"
            );
            assert!(parse_target(raw, true).is_ok(), "{raw}");
        }
    }

    #[test]
    fn alternative_spellings_of_loopback_are_caught_as_ip_literals() {
        // The URL standard reads these as IPv4 addresses, and so do browsers and resolvers.
        for raw in [
            "https://127.1/",
            "https://2130706433/",
            "https://0x7f.0.0.1/",
            "https://0177.0.0.1/",
        ] {
            assert_eq!(
                parse_target(raw, false),
                Err(TargetError::ForbiddenAddress),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_public_ip_literal_is_accepted_and_reported() {
        let t = parse_target("https://8.8.8.8/x", false).unwrap();
        assert_eq!(t.ip_literal(), Some(ip("8.8.8.8")));
        let t = parse_target("https://[2606:4700::1111]:8443/x", false).unwrap();
        assert_eq!(t.ip_literal(), Some(ip("2606:4700::1111")));
        assert_eq!(t.host(), "[2606:4700::1111]");
        assert_eq!(t.port(), 8443);
    }

    #[test]
    fn debug_and_redacted_leave_out_the_query_string() {
        let t = parse_target("https://example.com/hook?token=s3cret", false).unwrap();
        assert_eq!(t.redacted(), "https://example.com/hook");
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(t.url(), "https://example.com/hook?token=s3cret");
    }

    #[test]
    fn error_messages_are_field_messages() {
        assert_eq!(TargetError::Scheme.to_string(), "must be an https URL");
        assert_eq!(
            TargetError::ForbiddenAddress.to_string(),
            "must not point to a private, loopback or link-local address"
        );
        assert_eq!(
            TargetError::Unresolvable.to_string(),
            "the host does not resolve"
        );
    }
}
