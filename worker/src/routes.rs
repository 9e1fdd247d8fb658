//! The route table's types and its lookup, apart from the runtime so they are tested natively.
//!
//! A route is a path (exact, or `/prefix/*` for everything below it), who may call it, and a
//! handler per method. The runtime holds the one table (`runtime::ROUTES`); dispatch, the
//! `405`'s `Allow` header and its message all read it, so adding a route is one entry there.

/// An HTTP method, as routes name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET` (a route with `GET` answers `HEAD` too).
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
    /// `PATCH`.
    Patch,
    /// `OPTIONS` (CORS preflights, answered before routing).
    Options,
    /// Any other method: matched only by [`Method::Any`] routes.
    Other,
    /// In a table: every method (a route that passes the request on, like the static files).
    Any,
}

impl Method {
    /// Reads a request's method.
    pub fn parse(method: &str) -> Method {
        match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
            Method::Any => "*",
        }
    }

    /// True when a table entry for `self` takes a request made with `method`.
    fn takes(self, method: Method) -> bool {
        self == Method::Any || self == method || (self == Method::Get && method == Method::Head)
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Anyone.
    Public,
    /// Only a caller with `Authorization: Bearer <ADMIN_TOKEN>`; checked before the handler
    /// runs, for every method of the route.
    Admin,
    /// Only a server with `Authorization: Bearer <INGEST_TOKEN>` (the team's other tools
    /// posting events); checked like [`Guard::Admin`].
    Ingest,
}

/// One route: a path, who may call it, and a handler per method.
#[derive(Debug)]
pub struct Route<H: 'static> {
    /// The path: exact, or ending in `/*` for every path below the prefix before it.
    pub path: &'static str,
    /// Who may call it.
    pub guard: Guard,
    /// The handler of each method.
    pub methods: &'static [(Method, H)],
}

impl<H> Route<H> {
    fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => self.path == path,
        }
    }

    /// The `Allow` header's value: the route's methods.
    pub fn allow(&self) -> String {
        self.names().collect::<Vec<_>>().join(", ")
    }

    /// The methods for a person: `GET or PUT`.
    pub fn expected(&self) -> String {
        self.names().collect::<Vec<_>>().join(" or ")
    }

    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.methods.iter().map(|(m, _)| m.as_str())
    }
}

/// What the table says about a request.
#[derive(Debug)]
pub enum Found<'t, H: 'static> {
    /// The route and the handler for the request's method.
    Handler(&'t Route<H>, &'t H),
    /// The route exists, but not for this method.
    WrongMethod(&'t Route<H>),
    /// No route has this path.
    NoRoute,
}

/// Finds the handler for `method` on `path`: the first route whose path matches.
pub fn find<'t, H>(table: &'t [Route<H>], path: &str, method: Method) -> Found<'t, H> {
    let Some(route) = table.iter().find(|r| r.matches(path)) else {
        return Found::NoRoute;
    };
    match route.methods.iter().find(|(m, _)| m.takes(method)) {
        Some((_, handler)) => Found::Handler(route, handler),
        None => Found::WrongMethod(route),
    }
}

/// A request URL's parts, sliced from the URL text the runtime gives (already normalised by
/// it, as the WHATWG URL parser writes it): no parsing beyond finding the separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'u> {
    /// The whole URL.
    pub full: &'u str,
    /// `scheme://host[:port]`.
    pub origin: &'u str,
    /// `host[:port]`.
    pub host: &'u str,
    /// The path, `/` at least.
    pub path: &'u str,
    /// The query without its `?`, if there is one.
    pub query: Option<&'u str>,
}

impl<'u> UrlParts<'u> {
    /// Slices `url` (`scheme://host[:port]/path[?query][#fragment]`).
    pub fn of(url: &'u str) -> UrlParts<'u> {
        let without_fragment = url.split_once('#').map_or(url, |(u, _)| u);
        let (before_query, query) = match without_fragment.split_once('?') {
            Some((u, q)) => (u, Some(q)),
            None => (without_fragment, None),
        };
        let authority_at = before_query.find("://").map_or(0, |i| i + 3);
        let path_at = before_query[authority_at..]
            .find('/')
            .map_or(before_query.len(), |i| authority_at + i);
        let path = match &before_query[path_at..] {
            "" => "/",
            p => p,
        };
        UrlParts {
            full: url,
            origin: &before_query[..path_at],
            host: &before_query[authority_at..path_at],
            path,
            query,
        }
    }

    /// The scheme, without `://`.
    pub fn scheme(&self) -> &'u str {
        self.origin.split_once("://").map_or("", |(s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Route<&str>] = &[
        Route {
            path: "/v1/collect",
            guard: Guard::Public,
            methods: &[(Method::Post, "collect")],
        },
        Route {
            path: "/v1/admin/rules",
            guard: Guard::Admin,
            methods: &[(Method::Get, "get"), (Method::Put, "put")],
        },
        Route {
            path: "/_intent/*",
            guard: Guard::Public,
            methods: &[(Method::Any, "asset")],
        },
    ];

    fn handler(path: &str, method: Method) -> Option<&'static str> {
        match find(TABLE, path, method) {
            Found::Handler(_, h) => Some(*h),
            _ => None,
        }
    }

    #[test]
    fn dispatch() {
        assert_eq!(handler("/v1/collect", Method::Post), Some("collect"));
        assert_eq!(handler("/v1/admin/rules", Method::Head), Some("get"));
        assert_eq!(handler("/v1/admin/rules", Method::Put), Some("put"));
        assert_eq!(handler("/_intent/x.wasm", Method::Other), Some("asset"));
        assert_eq!(handler("/_intent/", Method::Delete), Some("asset"));
        assert!(matches!(
            find(TABLE, "/v1/collect/", Method::Post),
            Found::NoRoute
        ));
        assert!(matches!(
            find(TABLE, "/_intent", Method::Get),
            Found::NoRoute
        ));
        let Found::WrongMethod(route) = find(TABLE, "/v1/admin/rules", Method::Delete) else {
            panic!("a route without DELETE");
        };
        assert_eq!(route.allow(), "GET, PUT");
        assert_eq!(route.expected(), "GET or PUT");
        assert_eq!(route.guard, Guard::Admin);
        let Found::WrongMethod(route) = find(TABLE, "/v1/collect", Method::Head) else {
            panic!("HEAD is not POST");
        };
        assert_eq!(route.allow(), "POST");
    }

    #[test]
    fn methods() {
        for m in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            assert_eq!(Method::parse(m).as_str(), m);
        }
        assert_eq!(Method::parse("BREW"), Method::Other);
        assert_eq!(Method::parse("get"), Method::Other);
    }

    #[test]
    fn url_parts() {
        let u = UrlParts::of("http://127.0.0.1:8787/v1/decide?slots=hero,cta#x");
        assert_eq!(u.origin, "http://127.0.0.1:8787");
        assert_eq!(u.host, "127.0.0.1:8787");
        assert_eq!(u.path, "/v1/decide");
        assert_eq!(u.query, Some("slots=hero,cta"));
        assert_eq!(u.scheme(), "http");
        let u = UrlParts::of("https://www.acme.com");
        assert_eq!((u.host, u.path, u.query), ("www.acme.com", "/", None));
        let u = UrlParts::of("https://[::1]:8787/a/b?");
        assert_eq!((u.host, u.path, u.query), ("[::1]:8787", "/a/b", Some("")));
    }
}
