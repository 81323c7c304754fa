//! Spin's HTTP routing: exact routes, `:name` single-segment wildcards and a
//! trailing `/...` wildcard. When several routes match, the most specific
//! wins as in Spin: an exact route over any wildcard, a single-segment
//! wildcard over a trailing one, a longer trailing prefix over a shorter one.
//! A route written twice is served by the later entry, and the earlier one is
//! reported as a duplicate that will never be used (Spin logs it and starts).

use std::cmp::Ordering;

/// One segment of a route pattern.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    /// Must equal the request segment.
    Literal(String),
    /// Matches any one segment; its value is passed as `spin-path-match-<name>`.
    Param(String),
}

/// A compiled route.
#[derive(Debug, Clone)]
struct Route {
    /// The route as written in the manifest.
    raw: String,
    /// The route with the base prefixed.
    full: String,
    /// Segments before any trailing wildcard.
    segments: Vec<Segment>,
    /// Ends in `/...`.
    trailing: bool,
    /// Component serving it.
    component: String,
}

impl Route {
    fn parse(base: &str, raw: &str, component: &str) -> Route {
        let base = base.trim_end_matches('/');
        let full = format!("{base}{raw}");
        let mut parts: Vec<&str> = full.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let trailing = parts.last() == Some(&"...");
        if trailing {
            parts.pop();
        }
        let segments = parts
            .into_iter()
            .map(|p| match p.strip_prefix(':') {
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Literal(p.to_string()),
            })
            .collect();
        Route { raw: raw.to_string(), full, segments, trailing, component: component.to_string() }
    }

    /// Parameter values, or `None` when `path` does not match.
    fn matches(&self, path: &[&str]) -> Option<Vec<(String, String)>> {
        if path.len() < self.segments.len() || (!self.trailing && path.len() != self.segments.len()) {
            return None;
        }
        let mut params = Vec::new();
        for (seg, part) in self.segments.iter().zip(path) {
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.clone(), (*part).to_string())),
            }
        }
        Some(params)
    }

    /// Specificity: higher is more specific.
    fn rank(&self) -> (bool, usize, usize) {
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        (!self.trailing, self.segments.len(), literals)
    }
}

/// The app's routing table.
#[derive(Debug, Clone, Default)]
pub struct Router {
    /// Routes in manifest order.
    routes: Vec<Route>,
    /// Routes replaced by a later entry for the same route.
    duplicates: Vec<DuplicateRoute>,
}

/// A route that is never used because a later trigger has the same route.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateRoute {
    /// The route.
    pub route: String,
    /// The component that will never receive it.
    pub replaced: String,
    /// The component that serves it.
    pub effective: String,
}

/// A request matched to a route.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteMatch {
    /// The component that serves it.
    pub component: String,
    /// The route as written in the manifest (`/api/...`).
    pub raw_route: String,
    /// The route including the base.
    pub full_route: String,
    /// The path below the route's fixed part (trailing wildcard routes), else empty.
    pub path_info: String,
    /// Values of `:name` segments.
    pub params: Vec<(String, String)>,
}

impl RouteMatch {
    /// The match Spin makes for a service-chaining request
    /// (`http://<component>.spin.internal/<path>`): the component's whole
    /// path space, as if it were routed at `/...`.
    pub fn synthetic(component: &str, path: &str) -> RouteMatch {
        RouteMatch {
            component: component.to_string(),
            raw_route: "/...".into(),
            full_route: "/...".into(),
            path_info: path.to_string(),
            params: Vec::new(),
        }
    }
}

impl Router {
    /// The routes of `manifest`'s public HTTP triggers (private ones are
    /// reached by service chaining, not by path).
    pub fn for_manifest(manifest: &crate::manifest::AppManifest) -> anyhow::Result<Router> {
        let routes: Vec<(String, String)> = manifest
            .http_triggers
            .iter()
            .filter_map(|t| match &t.route {
                crate::manifest::HttpRoute::Path(p) => Some((p.clone(), t.component.clone())),
                crate::manifest::HttpRoute::Private => None,
            })
            .collect();
        Router::build(&manifest.http_base, &routes)
    }

