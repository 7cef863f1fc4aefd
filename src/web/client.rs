//! The client's address, for the abuse guard: the connection's peer, or a
//! header set by trusted reverse proxies when the user opts in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::ConnectInfo;
use http::header::{GetAll, FORWARDED};
use http::{HeaderMap, HeaderName, HeaderValue, Request};

/// Where the layer takes a request's client address from, to count failures
/// and new sessions per client in the [`Guard`](crate::Guard).
///
/// The default is the TCP peer, which needs the server to record it: serve
/// the router with `into_make_service_with_connect_info::<SocketAddr>()`
/// (tests that call the router directly can add axum's
/// `MockConnectInfo<SocketAddr>` layer instead).
/// With a guard, a request whose address cannot be found is refused with
/// `500 Internal Server Error` (and a `warn` is logged once): the guard
/// cannot count it, and counting every such request as one client would let
/// one attacker block everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAddress {
    /// The connection's peer address (`ConnectInfo<SocketAddr>`).
    #[default]
    Connection,
    /// The address your reverse proxies wrote into a header (see
    /// [`TrustedProxyHeader`]). Choose this only behind proxies that always
    /// append to (or overwrite) the header: anyone else can write any address
    /// into it. Requests where the header gives no address fall back to the
    /// connection's peer.
    TrustedProxyHeader(TrustedProxyHeader),
}

impl From<TrustedProxyHeader> for ClientAddress {
    fn from(header: TrustedProxyHeader) -> ClientAddress {
        ClientAddress::TrustedProxyHeader(header)
    }
}

impl ClientAddress {
    /// The client address of `req`, if any.
    pub(crate) fn of<B>(&self, req: &Request<B>) -> Option<IpAddr> {
        if let ClientAddress::TrustedProxyHeader(header) = self {
            if let Some(address) = header.address(req.headers()) {
                return Some(address);
            }
        }
        let extensions = req.extensions();
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            // axum's stand-in for tests that call the router directly.
            .or_else(|| {
                extensions
                    .get::<MockConnectInfo<SocketAddr>>()
                    .map(|info| info.0.ip())
            })
    }
}

/// The most proxies [`TrustedProxyHeader::hops`] counts.
pub const MAX_PROXY_HOPS: usize = 16;

/// An element longer than this (bytes, after trimming) is not read: no
/// address or `Forwarded` element a proxy writes comes close.
const MAX_ELEMENT_LEN: usize = 256;

/// A header in which your reverse proxies record the client's address, and
/// how many of them append to it.
///
/// The header is read as one comma-separated list over all its lines, in
/// order. Each proxy appends the address it received the request from, so
/// with `n` proxies of yours in front of the server
/// ([`hops(n)`](Self::hops), default 1), the `n`-th element from the right
/// is the one the outermost of your proxies wrote: the client's address.
/// Elements to its left were sent by the client and are ignored.
///
/// Formats:
/// - `Forwarded` (RFC 7239, [`forwarded`](Self::forwarded)): elements
///   such as `for=192.0.2.60;proto=https;by=203.0.113.43`; the `for`
///   parameter is read (name case-insensitive, value a token or a quoted
///   string): `1.2.3.4`, `"1.2.3.4:80"`, `"[2001:db8::1]"`,
///   `"[2001:db8::1]:4711"`. Other parameters are ignored. An element with
///   no `for`, two of them, an obfuscated node (`unknown`, `_hidden`) or a
///   quoted-pair (`\`) gives no address.
/// - any other header ([`x_forwarded_for`](Self::x_forwarded_for),
///   [`new`](Self::new) for e.g. `x-real-ip` or a CDN's header): elements
///   are addresses, optionally with a port: `1.2.3.4`, `1.2.3.4:80`,
///   `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`. Anything else
///   (`unknown`, a host name) gives no address.
///
/// Empty elements (`a,,b`) are skipped. When the chosen element gives no
/// address, or the list has fewer than `n` elements (the request did not
/// pass through all your proxies), the layer falls back to the
/// connection's peer.
///
/// The list is scanned from the right and only as far as the `n`-th
/// element; elements longer than 256 bytes are not parsed. Work is bounded
/// by the part of the header your own proxies wrote, whatever the client
/// put to its left, and nothing is allocated.
///
/// ```
/// use tessera::web::{ClientAddress, TrustedProxyHeader};
///
/// // One proxy (nginx `proxy_add_x_forwarded_for`): the last address.
/// let one = ClientAddress::from(TrustedProxyHeader::x_forwarded_for());
/// // A CDN in front of a load balancer, both appending `Forwarded`.
/// let two = ClientAddress::from(TrustedProxyHeader::forwarded().hops(2));
/// # let _ = (one, two);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedProxyHeader {
    name: HeaderName,
    forwarded: bool,
    hops: usize,
}

