package console

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/medgate/medgate/plugins/sdk"
)

// Bounds of a post's body. A larger body is answered 413 and nothing is
// read beyond the bound, so a signed-in user (or a stolen session) cannot
// make medgate read or store more than a form needs.
const (
	// maxFormBody bounds the console's own small forms: a job, a message
	// id, search filters, a work-list row's action, enabling a plugin.
	maxFormBody = 64 << 10
	// maxTextBody bounds the forms with free text and lists: a document
	// change (trace codes), a plugin's form (its files come on top, see
	// maxUpload), a plugin's settings at a site.
	maxTextBody = 1 << 20
	// maxFormMemory is how much of a multipart form is held in memory;
	// the rest of its files waits in temporary files (within the body's
	// bound) that the server removes when the request ends.
	maxFormMemory = 8 << 20
)

// formRoute is the route of a plugin's form, whose bound grows by
// maxUpload for every file field the form declares.
const formRoute = "POST " + Prefix + "form/{plugin}/{form}"

// textRoutes are the posts bounded by maxTextBody; every other post of
// a signed-in user is bounded by maxFormBody.
var textRoutes = map[string]bool{
	formRoute: true,
	"POST " + Prefix + "document/{plugin}/{view}/adjust": true,
	"POST " + Prefix + "admin/sites/{site}/{plugin}":     true,
}

// bodyLimit is the bound of the body of r, a post of a signed-in user.
func (c *Console) bodyLimit(r *http.Request) int64 {
	if !textRoutes[r.Pattern] {
		return maxFormBody
	}
	n := int64(maxTextBody)
	if r.Pattern == formRoute {
		if _, f := c.findForm(r.PathValue("plugin"), r.PathValue("form")); f != nil {
			for _, fl := range f.Fields {
				if fl.Type == sdk.ArgumentFile {
					n += maxUpload
				}
			}
		}
	}
	return n
}

// readForm reads r's form (URL-encoded or multipart) with at most limit
// bytes of body and returns "". A larger body is answered 413, an
// unreadable one 400, each with an error page naming what (the form) and
// how to fix it; it then returns why it refused the body (for the audit
// log, no form value in it) and the caller stops.
func (c *Console) readForm(w http.ResponseWriter, r *http.Request, limit int64, what, fix string) (refused string) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	// ParseMultipartForm would drop ParseForm's error on a URL-encoded
	// body (it reports only that the body is not multipart): parse that
	// first.
	err := r.ParseForm()
	if err == nil {
		if err = r.ParseMultipartForm(maxFormMemory); errors.Is(err, http.ErrNotMultipart) {
			err = nil
		}
	}
	if err == nil {
		return ""
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		c.o.Logger.Warn("console: form too large", "route", r.Pattern, "remote", c.clientAddr(r), "limit", limit)
		c.fail(w, r, http.StatusRequestEntityTooLarge, "表单过大 (form too large)",
			fmt.Sprintf("提交的内容超过本页接受的 %[2]s，未执行任何操作。The %[1]s sent is larger than the %[2]s this page accepts; nothing was done.", what, sizeText(limit)), fix)
		return "HTTP 413: body over " + sizeText(limit)
	}
	c.o.Logger.Warn("console: form not readable", "route", r.Pattern, "remote", c.clientAddr(r), "err", err)
	c.fail(w, r, http.StatusBadRequest, "表单无法读取 (form not readable)", "无法读取提交的内容，未执行任何操作。The "+what+" could not be read: "+err.Error()+"; nothing was done.", fix)
	return "HTTP 400: form not readable"
}

// sizeText writes a bound in KiB or MiB.
func sizeText(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// findForm returns the running plugin named plugin and its form named
// form (nil, nil when either is unknown).
func (c *Console) findForm(plugin, form string) (*Plugin, *sdk.Form) {
	p := c.pluginByName(plugin)
	if p == nil {
		return nil, nil
	}
	for i := range p.Views.Forms {
		if p.Views.Forms[i].Name == form {
			return p, &p.Views.Forms[i]
		}
	}
	return nil, nil
}
