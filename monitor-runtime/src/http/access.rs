//! Who may read the debug page: the peer's network, and the user's own
//! authorization check. The decision ([`Access::check`]) is a pure function
//! of the request's parts; [`guard`] is the middleware that applies it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use ::axum::extract::{ConnectInfo, Request, State};
use ::axum::http::request::Parts;
use ::axum::http::{header, StatusCode};
use ::axum::middleware::Next;
use ::axum::response::{IntoResponse, Response};

/// A network of IP addresses, `addr/prefix` (CIDR): `10.0.0.0/8`,
/// `fd00::/8`, or a single address (`192.0.2.7`, which is `192.0.2.7/32`).
///
/// An IPv4 network also matches the same addresses written as IPv4-mapped
/// IPv6 (`::ffff:10.1.2.3`), as a dual-stack listener reports them.
///
/// ```
/// use monitor_runtime::http::Network;
///
/// let office: Network = "10.20.0.0/16".parse().unwrap();
/// assert!(office.contains("10.20.3.4".parse().unwrap()));
/// assert!(office.contains("::ffff:10.20.3.4".parse().unwrap()));
/// assert!(!office.contains("10.21.0.1".parse().unwrap()));
/// assert_eq!(office.to_string(), "10.20.0.0/16");
/// assert!("10.0.0.0/33".parse::<Network>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// `127.0.0.0/8`, the IPv4 loopback network.
    ///
    /// ```
    /// use monitor_runtime::http::Network;
    /// assert!(Network::LOOPBACK_V4.contains("127.0.0.1".parse().unwrap()));
    /// ```
    pub const LOOPBACK_V4: Network = Network {
        addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
        prefix: 8,
    };

    /// `::1/128`, the IPv6 loopback address.
    ///
    /// ```
    /// use monitor_runtime::http::Network;
    /// assert!(Network::LOOPBACK_V6.contains("::1".parse().unwrap()));
    /// ```
    pub const LOOPBACK_V6: Network = Network {
        addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
        prefix: 128,
    };

    /// The network of `addr` with a prefix of `prefix` bits; the bits of
    /// `addr` past the prefix are cleared. Fails if the prefix is longer
    /// than the address (32 bits for IPv4, 128 for IPv6).
    ///
    /// ```
    /// use monitor_runtime::http::Network;
    /// use std::net::Ipv4Addr;
    ///
    /// let net = Network::new(Ipv4Addr::new(192, 168, 1, 77).into(), 24).unwrap();
    /// assert_eq!(net.to_string(), "192.168.1.0/24");
    /// assert!(Network::new(Ipv4Addr::LOCALHOST.into(), 40).is_err());
    /// ```
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Network, NetworkError> {
        let max = max_prefix(addr);
        if prefix > max {
            return Err(NetworkError::Prefix {
                text: prefix.to_string(),
                max,
            });
        }
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask_v4(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask_v6(prefix))),
        };
        Ok(Network { addr, prefix })
    }

    /// Whether `ip` is in this network. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`) counts as the IPv4 address it maps.
    ///
    /// ```
    /// use monitor_runtime::http::Network;
    /// let net: Network = "fd00::/8".parse().unwrap();
    /// assert!(net.contains("fd12::1".parse().unwrap()));
    /// assert!(!net.contains("10.0.0.1".parse().unwrap()));
    /// ```
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask_v4(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask_v6(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl From<IpAddr> for Network {
    /// The single address `addr` (`/32` or `/128`).
    fn from(addr: IpAddr) -> Network {
        Network {
            addr,
            prefix: max_prefix(addr),
        }
    }
}

impl FromStr for Network {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Network, NetworkError> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .trim()
            .parse()
            .map_err(|_| NetworkError::Address {
                text: addr_text.to_owned(),
            })?;
        match prefix_text {
            None => Ok(Network::from(addr)),
            Some(prefix_text) => {
                let prefix =
                    prefix_text
                        .trim()
                        .parse::<u8>()
                        .map_err(|_| NetworkError::Prefix {
                            text: prefix_text.to_owned(),
                            max: max_prefix(addr),
                        })?;
                Network::new(addr, prefix)
            }
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Why a text is not a [`Network`].
///
/// ```
/// use monitor_runtime::http::{Network, NetworkError};
///
/// let err = "10.0.0.0/40".parse::<Network>().unwrap_err();
/// assert!(matches!(err, NetworkError::Prefix { max: 32, .. }));
/// assert_eq!(
///     err.to_string(),
///     "`40` is not a prefix length for this address: write a number from 0 to 32, as in `10.0.0.0/8`"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    Address {
        /// The text that was not an address.
        text: String,
    },
    /// The part after `/` is not a number, or is longer than the address.
    Prefix {
        /// The text that was not a prefix length.
        text: String,
        /// The longest prefix for the address: 32 for IPv4, 128 for IPv6.
        max: u8,
    },
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkError::Address { text } => write!(
                f,
                "`{text}` is not an IP address: write a network as `10.0.0.0/8` or `fd00::/8`, \
                 or a single address as `192.0.2.7`"
            ),
            NetworkError::Prefix { text, max } => write!(
                f,
                "`{text}` is not a prefix length for this address: write a number from 0 to \
                 {max}, as in `{}`",
                if *max == 32 { "10.0.0.0/8" } else { "fd00::/8" }
            ),
        }
    }
}

