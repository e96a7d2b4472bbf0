"""Canonical story URLs and origin checks: pure functions, no I/O."""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from parlour.errors import InvalidInput

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_ga"}
)
TRACKING_PREFIXES = ("utm_",)
# A wildcard origin must leave a domain someone registers: '*.courier.example', never '*.com' or '*.co.uk'.
# Not the whole Public Suffix List (a large dependency that changes weekly): the suffixes under which anyone
# can get a name and that a newsroom might plausibly type, country second levels and shared hosting.
PUBLIC_SUFFIXES = frozenset(
    {
        *(f"{second}.uk" for second in ("co", "org", "me", "ltd", "plc", "net", "sch", "ac", "gov", "nhs", "police")),
        *(f"{second}.au" for second in ("com", "net", "org", "edu", "gov", "asn", "id")),
        *(f"{second}.nz" for second in ("co", "org", "net", "ac", "govt", "geek", "school")),
        *(f"{second}.jp" for second in ("co", "ne", "or", "ac", "go", "ed", "lg")),
        *(f"{second}.br" for second in ("com", "net", "org", "gov", "edu", "art", "blog")),
        *(f"{second}.za" for second in ("co", "org", "net", "gov", "ac", "web")),
        *(f"{second}.in" for second in ("co", "net", "org", "gov", "ac", "firm", "gen", "ind")),
        *(f"{second}.cn" for second in ("com", "net", "org", "gov", "edu")),
        *(f"{second}.kr" for second in ("co", "or", "ne", "go", "ac")),
        *(f"{second}.il" for second in ("co", "org", "net", "ac", "gov")),
        *(f"{second}.id" for second in ("co", "or", "web", "ac", "go")),
        *(f"com.{tld}" for tld in ("mx", "ar", "tr", "sg", "hk", "tw", "my", "ph", "pk", "ng", "eg", "sa", "ua")),
        *(f"com.{tld}" for tld in ("pl", "es", "co", "pe", "ve", "vn", "gr", "cy", "mt", "ec", "uy", "bd", "np")),
        *("co.at", "or.at", "ac.at", "gv.at", "co.th", "ac.th", "go.th", "in.th", "co.ke", "or.ke", "gob.mx"),
        # Shared hosting: every customer gets a name under these.
        *("github.io", "gitlab.io", "herokuapp.com", "netlify.app", "vercel.app", "pages.dev", "workers.dev"),
        *("blogspot.com", "wordpress.com", "appspot.com", "web.app", "firebaseapp.com", "azurewebsites.net"),
        *("cloudfront.net", "amazonaws.com", "s3.amazonaws.com", "fly.dev", "onrender.com", "glitch.me"),
        *("ngrok.io", "ngrok-free.app", "substack.com", "medium.com", "tumblr.com", "wixsite.com"),
    }
)


def normalise_story_url(raw: str) -> str:
    """The canonical form of an article URL, so that one article is one story however it was linked."""
    parts = _split_http_url(raw, field="url")
    host = _host_with_port(parts)
    path = _normalise_path(parts.path)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)])
    return urlunsplit((parts.scheme.lower(), host, path, query, ""))


def origin_of(url: str) -> str:
    parts = _split_http_url(url, field="url")
    return f"{parts.scheme.lower()}://{_host_with_port(parts)}"


def normalise_origin(raw: str) -> str:
    """An allowed-origin entry: scheme://host[:port], optionally with a leading '*.' wildcard host.

    Only entries being written are checked: origins stored before a check existed are read as they are.
    """
    wildcard = "://*." in raw
    parts = _split_http_url(raw.replace("://*.", "://", 1), field="allowed_origins")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise InvalidInput(f"An origin has no path or query: {raw!r}", field="allowed_origins")
    host = _host_with_port(parts)
    if "*" in host:
        raise InvalidInput(
            f"A wildcard is allowed only as the first label of a host, as in https://*.courier.example: {raw!r}",
            field="allowed_origins",
        )
    if wildcard:
        _check_wildcard_domain(parts.hostname or "", raw)
    return f"{parts.scheme.lower()}://{'*.' if wildcard else ''}{host}"