    /// Compile `(route, component)` pairs under `base`.
    pub fn build(base: &str, routes: &[(String, String)]) -> anyhow::Result<Router> {
        let mut compiled: Vec<Route> = Vec::new();
        let mut duplicates = Vec::new();
        for (raw, component) in routes {
            let route = Route::parse(base, raw, component);
            if let Some(i) = compiled.iter().position(|r| r.raw == route.raw) {
                let replaced = compiled.remove(i);
                duplicates.push(DuplicateRoute {
                    route: replaced.full.clone(),
                    replaced: replaced.component,
                    effective: route.component.clone(),
                });
            }
            compiled.push(route);
        }
        Ok(Router { routes: compiled, duplicates })
    }

    /// Routes that will never be used because a later trigger repeats them.
    pub fn duplicates(&self) -> &[DuplicateRoute] {
        &self.duplicates
    }

    /// Routes under `/.well-known/spin/`, which the host answers itself.
    pub fn reserved_routes(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|r| r.full.as_str()).filter(|r| r.starts_with("/.well-known/spin/"))
    }

    /// `(route, component)` pairs in manifest order.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.routes.iter().map(|r| (r.full.as_str(), r.component.as_str()))
    }

    /// The most specific route matching `path` (percent-encoding untouched).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let mut best: Option<(&Route, Vec<(String, String)>)> = None;
        for route in &self.routes {
            if let Some(params) = route.matches(&parts) {
                let better = match &best {
                    None => true,
                    Some((b, _)) => route.rank().cmp(&b.rank()) == Ordering::Greater,
                };
                if better {
                    best = Some((route, params));
                }
            }
        }
        let (route, params) = best?;
        let path_info = if route.trailing {
            let rest = &parts[route.segments.len()..];
            if rest.is_empty() {
                if path.ends_with('/') && !route.segments.is_empty() { "/".to_string() } else { String::new() }
            } else {
                let mut info = format!("/{}", rest.join("/"));
                if path.ends_with('/') {
                    info.push('/');
                }
                info
            }
        } else {
            String::new()
        };
        Some(RouteMatch {
            component: route.component.clone(),
            raw_route: route.raw.clone(),
            full_route: route.full.clone(),
            path_info,
            params,
        })
    }
}