impl TrustedProxyHeader {
    /// The header `name`, one proxy. `Forwarded` is read as RFC 7239, any
    /// other name as a list of addresses.
    pub fn new(name: HeaderName) -> TrustedProxyHeader {
        TrustedProxyHeader {
            forwarded: name == FORWARDED,
            name,
            hops: 1,
        }
    }

    /// `X-Forwarded-For`, one proxy.
    pub fn x_forwarded_for() -> TrustedProxyHeader {
        TrustedProxyHeader::new(HeaderName::from_static("x-forwarded-for"))
    }

    /// `Forwarded` (RFC 7239), one proxy.
    pub fn forwarded() -> TrustedProxyHeader {
        TrustedProxyHeader::new(FORWARDED)
    }

    /// The number of your proxies that append to the header (default 1):
    /// the client's address is the `n`-th element from the right. Kept
    /// between 1 and [`MAX_PROXY_HOPS`].
    pub fn hops(mut self, n: usize) -> TrustedProxyHeader {
        self.hops = n.clamp(1, MAX_PROXY_HOPS);
        self
    }

    /// The header's name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The number of proxies counted.
    pub fn hop_count(&self) -> usize {
        self.hops
    }

    /// The client address the header gives, if any.
    pub(crate) fn address(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let element = nth_from_right(headers.get_all(&self.name), self.hops, self.forwarded)?;
        let element = trim(element);
        if element.len() > MAX_ELEMENT_LEN {
            return None;
        }
        let element = core::str::from_utf8(element).ok()?;
        if self.forwarded {
            forwarded_for(element)
        } else {
            parse_node(element)
        }
    }
}

/// The `n`-th (from 1) non-empty element from the right of the
/// comma-separated list over all `lines`. With `quotes`, commas inside
/// double quotes do not separate; quotes are paired from the right within
/// each line, so an unbalanced quote left of the `n`-th element does not
/// matter.
fn nth_from_right<'a>(lines: GetAll<'a, HeaderValue>, n: usize, quotes: bool) -> Option<&'a [u8]> {
    let mut seen = 0usize;
    for line in lines.iter().rev() {
        let bytes = line.as_bytes();
        let mut end = bytes.len();
        let mut quoted = false;
        let mut i = bytes.len();
        loop {
            let at_start = i == 0;
            let split = if at_start {
                true
            } else {
                i -= 1;
                match bytes[i] {
                    b'"' if quotes => {
                        quoted = !quoted;
                        false
                    }
                    b',' => !quoted,
                    _ => false,
                }
            };
            if split {
                let start = if at_start { 0 } else { i + 1 };
                let element = bytes.get(start..end)?;
                if !trim(element).is_empty() {
                    seen += 1;
                    if seen == n {
                        return Some(element);
                    }
                }
                end = i;
            }
            if at_start {
                break;
            }
        }
    }
    None
}

/// `bytes` without leading and trailing spaces and tabs.
fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// The address in the `for` parameter of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in split_outside_quotes(element, ';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("for") {
            continue;
        }
        if found.is_some() {
            return None; // a parameter may occur once per element
        }
        found = Some(value.trim());
    }
    let value = found?;
    let node = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => value,
    };
    if node.contains(['\\', '"']) {
        return None;
    }
    parse_node(node)
}

/// `text` split at `sep` outside double quotes.
fn split_outside_quotes(text: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    text.split(move |c: char| {
        if c == '"' {
            quoted = !quoted;
        }
        c == sep && !quoted
    })
}