impl std::error::Error for NetworkError {}

/// A user's check on a request: `true` lets it through.
pub(super) type Authorize = Arc<dyn Fn(&Parts) -> bool + Send + Sync>;

/// The rules of one router: which peers, and which checks.
#[derive(Clone)]
pub(super) struct Access {
    /// Served peers, beyond loopback (always served unless `any_peer`).
    pub(super) networks: Vec<Network>,
    /// Serves every peer, and needs no peer address.
    pub(super) any_peer: bool,
    /// Every check must say yes.
    pub(super) checks: Vec<Authorize>,
}

/// Why a request was refused; its `Display` is the 403's body.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No `ConnectInfo<SocketAddr>` in the request.
    NoPeer,
    /// The peer is in no allowed network.
    Peer(IpAddr),
    /// A user's check said no.
    Unauthorized,
}

impl Access {
    pub(super) fn loopback_only() -> Access {
        Access {
            networks: Vec::new(),
            any_peer: false,
            checks: Vec::new(),
        }
    }

    /// The decision, from the request's parts only.
    pub(super) fn check(&self, parts: &Parts) -> Result<(), Refusal> {
        if !self.any_peer {
            let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
                return Err(Refusal::NoPeer);
            };
            let ip = peer.ip();
            let loopback = ip.to_canonical().is_loopback();
            if !loopback && !self.networks.iter().any(|n| n.contains(ip)) {
                return Err(Refusal::Peer(ip));
            }
        }
        if self.checks.iter().all(|check| check(parts)) {
            Ok(())
        } else {
            Err(Refusal::Unauthorized)
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoPeer => f.write_str(
                "403 Forbidden: this debug page (monitor_runtime::http) serves loopback peers \
                 only, and it cannot see the peer's address. Serve the app with its peer \
                 addresses: `axum::serve(listener, \
                 app.into_make_service_with_connect_info::<std::net::SocketAddr>())`; or opt in \
                 explicitly with `monitor_runtime::http::RouterBuilder::new().allow_any_peer()` \
                 and an `.authorize(..)` check.",
            ),
            Refusal::Peer(ip) => write!(
                f,
                "403 Forbidden: this debug page (monitor_runtime::http) reveals code paths and \
                 serves loopback peers only, and {ip} is not one. To allow a trusted network, \
                 build the router with `monitor_runtime::http::RouterBuilder::new()\
                 .allow(\"10.0.0.0/8\".parse()?).build()`, or add your own check with \
                 `.allow_any_peer().authorize(|parts| ..)`."
            ),
            Refusal::Unauthorized => f.write_str(
                "403 Forbidden: this debug page's authorization check refused the request.",
            ),
        }
    }
}

/// The middleware in front of every route of the page.
pub(super) async fn guard(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    if let Err(refusal) = access.check(&parts) {
        // DEBUG: anyone who reaches the port can provoke it.
        tracing::debug!(
            target: "monitor_runtime",
            reason = ?refusal,
            path = %parts.uri.path(),
            "debug page request refused"
        );
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{refusal}\n"),
        )
            .into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_edges() {
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.7".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
        let all6: Network = "::/0".parse().unwrap();
        assert!(all6.contains("2001:db8::1".parse().unwrap()));
        let host: Network = "192.0.2.7".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.7/32");
        assert!(host.contains("192.0.2.7".parse().unwrap()));
        assert!(!host.contains("192.0.2.8".parse().unwrap()));
        assert_eq!(
            "2001:db8::ff/32".parse::<Network>().unwrap().to_string(),
            "2001:db8::/32"
        );
        assert!(matches!(
            "nope/8".parse::<Network>(),
            Err(NetworkError::Address { .. })
        ));
        assert!(matches!(
            "::1/129".parse::<Network>(),
            Err(NetworkError::Prefix { max: 128, .. })
        ));
        assert!(matches!(
            "10.0.0.0/x".parse::<Network>(),
            Err(NetworkError::Prefix { max: 32, .. })
        ));
    }
}
