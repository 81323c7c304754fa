//! `allowed_outbound_hosts`: which destinations a component may call.
//!
//! Spin's rule format is `scheme://host[:port]`:
//! - the scheme is `*` or a name (`http`, `https`, `redis`...);
//! - the host is `*`, `*.domain` (any subdomain), a domain or IP literal, an
//!   IP network in CIDR form (`10.0.0.0/8`), or `self` / `self.alt` (the app
//!   itself: requests with a relative URL or to `self.alt`);
//! - the port is a number, `*`, or a range `a..b` (`b` excluded); without a
//!   port only the scheme's well-known port is allowed, and a scheme without
//!   one (or `*`) must give a port.
//!
//! `<component>.spin.internal` names another component of the app (service
//! chaining); `*.spin.internal` allows every component. Rules may contain
//! `{{ variable }}` templates, expanded at load.

use std::net::IpAddr;

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    /// Lower-case scheme, or `None` for `*`.
    scheme: Option<String>,
    /// Host pattern.
    host: HostPattern,
    /// Allowed ports.
    ports: PortPattern,
}

/// What a rule's host part matches.
#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    /// Any host (and the app itself).
    Any,
    /// The app itself (`self`, `self.alt`).
    ToSelf,
    /// This domain (lower-case).
    Domain(String),
    /// This IP address.
    Ip(IpAddr),
    /// Addresses in this network: base address and prefix length.
    Network(IpAddr, u8),
    /// Any subdomain of the suffix (`*.example.com` → `example.com`).
    SubdomainOf(String),
}

/// What a rule's port part matches.
#[derive(Debug, Clone, PartialEq)]
enum PortPattern {
    /// Any port.
    Any,
    /// One port.
    One(u16),
    /// Ports from the first (included) to the second (excluded), Spin's `a..b`.
    Range(u16, u16),
}

/// The outbound rules of one component.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowedHosts {
    /// Rules, any of which may allow a request.
    rules: Vec<Rule>,
}

/// The port a scheme implies when a URL or rule gives none (Spin's list).
pub fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" => Some(6379),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "mqtt" => Some(1883),
        _ => None,
    }
}

/// The domain that names components for service chaining.
pub const SERVICE_CHAINING_DOMAIN: &str = "spin.internal";

/// The component a `<component>.spin.internal` host names.
pub fn service_chaining_target(host: &str) -> Option<&str> {
    host.strip_suffix(SERVICE_CHAINING_DOMAIN)?.strip_suffix('.').filter(|c| !c.is_empty() && !c.contains('.'))
}

impl AllowedHosts {
    /// No outbound access at all.
    pub fn none() -> AllowedHosts {
        AllowedHosts::default()
    }

    /// Parse rules; `expand` resolves `{{ variable }}` templates.
    pub fn parse(rules: &[String], expand: &dyn Fn(&str) -> Result<String, String>) -> anyhow::Result<AllowedHosts> {
        if rules.len() == 1 && rules[0] == "insecure:allow-all" {
            anyhow::bail!("'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all outbound traffic");
        }
        let mut parsed = Vec::new();
        for original in rules {
            let text = if original.contains("{{") {
                expand(original).map_err(|e| anyhow::anyhow!("rule {original:?}: {e}"))?
            } else {
                original.clone()
            };
            parsed.push(parse_rule(text.trim()).map_err(|e| anyhow::anyhow!("rule {original:?}: {e}"))?);
        }
        Ok(AllowedHosts { rules: parsed })
    }

    /// Whether a request to `scheme://host[:port]` is allowed.
    pub fn allows_parts(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let ip: Option<IpAddr> = host.parse().ok();
        let port = port.or_else(|| well_known_port(&scheme));
        self.rules.iter().any(|rule| {
            rule.scheme.as_ref().is_none_or(|s| *s == scheme)
                && match &rule.host {
                    HostPattern::Any => true,
                    HostPattern::ToSelf => false,
                    HostPattern::Domain(d) => ip.is_none() && *d == host,
                    HostPattern::Ip(a) => ip == Some(*a),
                    HostPattern::Network(base, prefix) => ip.is_some_and(|ip| in_network(ip, *base, *prefix)),
                    HostPattern::SubdomainOf(suffix) => {
                        ip.is_none()
                            && host.len() > suffix.len() + 1
                            && host.ends_with(suffix.as_str())
                            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                    }
                }
                && match rule.ports {
                    PortPattern::Any => true,
                    PortPattern::One(p) => port == Some(p),
                    PortPattern::Range(lo, hi) => port.is_some_and(|p| (lo..hi).contains(&p)),
                }
        })
    }

