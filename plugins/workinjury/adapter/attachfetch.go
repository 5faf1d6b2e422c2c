package adapter

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// fileURLField is the medgate extension of a GYU002 attachment item: a link
// to the document in the hospital's own document store, fetched by the
// adapter and sent as file_content. It is not a national field: it never
// reaches the national system.
const fileURLField = "file_url"

// maxAttachmentRedirects bounds the redirects followed for one document.
const maxAttachmentRedirects = 5

// attachmentSource is one allowed URL prefix (setting attachmentSources).
type attachmentSource struct {
	scheme, host, path string
}

// parseAttachmentSources reads the comma-separated attachmentSources
// setting: absolute http(s) URL prefixes without user info, query or
// fragment.
func parseAttachmentSources(v string, ds *sdk.Diagnostics) []attachmentSource {
	var out []attachmentSource
	for _, s := range splitList(v) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			ds.Error(setAttachmentSources, "setting", fmt.Sprintf("attachment source %q is not an http(s) URL prefix", maskURL(s)),
				"write the document store's base URL without user info, query or fragment, ending in /, e.g. https://emr.hospital.local/docs/")
			continue
		}
		if hasDotSegment(u.Path) {
			ds.Error(setAttachmentSources, "setting", fmt.Sprintf("attachment source %q has a . or .. path segment", maskURL(s)), "write the prefix without . or .. segments")
			continue
		}
		out = append(out, attachmentSource{scheme: u.Scheme, host: strings.ToLower(u.Host), path: u.Path})
	}
	return out
}

// hasDotSegment reports whether a (decoded) path has a "." or ".." segment,
// which could lead out of an allowed prefix.
func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return strings.Contains(p, "\\")
}

// allowedAttachmentURL checks a document link against the site's sources
// and returns why it is refused ("" when allowed). A link must be absolute,
// carry no user info, use the scheme of a source (so http only where a
// source is http), name its host and start with its path; . and ..
// segments are refused whatever the prefix.
func (c *siteConfig) allowedAttachmentURL(u *url.URL) string {
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "its scheme is " + strconv.Quote(u.Scheme) + ", not https"
	case u.User != nil:
		return "it carries user info (user:password@); credentials never travel in a link"
	case u.Host == "" || u.Opaque != "":
		return "it is not an absolute URL with a host"
	case hasDotSegment(u.Path):
		return "its path has a . or .. segment"
	case len(c.attachSources) == 0:
		return "this site allows no attachment sources (setting " + setAttachmentSources + " is empty)"
	}
	for _, s := range c.attachSources {
		if u.Scheme == s.scheme && strings.EqualFold(u.Host, s.host) && strings.HasPrefix(u.Path, s.path) {
			return ""
		}
	}
	return "it is not under any prefix of the site's setting " + setAttachmentSources
}

// maskURL returns a link fit for logs and replies: scheme, host and path,
// with any query replaced by "?…" and no user info or fragment.
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i] + "?…"
		}
		return s
	}
	m := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, Opaque: u.Opaque}
	out := m.String()
	if u.RawQuery != "" || u.ForceQuery {
		out += "?…"
	}
	return out
}

// attachmentClient returns the HTTP client of document fetches: TLS
// verified (against caFile's certificates when set, else the system's),
// redirects followed only to links the site allows.
func attachmentClient(c *siteConfig, caFile string, ds *sdk.Diagnostics) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			ds.Error(setAttachmentCAFile, "setting", "cannot read the attachment CA file", err.Error()+"; point "+setAttachmentCAFile+" at a readable PEM file of the hospital's CA certificates")
		case !pool.AppendCertsFromPEM(pem):
			ds.Error(setAttachmentCAFile, "setting", "the attachment CA file holds no PEM certificate", "point "+setAttachmentCAFile+" at the hospital CA's certificates in PEM form")
		default:
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	}
	return &http.Client{Transport: tr, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) > maxAttachmentRedirects {
			return &redirectRefused{why: fmt.Sprintf("more than %d redirects", maxAttachmentRedirects)}
		}
		if why := c.allowedAttachmentURL(r.URL); why != "" {
			return &redirectRefused{why: "redirected to " + maskURL(r.URL.String()) + ", which is refused: " + why}
		}
		return nil
	}}
}

// redirectRefused is a redirect the site does not allow.
type redirectRefused struct{ why string }

func (e *redirectRefused) Error() string { return e.why }

// attachmentDigests is what the adapter records for a GYU002 message whose
// items link their documents, before the first send: the SHA-256 of each
// fetched document by item index ("" for items with file_content), so that
// a retry sends the same bytes or nothing.
type attachmentDigests struct {
	SHA256 []string `json:"sha256"`
}

// attachmentCap is the largest document (decoded bytes) a GYU002 item may
// link: the site's attachmentMaxBytes, and at most what file_content's
// maxLength in the schema allows once base64-encoded.
func attachmentCap(c *siteConfig, sc *schemas.Schema) int64 {
	limit := c.attachMax
	for _, f := range sc.Input {
		if f.Name != "attachments" {
			continue
		}
		for _, g := range f.Fields {
			if g.Name == "file_content" && g.MaxLength > 0 {
				limit = min(limit, int64(g.MaxLength/4*3))
			}
		}
	}
	return limit
}

