package config

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"
)

var (
	clientRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	keyIDRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
	hostRE   = regexp.MustCompile(`^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
)

// IsLoopback reports whether a listen address (host:port) only accepts
// connections from this machine: a loopback IP address or "localhost".
// An empty host, 0.0.0.0 and :: listen on every interface.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkHTTP checks the http section: addresses, credentials, hosts,
// timeouts and the connection cap.
func (c *Config) checkHTTP() Problems {
	var ps Problems
	add := func(path, f string, a ...any) { ps = append(ps, c.Problem(path, f, a...)) }
	h := c.HTTP
	if _, _, err := net.SplitHostPort(h.Listen); err != nil {
		add("http.listen", "%q is not host:port", h.Listen)
	} else if !IsLoopback(h.Listen) {
		if h.AdminToken == "" {
			add("http.adminToken", "http.listen %s is reachable from other machines, so the admin API needs a token: set http.adminToken to \"file:/path\" or \"env:NAME\" (a long random string, e.g. openssl rand -hex 32), or listen on 127.0.0.1", h.Listen)
		}
		if h.IngressToken == "" && len(h.Clients) == 0 {
			add("http.clients", "http.listen %s is reachable from other machines, so the ingress needs credentials: list http.clients (name and token per HIS client) or set http.ingressToken, or listen on 127.0.0.1", h.Listen)
		}
	}
	for name, ref := range map[string]string{"adminToken": h.AdminToken, "ingressToken": h.IngressToken} {
		if err := checkSecretRef(ref, false); err != nil {
			add("http."+name, "%v", err)
		}
	}
	names := map[string]int{}
	for i, cl := range h.Clients {
		path := fmt.Sprintf("http.clients[%d]", i)
		if !clientRE.MatchString(cl.Name) {
			add(path+".name", "%q is not a client name (letters, digits, '.', '_', '-', at most 64)", cl.Name)
		}
		if j, dup := names[cl.Name]; dup {
			add(path+".name", "client %q is listed twice (also http.clients[%d])", cl.Name, j)
		}
		names[cl.Name] = i
		if cl.Name == "default" && h.IngressToken != "" {
			add(path+".name", "the name \"default\" is taken by http.ingressToken; choose another name")
		}
		if err := checkSecretRef(cl.Token, true); err != nil {
			add(path+".token", "%v", err)
		}
		for j, site := range cl.Sites {
			if c.Site(site) == nil {
				add(fmt.Sprintf("%s.sites[%d]", path, j), "site %q is not declared under sites:; list only the codes of declared sites the client may send messages for", site)
			}
		}
	}
	for i, host := range h.AllowedHosts {
		if !hostRE.MatchString(host) {
			add(fmt.Sprintf("http.allowedHosts[%d]", i), "%q is not a host name: write the name alone, lowercase, without scheme or port (e.g. medgate.hospital.local, or .hospital.local for every name under it)", host)
		}
	}
	for name, d := range map[string]Duration{"ingressTimeout": h.IngressTimeout, "readHeaderTimeout": h.ReadHeaderTimeout,
		"readTimeout": h.ReadTimeout, "writeTimeout": h.WriteTimeout, "idleTimeout": h.IdleTimeout} {
		if d <= 0 {
			add("http."+name, "must be positive, is %s", d.D())
		}
	}
	if h.WriteTimeout > 0 && h.WriteTimeout <= h.IngressTimeout {
		add("http.writeTimeout", "%s must be longer than http.ingressTimeout (%s), or ingress replies are cut off", h.WriteTimeout.D(), h.IngressTimeout.D())
	}
	if d := h.ShutdownDelay.D(); d < 0 || d > MaxShutdownDelay {
		add("http.shutdownDelay", "must be between 0s and 2m, is %s", d)
	}
	if h.MaxConnections < 1 || h.MaxConnections > 100000 {
		add("http.maxConnections", "must be between 1 and 100000, is %d", h.MaxConnections)
	}
	if n := h.MaxConnectionsPerAddress; n < 1 || (h.MaxConnections >= 1 && n > h.MaxConnections) {
		add("http.maxConnectionsPerAddress", "must be between 1 and http.maxConnections (%d), is %d", h.MaxConnections, n)
	}
	return ps
}

// checkEncryption checks the store's key list (the keys themselves are
// read when the store opens).
func (c *Config) checkEncryption() Problems {
	e := c.Store.Encryption
	if e == nil {
		return nil
	}
	var ps Problems
	add := func(path, f string, a ...any) { ps = append(ps, c.Problem(path, f, a...)) }
	if len(e.Keys) == 0 {
		add("store.encryption.keys", "list at least one key (id and key: \"file:/path\" holding openssl rand -hex 32), or remove store.encryption")
	}
	if e.RefusePlain && len(e.Keys) == 0 {
		add("store.encryption.refusePlain", "refuses every value stored without encryption, but no key encrypts any: list store.encryption.keys, or set refusePlain to false")
	}
	if e.RefuseUnboundJournal && len(e.Keys) == 0 {
		add("store.encryption.refuseUnboundJournal", "refuses every journal entry not bound to its row, but no key binds any: list store.encryption.keys, or set refuseUnboundJournal to false")
	}
	ids := map[string]int{}
	for i, k := range e.Keys {
		path := fmt.Sprintf("store.encryption.keys[%d]", i)
		if !keyIDRE.MatchString(k.ID) {
			add(path+".id", "%q is not a key id (letters, digits, '_', '-', at most 32)", k.ID)
		}
		if j, dup := ids[k.ID]; dup {
			add(path+".id", "key id %q is listed twice (also store.encryption.keys[%d]); each key needs its own id", k.ID, j)
		}
		ids[k.ID] = i
		if err := checkSecretRef(k.Key, true); err != nil {
			add(path+".key", "%v", err)
		}
	}
	return ps
}

// minTokenLen is the shortest HTTP token accepted.
const minTokenLen = 16

// Credentials are the HTTP server's resolved tokens.
type Credentials struct {
	Admin   string
	Clients []ResolvedClient // http.ingressToken first, as "default"
}

// ResolvedClient is an ingress client with its token read, and the
// sites it may send messages for (nil: every site).
type ResolvedClient struct {
	Name, Token string
	Sites       []string
}

// HTTPCredentials reads the admin token and every ingress client's token.
// It reports every secret that cannot be read at once; errors never hold
// a token.
func (c *Config) HTTPCredentials() (Credentials, error) {
	var out Credentials
	var ps Problems
	read := func(path, ref string) string {
		if ref == "" {
			return ""
		}
		v, err := c.Secret(ref)
		if err != nil {
			ps = append(ps, c.Problem(path, "%v", err))
			return ""
		}
		if len(v) < minTokenLen {
			// An empty token would leave the endpoint open.
			ps = append(ps, c.Problem(path, "the token is %d characters; use at least %d random ones (openssl rand -hex 32)", len(v), minTokenLen))
			return ""
		}
		return v
	}
	out.Admin = read("http.adminToken", c.HTTP.AdminToken)
	if t := read("http.ingressToken", c.HTTP.IngressToken); t != "" {
		out.Clients = append(out.Clients, ResolvedClient{Name: "default", Token: t})
	}
	for i, cl := range c.HTTP.Clients {
		if t := read(fmt.Sprintf("http.clients[%d].token", i), cl.Token); t != "" {
			out.Clients = append(out.Clients, ResolvedClient{Name: cl.Name, Token: t, Sites: cl.Sites})
		}
	}
	if len(ps) > 0 {
		return Credentials{}, ps
	}
	return out, nil
}

// CheckConnectionSecrets reads the secrets medgate needs to connect at
// start, kafka.sasl.password and (with PostgreSQL) store.dsn, and reports
// every one that cannot be read or is empty. A reference that is missing
// or malformed is left to Load, which reports it already. Errors never
// hold a secret.
func (c *Config) CheckConnectionSecrets() error {
	var ps Problems
	read := func(path, ref string) {
		if !IsSecretRef(ref) {
			return
		}
		v, err := c.Secret(ref)
		switch {
		case err != nil:
			ps = append(ps, c.Problem(path, "%v", err))
		case v == "":
			ps = append(ps, c.Problem(path, "the secret %s is empty; write the value into it", ref))
		}
	}
	if s := c.Kafka.SASL; s != nil {
		read("kafka.sasl.password", s.Password)
	}
	if c.Store.Driver == "postgres" {
		read("store.dsn", c.Store.DSN)
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

// DataKey is a resolved store key.
type DataKey struct {
	ID  string
	Key []byte // 32 bytes
}

// StoreKeys reads the store's data keys, the key that encrypts first; nil
// when store.encryption is not set. Every unreadable or malformed key is
// reported at once; errors never hold key material.
func (c *Config) StoreKeys() ([]DataKey, error) {
	e := c.Store.Encryption
	if e == nil {
		return nil, nil
	}
	var out []DataKey
	var ps Problems
	for i, k := range e.Keys {
		path := fmt.Sprintf("store.encryption.keys[%d].key", i)
		v, err := c.Secret(k.Key)
		if err != nil {
			ps = append(ps, c.Problem(path, "%v", err))
			continue
		}
		b, err := decodeKey(v)
		if err != nil {
			ps = append(ps, c.Problem(path, "%v", err))
			continue
		}
		out = append(out, DataKey{ID: k.ID, Key: b})
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return out, nil
}

// decodeKey reads 32 bytes written as 64 hex digits or standard base64.
func decodeKey(v string) ([]byte, error) {
	if b, err := hex.DecodeString(v); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, fmt.Errorf("the key is not 32 bytes written as 64 hex digits or base64 (%d characters read); make one with: openssl rand -hex 32", len(v))
}