    /// Whether a request to the app itself (a relative URL, or `self.alt`) is
    /// allowed: a rule for host `self` (or `*`) with scheme http, https or `*`.
    pub fn allows_self(&self) -> bool {
        self.rules.iter().any(|rule| {
            matches!(rule.host, HostPattern::Any | HostPattern::ToSelf)
                && rule.scheme.as_deref().is_none_or(|s| s == "http" || s == "https")
        })
    }

    /// Whether a URL is allowed.
    pub fn allows_url(&self, url: &str) -> bool {
        match url::Url::parse(url) {
            Ok(u) => self.allows_parts(u.scheme(), u.host_str().unwrap_or_default(), u.port()),
            Err(_) => false,
        }
    }
}

/// Spin's rule for one `allowed_outbound_hosts` entry whose templates are
/// already expanded: `scheme://host[:port]` with nothing after the authority
/// but an optional `/`. Spin itself checks expanded entries only when a
/// component first makes a request, so the host calls this at load instead.
pub fn check_rule(text: &str) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty: give scheme://host[:port], e.g. \"https://api.example.com\"".into());
    }
    parse_rule(text).map(|_| ())
}

fn in_network(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    match (ip, base) {
        (IpAddr::V4(ip), IpAddr::V4(base)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            u32::from(ip) & mask == u32::from(base) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(base)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            u128::from(ip) & mask == u128::from(base) & mask
        }
        _ => false,
    }
}

