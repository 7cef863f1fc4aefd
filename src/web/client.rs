//! The client's address, for the abuse guard: the connection's peer, or a
//! header set by a trusted reverse proxy when the user opts in.

use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::ConnectInfo;
use http::{HeaderName, Request};

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
    /// The last address in this header (e.g. `x-forwarded-for`, `x-real-ip`),
    /// which the reverse proxy in front of the server sets. Choose this only
    /// behind such a proxy, which must overwrite or append to the header:
    /// anyone else can write any address into it. The last entry is the one
    /// the nearest proxy added. Requests without a parsable header (direct
    /// connections) fall back to the connection's peer.
    TrustedProxyHeader(HeaderName),
}

impl ClientAddress {
    /// The client address of `req`, if any.
    pub(crate) fn of<B>(&self, req: &Request<B>) -> Option<IpAddr> {
        if let ClientAddress::TrustedProxyHeader(name) = self {
            let from_header = req
                .headers()
                .get_all(name)
                .iter()
                .next_back()
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.rsplit(',').next())
                .and_then(|last| parse_address(last.trim()));
            if from_header.is_some() {
                return from_header;
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

/// An IP address, with or without a port (`1.2.3.4`, `1.2.3.4:5`, `::1`,
/// `[::1]:5`).
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
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

    #[test]
    fn connection_ignores_headers() {
        let how = ClientAddress::Connection;
        let req = request(&[("x-forwarded-for", "9.9.9.9")], Some("10.0.0.1:5000"));
        assert_eq!(how.of(&req), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(how.of(&request(&[], None)), None);
        let mut mocked = request(&[], None);
        mocked
            .extensions_mut()
            .insert(MockConnectInfo("10.0.0.2:1".parse::<SocketAddr>().unwrap()));
        assert_eq!(how.of(&mocked), Some("10.0.0.2".parse().unwrap()));
    }

    #[test]
    fn trusted_header_takes_the_last_entry_and_falls_back() {
        let how = ClientAddress::TrustedProxyHeader(HeaderName::from_static("x-forwarded-for"));
        let peer = Some("10.0.0.1:5000");
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let cases: [(&[Header], Option<IpAddr>); 7] = [
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
            (&[("x-forwarded-for", "2001:db8::2")], ip("2001:db8::2")),
            (&[("x-forwarded-for", "4.4.4.4:80")], ip("4.4.4.4")),
            (&[("x-forwarded-for", "garbage")], ip("10.0.0.1")),
            (&[], ip("10.0.0.1")),
        ];
        for (headers, want) in cases {
            assert_eq!(how.of(&request(headers, peer)), want, "{headers:?}");
        }
        assert_eq!(how.of(&request(&[], None)), None);
    }
}