/// A node: `1.2.3.4`, `1.2.3.4:80`, `[v6]`, `[v6]:80`, or a bare `v6`.
/// Ports are 1-5 digits or an obfuscated `_port`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let ip = ip.parse::<Ipv6Addr>().ok()?;
        if !after.is_empty() && !is_port(after.strip_prefix(':')?) {
            return None;
        }
        return Some(IpAddr::V6(ip));
    }
    match node.split_once(':') {
        Some((host, port)) if !port.contains(':') => {
            let ip = host.parse::<Ipv4Addr>().ok()?;
            is_port(port).then_some(IpAddr::V4(ip))
        }
        Some(_) => node.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => node.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// RFC 7239 `node-port`: 1-5 digits, or `_` and letters, digits, `.`, `_`,
/// `-`.
fn is_port(port: &str) -> bool {
    match port.strip_prefix('_') {
        Some(obfuscated) => {
            !obfuscated.is_empty()
                && obfuscated
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Header = (&'static str, &'static str);

    fn request(headers: &[Header], peer: Option<&str>) -> Request<()> {
        let mut req = Request::new(());
        for (name, value) in headers {
            req.headers_mut()
                .append(*name, http::HeaderValue::from_static(value));
        }
        if let Some(peer) = peer {
            req.extensions_mut()
                .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        }
        req
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    /// The address `header` gives for one line `value` (no peer fallback).
    fn read(header: &TrustedProxyHeader, value: &[u8]) -> Option<IpAddr> {
        let mut headers = HeaderMap::new();
        headers.append(
            header.name().clone(),
            HeaderValue::from_bytes(value).unwrap(),
        );
        header.address(&headers)
    }

    #[test]
    fn connection_ignores_headers() {
        let how = ClientAddress::Connection;
        let req = request(&[("x-forwarded-for", "9.9.9.9")], Some("10.0.0.1:5000"));
        assert_eq!(how.of(&req), ip("10.0.0.1"));
        assert_eq!(how.of(&request(&[], None)), None);
        let mut mocked = request(&[], None);
        mocked
            .extensions_mut()
            .insert(MockConnectInfo("10.0.0.2:1".parse::<SocketAddr>().unwrap()));
        assert_eq!(how.of(&mocked), ip("10.0.0.2"));
    }

    #[test]
    fn trusted_header_takes_the_last_entry_and_falls_back() {
        let how = ClientAddress::from(TrustedProxyHeader::x_forwarded_for());
        let peer = Some("10.0.0.1:5000");
        let cases: [(&[Header], Option<IpAddr>); 10] = [
            (&[("x-forwarded-for", "1.1.1.1, 2.2.2.2")], ip("2.2.2.2")),
            (
                &[
                    ("x-forwarded-for", "1.1.1.1"),
                    ("x-forwarded-for", "3.3.3.3"),
                ],
                ip("3.3.3.3"),
            ),
            (
                &[("x-forwarded-for", "[2001:db8::1]:443")],
                ip("2001:db8::1"),
            ),
            (&[("x-forwarded-for", "[2001:db8::3]")], ip("2001:db8::3")),
            (&[("x-forwarded-for", "2001:db8::2")], ip("2001:db8::2")),
            (&[("x-forwarded-for", "4.4.4.4:80")], ip("4.4.4.4")),
            (&[("x-forwarded-for", "5.5.5.5 ,, ")], ip("5.5.5.5")),
            (&[("x-forwarded-for", "garbage")], ip("10.0.0.1")),
            (&[("x-forwarded-for", "1.1.1.1, unknown")], ip("10.0.0.1")),
            (&[], ip("10.0.0.1")),
        ];
        for (headers, want) in cases {
            assert_eq!(how.of(&request(headers, peer)), want, "{headers:?}");
        }
        assert_eq!(how.of(&request(&[], None)), None);
    }

    #[test]
    fn hops_count_proxies_from_the_right_across_lines() {
        let xff = TrustedProxyHeader::x_forwarded_for();
        let two = xff.clone().hops(2);
        let spoofed = b"6.6.6.6, 1.1.1.1, 2.2.2.2";
        assert_eq!(read(&xff, spoofed), ip("2.2.2.2"));
        assert_eq!(read(&two, spoofed), ip("1.1.1.1"));
        assert_eq!(read(&xff.clone().hops(3), spoofed), ip("6.6.6.6"));
        // Fewer elements than proxies: no address (the peer is used).
        assert_eq!(read(&xff.clone().hops(4), spoofed), None);
        assert_eq!(read(&two, b"2.2.2.2"), None);
        // Lines form one list, in order.
        let mut headers = HeaderMap::new();
        for line in ["6.6.6.6", "1.1.1.1", "2.2.2.2"] {
            headers.append("x-forwarded-for", HeaderValue::from_static(line));
        }
        assert_eq!(two.address(&headers), ip("1.1.1.1"));
        // Clamped.
        assert_eq!(xff.clone().hops(0).hop_count(), 1);
        assert_eq!(xff.hops(1000).hop_count(), MAX_PROXY_HOPS);
        assert_eq!(
            ClientAddress::from(TrustedProxyHeader::forwarded().hops(2)).of(&request(
                &[(
                    "forwarded",
                    "for=7.7.7.7, for=1.1.1.1;proto=https, for=10.9.9.9"
                )],
                None
            )),
            ip("1.1.1.1")
        );
    }

    #[test]
    fn forwarded_per_rfc_7239() {
        let fwd = TrustedProxyHeader::forwarded();
        assert_eq!(TrustedProxyHeader::new(FORWARDED), fwd);
        let cases: [(&str, Option<IpAddr>); 22] = [
            ("for=1.2.3.4", ip("1.2.3.4")),
            ("For=1.2.3.4", ip("1.2.3.4")),
            ("for=\"1.2.3.4\"", ip("1.2.3.4")),
            ("for=\"1.2.3.4:80\"", ip("1.2.3.4")),
            ("for=\"1.2.3.4:_p1\"", ip("1.2.3.4")),
            ("for=\"[2001:db8::1]:4711\"", ip("2001:db8::1")),
            ("for=\"[2001:db8::1]\"", ip("2001:db8::1")),
            (
                "for=192.0.2.60;proto=http;by=203.0.113.43",
                ip("192.0.2.60"),
            ),
            (
                "proto=https; for=192.0.2.61 ;by=\"[::1]\"",
                ip("192.0.2.61"),
            ),
            ("for=9.9.9.9, for=192.0.2.62", ip("192.0.2.62")),
            ("for=\"a,b\", for=192.0.2.63", ip("192.0.2.63")),
            // A quoted `;` inside another parameter does not split pairs.
            ("by=\"x;for=6.6.6.6\";for=192.0.2.64", ip("192.0.2.64")),
            // An unbalanced quote left of the proxy's element is harmless.
            ("for=\"6.6.6.6, for=192.0.2.65", ip("192.0.2.65")),
            ("for=unknown", None),
            ("for=_hidden", None),
            ("for=\"_hidden:80\"", None),
            ("proto=https", None),
            ("for=1.2.3.4;for=5.6.7.8", None),
            ("for=\"1.2.3.4", None),
            ("for=\"1.2.\\3.4\"", None),
            ("for=\"1.2.3.4:99999x\"", None),
            ("for=\"[2001:db8::1]x\"", None),
        ];
        for (value, want) in cases {
            assert_eq!(read(&fwd, value.as_bytes()), want, "{value}");
        }
    }

    #[test]
    fn hostile_headers_give_no_address_and_never_panic() {
        let long_list = format!("{}1.2.3.4", "x,".repeat(50_000));
        let long_element = format!("for=\"{}\"", "1".repeat(10_000));
        let quotes = "\"".repeat(10_001);
        let hostile: [&[u8]; 16] = [
            b"",
            b",",
            b" , ,\t",
            b"\"",
            b"for=",
            b"for=\"\"",
            b"for=[",
            b"for=\"[\"",
            b"for=\"[]:\"",
            b"for=\"[::1]:\"",
            b"1.2.3.4:",
            b"[::1",
            b"\xff\xfe1.2.3.4",
            long_element.as_bytes(),
            quotes.as_bytes(),
            b";;;===;",
        ];
        for header in [
            TrustedProxyHeader::forwarded(),
            TrustedProxyHeader::x_forwarded_for(),
            TrustedProxyHeader::x_forwarded_for().hops(MAX_PROXY_HOPS),
        ] {
            for value in hostile {
                assert_eq!(read(&header, value), None, "{header:?} {value:?}");
            }
        }
        // Only the proxy's end of a long list is read.
        let xff = TrustedProxyHeader::x_forwarded_for();
        assert_eq!(read(&xff, long_list.as_bytes()), ip("1.2.3.4"));
        assert_eq!(read(&xff.hops(2), long_list.as_bytes()), None);
        // Bytes that are not UTF-8 left of the proxy's element are ignored.
        assert_eq!(
            read(&TrustedProxyHeader::x_forwarded_for(), b"\xff\xfe, 1.2.3.4"),
            ip("1.2.3.4")
        );
    }
}