// fileLinks reads the file_url of each GYU002 attachment item (a
// platform-only field of the schema: validated there, removed with the
// schema's other platform-only fields before sending) and returns the links
// by item index ("" where there is none; nil when no item links), and an
// error for each item that gives both file_content and file_url. A
// file_url of null or "" is no link; one that is not a string is no link
// either (the schema reports its type).
func fileLinks(doc map[string]any) (urls []string, ds sdk.Diagnostics) {
	atts, _ := doc["attachments"].([]any)
	urls = make([]string, len(atts))
	linked := false
	for i, x := range atts {
		att, _ := x.(map[string]any)
		s, _ := att[fileURLField].(string)
		switch {
		case s == "":
			// Absent, null, "" or not a string: no link.
		case str(att, "file_content") != "":
			ds.Error(fmt.Sprintf("$.attachments[%d].%s", i, fileURLField), "exclusive", "the item gives both file_content and file_url", "give exactly one: the content (base64) in file_content, or a link in file_url")
		default:
			urls[i], linked = s, true
		}
	}
	if !linked {
		urls = nil
	}
	return urls, ds
}

// fillAttachments fetches the documents that GYU002 items link (urls, from
// fileLinks) one at a time, checks each (allowed link, size cap,
// file_size) and writes it base64-encoded into the item's file_content, so
// that the national request is the same as for content sent inline. Only
// one decoded document is held at a time. A refused link or document makes
// diagnostics (the message is invalid); a document store that cannot be
// reached in time makes a retryable failure. Before the first send the
// documents' SHA-256 are recorded for the message; a later attempt that
// fetches other bytes is refused (the document changed between attempts).
func (a *Adapter) fillAttachments(ctx context.Context, req *sdk.HandleRequest, c *siteConfig, sc *schemas.Schema, doc map[string]any, urls []string) (sdk.Diagnostics, *sdk.HandleResponse) {
	var ds sdk.Diagnostics
	atts, _ := doc["attachments"].([]any)
	limit := attachmentCap(c, sc)
	parsed := make([]*url.URL, len(urls))
	for i, s := range urls {
		if s == "" {
			continue
		}
		path := fmt.Sprintf("$.attachments[%d].%s", i, fileURLField)
		u, err := url.Parse(s)
		if err != nil {
			ds.Error(path, "url", "file_url is not a URL", "give the document's absolute https link")
			continue
		}
		if why := c.allowedAttachmentURL(u); why != "" {
			ds.Error(path, "url", "file_url "+maskURL(s)+" is refused: "+why,
				"link documents only under the prefixes of the site's "+setAttachmentSources+" setting (https, no user info), or send the content as file_content")
			continue
		}
		att, _ := atts[i].(map[string]any)
		if n, err := strconv.ParseInt(str(att, "file_size"), 10, 64); err == nil && n > limit {
			ds.Error(fmt.Sprintf("$.attachments[%d].file_size", i), "length", fmt.Sprintf("file_size %d is above the %d bytes an attachment may have", n, limit),
				"send a smaller file (scan at a lower resolution, or split it); the limit is the site's "+setAttachmentMaxBytes+" and the schema's file_content length")
			continue
		}
		parsed[i] = u
	}
	if ds.HasError() {
		return ds, nil
	}
	key := "atturl/" + req.MessageID
	var prev attachmentDigests
	ver, err := getJSON(ctx, req.Host, key, &prev)
	if err != nil {
		return nil, failed(true, "state", "cannot read the digests of the linked attachments", err.Error())
	}
	digests := make([]string, len(urls))
	for i, u := range parsed {
		if u == nil {
			continue
		}
		att, _ := atts[i].(map[string]any)
		sum, fds, resp := a.fetchAttachment(ctx, c, i, u, att, limit)
		if resp != nil {
			return nil, resp
		}
		if fds.HasError() && ver > 0 {
			// An earlier attempt fetched the document and may have sent
			// it: the message cannot be called invalid (nothing sent) now.
			a.log.Error("a linked attachment is no longer what an earlier attempt of its GYU002 fetched; nothing sent", "site", c.code, "message", req.MessageID,
				"item", i, "url", maskURL(urls[i]), "problem", fds[0].Summary)
			return nil, failed(false, "changed", fmt.Sprintf("the document of $.attachments[%d].file_url (%s) is no longer what the first attempt of this message fetched", i, maskURL(urls[i])),
				fds[0].Summary+"; an upload is retried with the same bytes or not at all. "+restoreFix)
		}
		if fds.HasError() {
			ds = append(ds, fds...)
			continue
		}
		digests[i] = sum
	}
	if ds.HasError() {
		return ds, nil
	}
	if ver == 0 {
		if _, err := casJSON(ctx, req.Host, key, 0, attachmentDigests{SHA256: digests}); err != nil {
			return nil, failed(true, "state", "cannot record the digests of the linked attachments before sending (nothing was sent)", err.Error())
		}
		return nil, nil
	}
	for i, d := range digests {
		if d == "" {
			continue
		}
		if i >= len(prev.SHA256) || prev.SHA256[i] != d {
			was := "none"
			if i < len(prev.SHA256) && prev.SHA256[i] != "" {
				was = prev.SHA256[i]
			}
			a.log.Error("a linked attachment changed between attempts of one GYU002; nothing sent", "site", c.code, "message", req.MessageID,
				"item", i, "url", maskURL(urls[i]), "sha256Before", was, "sha256Now", d)
			return nil, failed(false, "changed", fmt.Sprintf("the document of $.attachments[%d].file_url (%s) changed since the first attempt of this message", i, maskURL(urls[i])),
				fmt.Sprintf("its SHA-256 was %s and is now %s; an upload is retried with the same bytes or not at all. %s", was, d, restoreFix))
		}
	}
	return nil, nil
}