fn parse_rule(text: &str) -> Result<Rule, String> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(match text {
            "*" | ":" | "" | "?" => "not an allowed outbound host: use <scheme>://<host>[:<port>], e.g. \"https://example.com\" (\"*://*:*\" allows everything)".into(),
            _ => "a rule needs a scheme, e.g. \"https://example.com\" or \"*://example.com:*\"".into(),
        });
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "*" && (scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphabetic())) {
        return Err(format!("invalid scheme {scheme:?}: only letters, or `*`"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = split_host_port(rest)?;
    let host = host.to_ascii_lowercase();
    let host = parse_host(&host)?;
    let ports = match port {
        None | Some("") => match well_known_port(&scheme) {
            Some(p) => PortPattern::One(p),
            None => return Err(format!("no port was given and the scheme {scheme:?} has no well-known port; add one, e.g. `:*`")),
        },
        Some("*") => PortPattern::Any,
        Some(p) => match p.split_once("..") {
            Some((lo, hi)) => {
                let lo: u16 = lo.parse().map_err(|_| format!("port range {p:?} contains a non-number"))?;
                let hi: u16 = hi.parse().map_err(|_| format!("port range {p:?} contains a non-number"))?;
                PortPattern::Range(lo, hi)
            }
            None => PortPattern::One(p.parse().map_err(|_| format!("port {p:?} is not a number (ranges are written `a..b`)"))?),
        },
    };
    Ok(Rule { scheme: (scheme != "*").then_some(scheme), host, ports })
}

fn parse_host(host: &str) -> Result<HostPattern, String> {
    if host.is_empty() {
        return Err("a rule needs a host (or `*`)".into());
    }
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if host == "self" || host == "self.alt" {
        return Ok(HostPattern::ToSelf);
    }
    if host.starts_with('{') {
        return Err("host lists are not supported".into());
    }
    if let Some((addr, prefix)) = host.split_once('/') {
        let base: IpAddr = addr.parse().map_err(|_| format!("{host:?} must not include a path"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= max).ok_or_else(|| format!("invalid network prefix in {host:?}"))?;
        return Ok(HostPattern::Network(base, prefix));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(HostPattern::Ip(ip));
    }
    if let Some(suffix) = host.strip_prefix("*.") {
        if suffix.contains('*') || suffix.is_empty() {
            return Err(format!("invalid host pattern {host:?}: wildcards are allowed only as prefixes"));
        }
        return Ok(HostPattern::SubdomainOf(suffix.to_string()));
    }
    if host.contains('*') {
        return Err(format!("invalid host pattern {host:?}: wildcards are allowed only as subdomains (`*.example.com`)"));
    }
    url::Host::parse(host).map_err(|e| format!("invalid host {host:?}: {e}"))?;
    Ok(HostPattern::Domain(host.to_string()))
}

fn split_host_port(s: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else { return Err("unclosed IPv6 address".into()) };
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected {after:?} after the address")),
        };
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port {
        if p.contains('/') {
            return Err(format!("{s:?} must not include a path: give scheme://host[:port] only"));
        }
    }
    if host.contains('/') && host.split_once('/').is_some_and(|(a, _)| a.parse::<IpAddr>().is_err()) {
        return Err(format!("{s:?} must not include a path: give scheme://host[:port] only"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(rules: &[&str]) -> AllowedHosts {
        let rules: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
        AllowedHosts::parse(&rules, &|t| Ok(t.replace("{{ api }}", "https://api.example.com"))).unwrap()
    }

    #[test]
    fn well_known_ports_apply_when_a_rule_has_none() {
        let h = hosts(&["https://api.example.com"]);
        assert!(h.allows_url("https://api.example.com/x"));
        assert!(h.allows_url("https://api.example.com:443/x"));
        assert!(h.allows_url("https://API.example.com/x"));
        assert!(!h.allows_url("https://api.example.com:8443/x"));
        assert!(!h.allows_url("http://api.example.com/x"));
        assert!(!h.allows_url("https://other.example.com/x"));
    }

    #[test]
    fn wildcards_ranges_and_networks() {
        let h = hosts(&["*://*.example.com:*", "http://127.0.0.1:3000..3010", "https://10.1.0.0/16"]);
        assert!(h.allows_url("http://a.example.com:99/"));
        assert!(h.allows_url("https://b.c.example.com/"));
        assert!(!h.allows_url("https://example.com/"));
        assert!(h.allows_url("http://127.0.0.1:3005/"));
        assert!(h.allows_url("http://127.0.0.1:3000/"));
        assert!(!h.allows_url("http://127.0.0.1:3010/"), "a..b excludes b, as in Spin");
        assert!(h.allows_url("https://10.1.200.3/"));
        assert!(!h.allows_url("https://10.2.0.1/"));
        assert!(hosts(&["*://*:*"]).allows_url("http://anything:1/"));
        assert!(!AllowedHosts::none().allows_url("http://anything/"));
        assert!(hosts(&["http://[::1]:8080"]).allows_parts("http", "[::1]", Some(8080)));
    }

    #[test]
    fn self_requests_need_a_self_or_any_rule() {
        assert!(hosts(&["http://self"]).allows_self());
        assert!(hosts(&["https://self.alt"]).allows_self());
        assert!(hosts(&["*://*:*"]).allows_self());
        assert!(!hosts(&["https://api.example.com"]).allows_self());
        assert!(!hosts(&["redis://self"]).allows_self());
        assert!(!hosts(&["http://self"]).allows_url("http://self/"), "`self` is not a DNS name");
    }

    #[test]
    fn service_chaining_names() {
        assert_eq!(service_chaining_target("probe.spin.internal"), Some("probe"));
        assert_eq!(service_chaining_target("spin.internal"), None);
        assert_eq!(service_chaining_target("a.b.spin.internal"), None);
        assert!(hosts(&["http://*.spin.internal"]).allows_url("http://probe.spin.internal/x"));
        assert!(hosts(&["http://probe.spin.internal"]).allows_url("http://probe.spin.internal/x"));
        assert!(!hosts(&["http://probe.spin.internal"]).allows_url("http://other.spin.internal/x"));
    }

    #[test]
    fn templates_expand() {
        assert!(hosts(&["{{ api }}"]).allows_url("https://api.example.com/v1"));
    }

    #[test]
    fn bad_rules_are_errors() {
        for bad in [
            "example.com",
            "*",
            "https://example.com/path",
            "*://example.com",
            "ftp://example.com",
            "https://ex*ample.com",
            "http://h:99999",
            "http://h:1-9",
            "ht1p://h",
            "http://10.0.0.0/40",
        ] {
            assert!(AllowedHosts::parse(&[bad.to_string()], &|t| Ok(t.to_string())).is_err(), "{bad}");
        }
        let e = AllowedHosts::parse(&["insecure:allow-all".to_string()], &|t| Ok(t.to_string())).unwrap_err();
        assert!(e.to_string().contains("*://*:*"), "{e}");
    }
}
