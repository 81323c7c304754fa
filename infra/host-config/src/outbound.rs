//! `allowed_outbound_hosts`: which destinations a component may call.
//!
//! Spin's rule format is `scheme://host[:port]`: the scheme may be `*`, the
//! host `*` or `*.domain`, the port a number, a range `a-b` or `*`; without a
//! port only the scheme's default port is allowed. `self` names the app
//! itself. Rules may contain `{{ variable }}` templates, expanded at load.

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    /// Lower-case scheme or `None` for `*`.
    scheme: Option<String>,
    /// Host pattern.
    host: HostPattern,
    /// Allowed ports.
    ports: PortPattern,
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    /// Any host.
    Any,
    /// The host itself (lower-case).
    Exact(String),
    /// Any subdomain of the suffix (`*.example.com` → `example.com`).
    SubdomainOf(String),
}

#[derive(Debug, Clone, PartialEq)]
enum PortPattern {
    /// Any port.
    Any,
    /// Ports in this inclusive range.
    Range(u16, u16),
}

/// The outbound rules of one component.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowedHosts {
    /// Rules, any of which may allow a request.
    rules: Vec<Rule>,
}

fn default_port(scheme: &str) -> Option<u16> {
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

impl AllowedHosts {
    /// No outbound access at all.
    pub fn none() -> AllowedHosts {
        AllowedHosts::default()
    }

    /// Parse rules; `expand` resolves `{{ variable }}` templates.
    pub fn parse(rules: &[String], expand: &dyn Fn(&str) -> Result<String, String>) -> anyhow::Result<AllowedHosts> {
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
        let Some(port) = port.or_else(|| default_port(&scheme)) else { return false };
        self.rules.iter().any(|rule| {
            rule.scheme.as_ref().is_none_or(|s| *s == scheme)
                && match &rule.host {
                    HostPattern::Any => true,
                    HostPattern::Exact(h) => *h == host,
                    HostPattern::SubdomainOf(suffix) => {
                        host.len() > suffix.len() + 1
                            && host.ends_with(suffix.as_str())
                            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                    }
                }
                && match rule.ports {
                    PortPattern::Any => true,
                    PortPattern::Range(lo, hi) => (lo..=hi).contains(&port),
                }
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

fn parse_rule(text: &str) -> Result<Rule, String> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err("a rule needs a scheme, e.g. \"https://example.com\" or \"*://example.com:*\"".into());
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty() || !(scheme == "*" || scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')) {
        return Err(format!("invalid scheme {scheme:?}"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err("a rule cannot contain a path".into());
    }
    let (host, port) = split_host_port(rest)?;
    let host = host.to_ascii_lowercase();
    if host.is_empty() {
        return Err("a rule needs a host (or `*`)".into());
    }
    let host = if host == "*" {
        HostPattern::Any
    } else if let Some(suffix) = host.strip_prefix("*.") {
        if suffix.contains('*') || suffix.is_empty() {
            return Err(format!("invalid host pattern {host:?}"));
        }
        HostPattern::SubdomainOf(suffix.to_string())
    } else if host.contains('*') {
        return Err(format!("invalid host pattern {host:?}: `*` may only be the whole host or a `*.` prefix"));
    } else {
        HostPattern::Exact(host)
    };
    let ports = match port {
        None => {
            if scheme == "*" {
                return Err("a rule with scheme `*` must give a port (e.g. `:*`)".into());
            }
            match default_port(&scheme) {
                Some(p) => PortPattern::Range(p, p),
                None => return Err(format!("scheme {scheme:?} has no default port; give one")),
            }
        }
        Some("*") => PortPattern::Any,
        Some(p) => match p.split_once('-') {
            Some((lo, hi)) => {
                let lo: u16 = lo.parse().map_err(|_| format!("invalid port range {p:?}"))?;
                let hi: u16 = hi.parse().map_err(|_| format!("invalid port range {p:?}"))?;
                if lo > hi {
                    return Err(format!("invalid port range {p:?}"));
                }
                PortPattern::Range(lo, hi)
            }
            None => {
                let n: u16 = p.parse().map_err(|_| format!("invalid port {p:?}"))?;
                PortPattern::Range(n, n)
            }
        },
    };
    Ok(Rule { scheme: (scheme != "*").then_some(scheme), host, ports })
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
    Ok(match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(rules: &[&str]) -> AllowedHosts {
        let rules: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
        AllowedHosts::parse(&rules, &|t| Ok(t.replace("{{ api }}", "https://api.example.com"))).unwrap()
    }

    #[test]
    fn default_ports_apply_when_a_rule_has_none() {
        let h = hosts(&["https://api.example.com"]);
        assert!(h.allows_url("https://api.example.com/x"));
        assert!(h.allows_url("https://api.example.com:443/x"));
        assert!(!h.allows_url("https://api.example.com:8443/x"));
        assert!(!h.allows_url("http://api.example.com/x"));
        assert!(!h.allows_url("https://other.example.com/x"));
    }

    #[test]
    fn wildcards_and_ranges() {
        let h = hosts(&["*://*.example.com:*", "http://127.0.0.1:3000-3010"]);
        assert!(h.allows_url("http://a.example.com:99/"));
        assert!(h.allows_url("https://b.c.example.com/"));
        assert!(!h.allows_url("https://example.com/"));
        assert!(h.allows_url("http://127.0.0.1:3005/"));
        assert!(!h.allows_url("http://127.0.0.1:3011/"));
        assert!(hosts(&["*://*:*"]).allows_url("http://anything:1/"));
        assert!(!AllowedHosts::none().allows_url("http://anything/"));
    }

    #[test]
    fn templates_expand() {
        assert!(hosts(&["{{ api }}"]).allows_url("https://api.example.com/v1"));
    }

    #[test]
    fn bad_rules_are_errors() {
        for bad in ["example.com", "https://example.com/path", "*://example.com", "https://ex*ample.com", "http://h:99999", "http://h:9-1"] {
            assert!(AllowedHosts::parse(&[bad.to_string()], &|t| Ok(t.to_string())).is_err(), "{bad}");
        }
    }
}