// fetchAttachment fetches the document of item i at u and writes it into
// att's file_content (base64). It returns the document's SHA-256 (hex), or
// diagnostics when the document is refused, or a failed response when the
// store could not be read (retryable).
func (a *Adapter) fetchAttachment(ctx context.Context, c *siteConfig, i int, u *url.URL, att map[string]any, limit int64) (string, sdk.Diagnostics, *sdk.HandleResponse) {
	var ds sdk.Diagnostics
	path := fmt.Sprintf("$.attachments[%d].%s", i, fileURLField)
	where := maskURL(u.String())
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		ds.Error(path, "url", "file_url "+where+" cannot be requested", "give the document's absolute https link")
		return "", ds, nil
	}
	resp, err := c.attachClient.Do(r)
	if err != nil {
		var rr *redirectRefused
		if errors.As(err, &rr) {
			ds.Error(path, "url", "file_url "+where+" is refused: "+rr.why,
				"link the document where the store serves it under the site's "+setAttachmentSources+", or add that prefix to the setting")
			return "", ds, nil
		}
		return "", nil, a.fetchFailed(c, i, where, scrubURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		ds.Error(path, "url", fmt.Sprintf("the document store answered %s for file_url %s", resp.Status, where),
			"check the link and medgate's access to the document store, then send the message again")
		return "", ds, nil
	default:
		return "", nil, a.fetchFailed(c, i, where, fmt.Errorf("the document store answered %s", resp.Status))
	}
	tooBig := func() {
		ds.Error(path, "length", fmt.Sprintf("the document at %s is larger than the %d bytes an attachment may have", where, limit),
			"send a smaller file (scan at a lower resolution, or split it); the limit is the site's "+setAttachmentMaxBytes+" and the schema's file_content length")
	}
	if resp.ContentLength > limit {
		tooBig()
		return "", ds, nil
	}
	// The document is streamed through the hash and the base64 encoder
	// into the item's file_content: its decoded bytes are never held.
	var enc strings.Builder
	want := resp.ContentLength
	if n, err := strconv.ParseInt(str(att, "file_size"), 10, 64); err == nil && want < 0 {
		want = n
	}
	if want > 0 && want <= limit {
		enc.Grow(base64.StdEncoding.EncodedLen(int(want)))
	}
	h := sha256.New()
	w := base64.NewEncoder(base64.StdEncoding, &enc)
	n, err := io.Copy(io.MultiWriter(h, w), io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", nil, a.fetchFailed(c, i, where, scrubURLError(err))
	}
	if n > limit {
		tooBig()
		return "", ds, nil
	}
	if fs, err := strconv.ParseInt(str(att, "file_size"), 10, 64); err == nil && fs != n {
		ds.Error(fmt.Sprintf("$.attachments[%d].file_size", i), "consistency",
			fmt.Sprintf("file_size is %d but the document at %s has %d bytes", fs, where, n), "send the size of the linked document, or link the right document")
		return "", ds, nil
	}
	_ = w.Close()
	att["file_content"] = enc.String()
	return hex.EncodeToString(h.Sum(nil)), nil, nil
}

// fetchFailed is the retryable failure of a document fetch.
func (a *Adapter) fetchFailed(c *siteConfig, i int, where string, err error) *sdk.HandleResponse {
	a.log.Warn("cannot fetch a linked attachment; nothing sent, retried", "site", c.code, "item", i, "url", where, "err", err)
	return failed(true, "unavailable", fmt.Sprintf("cannot fetch the document of $.attachments[%d].file_url (%s); nothing was sent", i, where),
		err.Error()+"; the message is retried: check that the document store is reachable from medgate (and its TLS certificate, see "+setAttachmentCAFile+")")
}

// restoreFix says what to do about a linked document that changed between
// attempts of one GYU002.
const restoreFix = "Put the original document back at the link and replay the message (an earlier attempt is reconciled with GYD053 before any resend), " +
	"or, once GYD053 shows that no earlier attempt reached the national system, send the new document in a new message"

// defaultAttachmentMax is the default of attachmentMaxBytes: 10 MiB.
const defaultAttachmentMax = 10 << 20