def _check_wildcard_domain(hostname: str, raw: str) -> None:
    """'*.' must be followed by a registrable domain: two labels or more, not a public suffix, not an address."""
    if not _registrable(hostname):
        raise InvalidInput(
            f"A wildcard origin must name a domain of your own, as in https://*.courier.example, not a top-level "
            f"or public suffix that anyone can register under: {raw!r}",
            field="allowed_origins",
        )


def _registrable(hostname: str) -> bool:
    domain = hostname.rstrip(".").lower()
    labels = domain.split(".")
    return len(labels) >= 2 and domain not in PUBLIC_SUFFIXES and not _is_ip_address(domain) and all(labels)


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def origin_allowed(url: str, allowed_origins: list[str]) -> bool:
    origin = origin_of(url)
    scheme, _, host = origin.partition("://")
    for allowed in allowed_origins:
        allowed_scheme, _, allowed_host = allowed.partition("://")
        if allowed_scheme != scheme:
            continue
        if allowed_host.startswith("*."):
            # '*.example.com' admits sub.example.com, never evil-example.com or example.com.evil. A broad wildcard
            # stored before they were refused ('*.com') admits nothing: it would admit anyone's site.
            if host.endswith(allowed_host[1:]) and _registrable(allowed_host[2:].split(":", 1)[0]):
                return True
        elif host == allowed_host:
            return True
    return False


def is_http_url(value: str) -> bool:
    try:
        _split_http_url(value, field="website")
    except InvalidInput:
        return False
    return True


def normalise_website(raw: str) -> str:
    """An author's website: parsed, http(s) only, re-serialised so no quote or control character survives."""
    parts = _split_http_url(raw, field="author.website")
    path = quote(unquote(parts.path), safe="/-._~!$&()*+,;=:@")
    query = quote(unquote(parts.query), safe="=&-._~!$()*+,;:@/?")
    return urlunsplit((parts.scheme.lower(), _host_with_port(parts), path, query, ""))


def _split_http_url(raw: str, *, field: str) -> SplitResult:
    value = raw.strip()
    if not value or len(value) > MAX_URL_LENGTH:
        raise InvalidInput(f"A URL of 1 to {MAX_URL_LENGTH} characters is required.", field=field)
    if any(ord(c) < 0x21 or c in "\x7f<>\"'`\\" for c in value):
        raise InvalidInput("The URL contains characters that are not allowed.", field=field)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"Not a valid URL: {exc}", field=field) from exc
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise InvalidInput("Only http and https URLs are accepted.", field=field)
    if not parts.hostname or parts.username or parts.password:
        raise InvalidInput("The URL needs a host and no user name or password.", field=field)
    if port == 0:
        raise InvalidInput("The URL's port is not valid.", field=field)
    return parts


def _host_with_port(parts: SplitResult) -> str:
    hostname = parts.hostname or ""
    try:
        host = hostname.encode("idna").decode("ascii") if not hostname.isascii() else hostname.lower()
    except UnicodeError as exc:
        raise InvalidInput("The URL's host name is not valid.", field="url") from exc
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == DEFAULT_PORTS[parts.scheme.lower()]:
        return host
    return f"{host}:{port}"


def _normalise_path(path: str) -> str:
    # Decoded first, so '%2e%2e' is the '..' it stands for; then the dot segments go, as a browser resolves them.
    path = remove_dot_segments(quote(unquote(path), safe="/-._~!$&()*+,;=:@"))
    # The trailing-slash rule: '/a/b/' and '/a/b' are the same article; the root stays '/'.
    if not path:
        return "/"
    return path.rstrip("/") or "/"


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: '/a/./b/../c' is '/a/c'; '..' never climbs above the root."""
    absolute = path.startswith("/")
    segments = path.split("/")[1:] if absolute else path.split("/")
    kept: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment in {".", ".."}:
            if segment == ".." and kept:
                kept.pop()
            if last:
                kept.append("")  # '/a/b/..' is the folder '/a/', not the file '/a'
        else:
            kept.append(segment)
    joined = "/".join(kept)
    return "/" + joined if absolute else joined


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)