/// The `spin-*` headers Spin adds to a request routed to a component.
pub fn spin_headers(m: &RouteMatch, full_url: &str, base: &str, client: &str) -> Vec<(String, String)> {
    let component_route = m.raw_route.strip_suffix("/...").unwrap_or(&m.raw_route);
    let mut headers = vec![
        ("spin-full-url".to_string(), full_url.to_string()),
        ("spin-path-info".to_string(), m.path_info.clone()),
        ("spin-matched-route".to_string(), m.full_route.clone()),
        ("spin-base-path".to_string(), base.to_string()),
        ("spin-raw-component-route".to_string(), m.raw_route.clone()),
        ("spin-component-route".to_string(), component_route.to_string()),
        ("spin-client-addr".to_string(), client.to_string()),
    ];
    for (name, value) in &m.params {
        // Spin builds `SPIN_PATH_MATCH_<NAME>` and turns `_` into `-`.
        headers.push((format!("spin-path-match-{}", name.to_ascii_lowercase().replace('_', "-")), value.clone()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let routes: Vec<(String, String)> = routes.iter().map(|(r, c)| (r.to_string(), c.to_string())).collect();
        Router::build("/", &routes).unwrap()
    }

    #[test]
    fn exact_routes_match_only_themselves() {
        let r = router(&[("/cart", "cart")]);
        assert_eq!(r.route("/cart").unwrap().component, "cart");
        assert!(r.route("/cart/checkout").is_none());
        assert!(r.route("/").is_none());
    }

    #[test]
    fn trailing_wildcards_match_the_prefix_and_below() {
        let r = router(&[("/api/...", "api"), ("/...", "all")]);
        let m = r.route("/api").unwrap();
        assert_eq!((m.component.as_str(), m.path_info.as_str()), ("api", ""));
        let m = r.route("/api/tenants/t1").unwrap();
        assert_eq!((m.component.as_str(), m.path_info.as_str()), ("api", "/tenants/t1"));
        assert_eq!(r.route("/apix").unwrap().component, "all");
        assert_eq!(r.route("/").unwrap().component, "all");
    }

    #[test]
    fn most_specific_wins() {
        let r = router(&[("/pay/...", "wild"), ("/pay/:token", "param"), ("/pay/special", "exact")]);
        assert_eq!(r.route("/pay/special").unwrap().component, "exact");
        let m = r.route("/pay/abc").unwrap();
        assert_eq!(m.component, "param");
        assert_eq!(m.params, vec![("token".to_string(), "abc".to_string())]);
        assert_eq!(r.route("/pay/abc/checkout").unwrap().component, "wild");
        let r = router(&[("/...", "all"), ("/a/b/...", "deep"), ("/a/...", "shallow")]);
        assert_eq!(r.route("/a/b/c").unwrap().component, "deep");
        assert_eq!(r.route("/a/c").unwrap().component, "shallow");
    }

    #[test]
    fn params_are_headers() {
        let r = router(&[("/pay/:token/checkout", "pay")]);
        let m = r.route("/pay/xyz/checkout").unwrap();
        let h = spin_headers(&m, "http://h/pay/xyz/checkout", "/", "1.2.3.4:5");
        assert!(h.contains(&("spin-path-match-token".into(), "xyz".into())));
        assert!(h.contains(&("spin-component-route".into(), "/pay/:token/checkout".into())));
        assert!(h.contains(&("spin-client-addr".into(), "1.2.3.4:5".into())));
    }

    #[test]
    fn a_repeated_route_goes_to_the_later_trigger() {
        let routes = vec![("/a/...".to_string(), "one".to_string()), ("/a/...".to_string(), "two".to_string())];
        let r = Router::build("/", &routes).unwrap();
        assert_eq!(r.route("/a/b").unwrap().component, "two");
        assert_eq!(
            r.duplicates(),
            &[DuplicateRoute { route: "/a/...".into(), replaced: "one".into(), effective: "two".into() }]
        );
    }

    #[test]
    fn param_names_become_header_names() {
        let r = router(&[("/u/:user_id", "u")]);
        let m = r.route("/u/7").unwrap();
        let h = spin_headers(&m, "http://h/u/7", "/", "c");
        assert!(h.contains(&("spin-path-match-user-id".into(), "7".into())), "{h:?}");
        assert!(h.contains(&("spin-component-route".into(), "/u/:user_id".into())));
    }

    #[test]
    fn headers_of_a_wildcard_route() {
        let r = router(&[("/foo/...", "f"), ("/...", "all")]);
        let m = r.route("/foo/bar").unwrap();
        let h = spin_headers(&m, "https://fermyon.dev/foo/bar?k=v", "/", "127.0.0.1:8777");
        for (name, value) in [
            ("spin-full-url", "https://fermyon.dev/foo/bar?k=v"),
            ("spin-path-info", "/bar"),
            ("spin-matched-route", "/foo/..."),
            ("spin-base-path", "/"),
            ("spin-raw-component-route", "/foo/..."),
            ("spin-component-route", "/foo"),
            ("spin-client-addr", "127.0.0.1:8777"),
        ] {
            assert!(h.contains(&(name.to_string(), value.to_string())), "{name}: {h:?}");
        }
        let m = r.route("/x").unwrap();
        let h = spin_headers(&m, "http://h/x", "/", "c");
        assert!(h.contains(&("spin-component-route".into(), "".into())), "{h:?}");
        let m = RouteMatch::synthetic("f", "/p/q");
        assert_eq!((m.raw_route.as_str(), m.path_info.as_str()), ("/...", "/p/q"));
    }
}
